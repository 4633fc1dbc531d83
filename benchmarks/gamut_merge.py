"""The full-resolution gamut fit in the merge, against clipping each RGB channel (what the merge did before).

    python benchmarks/gamut_merge.py                                   # ../shared/data/val and historical
    python benchmarks/gamut_merge.py --data DIR --limit 8 --speed-mpx 1  # a smoke run

The colour is fitted into sRGB at the working size, but at full resolution the guided filter's ``A * L + b``
meets a lightness the working size did not have (edges, fine texture), so a few pixels fall outside sRGB again.
``merge.BandedMerge`` shrinks the chroma of those whose lightness and hue a clip would visibly move, at their
own lightness and hue; clipping per channel moves their lightness and hue instead. Each photo is predicted once
and rendered both ways from the same prediction; per folder: PSNR to the original (colour folders only),
colourfulness (Hasler & Suesstrunk), mean chroma and the lowest photo's (evaluate calls under 3 "left grey"), the
share of pixels more than 1 L off the input, and the share of pixels the fit worked on (those whose lightness and
hue clipping would move by more than ``merge.MAX_CLIP_SHIFT``). Speed: the whole render (upsampling and merge,
uint8) of one photo resized to ``--speed-mpx`` megapixels, both ways interleaved, median of ``--repeats``; the
ratio is the number to read.
Prints a table and writes ``benchmarks/results/gamut_merge.json`` and ``.md`` (``--out`` another stem).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage.color import rgb2lab

from colouriser import Colouriser
from colouriser import merge as merge_module
from colouriser.evaluate import lightness_errors
from colouriser.load import load_image
from colouriser.metrics import colourfulness, mean_chroma, psnr
from colouriser.prepare import lightness
from colouriser.training.data import find_images

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data"
WAYS = ("fit", "clip")


@contextmanager
def merged(way: str, counter: list[int] | None = None) -> Iterator[None]:
    """Render with the gamut fit (counting the pixels it works on) or with plain per-channel clipping."""
    select, finish = merge_module._pixels_to_fit, merge_module.BandedMerge.finish

    def counting(self: merge_module.BandedMerge) -> int:
        fitted = finish(self)
        if counter is not None:
            counter[0] += fitted
        return fitted

    def none(*args: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        nowhere = torch.empty(0, dtype=torch.long)
        return nowhere, nowhere, torch.empty(3, 0)

    if way == "fit":
        merge_module.BandedMerge.finish = counting  # type: ignore[method-assign]
    else:
        merge_module._pixels_to_fit = none
    try:
        yield
    finally:
        merge_module._pixels_to_fit, merge_module.BandedMerge.finish = select, finish  # type: ignore[method-assign]


def quality(colouriser: Colouriser, folder: Path, limit: int | None) -> dict[str, dict[str, float]]:
    rows: dict[str, list[tuple[float, ...]]] = {way: [] for way in WAYS}
    fitted = [0]
    pixels = 0
    for path in find_images(folder)[:limit]:
        rgb = load_image(path).rgb
        pred = colouriser.predict(rgb)
        light_in = lightness(rgb)
        pixels += light_in.numel()
        for way in WAYS:
            with merged(way, fitted if way == "fit" else None):
                out = colouriser.render(pred)
            rows[way].append((psnr(out, rgb), colourfulness(out), mean_chroma(rgb2lab(out)),
                              lightness_errors(out, light_in)["l_off"]))  # as evaluate counts it
    result = {}
    for way in WAYS:
        a = np.array(rows[way])
        result[way] = {"photos": len(a), "psnr": float(a[:, 0].mean()), "colourfulness": float(a[:, 1].mean()),
                       "chroma": float(a[:, 2].mean()), "lowest_chroma": float(a[:, 2].min()),
                       "left_grey": int((a[:, 2] < 3).sum()), "l_off": float(a[:, 3].mean())}
    result["fit"]["fitted_pixels"] = fitted[0] / pixels
    return result


def speed(colouriser: Colouriser, path: Path, mpx: float, repeats: int) -> dict[str, float]:
    photo = Image.open(path).convert("RGB")
    scale = (mpx * 1e6 / (photo.width * photo.height)) ** 0.5
    big = np.asarray(photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.BICUBIC))
    pred = colouriser.predict(big.astype(np.float32) / 255)
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(repeats):
        for way in WAYS:
            with merged(way):
                start = time.perf_counter()
                colouriser.render_uint8(pred)
                times[way].append(time.perf_counter() - start)
    fit, clip = statistics.median(times["fit"]), statistics.median(times["clip"])
    return {"mpx": big.shape[0] * big.shape[1] / 1e6, "fit_s": fit, "clip_s": clip, "ratio": fit / clip}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="+", default=[DATA / "val", DATA / "historical"])
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--speed-mpx", type=float, default=12.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--out", default="gamut_merge")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    colouriser = Colouriser.from_pretrained(args.model)
    results: dict[str, Any] = {"model": colouriser.name, "folders": {}}
    lines = ["| folder | merge | photos | PSNR dB | colourfulness | mean chroma | lowest chroma | left grey | "
             "pixels > 1 L off | pixels fitted |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for folder in args.data:
        scores = quality(colouriser, folder, args.limit)
        results["folders"][folder.name] = scores
        for way in WAYS:
            s = scores[way]
            fitted = f"{s['fitted_pixels']:.3%}" if way == "fit" else ""
            lines.append(f"| {folder.name} | {way} | {s['photos']} | {s['psnr']:.3f} | {s['colourfulness']:.2f} | "
                         f"{s['chroma']:.2f} | {s['lowest_chroma']:.2f} | {s['left_grey']} | {s['l_off']:.3%} | "
                         f"{fitted} |")
    timing = speed(colouriser, find_images(args.data[0])[0], args.speed_mpx, args.repeats)
    results["speed"] = timing
    lines += ["", f"Render (upsample + merge, uint8) at {timing['mpx']:.1f} Mpx, median of {args.repeats}: "
              f"fit {timing['fit_s']:.3f} s, clip {timing['clip_s']:.3f} s, ratio {timing['ratio']:.2f}"]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
