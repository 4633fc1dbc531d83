"""Which upsampling of the predicted colour: the guided filter's radius and eps, beside plain bilinear resizing.

    python benchmarks/upsampling.py                              # ../shared/data/val, the shipped model
    python benchmarks/upsampling.py --limit 8 --val DIR          # a smoke run
    python benchmarks/upsampling.py --settings bilinear,4:1e-3,1:1e-3 --size 320

Each validation photo is greyed and coloured twice, at its own size (the validation photos are 480 px):
- **ours**: the model's colour at the working size exactly as the pipeline makes it (``Colouriser.working_colour``:
  decoded at the model's temperature, lifted, its saturation, gamut fitted), then each upsampler, merged with
  the full-resolution lightness;
- **true colour on the network's grid**: the photo's own ab averaged onto the grid the network predicts on
  (the logits' own grid: stride 4 of the working size, stride 2 with a fine branch) and brought to the working size
  bilinearly, as ``decode_ab`` does, then the same
  upsamplers: the ceiling of any model that predicts on that grid, so what the upsampler alone loses (not
  gamut-fitted: it is a photo's own colour, averaged).

Scores per upsampler: PSNR and CIEDE2000 to the original, colourfulness (Hasler & Suesstrunk), and how often
EfficientNet-Lite2 gives the result the original's top-1 ImageNet class (``evaluate``'s "same class"); plus the
photos whose class the setting wins or loses against the first setting (paired). ``R:EPS`` is the guided filter
(``upsample.guided_upsample``) with window radius R at the working size and regulariser EPS in (L / 100)^2 units;
``bilinear`` resizes the colour alone. Prints a table and writes ``benchmarks/results/upsampling.json`` and ``.md``
(``--out`` another stem).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

    from colouriser.pipeline import Prediction

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
METRICS = ("psnr", "delta_e", "colourfulness", "agree")


def true_colour_on_grid(rgb: np.ndarray, pred: Prediction) -> torch.Tensor:
    """The photo's own ab (1, 2, h, w) at the working size, averaged onto the grid the network predicts on (its
    logits' grid) and brought back bilinearly, as ``decode_ab`` brings the network's colour: the ceiling of any
    model predicting on that grid."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from colouriser.colour import rgb_to_lab

    true_ab = rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None])[:, 1:]
    grid = F.interpolate(true_ab, size=pred.logits.shape[-2:], mode="area")
    return F.interpolate(grid, size=pred.work.shape[-2:], mode="bilinear", align_corners=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--size", type=int, help="working size (default: the model's)")
    parser.add_argument("--settings", default="4:1e-3,bilinear,1:1e-3,2:1e-3,1:1e-4,2:1e-4,1:1e-2",
                        help="upsamplers, comma-separated: 'bilinear' or RADIUS:EPS; the first is the reference")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "upsampling"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    import numpy as np
    import torch
    import torch.nn.functional as F

    from colouriser.classifier import ImageNetClassifier
    from colouriser.load import load_image
    from colouriser.merge import merge
    from colouriser.metrics import compare
    from colouriser.pipeline import Colouriser
    from colouriser.training.data import find_images
    from colouriser.upsample import guided_upsample

    torch.set_num_threads(args.threads)
    colouriser = Colouriser.from_pretrained(args.model)
    size = args.size or colouriser.settings.size
    classifier = ImageNetClassifier()

    def upsampler(spec: str) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        if spec == "bilinear":
            return lambda ab, work, full: F.interpolate(ab, size=full.shape[-2:], mode="bilinear", align_corners=False)
        radius, eps = spec.split(":")
        return lambda ab, work, full: guided_upsample(ab, work, full, int(radius), float(eps))

    specs = args.settings.split(",")
    ups = {spec: upsampler(spec) for spec in specs}
    paths = find_images(Path(args.val))[:args.limit]
    rows: dict[str, dict[str, list[dict[str, float]]]] = {src: {s: [] for s in specs} for src in ("ours", "true")}
    for i, path in enumerate(paths):
        rgb = load_image(path).rgb
        pred = colouriser.predict(rgb, size=size)
        want = classifier.top1(rgb)
        with torch.inference_mode():
            ours = colouriser.working_colour(pred)
            true = true_colour_on_grid(rgb, pred)
            for src, ab in (("ours", ours), ("true", true)):
                for spec, up in ups.items():
                    out = merge(pred.light, up(ab, pred.work, pred.light))
                    m = compare(out, rgb)
                    rows[src][spec].append({"psnr": m["psnr"], "delta_e": m["delta_e"],
                                            "colourfulness": m["colourfulness"],
                                            "agree": float(classifier.top1(out) == want)})
        print(f"{i + 1}/{len(paths)}", end="\r", flush=True)

    summary = {src: {spec: {k: float(np.mean([r[k] for r in rs])) for k in METRICS} for spec, rs in by.items()}
               for src, by in rows.items()}
    for src, by in rows.items():
        ref = [r["agree"] for r in by[specs[0]]]
        for spec, rs in by.items():
            summary[src][spec]["won"] = sum(r["agree"] > a for r, a in zip(rs, ref, strict=True))
            summary[src][spec]["lost"] = sum(r["agree"] < a for r, a in zip(rs, ref, strict=True))
    header = (f"| colour | upsampler | PSNR dB | CIEDE2000 | colourfulness | same class | vs {specs[0]}: won / lost |\n"
              "|---|---|---:|---:|---:|---:|---:|")
    lines = [header]
    for src, label in (("ours", "ours"), ("true", "true, on the network's grid")):
        for spec in specs:
            s = summary[src][spec]
            name = "bilinear" if spec == "bilinear" else "guided r {} eps {}".format(*spec.split(":"))
            lines.append(f"| {label} | {name} | {s['psnr']:.2f} | {s['delta_e']:.3f} | {s['colourfulness']:.1f} | "
                         f"{s['agree']:.1%} | +{s['won']} / -{s['lost']} |")
    table = "\n".join(lines)
    print(f"\n{table}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"model": args.model, "size": size, "photos": len(paths), "summary": summary}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    out.with_suffix(".md").write_text(f"{len(paths)} validation photos, model `{args.model}`, working size {size}\n\n"
                                      f"{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
