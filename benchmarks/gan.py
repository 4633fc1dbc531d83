"""Does NoGAN refinement help? Scores a generator before and after its adversarial phase on the validation
photos (PSNR, colourfulness, outputs left grey or dull) and on the historical photos (colourfulness, dull),
beside a control: the same generator trained for as many steps with its own loss only, so that what the
GAN phase adds is not confused with what more training adds.

    colouriser train --data ../shared/data/train --val ../shared/data/val --out runs/gan --init default \\
        --gan --lr 1e-4 --schedule-images 40000 --val-every 100000 --max-minutes 25
    colouriser train ... --out runs/gan-control --init default --lr 1e-4 --schedule-images 40000 \\
        --val-every 100000 --max-steps STEPS_OF_THE_GAN_RUN
    python benchmarks/gan.py --before default --after runs/gan --control runs/gan-control
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
    p.add_argument("--control", default=str(ROOT / "runs" / "gan-control"),
                   help="the same start trained as many steps without the critic ('' to skip)")
    p.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--historical", default=str(ROOT.parent / "shared/data/historical"))
    p.add_argument("--table", action="store_true", help="only rewrite gan.md from gan.json, evaluating nothing")
    args = p.parse_args()
    if args.table:
        rows = json.loads((RESULTS / "gan.json").read_text())
        (RESULTS / "gan.md").write_text(markdown(rows))
        print(markdown(rows), end="")
        return
    rows = {}
    before = Colouriser.from_pretrained(args.before)
    same = {"temperature": before.settings.temperature, "saturation": before.settings.saturation}
    models = [("without GAN", args.before), ("with GAN", args.after)]
    if args.control:
        models.insert(1, ("control: as many steps, no critic", args.control))
    for label, model in models:
        colouriser = Colouriser.from_pretrained(model, **same)  # all at the starting model's defaults
        val = evaluate(colouriser, [Path(args.val)], classify=False)
        old = evaluate(colouriser, [Path(args.historical)], classify=False)
        extra = colouriser.meta["extra"]
        rows[label] = {"model": str(model), "images_seen": extra.get("images_seen", 0),
                       "settings": same, "val": val.ours, "val_grey": val.grey,
                       "val_original_colourfulness": val.original_colourfulness, "historical": old.ours}
        print(f"{label:34s} val PSNR {val.ours['psnr']:.2f} (grey {val.grey['psnr']:.2f})  colourfulness "
              f"{val.ours['colourfulness']:.1f} (originals {val.original_colourfulness:.1f})  "
              f"dull {val.ours['dull']:.0%}  left grey {val.ours['grey']:.0%} | historical colourfulness "
              f"{old.ours['colourfulness']:.1f}  "
              f"dull {old.ours['dull']:.0%}  left grey {old.ours['grey']:.0%}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gan.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "gan.md").write_text(markdown(rows))  # the model card (scripts/ship_model.py) quotes it


def markdown(rows: dict) -> str:
    """The table for the README and the model card."""
    lines = ["| model | images seen | val PSNR dB | val colourfulness | val dull | historical colourfulness "
             "| historical dull |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows.items():
        v, h = r["val"], r["historical"]
        lines.append(f"| {label} | {r['images_seen']:,} | {v['psnr']:.2f} | {v['colourfulness']:.1f} | {v['dull']:.0%} "
                     f"| {h['colourfulness']:.1f} | {h['dull']:.0%} |")
    first = next(iter(rows.values()))
    lines.append(f"| grey baseline / originals | | {first['val_grey']['psnr']:.2f} | "
                 f"{first['val_original_colourfulness']:.1f} | | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
