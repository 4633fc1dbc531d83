"""A small registry so that architectures can be added by name and rebuilt from a saved config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is already registered")
        _ARCHITECTURES[name] = factory
        return factory

    return add


def build(name: str, **config: Any) -> nn.Module:
    try:
        factory = _ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(_ARCHITECTURES)) or "none"
        raise ValueError(f"unknown architecture {name!r} (known: {known})") from None
    return factory(**config)


def names() -> list[str]:
    return sorted(_ARCHITECTURES)
