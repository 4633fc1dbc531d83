"""Does averaging the weights of models of one lineage score better than the newest alone (a "model soup")?

    python benchmarks/weight_average.py --model old.safetensors --model default            # the two, and their mean
    python benchmarks/weight_average.py --model s16.safetensors --model s17.safetensors --model default

Scores each model given and the plain mean of the weights of the last 2, 3, ... of them (the newest last) by the
quick validation (``checkpoint_score``: PSNR gain over grey in dB at the saturation giving 90% of the originals'
colourfulness) at each of ``--temperatures``. Averaging is well defined only between networks that normalise
alike, so the largest difference between the models' batch-norm statistics is reported beside each mean: the
shipped defaults since session 14 hold the same statistics (``--freeze-bn``). Prints a table and writes
``benchmarks/results/weight_average.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True,
                        help="model (name, folder or file), oldest first; repeat, at least twice")
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--val-limit", type=int)
    parser.add_argument("--temperatures", default="0.6,0.8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="weight_average", help="results file stem under benchmarks/results")
    args = parser.parse_args(argv)
    if len(args.model) < 2:
        parser.error("give at least two models to average (--model A --model B)")

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import torch
    from train_step import write_results

    from colouriser.pipeline import resolve_model
    from colouriser.training.validate import ValSet, best_temperature, validate
    from colouriser.weights import check_same_architecture, load_model, mix_weights

    torch.set_num_threads(args.threads)
    temperatures = tuple(float(t) for t in args.temperatures.split(","))
    valset = ValSet.load([Path(args.val)], size=256, limit=args.val_limit)
    networks = [load_model(resolve_model(name))[0] for name in args.model]
    states = [net.state_dict() for net in networks]
    try:
        check_same_architecture(states)
    except ValueError as e:
        parser.error(f"{', '.join(args.model)}: {e}")

    def score(name: str, net: torch.nn.Module, bn_gap: float | None) -> dict:
        results = validate(net, valset, temperatures, matched=True)
        t, best = best_temperature(results)
        row = {"model": name, "bn_gap": bn_gap, "temperature": t, "score": round(best["checkpoint_score"], 4),
               **{f"T {k}": round(m["checkpoint_score"], 4) for k, m in results.items()}}
        print(row, flush=True)
        return row

    rows = [score(name, net, None) for name, net in zip(args.model, networks, strict=True)]
    for k in range(2, len(networks) + 1):
        chosen = states[-k:]
        # batch-norm statistics are averaged too, but their spread says whether that is sound
        gap = max(float((s[key] - value).abs().max()) for key, value in chosen[-1].items() if "running_" in key
                  for s in chosen)
        soup = copy.deepcopy(networks[-1])
        soup.load_state_dict(mix_weights(chosen, [1 / k] * k))
        rows.append(score("mean of " + " + ".join(args.model[-k:]), soup, gap))

    names = [f"T {t}" for t in temperatures]
    lines = [f"Quick validation score on {len(valset.images)} photos (PSNR gain over grey in dB at 90% of the "
             "originals' colourfulness); bn gap: the largest difference between the averaged models' batch-norm "
             "statistics", "",
             "| model | " + " | ".join(names) + " | best | bn gap |", "|---|" + "---:|" * (len(names) + 2)]
    lines += [f"| {r['model']} | " + " | ".join(f"{r[n]:.4f}" for n in names) + f" | {r['score']:.4f} | "
              + ("" if r["bn_gap"] is None else f"{r['bn_gap']:.2g}") + " |" for r in rows]
    write_results(lines, rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
