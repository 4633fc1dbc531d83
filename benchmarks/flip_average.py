"""What ``--flip-average`` buys: each validation photo greyed and colourised with and without it (the model's default
settings otherwise), side by side in one run, scored as ``colouriser evaluate`` scores (PSNR, colourfulness,
CIEDE2000, and whether EfficientNet-Lite2 gives the colouring the original's top-1 class), with the photos won and
lost, and the network time per photo at the working size.

    python benchmarks/flip_average.py --data ../shared/data/val
    python benchmarks/flip_average.py --data ../shared/data/val --model runs/x.safetensors --threads 1

Prints a table and writes ``benchmarks/results/flip_average.json`` (per-photo outcomes too) and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from colouriser.classifier import ImageNetClassifier
from colouriser.load import load_image
from colouriser.metrics import compare
from colouriser.pipeline import Colouriser
from colouriser.training.data import find_images

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODES = {"plain": False, "--flip-average": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="folders of colour photos")
    parser.add_argument("--model", help="model (default: the shipped one)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="flip_average", help="results file stem under benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = [p for folder in args.data for p in find_images(Path(folder))][: args.limit]
    colourisers = {name: Colouriser.from_pretrained(args.model, backend="torch", flip_average=flip)
                   for name, flip in MODES.items()}
    for colouriser in colourisers.values():  # warm-up: first-call allocations are not the mode's cost
        colouriser.predict(np.full((64, 64, 3), 0.5, np.float32))
    classifier = ImageNetClassifier()
    per_photo: dict[str, list[dict[str, float]]] = {name: [] for name in MODES}
    for path in paths:
        original = load_image(path).rgb
        want = classifier.top1(original)
        for name, colouriser in colourisers.items():
            start = time.perf_counter()
            pred = colouriser.predict(original)
            network = time.perf_counter() - start
            output = colouriser.render(pred)
            m = compare(output, original)
            per_photo[name].append({"psnr": m["psnr"], "colourfulness": m["colourfulness"],
                                    "original_colourfulness": m["colourfulness_original"],
                                    "delta_e": m["delta_e"], "same_class": int(classifier.top1(output) == want),
                                    "predict_seconds": network})
    rows = []
    for name in MODES:
        r = per_photo[name]
        rows.append({"mode": name, **{k: float(np.mean([x[k] for x in r])) for k in r[0]},
                     "same_class_photos": int(sum(x["same_class"] for x in r))})
    won = sum(b["same_class"] > a["same_class"] for a, b in zip(*per_photo.values(), strict=True))
    lost = sum(b["same_class"] < a["same_class"] for a, b in zip(*per_photo.values(), strict=True))
    lines = [f"{len(paths)} photos, model {colourisers['plain'].name}, {args.threads} threads", "",
             "| mode | PSNR dB | colourfulness (originals) | CIEDE2000 | same class (Lite2) | predict s/photo |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['psnr']:.3f} | {r['colourfulness']:.2f} "
                     f"({r['original_colourfulness']:.2f}) | {r['delta_e']:.3f} | {r['same_class']:.1%} "
                     f"({r['same_class_photos']}) | {r['predict_seconds']:.3f} |")
    lines += ["", f"--flip-average against plain, same class: {won} photos won, {lost} lost"]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"settings": vars(args), "photos": [str(p) for p in paths], "rows": rows, "won": won, "lost": lost,
         "per_photo": per_photo}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(text)


if __name__ == "__main__":
    main()
