"""The ``colouriser`` command line."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from . import __version__
from .training import MAX_ROTATE, MAX_STRETCH

if TYPE_CHECKING:
    from collections.abc import Callable

    from .hints import Hint


def _folder_weights(items: list[str]) -> dict[str, float]:
    weights = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            raise SystemExit(f"colouriser: --folder-weight expects NAME=NUMBER, got {item!r}") from None
    return weights


def _bounded(cast: type[float] | type[int], low: float, high: float, wanted: str) -> Callable[[str], float]:
    """An argparse type for a number from ``low`` to ``high`` (as :func:`_quality`: anything else, words and NaN
    included, refused with "expects {wanted}")."""
    def parse(raw: str) -> float:
        try:
            value = cast(raw)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expects {wanted}, got {raw}")
        return value
    return parse


_share = _bounded(float, 0, 1, "a number from 0 to 1")
_non_negative = _bounded(float, 0, math.inf, "a number, 0 or more")  # a weight
_positive = _bounded(int, 1, math.inf, "a whole number, 1 or more")  # a count
_channels = _bounded(int, 0, 512, "a number of channels from 0 to 512")


QUALITY_RANGE = (1, 100)  # JPEG/WebP quality, as Pillow takes it


def _as_the_server_takes(name: str) -> Callable[[str], float | int]:
    """An argparse type that takes a value of the option ``name`` as the web service does: the limits live in
    server/options.py, so the command line and the API accept the same range."""

    def convert(raw: str) -> float | int:
        from .server.errors import ApiError
        from .server.options import parse_options

        try:
            options = parse_options({name: raw})
        except ApiError as exc:  # "The option 'size' must be a whole number from 32 to 1024; got '16'."
            reason = exc.detail.removeprefix(f"The option '{name}' ").rstrip(".")
            raise argparse.ArgumentTypeError(reason) from None
        if name not in options:
            raise argparse.ArgumentTypeError("expected a value")
        return options[name]

    convert.__name__ = name
    return convert


def _quality(raw: str) -> int:
    low, high = QUALITY_RANGE
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}; got {raw!r}")
    return value


def _missing_package(exc: RuntimeError) -> bool:
    """Whether ``exc`` says an optional package is not installed (its message names what to pip install)."""
    return isinstance(exc.__cause__, ImportError) or "pip install" in str(exc)


def cmd_train(args: argparse.Namespace) -> int:
    from .pipeline import resolve_model
    from .training.loop import TrainConfig, Trainer

    init = str(resolve_model(args.init)) if args.init else None  # a model name, folder or file
    try:  # settings that do not go together are refused before any photo is loaded
        cfg = TrainConfig(
            data=args.data, out=args.out, val=args.val or [], encoder=args.encoder, init=init,
            batch=args.batch, crop=args.crop, store_side=args.store_side, crop_scale=args.crop_scale,
            rotate=args.rotate, stretch=args.stretch,
            lr=args.lr, rebalance_lambda=args.rebalance_lambda, weight_decay=args.weight_decay, cutmix=args.cutmix,
            semantic=args.semantic, semantic_crops=args.semantic_crops, semantic_temperature=args.semantic_temperature,
            schedule_images=args.schedule_images, max_steps=args.max_steps, max_minutes=args.max_minutes,
            val_every=args.val_every, checkpoint_minutes=args.checkpoint_minutes,
            folder_weights=_folder_weights(args.folder_weight), seed=args.seed, threads=args.threads, gan=args.gan,
            fine_head=args.fine_head, fine_only=args.fine_only, coarse_only=args.coarse_only, freeze_bn=args.freeze_bn,
        )
        trainer = Trainer(cfg)  # a new run checks its network against the settings, too, before loading photos
    except ValueError as exc:
        raise SystemExit(f"colouriser: {exc}") from None
    result = trainer.run()
    print(f"stopped at step {result['step']:,} ({result['seen']:,} images seen); run folder: {args.out}")
    return 0


def _colouriser(args: argparse.Namespace):
    from .pipeline import Colouriser

    return Colouriser.from_pretrained(args.model, size=args.size, temperature=args.temperature,
                                      saturation=args.saturation, flip_average=args.flip_average or None)


def cmd_colourise(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .batch import expand_inputs, output_path, plan_outputs, run_batch
    from .save import output_format

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    if args.format:
        try:
            output_format(None, args.format)
        except ValueError as exc:
            err.print(f"colouriser: {exc}")
            return 2
    try:
        hints = _hints(args)
    except (OSError, ValueError) as exc:
        err.print(f"colouriser: {exc}")
        return 2
    jobs, missing = expand_inputs(args.inputs)
    for path, reason in missing:
        err.print(f"colouriser: {path}: {reason}")
    if not jobs:
        err.print("colouriser: no photos to colourise")
        return 2
    jobs = plan_outputs(jobs, args.format)
    out_dir = Path(args.output)
    if not args.quiet:
        for job in jobs:
            if job.renamed:
                err.print(f"{job.source} -> {output_path(job, out_dir)} (another input has the same output name)")
    colouriser = _colouriser(args)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=args.quiet) as progress:
        task = progress.add_task("colourising", total=len(jobs))

        def done(job, status: str, detail: str) -> None:
            progress.advance(task)
            if status == "failed":
                err.print(f"colouriser: {job.source}: {detail}")
            elif status == "skipped" and not args.quiet:
                err.print(f"skipped {job.source}: {detail} exists (use --overwrite)")

        result = run_batch(colouriser, jobs, out_dir, fmt=args.format, quality=args.quality,
                           overwrite=args.overwrite, on_done=done, hints=hints, confidence=args.confidence,
                           variants=args.variants)
    if not args.quiet:
        err.print(f"{len(result.written)} written to {out_dir}, {len(result.skipped)} skipped, "
                  f"{len(result.failed) + len(missing)} failed")
    return 1 if result.failed or missing else 0


def _hints(args: argparse.Namespace) -> list[Hint]:
    from .hints import parse_hint, parse_hints_json

    hints = [parse_hint(h) for h in args.hint]
    if args.hints:
        hints += parse_hints_json(Path(args.hints).read_text())
    return hints


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from .evaluate import evaluate

    console = Console(soft_wrap=True, highlight=False)
    colouriser = _colouriser(args)
    sheet = Path(args.sheet) if args.sheet else None

    def progress(i: int, n: int) -> None:
        if not args.quiet and (i % 20 == 0 or i == n):
            console.print(f"{i}/{n} photos", style="dim")

    try:
        report = evaluate(colouriser, [Path(d) for d in args.data], limit=args.limit,
                          classify=not args.no_classifier, sheet=sheet, progress=progress, hint_count=args.hints)
    except RuntimeError as exc:
        if not _missing_package(exc):
            raise
        print(f"colouriser evaluate: {exc}; or leave the classifier test out with --no-classifier", file=sys.stderr)
        return 2
    for failure in report.failures:
        console.print(f"colouriser: {failure}", style="red")
    hinted = f", {args.hints} hints each" if args.hints else ""
    table = Table(title=f"{report.images} photos from {', '.join(args.data)}{hinted}")
    table.add_column("")
    names = [("psnr", "PSNR dB"), ("colourfulness", "colourfulness"), ("delta_e", "delta E 2000"),
             ("auc", "AuC ab"), ("grey", "left grey"), ("dull", "dull"), ("l_error", "L error"),
             ("l_off", "L off > 1")]
    if not report.has_reference:  # no colour original: only the numbers about the output itself
        names = [(key, label) for key, label in names if key not in ("psnr", "delta_e", "auc")]
    for _, label in names:
        table.add_column(label, justify="right")
    extra = report.classifier
    if extra:
        table.add_column("same class", justify="right")
    for who, row in (("colouriser", report.ours), ("grey baseline", report.grey)):
        cells = [f"{row[k]:.0%}" if k in ("grey", "dull") else f"{row[k]:.3%}" if k == "l_off"
                 else f"{row[k]:.3f}" if k == "auc" else f"{row[k]:.2f}" for k, _ in names]
        if extra:
            cells.append(f"{extra['ours' if who == 'colouriser' else 'grey']:.1%}")
        table.add_row(who, *cells)
    if report.has_reference:
        originals = {"colourfulness": f"{report.original_colourfulness:.2f}", "dull": f"{report.original_dull:.0%}"}
        table.add_row("originals", *[originals.get(k, "") for k, _ in names], *([""] if extra else []))
    console.print(table)
    if args.hints:
        console.print(f"mean ab error at the hinted points: {report.hint_ab_error:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=2))
    if sheet:
        console.print(f"contact sheet: {sheet / 'index.html'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .onnx_backend import export_onnx
    from .optimise import for_inference
    from .pipeline import resolve_model
    from .weights import load_model

    try:
        import onnx  # noqa: F401
    except ImportError:
        print("colouriser: export needs the onnx package: pip install 'colouriser[onnx]'", file=sys.stderr)
        return 2
    weights = resolve_model(args.model)
    model, _ = load_model(weights)
    out = Path(args.out) if args.out else weights.parent / "model.onnx"
    export_onnx(for_inference(model), out, weights, opset=args.opset)
    print(f"wrote {out} (from {weights}); the pipeline uses it when it sits beside the weights and onnxruntime "
          "is installed, or with COLOURISER_BACKEND=onnx")
    return 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model name, model folder or .safetensors file (default: the shipped model)")
    # The ranges are the web service's (server/options.py); an out-of-range value is refused before any work.
    p.add_argument("--size", type=_as_the_server_takes("size"),
                   help="long side of the network's working size in pixels (default 256)")
    p.add_argument("--temperature", type=_as_the_server_takes("temperature"),
                   help="annealed-mean temperature: lower gives bolder colour, 1 the plain mean (default: the "
                        "model's, chosen on validation)")
    p.add_argument("--saturation", type=_as_the_server_takes("saturation"),
                   help="scale the predicted colour's chroma, 0 grey (default: the model's chosen value for "
                        "automatic colourings, 1 with hints)")
    p.add_argument("--flip-average", action="store_true",
                   help="also run the network on the mirror image and average the two, so the colour does not "
                        "depend on which way the photo faces; twice the network's time (README: Colourise "
                        "photos)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")


def cmd_finetune(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .finetune import FinetuneSettings, finetune

    console = Console(soft_wrap=True, highlight=False)
    settings = FinetuneSettings(minutes=args.minutes, holdout=args.holdout, lr=args.lr, batch=args.batch,
                                freeze_encoder_steps=args.freeze_steps, patience=args.patience,
                                checkpoint_minutes=args.checkpoint_minutes, max_steps=args.max_steps,
                                val_every=args.val_every, crop=args.crop, gan=args.gan,
                                **({} if args.keep is None else {"keep": args.keep}))
    try:
        result = finetune([Path(d) for d in args.data], args.base, Path(args.out), settings, console)
    except ValueError as exc:
        console.print(f"colouriser: {exc}")
        return 2
    b, a = result["before"]["ours"], result["after"]["ours"]
    console.print(f"held-out PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB, colourfulness {b['colourfulness']:.1f} -> "
                  f"{a['colourfulness']:.1f}; model written to {args.out} (use --model {args.out})")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from .pipeline import installed_models
    from .weights import CARD_FILE, read_metadata

    console = Console(soft_wrap=True, highlight=False)
    models = installed_models(args.dirs)
    if args.card:
        if args.card not in models:
            console.print(f"colouriser: no installed model {args.card!r} (installed: {', '.join(models) or 'none'})")
            return 2
        card = models[args.card].parent / CARD_FILE
        console.print(card.read_text() if card.exists() else "(this model has no card)")
        return 0
    table = Table(title="installed models")
    for col in ("name", "folder", "images seen", "val PSNR", "temperature"):
        table.add_column(col)
    for name, path in models.items():
        extra = read_metadata(path)["extra"]
        val = extra.get("validation", {})
        temperature = extra.get("defaults", {}).get("temperature", "")
        table.add_row(name, str(path.parent), f"{extra.get('images_seen', 0):,}",
                      f"{val['psnr']:.2f}" if "psnr" in val else "", str(temperature))
    console.print(table)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong and where to look, not the usage block (subcommands' parsers
    are of this class too, as argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="colouriser", description="Colourise black-and-white photographs.")
    parser.add_argument("--version", action="version", version=f"colouriser {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("colourise", aliases=["colorize", "colourize"], help="colour photos into a folder")
    c.add_argument("inputs", nargs="+", metavar="INPUT", help="photos, folders or glob patterns")
    c.add_argument("-o", "--output", default="colourised", help="output folder (default: ./colourised)")
    c.add_argument("--format", help="output format: jpg, png, tif, webp, bmp (default: the input's)")
    c.add_argument("--quality", type=_quality, default=92,
                   help=f"JPEG/WebP quality, {QUALITY_RANGE[0]} to {QUALITY_RANGE[1]} (default 92)")
    c.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    c.add_argument("--hint", action="append", default=[], metavar="X,Y,#RRGGBB",
                   help="a colour you know at a point (pixels, or percent like 40%%,25%%); repeatable")
    c.add_argument("--hints", metavar="FILE", help='JSON list of hints: [{"x": 120, "y": "25%%", "colour": "#a03020"}]')
    c.add_argument("--confidence", action="store_true",
                   help="also write NAME.confidence.png: a heat-map of how sure the colours are (yellow = sure)")
    c.add_argument("--variants", type=int, default=0, metavar="N",
                   help="also write N alternative colourings, NAME.variant1 ... NAME.variantN")
    _add_model_options(c)
    c.set_defaults(func=cmd_colourise)

    e = sub.add_parser("evaluate", help="grey colour photos, colour them again and score the result")
    e.add_argument("--data", nargs="+", required=True, help="folders of colour photos")
    e.add_argument("--limit", type=int, help="use at most this many photos")
    e.add_argument("--json", help="also write the numbers to this JSON file")
    e.add_argument("--sheet", help="write a side-by-side HTML contact sheet into this folder")
    e.add_argument("--no-classifier", action="store_true", help="skip the ImageNet classifier agreement test")
    e.add_argument("--hints", type=int, default=0, metavar="K",
                   help="give the network K hints sampled from each original's colours (Zhang et al. 2017)")
    _add_model_options(e)
    e.set_defaults(func=cmd_evaluate)

    f = sub.add_parser("finetune", help="fine-tune a model on your own colour photos; shows before/after scores")
    f.add_argument("--data", nargs="+", required=True, help="folders of colour photos from your collection")
    f.add_argument("--from", dest="base", help="model to start from (default: the shipped model)")
    f.add_argument("--out", required=True, help="model folder to write (resumes if it has a checkpoint)")
    f.add_argument("--minutes", type=float, default=60.0, help="time budget (default 60)")
    f.add_argument("--holdout", type=float, default=0.15, help="share of photos held out to validate (0.15)")
    f.add_argument("--lr", type=float, default=1e-4)
    f.add_argument("--batch", type=int, default=16)
    f.add_argument("--freeze-steps", type=int, default=300, help="steps with the early encoder frozen (300)")
    f.add_argument("--patience", type=int, default=6, help="stop after this many validations without gain (6)")
    f.add_argument("--val-every", type=int, default=150, help="validate every N steps (150)")
    f.add_argument("--checkpoint-minutes", type=float, default=2.0, help="checkpoint interval (2 minutes)")
    f.add_argument("--max-steps", type=int, help="stop after this many steps")
    f.add_argument("--crop", type=int, help="training crop size (default: the base model's)")
    f.add_argument("--gan", action="store_true", help="NoGAN refinement: critic pretraining, then adversarial")
    f.add_argument("--keep", type=float, metavar="SHARE",
                   help="average the fine-tuned weights with the base's, keeping this share of the fine-tuned "
                        "(WiSE-FT: the model stays good on other photos; 1 = no averaging; default 0.6)")
    f.set_defaults(func=cmd_finetune)

    m = sub.add_parser("models", help="list the installed models, or show one's card")
    m.add_argument("--card", metavar="NAME", help="print this model's card")
    m.add_argument("dirs", nargs="*", help="more folders to look for models in")
    m.set_defaults(func=cmd_models)

    t = sub.add_parser("train", help="train a model on folders of colour photos (resumes if --out has a checkpoint)")
    t.add_argument("--data", nargs="+", required=True, help="folders of colour photos; each subfolder is a group")
    t.add_argument("--val", nargs="*", help="folders of validation photos, scored to pick the best checkpoint")
    t.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.csv, model.safetensors")
    t.add_argument("--encoder", default="lite0", choices=["lite0", "lite1", "lite2"])
    t.add_argument("--init", help="start from this model (name, folder or .safetensors) instead of ImageNet")
    t.add_argument("--batch", type=int, default=24)
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--store-side", type=int, metavar="PX",
                   help="keep the training photos in memory at this short side (default: 1.25 x --crop); larger "
                        "gives crops more scales and places to come from")
    t.add_argument("--crop-scale", type=_share, default=0.6, metavar="SHARE",
                   help="each crop's side is this share (up to all) of the stored photo's short side, and at "
                        "least --crop pixels (default 0.6)")
    t.add_argument("--rotate", type=_bounded(float, 0, MAX_ROTATE, f"degrees from 0 to {MAX_ROTATE:g}"), default=0.0,
                   metavar="DEG", help=f"turn each crop by a random angle of up to this many degrees either way (0 "
                   f"to {MAX_ROTATE:g}; default 0 = off): framings the network has not seen, the colour still true")
    t.add_argument("--stretch", type=_bounded(float, 1, MAX_STRETCH, f"a ratio from 1 to {MAX_STRETCH:g}"),
                   default=1.0, metavar="RATIO", help="stretch each crop by a random ratio of width to height of up "
                   f"to this (1/RATIO to RATIO; 1 to {MAX_STRETCH:g}, default 1 = off)")
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--rebalance-lambda", type=float, default=0.7,
                   help="class rebalancing: 1 = plain cross-entropy, 0 = fully inverse prior")
    t.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW's decoupled weight decay")
    t.add_argument("--cutmix", type=_share, default=0.0, metavar="SHARE",
                   help="paste a box from another photo of the batch into this share of the training photos "
                        "(against memorising a small photo set; 0 = off)")
    t.add_argument("--semantic", type=_non_negative, default=0.0, metavar="WEIGHT",
                   help="weight of a semantic-consistency term: a frozen ImageNet classifier (EfficientNet-Lite0) "
                        "should see the same classes in the colouring as in the original (0 = off; not with --gan)")
    t.add_argument("--semantic-crops", type=_positive, default=8, metavar="N",
                   help="crops of each batch the semantic term is computed on (default 8)")
    t.add_argument("--semantic-temperature", type=float, default=0.6, metavar="T",
                   help="annealed-mean temperature of the colouring the classifier sees (default 0.6, the "
                        "temperature of the runs it was measured with)")
    t.add_argument("--schedule-images", type=int, default=1_500_000,
                   help="learning-rate decay spans this many images; resuming a run with another value than "
                        "the default re-times the decay of the rest of the run")
    t.add_argument("--max-steps", type=int)
    t.add_argument("--max-minutes", type=float)
    t.add_argument("--val-every", type=int, default=1000)
    t.add_argument("--checkpoint-minutes", type=float, default=5.0)
    t.add_argument("--folder-weight", action="append", default=[], metavar="NAME=X",
                   help="multiply a group's sampling weight (default weight: sqrt of its photo count)")
    t.add_argument("--gan", action="store_true",
                   help="NoGAN refinement (use with --init): pretrain a patch critic, then train adversarially")
    t.add_argument("--fine-head", type=_channels, default=0, metavar="CHANNELS",
                   help="give the network a stride-2 branch of this many channels (e.g. 32), predicting colour at "
                        "twice the resolution; added to an --init model that has none, starting out as it colours")
    t.add_argument("--fine-only", action="store_true",
                   help="train only the fine branch, the rest of the network kept as it is (faster; a first phase)")
    t.add_argument("--coarse-only", action="store_true",
                   help="train all but the fine branch, at stride 4, the branch kept as it is and not run (a step "
                        "about 1.5x faster than the whole network's; validation still colours with the branch)")
    t.add_argument("--freeze-bn", action="store_true",
                   help="batch norm normalises by its running statistics, as at inference, and keeps them as they "
                        "are (for training on from a trained model; its scale and shift still learn)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int)
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("export", help="write the network as an ONNX file, for ONNX Runtime (needs colouriser[onnx])")
    x.add_argument("--model", help="model name, model folder or .safetensors file (default: the shipped model)")
    x.add_argument("--out", help="the .onnx file to write (default: model.onnx beside the weights)")
    x.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    x.set_defaults(func=cmd_export)

    from .server.command import add_serve_parser  # light: the web stack is imported when serving

    add_serve_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("colouriser: interrupted", file=sys.stderr)
        return 130
    except FileNotFoundError as exc:
        print(f"colouriser: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # an optional package is missing (--encoder lite1, the onnx backend): say which
        if not _missing_package(exc):
            raise
        print(f"colouriser {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
