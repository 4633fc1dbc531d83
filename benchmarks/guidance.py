"""Issue 5's numbers: hints, variants and the confidence map on the validation photos.

    python benchmarks/guidance.py --limit 60

- hints: PSNR with 10 hints sampled from the original (Zhang et al. 2017) against the automatic result,
  and the ab error at the hinted points;
- variants: mean CIEDE2000 between the N colourings of each photo, and their L error.

(The README's docs/confidence.jpg, colourings beside their confidence maps, was made here from validation photos
until session 23; `scripts/ship_model.py` now makes it from the bundled samples with each shipped model.)
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

from colouriser.hints import sample_hints
from colouriser.load import load_image
from colouriser.metrics import delta_e, psnr
from colouriser.pipeline import Colouriser
from colouriser.training.data import evenly_spaced, find_images

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--hints", type=int, default=10)
    p.add_argument("--variants", type=int, default=3)
    args = p.parse_args()
    colouriser = Colouriser.from_pretrained()
    paths = find_images(Path(args.data))
    paths = evenly_spaced(paths, args.limit)
    rows = []
    for i, path in enumerate(paths):
        rgb = load_image(path).rgb
        pred = colouriser.predict(rgb)
        auto = colouriser.render(pred)
        hints = sample_hints(rgb, args.hints, np.random.default_rng(i))
        hinted = colouriser.colourise_rgb(rgb, hints=hints)
        lab_h = rgb2lab(hinted)
        hint_err = float(np.mean([np.hypot(*(lab_h[int(h.y), int(h.x), 1:] - np.array(h.ab()))) for h in hints]))
        variants = [rgb2lab(v) for v in colouriser.variants(pred, args.variants, seed=i)]
        light = rgb2lab(rgb)[..., 0]
        rows.append({
            "psnr_auto": psnr(auto, rgb), "psnr_hinted": psnr(hinted, rgb), "hint_ab_error": hint_err,
            "variant_delta_e": float(np.mean([delta_e(a, b) for a, b in combinations(variants, 2)])),
            "variant_l_error": float(np.mean([np.abs(v[..., 0] - light).mean() for v in variants])),
        })
    summary = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    summary["photos"] = len(rows)
    summary["hint_gain_db"] = summary["psnr_hinted"] - summary["psnr_auto"]
    for k, v in summary.items():
        print(f"{k:18s} {v:.3f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "guidance.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
