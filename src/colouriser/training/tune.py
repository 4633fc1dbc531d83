"""Choose a model's default temperature and saturation on validation photos and store them in the model
file's metadata (the weights are untouched): the best validation score over a small grid."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors import safe_open
from safetensors.torch import save_file

from ..prepare import DEFAULT_SIZE
from ..weights import atomic_write, load_model
from .validate import TEMPERATURES, ValSet, score, validate

SATURATIONS = (0.9, 1.0, 1.05, 1.1, 1.2)


def tune_defaults(path: Path, valset: ValSet, temperatures: tuple[float, ...] = TEMPERATURES,
                  saturations: tuple[float, ...] = SATURATIONS,
                  log: Callable[[str], None] = print,
                  objective: Callable[[dict[str, float]], float] = score,
                  work_size: int | None = None, default_size: int | None = None) -> dict[str, Any]:
    """Score every (temperature, saturation) on ``valset``, write the best by ``objective`` (default: the
    validation score) into ``path``'s metadata as the model's defaults (and the whole grid as ``tuning``),
    and return the best grid point. ``work_size``: the network sees each photo shrunk to this long side; by
    default as loaded. ``default_size`` (by default ``work_size``, if given): stored as the model's default
    working size; else the model's stays as it was."""
    model, meta = load_model(path)
    grid = []
    for sat in saturations:
        for t, m in validate(model, valset, temperatures, saturation=sat, work_size=work_size).items():
            grid.append({"temperature": t, "saturation": sat, **m, "objective": objective(m)})
            log(f"T {t:.2f} saturation {sat:.2f}: PSNR {m['psnr']:.2f} (grey {m['psnr_grey']:.2f}) "
                f"colourfulness {m['colourfulness_ratio']:.0%} grey {m['grey_share']:.0%} objective {objective(m):.3f}")
    best = max(grid, key=lambda g: g["objective"])
    log(f"chosen: temperature {best['temperature']}, saturation {best['saturation']}")
    _store_defaults(path, meta, best, grid, best["psnr"], work_size, default_size)
    return best


def tune_matched(path: Path, valset: ValSet, temperatures: tuple[float, ...] = TEMPERATURES,
                 log: Callable[[str], None] = print, work_size: int | None = None,
                 default_size: int | None = None) -> dict[str, Any]:
    """Choose the default temperature as training picks checkpoints: by the PSNR gain over grey at the saturation
    that makes the outputs ``MATCH_COLOURFULNESS`` as colourful as the originals (``checkpoint_score``), and that
    saturation (to 0.01) as the default; stored in ``path``'s metadata like :func:`tune_defaults` (``work_size``
    and ``default_size`` as there)."""
    model, meta = load_model(path)
    grid = []
    for t, m in validate(model, valset, temperatures, matched=True, work_size=work_size).items():
        grid.append({"temperature": t, "saturation": round(m["saturation_matched"], 2), **m,
                     "objective": m["checkpoint_score"]})
        log(f"T {t:.2f}: at saturation {m['saturation_matched']:.2f} ({m['colourfulness_ratio_matched']:.0%} of the "
            f"originals' colourfulness) PSNR {m['psnr_matched']:.2f} (grey {m['psnr_grey']:.2f}), "
            f"{m['grey_share_matched']:.0%} grey, score {m['checkpoint_score']:.3f}")
    best = max(grid, key=lambda g: g["objective"])
    log(f"chosen: temperature {best['temperature']}, saturation {best['saturation']}")
    _store_defaults(path, meta, best, grid, best["psnr_matched"], work_size, default_size)
    return best


def _store_defaults(path: Path, meta: dict[str, Any], best: dict[str, Any], grid: list[dict[str, Any]],
                    psnr: float, work_size: int | None = None, default_size: int | None = None) -> None:
    """Write ``best``'s temperature and saturation (and ``default_size``, else ``work_size``, if either is given)
    into the model file as its defaults, ``grid`` as its tuning, and the quick validation's ``psnr`` at those
    defaults (the network at ``work_size``, if given) as its validation (``colouriser models`` shows it)."""
    extra = meta["extra"]
    extra["validation"] = {"psnr": psnr, "psnr_grey": best["psnr_grey"], "temperature": best["temperature"],
                           "saturation": best["saturation"], "objective": best["objective"]}
    if work_size is not None:
        extra["validation"]["work_size"] = work_size
    extra["defaults"] = {"size": DEFAULT_SIZE, **extra.get("defaults", {}), "temperature": best["temperature"],
                         "saturation": best["saturation"]}
    if default_size or work_size:
        extra["defaults"]["size"] = default_size or work_size
    extra["tuning"] = grid
    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
        metadata = dict(f.metadata())
    metadata["extra"] = json.dumps(extra)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
