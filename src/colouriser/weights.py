"""Model files: fp16 safetensors with the architecture config in its metadata, and a model card."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from . import models

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path`` only once it is complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_model(model: nn.Module, arch: str, config: dict[str, Any], path: Path,
               extra: dict[str, Any] | None = None) -> None:
    """Save weights as fp16 safetensors (buffers such as bin centres stay fp32)."""
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        state[k] = v.detach().to(torch.float16).contiguous() if v.is_floating_point() and k != "centres" else v
    meta = {"arch": arch, "config": json.dumps(config), "extra": json.dumps(extra or {})}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))


def read_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "arch" not in meta:
        raise ValueError(f"{path} is not a colouriser model (no architecture in its metadata)")
    return {"arch": meta["arch"], "config": json.loads(meta["config"]), "extra": json.loads(meta.get("extra", "{}"))}


def load_model(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Build the network named in the file's metadata and load its weights as fp32 (no pickle)."""
    meta = read_metadata(path)
    model = models.build(meta["arch"], **meta["config"])
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path} does not match its architecture: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval(), meta


def check_same_architecture(states: list[dict[str, torch.Tensor]]) -> None:
    """ValueError unless the networks' weights have the same names and shapes (so they can be mixed)."""
    last = states[-1]
    if any(s.keys() != last.keys() or any(s[k].shape != last[k].shape for k in last) for s in states):
        raise ValueError("the networks do not have the same architecture: their weights cannot be mixed")


def mix_weights(states: list[dict[str, torch.Tensor]], coefficients: list[float]) -> dict[str, torch.Tensor]:
    """The weighted sum of networks' weights (``coefficients`` summing to 1: their mean, or an interpolation),
    computed in fp32 and stored in the last state's dtypes; tensors that are not floating point (counters) are the
    last state's. ValueError if the states are not of one architecture (the same names and shapes)."""
    check_same_architecture(states)
    last = states[-1]
    return {k: sum(c * s[k].float() for c, s in zip(coefficients, states, strict=True)).to(v.dtype)
            if v.is_floating_point() else v for k, v in last.items()}


def interpolate_weights(base: Path, tuned: Path, keep: float) -> None:
    """Rewrite the model file ``tuned`` as ``keep`` x its weights + (1 - ``keep``) x those of ``base`` (the
    model it was fine-tuned from; same architecture), keeping ``tuned``'s metadata. Averaging the weights
    of a fine-tuned model with its start keeps most of what fine-tuning gained while losing far less
    elsewhere (WiSE-FT, Wortsman et al. 2022)."""
    try:
        mixed = mix_weights([load_file(str(base)), load_file(str(tuned))], [1 - keep, keep])
    except ValueError:
        raise ValueError(f"{tuned} and {base} do not have the same architecture") from None
    meta = read_metadata(tuned)
    extra = {**meta["extra"], "weight_interpolation": {"base": str(base), "keep": keep}}
    metadata = {"arch": meta["arch"], "config": json.dumps(meta["config"]), "extra": json.dumps(extra)}
    atomic_write(tuned, lambda tmp: save_file(mixed, tmp, metadata=metadata))
