"""Choose a model's default temperature and saturation on validation photos and store them in the model
file's metadata (the weights are untouched): the best validation score over a small grid.

    python scripts/tune_defaults.py --model src/colouriser/pretrained/default/model.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from colouriser.training.tune import SATURATIONS, TEMPERATURES, tune_defaults
from colouriser.training.validate import ValSet

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--val", nargs="+", default=[str(ROOT.parent / "shared/data/val")])
    p.add_argument("--temperatures", default=",".join(map(str, TEMPERATURES)))
    p.add_argument("--saturations", default=",".join(map(str, SATURATIONS)))
    args = p.parse_args()
    tune_defaults(Path(args.model), ValSet.load([Path(v) for v in args.val]),
                  tuple(float(t) for t in args.temperatures.split(",")),
                  tuple(float(s) for s in args.saturations.split(",")))


if __name__ == "__main__":
    main()
