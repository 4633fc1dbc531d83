"""Does a colouring keep what the photo shows? ImageNet classifiers' agreement, models side by side.

    python benchmarks/semantic.py --model default --run runs/s11 --run runs/s10-step3008.pt
    python benchmarks/semantic.py --model default --limit 20          # a smoke run

Zhang et al.'s semantic-interpretability test, as ``colouriser evaluate`` reports it (the top-1 class of
EfficientNet-Lite2 on the colouring, against its top-1 on the colour original), with a second opinion from
Lite1, and made fair between models: each is run at the temperature and saturation at which its outputs have
90% of the originals' colourfulness (the validation score's matching), since less colour alone moves
agreement towards the grey baseline's. ``--model`` takes a name, folder or file; ``--run`` a run folder or a
checkpoint file (its EMA weights). The first model is the reference for the paired counts: photos whose class
another model keeps where the reference loses it (won) and the other way round (lost); the JSON keeps each
model's per-photo outcome (``kept_lite2``, one digit a photo) for other pairings, and the ImageNet class
indices Lite2 gave each photo (``original_top1_lite2``; each row's ``top1_lite2``) to see which classes are
lost. A looser test beside it: is the original's class among Lite2's five likeliest for the output
(``in_top5_lite2``, per photo ``in_top5_kept_lite2``)? The .md lists the changed classes by name (from
``benchmarks/imagenet_classes.txt``: the 1000 class names in index order, copied from torchvision 0.28's
``models/_meta.py``, BSD-3-Clause). With ``--temperatures`` each model is scored at each of those temperatures
instead (each at its own matched saturation), a row apiece, the first model at the first temperature being the
reference (so the shipped default's 0.8 goes first):

    python benchmarks/semantic.py --model default --temperatures 0.8,0.3,0.38,0.45,0.6,1.0 \
        --out benchmarks/results/semantic_temperature

Prints a table and writes ``benchmarks/results/semantic.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def digits(flags: list[bool]) -> str:
    """Per-photo outcomes as one digit a photo (1: the class kept)."""
    return "".join("1" if f else "0" for f in flags)


def judged(judges: dict[str, Any], images: list[np.ndarray], wanted: dict[str, list[int]]) -> dict[str, dict]:
    """Each judge's top-1 class of each image, whether it is the original's (same), and whether the original's
    class is among its top 5 (a looser test: top-1 answers on scene photos flip between neighbouring classes; only
    Lite2's is reported)."""
    ranked = {j: [c.top_classes(im, 5) for im in images] for j, c in judges.items()}
    return {"top1": {j: [r[0] for r in rs] for j, rs in ranked.items()},
            "same": {j: [r[0] == w for r, w in zip(rs, wanted[j], strict=True)] for j, rs in ranked.items()},
            "in_top5": {j: [w in r for r, w in zip(rs, wanted[j], strict=True)] for j, rs in ranked.items()}}


def agreement(judgement: dict[str, dict]) -> dict[str, object]:
    """A row's agreement numbers: the share of photos keeping their class (each judge) and, by Lite2, in the top 5;
    per photo, the Lite2 outcomes (one digit a photo) and top-1 classes, for other pairings and the lists of what
    is lost."""
    return {**{f"same_{j}": float(np.mean(v)) for j, v in judgement["same"].items()},
            "in_top5_lite2": float(np.mean(judgement["in_top5"]["lite2"])),
            "kept_lite2": digits(judgement["same"]["lite2"]),
            "in_top5_kept_lite2": digits(judgement["in_top5"]["lite2"]), "top1_lite2": judgement["top1"]["lite2"]}


def class_changes(classes: list[str], photos: list[str], original: list[int], grey: dict, coloured: dict) -> str:
    """Markdown lists of the photos whose class (Lite2's top 1) the grey photo keeps and the colouring loses, the
    other way round, and those whose class is in grey's top 5 but not the colouring's. ``grey`` and ``coloured``
    are rows of agreement()."""
    per_photo = zip(photos, original, grey["top1_lite2"], coloured["top1_lite2"], grey["in_top5_kept_lite2"],
                    coloured["in_top5_kept_lite2"], strict=True)
    lost, won, dropped = [], [], []
    for name, o, g, c, g5, c5 in per_photo:
        if g == o != c:
            lost.append(f"{name}: {classes[o]} -> {classes[c]}")
        if c == o != g:
            won.append(f"{name}: {classes[o]} (grey: {classes[g]})")
        if g5 == "1" and c5 == "0":
            dropped.append(f"{name}: {classes[o]} -> {classes[c]}")
    sections = [("Kept grey, lost coloured", lost), ("Lost grey, kept coloured", won),
                ("In grey's top 5, not in the colouring's (-> its top 1)", dropped)]
    return "\n".join(f"- {title} ({len(items)}):\n" + "".join(f"  - {x}\n" for x in items)
                     for title, items in sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model", action="append", default=[], help="model name, folder or file (repeat)")
    parser.add_argument("--run", action="append", default=[], help="run folder or checkpoint file: its EMA weights")
    parser.add_argument("--temperatures", help="score each model at each of these temperatures (e.g. 0.8,0.45), "
                        "each at the saturation matching 90%% of the originals' colourfulness; default: at the better "
                        "of 0.6 and 1.0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "semantic"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from colouriser.classifier import ImageNetClassifier
    from colouriser.evaluate import grey_baseline
    from colouriser.load import load_image
    from colouriser.metrics import colourfulness, psnr
    from colouriser.pipeline import Colouriser, resolve_model
    from colouriser.training.data import find_images
    from colouriser.training.loop import export_last
    from colouriser.training.validate import ValSet, best_temperature, validate
    from colouriser.weights import load_model

    torch.set_num_threads(args.threads)
    paths = find_images(Path(args.val))[:args.limit]
    valset = ValSet.from_paths(paths)
    photos = [load_image(p).rgb for p in paths]
    judges = {"lite2": ImageNetClassifier("lite2"), "lite1": ImageNetClassifier("lite1")}
    wanted = {j: [c.top1(rgb) for rgb in photos] for j, c in judges.items()}
    grey = judged(judges, [grey_baseline(rgb) for rgb in photos], wanted)
    rows: list[dict[str, object]] = [{"model": "grey baseline", **agreement(grey)}]
    reference: list[bool] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        models = {name: resolve_model(name) for name in args.model}
        for i, run in enumerate(args.run):
            path = Path(tmp) / f"{i}.safetensors"
            models[f"{run} ({export_last(run, path):,} images)"] = path
        settings = []
        temperatures = tuple(float(t) for t in args.temperatures.split(",")) if args.temperatures else ()
        for name, path in models.items():
            model, meta = load_model(path)
            if temperatures:
                results = validate(model, valset, temperatures, matched=True)
                settings += [(f"{name}, T {t}", path, meta, t, m) for t, m in results.items()]
            else:
                settings.append((name, path, meta, *best_temperature(validate(model, valset, (0.6, 1.0),
                                                                             matched=True))))
        for name, path, meta, t, m in settings:
            colouriser = Colouriser.from_pretrained(path, backend="torch", temperature=t,
                                                   saturation=m["saturation_matched"])
            outputs = [colouriser.colourise_rgb(rgb) for rgb in photos]
            judgement = judged(judges, outputs, wanted)
            row: dict[str, object] = {
                "model": name, "images_seen": meta["extra"].get("images_seen"), "temperature": t,
                "saturation": round(m["saturation_matched"], 3), "score": round(m["checkpoint_score"], 3),
                "psnr": float(np.mean([psnr(o, p) for o, p in zip(outputs, photos, strict=True)])),
                "colourfulness_ratio": float(np.mean([colourfulness(o) for o in outputs])
                                             / np.mean([colourfulness(p) for p in photos])),
                **agreement(judgement),
            }
            kept = judgement["same"]["lite2"]
            if reference is None:
                reference = kept
            else:
                row["won"] = sum(k and not r for k, r in zip(kept, reference, strict=True))
                row["lost"] = sum(r and not k for k, r in zip(kept, reference, strict=True))
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = ["| model | images seen | T | saturation | score | PSNR | colourfulness | same class (Lite2) | "
             "in top 5 (Lite2) | same class (Lite1) | vs first: won / lost (Lite2) |", "|---|" + "---:|" * 10]
    for r in rows:
        seen = f"{r['images_seen']:,}" if r.get("images_seen") else ""
        cells = [str(r["model"]), seen, str(r.get("temperature", "")), str(r.get("saturation", "")),
                 f"{r['score']:.3f}" if "score" in r else "", f"{r['psnr']:.2f}" if "psnr" in r else "",
                 f"{r['colourfulness_ratio']:.0%}" if "colourfulness_ratio" in r else "",
                 f"{r['same_lite2']:.1%}", f"{r['in_top5_lite2']:.1%}", f"{r['same_lite1']:.1%}",
                 f"+{r['won']} / -{r['lost']}" if "won" in r else ""]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"photos": len(paths), "names": [p.name for p in paths], "original_top1_lite2": wanted["lite2"],
               "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    classes = (ROOT / "benchmarks" / "imagenet_classes.txt").read_text().splitlines()
    changes = [f"\n### {r['model']}: classes changed against the grey baseline (Lite2)\n\n"
               + class_changes(classes, summary["names"], wanted["lite2"], rows[0], r) for r in rows[1:]]
    out.with_suffix(".md").write_text(f"{len(paths)} validation photos, each model at 90% of the originals' "
                                      f"colourfulness\n\n{table}\n" + "".join(changes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
