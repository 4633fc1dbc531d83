"""Choose a model's default temperature and saturation on validation photos and store them in the model
file's metadata (the weights are untouched): the best validation score over a small grid.

    python scripts/tune_defaults.py --model src/colouriser/pretrained/default/model.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

from colouriser.prepare import DEFAULT_SIZE
from colouriser.training.validate import ValSet, validate
from colouriser.weights import atomic_write, load_model

ROOT = Path(__file__).resolve().parent.parent


def tune(path: Path, val: list[Path], temperatures: tuple[float, ...] = (0.3, 0.45, 0.6, 0.8, 1.0),
         saturations: tuple[float, ...] = (0.9, 1.0, 1.05, 1.1, 1.2)) -> dict:
    model, meta = load_model(path)
    valset = ValSet.load(val)
    grid = []
    for sat in saturations:
        for t, m in validate(model, valset, temperatures, saturation=sat).items():
            grid.append({"temperature": t, "saturation": sat, **m})
            print(f"T {t:.2f} saturation {sat:.1f}: PSNR {m['psnr']:.2f} (grey {m['psnr_grey']:.2f}) "
                  f"colourfulness {m['colourfulness_ratio']:.0%} grey {m['grey_share']:.0%} score {m['score']:.3f}")
    best = max(grid, key=lambda g: g["score"])
    print(f"chosen: temperature {best['temperature']}, saturation {best['saturation']}")
    extra = meta["extra"]
    extra["defaults"] = {"size": DEFAULT_SIZE, **extra.get("defaults", {}), "temperature": best["temperature"],
                         "saturation": best["saturation"]}
    extra["tuning"] = grid
    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iterator
        metadata = dict(f.metadata())
    metadata["extra"] = json.dumps(extra)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--val", nargs="+", default=[str(ROOT.parent / "shared/data/val")])
    p.add_argument("--temperatures", default="0.3,0.45,0.6,0.8,1.0")
    p.add_argument("--saturations", default="0.9,1.0,1.05,1.1,1.2")
    args = p.parse_args()
    tune(Path(args.model), [Path(v) for v in args.val], tuple(float(t) for t in args.temperatures.split(",")),
         tuple(float(s) for s in args.saturations.split(",")))


if __name__ == "__main__":
    main()
