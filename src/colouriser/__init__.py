"""colouriser: plausible colour for black-and-white photographs, on a CPU.

>>> from colouriser import Colouriser
>>> colourise = Colouriser.from_pretrained()
>>> colour_photo = colourise(PIL.Image.open("old.jpg"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .pipeline import Colouriser


def __getattr__(name: str) -> Any:
    if name == "Colouriser":  # imported lazily: the CLI's --help should not wait for torch
        from .pipeline import Colouriser

        return Colouriser
    raise AttributeError(name)


__all__ = ["Colouriser", "__version__"]
