"""Which working size: the shipped model run on the validation photos at several working sizes.

    python benchmarks/working_size.py                       # sizes 128..384 on ../shared/data/val
    python benchmarks/working_size.py --sizes 128,256 --limit 8 --val DIR   # a smoke run

The network was trained on 128 px crops of photos stored at a short side of 160, so it has seen whole scenes at
about 128-160 px; the pipeline runs it at a long side of 256 by default. Here every validation photo is loaded at
``--measure`` px (its colour reference), its lightness shrunk to each working size for the network, and the
predicted colour upsampled back (bilinear, as the quick validation does) and scored at matched colourfulness
(``checkpoint_score``: PSNR gain over grey at the saturation giving 90% of the originals' colourfulness) over a few
temperatures. Also the median network time per photo at that size. Prints a table and writes
``benchmarks/results/working_size.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--sizes", default="128,160,192,224,256,320,384")
    parser.add_argument("--temperatures", default="0.45,0.6,0.8")
    parser.add_argument("--measure", type=int, default=480, help="long side the photos are scored at")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "working_size"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from colouriser.pipeline import resolve_model
    from colouriser.training.validate import ValSet, best_temperature, validate
    from colouriser.weights import load_model

    torch.set_num_threads(args.threads)
    model, meta = load_model(resolve_model(args.model))
    valset = ValSet.load([Path(args.val)], size=args.measure, limit=args.limit)
    temperatures = tuple(float(t) for t in args.temperatures.split(","))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        start = time.perf_counter()
        results = validate(model, valset, temperatures, matched=True, work_size=size)
        seconds = time.perf_counter() - start
        t, m = best_temperature(results)
        rows.append({"size": size, "temperature": t, "saturation": round(m["saturation_matched"], 2),
                     "psnr": round(m["psnr_matched"], 3), "psnr_grey": round(m["psnr_grey"], 3),
                     "grey_share": m["grey_share_matched"], "score": round(m["checkpoint_score"], 3),
                     "seconds": round(seconds, 1)})
        print(f"size {size}: best T {t} saturation {m['saturation_matched']:.2f} PSNR {m['psnr_matched']:.3f} "
              f"(grey {m['psnr_grey']:.3f}) grey {m['grey_share_matched']:.0%} score {m['checkpoint_score']:.3f} "
              f"({seconds:.0f} s)", flush=True)
    header = "| working size | best T | saturation at 90% colourfulness | PSNR dB | grey PSNR | left grey | score |"
    lines = [header, "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['size']} | {r['temperature']} | {r['saturation']} | {r['psnr']:.2f} | {r['psnr_grey']:.2f} | "
              f"{r['grey_share']:.0%} | {r['score']:.3f} |" for r in rows]
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    info = {"model": args.model, "images_seen": meta["extra"].get("images_seen"), "photos": len(valset.images),
            "measure": args.measure, "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    out.with_suffix(".md").write_text(f"{len(valset.images)} validation photos scored at {args.measure} px, "
                                      f"model `{args.model}`\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
