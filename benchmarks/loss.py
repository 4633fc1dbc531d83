"""What the training loss costs: the soft-encoded cross-entropy (5 nearest bins, sigma 5) of one batch, forward and
backward, as training computes it now beside the two ways it was computed before, side by side in one run.

    python benchmarks/loss.py                    # batch 24 of 176 px crops, stride 4 and 2, both cores
    python benchmarks/loss.py --threads 1 --repeats 3

- **dense** (until session 10): ``soft_encode`` builds the (B, Q, H, W) soft target, then
  ``-(target * log_softmax(logits)).sum(1)``;
- **sparse, all bins** (the cut-off session 11): the 5 nearest of all Q bins by ``cdist`` + ``topk`` and
  ``logsumexp(logits) - (logits.gather(idx) * weights).sum``;
- **now**: ``bins.nearest_bins`` (a dozen candidate bins per pixel from a lookup table) and ``bins.soft_cross_entropy``
  (``log_softmax`` over a channels-last view).

The logits are channels-last, as the network gives them. Times are medians over ``--repeats``; the rows check that all
three give the same loss. Prints a table and writes ``benchmarks/results/loss.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from colouriser.bins import in_gamut_bins, nearest_bins, soft_cross_entropy, soft_encode

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def dense(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    return -(soft_encode(ab, centres) * F.log_softmax(logits, 1)).sum(1)


def sparse_all_bins(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d, idx = torch.cdist(flat, centres).topk(5, dim=1, largest=False)
    wts = torch.softmax(-(d**2) / 50, 1)
    idx, wts = idx.reshape(b, h, w, 5).permute(0, 3, 1, 2), wts.reshape(b, h, w, 5).permute(0, 3, 1, 2)
    return torch.logsumexp(logits, 1) - (logits.gather(1, idx) * wts).sum(1)


def now(logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    idx, wts = nearest_bins(ab, centres)
    return soft_cross_entropy(logits, idx, wts)


def timed(loss: Callable[..., torch.Tensor], logits: torch.Tensor, ab: torch.Tensor, centres: torch.Tensor,
          repeats: int) -> tuple[float, float]:
    """Median seconds of forward + backward, and the loss."""
    times, value = [], 0.0
    for _ in range(repeats + 1):  # the first is a warm-up (and builds the candidate table)
        x = logits.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        out = loss(x, ab, centres).mean()
        out.backward()
        times.append(time.perf_counter() - start)
        value = float(out.detach())
    return statistics.median(times[1:]), value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--crop", type=int, default=176)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="loss", help="results file stem under benchmarks/results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    centres = in_gamut_bins()
    gen = torch.Generator().manual_seed(0)
    rows = []
    for stride in (4, 2):
        side = args.crop // stride
        ab = (torch.rand(args.batch, 2, side, side, generator=gen) * 160 - 80)  # spread over the gamut's middle
        logits = (torch.randn(args.batch, len(centres), side, side, generator=gen) * 3).contiguous(
            memory_format=torch.channels_last)
        results = {name: timed(fn, logits, ab, centres, args.repeats)
                   for name, fn in (("dense", dense), ("sparse, all bins", sparse_all_bins), ("now", now))}
        base = results["now"][0]
        for name, (seconds, value) in results.items():
            rows.append({"stride": stride, "pixels": args.batch * side * side, "method": name, "seconds": seconds,
                         "loss": value, "times_now": seconds / base})
    lines = [f"Loss forward + backward, batch {args.batch} of {args.crop} px crops, {args.threads} threads "
             f"(median of {args.repeats}):", "",
             "| stride | target pixels | method | seconds | x now | loss |", "|---:|---:|---|---:|---:|---:|"]
    lines += [f"| {r['stride']} | {r['pixels']:,} | {r['method']} | {r['seconds']:.3f} | {r['times_now']:.2f} | "
              f"{r['loss']:.5f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))
    (RESULTS / f"{args.out}.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
