"""What keeping freed memory (``colouriser.allocator``) is worth to a training step, side by side in one run: the real
``Trainer.train_step`` with the shipped model on a batch of 24 crops of 176 px, each setting in a fresh interpreter
(the settings last for the process), timed after two warm-up steps.

    python benchmarks/allocator.py                 # both cores, 5 timed steps per setting
    python benchmarks/allocator.py --repeats 3

Settings, by environment variable (a trainer keeps freed memory on its own; PyTorch's huge pages are measured,
not adopted):
- **system malloc**: ``COLOURISER_KEEP_FREED_MEMORY=0 THP_MEM_ALLOC_ENABLE=0``, each large block mmap'd and unmapped;
- **huge pages only**: ``COLOURISER_KEEP_FREED_MEMORY=0 THP_MEM_ALLOC_ENABLE=1``;
- **freed memory kept (the default)**: ``THP_MEM_ALLOC_ENABLE=0`` (glibc's mallopt);
- **both**: ``THP_MEM_ALLOC_ENABLE=1``.

Reports seconds per step (median), page faults per step (median) and peak resident memory. Prints a table and
writes ``benchmarks/results/allocator.json`` and ``.md``. Stop any training run first: it shares the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from train_step import MODES as OPTIONS
from train_step import generated_photos, step_parser, time_mode, write_results

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "system malloc": {"COLOURISER_KEEP_FREED_MEMORY": "0", "THP_MEM_ALLOC_ENABLE": "0"},
    "huge pages only": {"COLOURISER_KEEP_FREED_MEMORY": "0", "THP_MEM_ALLOC_ENABLE": "1"},
    "freed memory kept (the default)": {"THP_MEM_ALLOC_ENABLE": "0"},
    "both": {"THP_MEM_ALLOC_ENABLE": "1"},
}
MODES = ("whole network", "--coarse-only")


def measure(mode: str, args: argparse.Namespace) -> dict[str, float]:
    """In this interpreter (a child): ``train_step.py``'s timing of one mode, with its page faults and peak RSS."""
    with generated_photos() as (data, runs):
        return time_mode(OPTIONS[mode], data, runs / "run", args)


def main() -> None:
    parser = step_parser(__doc__, "allocator")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a mode's name: measure it here and print JSON
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    base = {k: v for k, v in os.environ.items() if k not in ("COLOURISER_KEEP_FREED_MEMORY", "THP_MEM_ALLOC_ENABLE")}
    rows = []
    for mode in MODES:
        for setting, env in SETTINGS.items():
            command = [sys.executable, __file__, f"--child={mode}", "--batch", str(args.batch),
                       "--crop", str(args.crop), "--repeats", str(args.repeats), "--threads", str(args.threads)]
            out = subprocess.run(command, env={**base, **env}, cwd=ROOT, capture_output=True, text=True, check=True)
            rows.append({"mode": mode, "setting": setting, **json.loads(out.stdout.splitlines()[-1])})
            print(rows[-1], flush=True)
    lines = [f"Training step with the shipped model by memory setting: batch {args.batch} of {args.crop} px crops, "
             f"{args.threads} threads, median of {args.repeats} steps", "",
             "| trains | setting | s per step | images/s | vs system malloc | page faults a step | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        system = next(s for s in rows if s["mode"] == r["mode"] and s["setting"] == "system malloc")
        speedup = system["seconds_per_step"] / r["seconds_per_step"]
        lines.append(f"| {r['mode']} | {r['setting']} | {r['seconds_per_step']:.2f} | "
                     f"{args.batch / r['seconds_per_step']:.1f} | {speedup:.2f}x"
                     f" | {r['page_faults_per_step']:,.0f} | {r['peak_rss_mb']:,.0f} |")
    write_results(lines, rows, args)


if __name__ == "__main__":
    main()
