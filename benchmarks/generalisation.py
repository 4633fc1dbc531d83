"""Has the model learnt its training photos by heart? Scores on photos it trained on against photos it never saw.

    python benchmarks/generalisation.py                                   # the shipped model
    python benchmarks/generalisation.py --run runs/s7 --run runs/s8       # and runs' last (EMA) weights
    python benchmarks/generalisation.py --model default --model old.safetensors   # two models
    python benchmarks/generalisation.py --per-folder 4 --val-limit 8      # a smoke run

Each model is scored by the quick validation (``checkpoint_score``: PSNR gain over grey in dB at the saturation
giving 90% of the originals' colourfulness, best of temperatures 0.6 and 1.0) on the validation photos (BSDS and
CamVid photos never trained on; all, and each folder) and on ``--per-folder`` training photos, evenly spread,
from each training folder named (by default BSDS and CamVid, the validation photos' own sources, and the face
crops). A model that generalises scores about the same on photos it trained on and on unseen ones of the same
source; one that has memorised its 14,000 training photos scores far higher on them. Run after run, the gap
tells whether more training images help (both rise) or only deepen the memorising (the training photos rise
while the validation falls). Prints a table and writes ``benchmarks/results/generalisation.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=str(ROOT.parent / "shared/data/train"))
    parser.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    parser.add_argument("--folders", default="bsds,camvid,faces", help="training sub-folders to score on")
    parser.add_argument("--per-folder", type=int, default=60)
    parser.add_argument("--val-limit", type=int)
    parser.add_argument("--model", action="append", help="model to score (name, folder or file; repeat for more; "
                        "default: the shipped model)")
    parser.add_argument("--run", action="append", default=[],
                        help="also score this run's last EMA weights (run folder or checkpoint file)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "generalisation"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from colouriser.pipeline import resolve_model
    from colouriser.training.data import evenly_spaced, find_images, group_folders
    from colouriser.training.loop import export_last
    from colouriser.training.validate import ValSet, best_temperature, validate
    from colouriser.weights import load_model

    torch.set_num_threads(args.threads)
    # The validation photos are loaded once, per folder; all of them together are the same photos in the same
    # order as ValSet.load reads them.
    unseen = {f"unseen {folder}": ValSet.from_paths(paths[:args.val_limit] if args.val_limit else paths)
              for folder, paths in group_folders([Path(args.val)]).items()}
    everything = [image for valset in unseen.values() for image in valset.images]
    sets = {"validation": ValSet(everything[:args.val_limit] if args.val_limit else everything), **unseen}
    for folder in args.folders.split(","):
        paths = evenly_spaced(find_images(Path(args.train) / folder), args.per_folder)
        sets[f"trained-on {folder}"] = ValSet.from_paths(paths)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        models = {name: resolve_model(name) for name in args.model or ["default"]}
        for run in args.run:
            path = Path(tmp) / f"{len(models)}.safetensors"
            models[f"{run} ({export_last(run, path):,} images)"] = path
        for name, path in models.items():
            model, meta = load_model(path)
            row: dict[str, object] = {"model": name, "images_seen": meta["extra"].get("images_seen")}
            for set_name, valset in sets.items():
                results = validate(model, valset, (0.6, 1.0), matched=True)
                row[set_name] = round(best_temperature(results)[1]["checkpoint_score"], 3)
                print(f"{name}: {set_name} {row[set_name]:.3f}", flush=True)
            rows.append(row)
    names = list(sets)
    lines = ["| model | images seen | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    lines += [f"| {r['model']} | {r['images_seen']:,} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |"
              for r in rows]
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = {n: len(s.images) for n, s in sets.items()}
    out.with_suffix(".json").write_text(json.dumps({"photos": sizes, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text(f"Score (PSNR gain over grey in dB at 90% of the originals' colourfulness); "
                                      f"photos: {sizes}\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
