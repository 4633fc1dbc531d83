"""Does NoGAN refinement help? Scores a generator before and after its adversarial phase on the validation
photos (PSNR, colourfulness, outputs left grey or dull) and on the historical photos (colourfulness, dull).

    colouriser train --data ../shared/data/train --val ../shared/data/val --out runs/gan --init default \\
        --gan --lr 1e-4 --schedule-images 40000 --val-every 100000 --max-minutes 25
    python benchmarks/gan.py --before default --after runs/gan
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from colouriser.evaluate import evaluate
from colouriser.pipeline import Colouriser

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--before", default="default", help="the generator the GAN phase started from")
    p.add_argument("--after", default=str(ROOT / "runs" / "gan"), help="the model after the GAN phase")
    p.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--historical", default=str(ROOT.parent / "shared/data/historical"))
    args = p.parse_args()
    rows = {}
    before = Colouriser.from_pretrained(args.before)
    same = {"temperature": before.settings.temperature, "saturation": before.settings.saturation}
    for label, model in (("without GAN", args.before), ("with GAN", args.after)):
        colouriser = Colouriser.from_pretrained(model, **same)  # both at the starting model's defaults
        val = evaluate(colouriser, [Path(args.val)], classify=False)
        old = evaluate(colouriser, [Path(args.historical)], classify=False)
        extra = colouriser.meta["extra"]
        rows[label] = {"model": str(model), "images_seen": extra.get("images_seen"),
                       "settings": same, "val": val.ours, "val_grey": val.grey,
                       "val_original_colourfulness": val.original_colourfulness, "historical": old.ours}
        print(f"{label:12s} val PSNR {val.ours['psnr']:.2f} (grey {val.grey['psnr']:.2f})  colourfulness "
              f"{val.ours['colourfulness']:.1f} (originals {val.original_colourfulness:.1f})  "
              f"dull {val.ours['dull']:.0%}  left grey {val.ours['grey']:.0%} | historical colourfulness "
              f"{old.ours['colourfulness']:.1f}  "
              f"dull {old.ours['dull']:.0%}  left grey {old.ours['grey']:.0%}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gan.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
