"""The domain experiment: does fine-tuning on one domain's photos beat the generic model there, and what
does it cost elsewhere? Fine-tunes the shipped model on one folder of ../shared/data/train (early stopping
on its own held-out share of that folder), then scores the generic and the fine-tuned model on that
domain's test photos and on the other domains' test photos. A domain's test photos are
../shared/data/val/<domain> where that exists (seen by neither model), else the held-out share of
../shared/data/train/<domain> (which the generic model saw in its own training: a bias in its favour).

    python benchmarks/domain.py --domain camvid --minutes 40
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console

from colouriser.evaluate import evaluate
from colouriser.finetune import FinetuneSettings, finetune, finish
from colouriser.pipeline import Colouriser, resolve_model
from colouriser.training.data import find_images, in_holdout

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def test_photos(data: Path, val: Path, domain: str, share: float, limit: int) -> tuple[str, list[Path]]:
    """The photos a domain is scored on, and where they come from."""
    if (val / domain).is_dir():
        return "val", find_images(val / domain)[:limit]
    return "train held-out", [p for p in find_images(data / domain) if in_holdout(p, share)][:limit]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/train"))
    p.add_argument("--domain", default="camvid", help="the folder to specialise on")
    p.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--others", nargs="*", default=["bsds", "faces", "rooms_places365"])
    p.add_argument("--minutes", type=float, default=40.0)
    p.add_argument("--holdout", type=float, default=0.15)
    p.add_argument("--limit", type=int, default=100, help="test photos scored per domain")
    p.add_argument("--out", default=str(ROOT / "runs" / "domain"))
    p.add_argument("--gan", action="store_true")
    p.add_argument("--keep", type=float, help="share of fine-tuned weights kept (default: finetune's)")
    p.add_argument("--reuse", action="store_true",
                   help="score the model already fine-tuned in --out (its defaults chosen again) instead of training")
    args = p.parse_args()

    data = Path(args.data)
    out = Path(args.out) / args.domain
    t = time.time()
    settings = FinetuneSettings(minutes=args.minutes, holdout=args.holdout, gan=args.gan,
                                **({} if args.keep is None else {"keep": args.keep}))
    if args.reuse:
        finish(out, resolve_model(None), [data / args.domain], settings, Console())
    else:
        finetune([data / args.domain], None, out, settings)
    minutes = (time.time() - t) / 60
    generic, tuned = Colouriser.from_pretrained(), Colouriser.from_pretrained(out)
    rows = {}
    for domain in [args.domain, *args.others]:
        source, photos = test_photos(data, Path(args.val), domain, args.holdout, args.limit)
        a = evaluate(generic, [], paths=photos, classify=False)
        b = evaluate(tuned, [], paths=photos, classify=False)
        rows[domain] = {"photos": len(photos), "source": source, "generic": a.ours, "finetuned": b.ours, "grey": a.grey,
                        "original_colourfulness": a.original_colourfulness}
        print(f"{domain:16s} {len(photos):3d} {source:14s} PSNR generic {a.ours['psnr']:.2f}  fine-tuned "
              f"{b.ours['psnr']:.2f} ({b.ours['psnr'] - a.ours['psnr']:+.2f} dB)  colourfulness "
              f"{a.ours['colourfulness']:.1f} -> {b.ours['colourfulness']:.1f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    extra_generic, extra_tuned = generic.meta["extra"], tuned.meta["extra"]
    result = {"domain": args.domain, "wall_minutes_this_run": round(minutes, 1), "gan": args.gan,
              "fine_tune_images": extra_tuned["images_seen"] - extra_generic["images_seen"],
              "fine_tune_cpu_seconds": round(extra_tuned["cpu_seconds"] - extra_generic["cpu_seconds"]),
              "defaults": extra_tuned["defaults"], "keep": settings.keep, "rows": rows}
    (RESULTS / f"domain_{args.domain}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
