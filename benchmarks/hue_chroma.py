"""What misleads the classifier: the colouring's hues, or how much colour it puts where?

    python benchmarks/hue_chroma.py                          # ../shared/data/val, the shipped model
    python benchmarks/hue_chroma.py --limit 8 --val DIR      # a smoke run

The colouring keeps the original's ImageNet class less often than the grey photo does (``evaluate``'s "same
class"; docs/quality.md). Each validation photo's colour is taken apart at the working size into hue (the
direction of ab) and chroma (its length), from two sources: ours (the model's colour exactly as the pipeline makes
it, ``Colouriser.working_colour``: temperature, saturation, gamut) and the photo's own colour on the network's grid
(as ``benchmarks/upsampling.py`` makes it: the ceiling of any model predicting on that grid). Then recombined:

- **ours**, and **true on the grid**;
- **true hue, our chroma**: the photo's own hues at our colour strength, pixel by pixel;
- **our hue, true chroma**: our hues at the photo's own colour strength;
- **true, at our mean chroma**: the photo's own colour scaled so that its mean chroma is ours (the colour
  placed right, at our overall strength);
- **grey**: no colour (the grey baseline, through the same path).

Each is upsampled as the pipeline does (``upsample.guided_upsample``), merged with the full-resolution lightness
and judged as ``benchmarks/semantic.py`` judges: EfficientNet-Lite2's top-1 class against the original's (and the
top 5), Lite1's top-1 as a second opinion; PSNR and colourfulness beside. Where the hue's source is near grey (chroma
under 1: no hue) a recombination keeps our colour, so each swaps one factor only (the share of such pixels is
reported); every colour is fitted into the sRGB gamut as the pipeline fits ours. The JSON names the weights (file and
images seen). Prints a table and writes
``benchmarks/results/hue_chroma.json`` and ``.md`` (``--out`` another stem).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VARIANTS = ("ours", "true on the grid", "true hue, our chroma", "our hue, true chroma", "true, at our mean chroma",
            "grey")
NO_HUE = 1.0  # chroma below which a colour counts as grey (its hue undefined)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "hue_chroma"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import torch
    from semantic import digits
    from upsampling import true_colour_on_grid

    from colouriser.classifier import ImageNetClassifier
    from colouriser.load import load_image
    from colouriser.merge import merge
    from colouriser.metrics import colourfulness, psnr
    from colouriser.pipeline import Colouriser, resolve_model
    from colouriser.predict import fit_gamut
    from colouriser.training.data import find_images
    from colouriser.upsample import guided_upsample

    torch.set_num_threads(args.threads)
    colouriser = Colouriser.from_pretrained(args.model)
    judges = {"lite2": ImageNetClassifier("lite2"), "lite1": ImageNetClassifier("lite1")}

    def recombined(ours: torch.Tensor, true: torch.Tensor) -> dict[str, torch.Tensor]:
        c_ours, c_true = (ab.norm(dim=1, keepdim=True) for ab in (ours, true))
        hue_ours, hue_true = ours / c_ours.clamp(min=NO_HUE), true / c_true.clamp(min=NO_HUE)
        return {"ours": ours, "true on the grid": true,
                "true hue, our chroma": torch.where(c_true < NO_HUE, ours, hue_true * c_ours),
                "our hue, true chroma": torch.where(c_ours < NO_HUE, ours, hue_ours * c_true),
                "true, at our mean chroma": true * (c_ours.mean() / c_true.mean().clamp(min=NO_HUE)),
                "grey": torch.zeros_like(ours)}

    paths = find_images(Path(args.val))[:args.limit]
    per: dict[str, dict[str, list]] = {v: {"same_lite2": [], "in_top5_lite2": [], "same_lite1": [], "psnr": [],
                                           "colourfulness": []} for v in VARIANTS}
    original_colourfulness, no_hue_true, no_hue_ours = [], [], []
    for i, path in enumerate(paths):
        rgb = load_image(path).rgb
        wanted = {j: c.top1(rgb) for j, c in judges.items()}
        original_colourfulness.append(colourfulness(rgb))
        pred = colouriser.predict(rgb)
        with torch.inference_mode():
            ours = colouriser.working_colour(pred)
            true = true_colour_on_grid(rgb, pred)
            no_hue_true.append(float((true.norm(dim=1) < NO_HUE).float().mean()))
            no_hue_ours.append(float((ours.norm(dim=1) < NO_HUE).float().mean()))
            for name, ab in recombined(ours, true).items():
                ab = fit_gamut(pred.work, ab)
                out = merge(pred.light, guided_upsample(ab, pred.work, pred.light))
                top5 = judges["lite2"].top_classes(out, 5)
                per[name]["same_lite2"].append(top5[0] == wanted["lite2"])
                per[name]["in_top5_lite2"].append(wanted["lite2"] in top5)
                per[name]["same_lite1"].append(judges["lite1"].top1(out) == wanted["lite1"])
                per[name]["psnr"].append(psnr(out, rgb))
                per[name]["colourfulness"].append(colourfulness(out))
        print(f"{i + 1}/{len(paths)}", end="\r", flush=True)

    base = per["ours"]["same_lite2"]
    summary = {}
    for name, m in per.items():
        summary[name] = {**{k: float(np.mean(m[k])) for k in ("same_lite2", "in_top5_lite2", "same_lite1", "psnr")},
                         "colourfulness_ratio": float(np.mean(m["colourfulness"]) / np.mean(original_colourfulness)),
                         "won": sum(k and not b for k, b in zip(m["same_lite2"], base, strict=True)),
                         "lost": sum(b and not k for k, b in zip(m["same_lite2"], base, strict=True)),
                         "kept_lite2": digits(m["same_lite2"])}
    lines = ["| colour | PSNR dB | colourfulness | same class (Lite2) | in top 5 (Lite2) | same class (Lite1) | "
             "vs ours: won / lost (Lite2) |", "|---|" + "---:|" * 6]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['psnr']:.2f} | {s['colourfulness_ratio']:.0%} | {s['same_lite2']:.1%} | "
                     f"{s['in_top5_lite2']:.1%} | {s['same_lite1']:.1%} | +{s['won']} / -{s['lost']} |")
    table = "\n".join(lines)
    print(f"\n{table}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = resolve_model(args.model)
    seen = colouriser.meta.get("extra", {}).get("images_seen") or 0
    shares = (f"pixels with no hue (chroma under {NO_HUE:g}) at the working size: {np.mean(no_hue_true):.1%} of the "
              f"true colour's, {np.mean(no_hue_ours):.1%} of ours")
    print(shares)
    info = {"model": args.model, "weights": str(weights), "images_seen": seen, "photos": len(paths),
            "no_hue_true": float(np.mean(no_hue_true)), "no_hue_ours": float(np.mean(no_hue_ours)),
            "names": [p.name for p in paths], "summary": summary}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    out.with_suffix(".md").write_text(f"{len(paths)} validation photos, model `{args.model}` ({seen:,} images seen), "
                                      f"colourfulness as a share of the originals'; {shares}\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
