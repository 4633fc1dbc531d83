"""What keeping freed memory (``colouriser.allocator``) is worth to a training step, side by side in one run: the real
``Trainer.train_step`` with the shipped model on a batch of 24 crops of 176 px, each setting in a fresh interpreter
(the settings last for the process), timed after two warm-up steps.

    python benchmarks/allocator.py                 # both cores, 5 timed steps per setting
    python benchmarks/allocator.py --repeats 3
    python benchmarks/allocator.py --validate --modes fine-only whole   # writes allocator_validate.json/.md

Settings, by environment variable (a trainer keeps freed memory on its own; PyTorch's huge pages are measured,
not adopted):
- **system malloc**: ``COLOURISER_KEEP_FREED_MEMORY=0 THP_MEM_ALLOC_ENABLE=0``, each large block mmap'd and unmapped;
- **huge pages only**: ``COLOURISER_KEEP_FREED_MEMORY=0 THP_MEM_ALLOC_ENABLE=1``;
- **freed memory kept (the default)**: ``THP_MEM_ALLOC_ENABLE=0`` (glibc's mallopt);
- **both**: ``THP_MEM_ALLOC_ENABLE=1``;
- with ``--validate`` also **kept up to 1 GB (session 13)**: freed memory kept, but the free top of the heap handed
  back whenever it reaches 1 GB (the trim threshold session 13 set, before trimming was turned off).

``--validate`` times the steps after a validation on the generated photos at 256 px, as a training run makes one
every ``--val-every`` steps (the trainer's own: score, export the best weights, then a checkpoint): in a real run
(runs/s19, session 14) the 1 GB threshold held until the first validation and then let about 160,000 page faults a
second through. This benchmark's small validation does not reproduce that (session 14: no faults with session 13's
threshold either, 0.99 against 0.95 s a ``--fine-only`` step after it): the heap of a real run, with 13,955 photos
and 178 validation photos in memory, is laid out otherwise.

Reports seconds per step (median), page faults per step (median), peak resident memory and the setting the trainer
made. Prints a table and writes ``benchmarks/results/<--out>.json`` and ``.md`` (``allocator``, or
``allocator_validate`` with ``--validate``). Stop any training run first: it shares the cores.
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

from colouriser.allocator import NEVER_TRIM, keep_freed_memory
from colouriser.training import loop
from colouriser.training.loop import Trainer
from colouriser.training.validate import ValSet

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "system malloc": {"COLOURISER_KEEP_FREED_MEMORY": "0", "THP_MEM_ALLOC_ENABLE": "0"},
    "huge pages only": {"COLOURISER_KEEP_FREED_MEMORY": "0", "THP_MEM_ALLOC_ENABLE": "1"},
    "freed memory kept (the default)": {"THP_MEM_ALLOC_ENABLE": "0"},
    "both": {"THP_MEM_ALLOC_ENABLE": "1"},
}
SESSION_13 = {"kept up to 1 GB (session 13)": {"THP_MEM_ALLOC_ENABLE": "0", "BENCHMARK_TRIM_THRESHOLD": str(1 << 30)}}
NAMES = {mode.lstrip("-").split()[0]: mode for mode in OPTIONS}  # whole, coarse-only, fine-only


def measure(mode: str, args: argparse.Namespace) -> dict[str, object]:
    """In this interpreter (a child): ``train_step.py``'s timing of one mode, with its page faults and peak RSS, and
    the memory setting the trainer made (``trainer_setting``: whether glibc took it, and the trim threshold)."""
    threshold = int(os.environ.get("BENCHMARK_TRIM_THRESHOLD", NEVER_TRIM))  # session 13's, or none (the default)
    made: dict[str, object] = {}

    def setting() -> bool:  # what Trainer.__init__ calls; recorded, so a row shows what it measured
        made.update(kept=keep_freed_memory(trim_threshold=threshold), trim_threshold=threshold)
        return bool(made["kept"])

    loop.keep_freed_memory = setting
    with generated_photos() as (data, runs):

        def validate_once(trainer: Trainer) -> None:  # as a run validates: score, export the best, checkpoint
            trainer._validate(ValSet.load([data]), None)

        row = time_mode(OPTIONS[mode], data, runs / "run", args, validate_once if args.validate else None)
    return {**row, "trainer_setting": made or None}


def main() -> None:
    parser = step_parser(__doc__, None)
    parser.add_argument("--validate", action="store_true", help="time the steps after a validation")
    parser.add_argument("--modes", nargs="+", choices=list(NAMES), default=["whole", "coarse-only"],
                        help="what trains (default: whole coarse-only)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a mode's name: measure it here and print JSON
    args = parser.parse_args()
    args.out = args.out or ("allocator_validate" if args.validate else "allocator")
    if args.child:
        print(json.dumps(measure(args.child, args)))
        return
    base = {k: v for k, v in os.environ.items() if k not in ("COLOURISER_KEEP_FREED_MEMORY", "THP_MEM_ALLOC_ENABLE",
                                                        "BENCHMARK_TRIM_THRESHOLD")}
    rows = []
    settings = {**SETTINGS, **SESSION_13} if args.validate else SETTINGS
    for mode in (NAMES[name] for name in args.modes):
        for setting, env in settings.items():
            command = [sys.executable, __file__, f"--child={mode}", "--batch", str(args.batch),
                       "--crop", str(args.crop), "--repeats", str(args.repeats), "--threads", str(args.threads)]
            command += ["--validate"] if args.validate else []
            out = subprocess.run(command, env={**base, **env}, cwd=ROOT, capture_output=True, text=True, check=True)
            rows.append({"mode": mode, "setting": setting, **json.loads(out.stdout.splitlines()[-1])})
            print(rows[-1], flush=True)
    when = " after a validation" if args.validate else ""
    lines = [f"Training step with the shipped model by memory setting: batch {args.batch} of {args.crop} px crops, "
             f"{args.threads} threads, median of {args.repeats} steps{when}", "",
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
