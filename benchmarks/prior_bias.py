"""Does undoing the class rebalancing at decode time keep the classifier's class more often?

    python benchmarks/prior_bias.py --model default --strengths 1,2 --threads 1
    python benchmarks/prior_bias.py --model default --lambdas 0.5,0.7 --threads 1 \
        --out benchmarks/results/semantic_lambda

Training weights each pixel's loss by the rebalancing weight w of its colour's bin, which pushes the predicted
distribution towards rare colours by about a factor w per bin (Zhang et al. 2016). Are those rare colours what
misleads the classifier? This takes the push back after the fact:
for each strength s it writes the model with ``-s * log(w)`` added to the bias of its bin head (the coarse head,
whose logits the fine branch's are added to after a bilinear resize that keeps a constant), so every decode reads
the corrected distribution (s = 1 undoes the rebalancing as far as the factor-w reading holds; s = 2 goes on
towards the common colours), w being the model's own (from the bin prior and lambda in its metadata). Then
``benchmarks/semantic.py`` scores the model and each variant at ``--temperature``, each at the saturation giving
90% of the originals' colourfulness. With ``--lambdas`` each variant is instead re-weighted from the rebalancing
lambda the model was trained at to another (``+ log w(other) - log w(trained)``; lambda 1 is s = 1): by the same
reading, the colour a model trained at that lambda would give, a cheap first look at the lambda the issue asks to
tune (a run trained at it would have learnt more than its weights). Writes the variants to ``--work`` and the results to
``benchmarks/results/semantic_prior_bias.json`` and ``.md`` (semantic.py's tables).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def write_variants(model_path: Path, strengths: list[float], work: Path, lambdas: list[float] | None = None
                   ) -> list[Path]:
    """The model with -s * log(w) added to its bin head's bias, one file a strength; or, for each of ``lambdas``,
    with log w(lambda) - log w(the model's lambda)."""
    import copy

    import torch

    from colouriser.bins import rebalancing_weights
    from colouriser.weights import load_model, save_model

    base, meta = load_model(model_path)
    lam = meta["extra"]["train_config"]["rebalance_lambda"]
    prior = torch.tensor(meta["extra"]["prior"])

    def log_w(lam: float) -> torch.Tensor:
        return rebalancing_weights(prior, lam, centres=base.centres).log()

    if lambdas:
        biases = {f"lambda_{other:g}": log_w(other) - log_w(lam) for other in lambdas}
    else:
        biases = {f"prior_bias_{s:g}": -s * log_w(lam) for s in strengths}
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, bias in biases.items():
        model = copy.deepcopy(base)
        with torch.no_grad():
            model.head.bias += bias
        path = work / f"{name}.safetensors"
        save_model(model, meta["arch"], meta["config"], path, {**meta["extra"], "decode_bias": name})
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="model name, folder or file")
    parser.add_argument("--strengths", default="1,2", help="comma-separated strengths s of the correction")
    parser.add_argument("--lambdas", help="comma-separated rebalancing lambdas to re-weight to, instead of strengths")
    parser.add_argument("--temperature", default="0.8")
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default="/tmp/prior_bias", help="folder for the variant weight files")
    parser.add_argument("--out", default=str(RESULTS / "semantic_prior_bias"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import semantic

    from colouriser.pipeline import resolve_model

    model = resolve_model(args.model)
    lambdas = [float(x) for x in args.lambdas.split(",")] if args.lambdas else None
    variants = write_variants(model, [float(s) for s in args.strengths.split(",")], Path(args.work), lambdas)
    argv2 = ["--val", args.val, "--model", str(model), "--temperatures", args.temperature,
             "--threads", str(args.threads), "--out", args.out]
    for path in variants:
        argv2 += ["--model", str(path)]
    if args.limit:
        argv2 += ["--limit", str(args.limit)]
    return semantic.main(argv2)


if __name__ == "__main__":
    raise SystemExit(main())
