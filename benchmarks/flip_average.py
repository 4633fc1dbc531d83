"""What ``--flip-average`` buys: each validation photo greyed and colourised with and without it (the model's default
settings otherwise), side by side in one run, scored as ``colouriser evaluate`` scores (PSNR, colourfulness,
CIEDE2000, and whether EfficientNet-Lite2 gives the colouring the original's top-1 class), with the photos won and
lost, and the time of ``Colouriser.predict`` per photo (lightness, resize to the working size, the network); the
averaged colouring once more at the plain one's colourfulness (averaging makes it a little blander, and PSNR rises
as colour is taken away).

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
from colouriser.metrics import colourfulness, compare
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
    colouriser = Colouriser.from_pretrained(args.model, backend="torch")  # one model; the setting switched per mode
    colouriser.predict(np.full((64, 64, 3), 0.5, np.float32))  # warm-up: first-call allocations are no mode's cost
    originals, preds, seconds = [], {name: [] for name in MODES}, {name: [] for name in MODES}
    for path in paths:
        originals.append(load_image(path).rgb)
        for name, flip in MODES.items():
            colouriser.settings.flip_average = flip
            start = time.perf_counter()
            preds[name].append(colouriser.predict(originals[-1]))
            seconds[name].append(time.perf_counter() - start)
    base = colouriser.settings.saturation

    def colourings(name: str, saturation: float) -> list[np.ndarray]:
        return [colouriser.render(pred, saturation=saturation) for pred in preds[name]]

    outputs = {"plain": colourings("plain", base), "--flip-average": colourings("--flip-average", base)}
    # The average of two distributions is a little blander: compared again at the plain colouring's colourfulness
    # (the saturation scaled by the ratio of mean colourfulness; PSNR falls as colour is added, so this is fair).
    plain_cf = np.mean([colourfulness(o) for o in outputs["plain"]])
    flip_cf = np.mean([colourfulness(o) for o in outputs["--flip-average"]])
    matched = f"--flip-average, saturation {base * plain_cf / flip_cf:.3f}"
    outputs[matched] = colourings("--flip-average", base * plain_cf / flip_cf)
    classifier = ImageNetClassifier()
    wanted = [classifier.top1(o) for o in originals]
    per_photo: dict[str, list[dict[str, float]]] = {}
    for name, images in outputs.items():
        mode = "plain" if name == "plain" else "--flip-average"
        per_photo[name] = []
        for output, original, want, t in zip(images, originals, wanted, seconds[mode], strict=True):
            m = compare(output, original)
            per_photo[name].append({"psnr": m["psnr"], "colourfulness": m["colourfulness"],
                                    "original_colourfulness": m["colourfulness_original"], "delta_e": m["delta_e"],
                                    "same_class": int(classifier.top1(output) == want), "predict_seconds": t})
    rows = []
    for name, r in per_photo.items():
        rows.append({"mode": name, **{k: float(np.mean([x[k] for x in r])) for k in r[0]},
                     "same_class_photos": int(sum(x["same_class"] for x in r))})
    won, lost = {}, {}
    for name in list(per_photo)[1:]:
        pairs = list(zip(per_photo["plain"], per_photo[name], strict=True))
        won[name] = sum(b["same_class"] > a["same_class"] for a, b in pairs)
        lost[name] = sum(b["same_class"] < a["same_class"] for a, b in pairs)
    lines = [f"{len(paths)} photos, model {colouriser.name}, {args.threads} threads", "",
             "| mode | PSNR dB | colourfulness (originals) | CIEDE2000 | same class (Lite2) | predict s/photo |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['psnr']:.3f} | {r['colourfulness']:.2f} "
                     f"({r['original_colourfulness']:.2f}) | {r['delta_e']:.3f} | {r['same_class']:.1%} "
                     f"({r['same_class_photos']}) | {r['predict_seconds']:.3f} |")
    lines += [""] + [f"{name} against plain, same class: {won[name]} photos won, {lost[name]} lost" for name in won]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"settings": vars(args), "photos": [str(p) for p in paths], "rows": rows, "won": won, "lost": lost,
         "per_photo": per_photo}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(text)


if __name__ == "__main__":
    main()
