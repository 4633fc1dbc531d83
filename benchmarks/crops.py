"""What cutting a training batch costs with the crops turned and stretched (``train --rotate/--stretch``) against
plain crops, side by side in one run: ``PhotoSet.batch`` on photos kept as the default model's runs keep them
(short side 320, here 320 x 480 generated photos), 24 crops of 176 px, each crop 55% to all of the short side.
The modes take turns, repeat after repeat, so a machine busy with something else slows them alike.

    python benchmarks/crops.py                  # 30 batches per mode
    python benchmarks/crops.py --repeats 100

Prints a table and writes ``benchmarks/results/crops.json`` and ``.md``. The whole training step it is part of
takes about 1.7 s (whole network) or 1.2 s (``--coarse-only``): ``benchmarks/train_step.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from train_step import write_results

from colouriser.training.data import PhotoSet

MODES = {"plain crops": (0.0, 1.0), "--rotate 10": (10.0, 1.0), "--stretch 1.25": (0.0, 1.25),
         "--rotate 10 --stretch 1.25": (10.0, 1.25)}


def photos(count: int = 16) -> PhotoSet:
    rng = np.random.default_rng(0)
    arrays = [(rng.random((320, 480, 3)) * 255).astype(np.uint8) for _ in range(count)]
    return PhotoSet({"generated": arrays}, {"generated": 1.0}, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--crop", type=int, default=176)
    parser.add_argument("--out", default="crops", help="results file stem under benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    photo_set, rng = photos(), np.random.default_rng(1)
    times: dict[str, list[float]] = {name: [] for name in MODES}
    for _ in range(args.repeats):
        for name, (rotate, stretch) in MODES.items():
            start = time.perf_counter()
            photo_set.batch(args.batch, args.crop, rng, 0.55, rotate, stretch)
            times[name].append(time.perf_counter() - start)
    plain = statistics.median(times["plain crops"])
    rows = [{"mode": name, "ms_per_batch": 1000 * statistics.median(t),
             "vs_plain": statistics.median(t) / plain} for name, t in times.items()]
    lines = [f"A batch of {args.batch} crops of {args.crop} px from 320 x 480 photos, median of {args.repeats}", "",
             "| crops | ms a batch | vs plain |", "|---|---:|---:|"]
    lines += [f"| {r['mode']} | {r['ms_per_batch']:.1f} | {r['vs_plain']:.2f}x |" for r in rows]
    write_results(lines, rows, args)


if __name__ == "__main__":
    main()
