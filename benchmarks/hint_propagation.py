"""Choose the constants of hint propagation (``propagate.py``): the PSNR gain of 10 sampled hints over the
automatic result on the validation photos, for a grid of settings, on all photos and on each half (odd and
even), so that a setting is not picked for one half's noise.

    python benchmarks/hint_propagation.py --grid '[[0.3, 12, 5, 0.05], [0.3, 10, 10, 0.3]]'

Each setting is [reach, tone, colour, confidence], as in ``propagate_hints``. The network runs once
per photo (with and without hints); only the propagation and the rendering run again per setting.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np

import colouriser.pipeline as pipeline
from colouriser.hints import sample_hints
from colouriser.load import load_image
from colouriser.metrics import psnr
from colouriser.propagate import propagate_hints
from colouriser.training.data import evenly_spaced, find_images

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--limit", type=int, default=178)
    p.add_argument("--hints", type=int, default=10)
    p.add_argument("--grid", required=True, help="JSON list of [reach, tone, colour, confidence]")
    args = p.parse_args()
    colouriser = pipeline.Colouriser.from_pretrained()
    paths = find_images(Path(args.data))
    paths = evenly_spaced(paths, args.limit)
    cache = []
    for i, path in enumerate(paths):  # the same photos and hints (seed = index) as benchmarks/guidance.py
        rgb = load_image(path).rgb
        auto = psnr(colouriser.colourise_rgb(rgb), rgb)
        hints = sample_hints(rgb, args.hints, np.random.default_rng(i))
        cache.append((rgb, auto, colouriser.predict(rgb, hints=hints)))
    results = []
    for reach, tone, colour, confidence in json.loads(args.grid):
        pipeline.propagate_hints = partial(propagate_hints, reach=reach, tone=tone, colour=colour,
                                           confidence=confidence)
        gains = np.array([psnr(colouriser.render(pred), rgb) - auto for rgb, auto, pred in cache])
        row = {"reach": reach, "tone": tone, "colour": colour, "confidence": confidence,
               "gain_db": float(gains.mean()), "gain_even": float(gains[0::2].mean()),
               "gain_odd": float(gains[1::2].mean())}
        results.append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hint_propagation.json").write_text(json.dumps({"photos": len(cache), "settings": results}, indent=1))


if __name__ == "__main__":
    main()
