"""What a training step costs with the shipped model (which has a stride-2 fine branch), by what it trains, side
by side in one run: the real ``Trainer.train_step`` (crops drawn, degraded, hints simulated, forward, rebalanced
loss, backward, AdamW, EMA) on a batch of 24 crops of 176 px, the settings of the default model's runs.

    python benchmarks/train_step.py                  # both cores, 5 timed steps per mode after 2 warm-up steps
    python benchmarks/train_step.py --threads 1 --repeats 3

- **whole network**: every weight, the loss on the stride-2 logits;
- **--coarse-only**: all but the branch, the loss on the stride-4 logits (the branch is not run);
- **--fine-only**: the branch alone (the rest runs as at inference, no gradients through it).

The photos are generated (smooth colour fields with edges, 400 px), so no data set is needed; the step's cost does
not depend on what the photos show. Prints a table and writes ``benchmarks/results/train_step.json`` and ``.md``.
Stop any training run first: it shares the cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colouriser.pipeline import resolve_model
from colouriser.training.loop import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODES = {"whole network": {}, "--coarse-only": {"coarse_only": True}, "--fine-only": {"fine_only": True}}


def make_photos(folder: Path, count: int = 12, side: int = 400) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side] / side
    for i in range(count):
        colour = rng.random((3, 3)) - 0.5
        field = sum(colour[k][:, None, None] * np.sin((k + 1) * np.pi * (xx if k % 2 else yy) + rng.random() * 6)
                    for k in range(3))
        rgb = np.clip(0.5 + 0.4 * field.transpose(1, 2, 0), 0, 1)
        rgb[: side // 2, : side // 3] = rng.random(3)  # an edge
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"{i}.png")


def time_mode(options: dict[str, bool], data: Path, out: Path, args: argparse.Namespace,
              after_warm_up: Callable[[Trainer], None] | None = None) -> dict[str, float]:
    """Seconds, page faults and peak memory of ``args.repeats`` steps after two warm-up steps (and after
    ``after_warm_up(trainer)``, when given)."""
    cfg = TrainConfig(data=[str(data)], val=[], out=str(out), init=str(resolve_model(None)), batch=args.batch,
                      crop=args.crop, store_side=args.crop + 24, crop_scale=0.55, cutmix=0.5, warmup_steps=1,
                      lr=1e-5, threads=args.threads, seed=0, **options)
    trainer = Trainer(cfg)
    times, faults = [], []
    for i in range(args.repeats + 2):  # two warm-up steps
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        trainer.train_step()
        if i == 1 and after_warm_up is not None:
            after_warm_up(trainer)
        if i >= 2:
            times.append(time.perf_counter() - start)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    step = statistics.median(times)
    return {"seconds_per_step": step, "images_per_second": args.batch / step,
            "page_faults_per_step": statistics.median(faults),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # the process's, so far


def write_results(lines: list[str], rows: list[dict], args: argparse.Namespace) -> None:
    """Print the table and write it (``args.out``.md) and the rows with the settings (.json) under
    benchmarks/results."""
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(text)


def step_parser(description: str | None, out: str | None) -> argparse.ArgumentParser:
    """The options of a timed training step (batch, crop, repeats, threads) and the results file stem ``out``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--crop", type=int, default=176)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=out, help="results file stem under benchmarks/results")
    return parser


@contextmanager
def generated_photos() -> Iterator[tuple[Path, Path]]:
    """A temporary folder of generated photos (one group) and a temporary folder for runs."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "photos" / "generated"
        data.mkdir(parents=True)
        make_photos(data)
        yield data.parent, Path(tmp)


def main() -> None:
    args = step_parser(__doc__, "train_step").parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    with generated_photos() as (data, runs):
        for i, (name, options) in enumerate(MODES.items()):
            rows.append({"mode": name, **time_mode(options, data, runs / f"run{i}", args)})
    whole = rows[0]["seconds_per_step"]
    lines = [f"Training step with the shipped model: batch {args.batch} of {args.crop} px crops, {args.threads} "
             f"threads, median of {args.repeats} steps", "",
             "| trains | s per step | images/s | vs whole network |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['seconds_per_step']:.2f} | {r['images_per_second']:.1f} | "
                     f"{whole / r['seconds_per_step']:.2f}x |")
    write_results(lines, rows, args)


if __name__ == "__main__":
    main()
