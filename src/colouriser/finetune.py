"""Fine-tune a model on a collection of colour photos, and show in numbers whether it helped."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .bins import DEFAULT_TEMPERATURE
from .evaluate import Report, evaluate
from .pipeline import Colouriser, resolve_model
from .training.data import find_images, in_holdout
from .training.loop import TrainConfig, Trainer
from .training.tune import tune_defaults
from .training.validate import ValSet, validate
from .weights import CARD_FILE, WEIGHTS_FILE, interpolate_weights, load_model, read_metadata


@dataclass
class FinetuneSettings:
    minutes: float = 60.0
    holdout: float = 0.15  # share of the collection held out (stable by file name) for validation
    lr: float = 1e-4
    batch: int = 16
    freeze_encoder_steps: int = 300
    val_every: int = 150
    patience: int = 6
    checkpoint_minutes: float = 2.0
    rebalance_lambda: float | None = None  # None: the base model's
    max_steps: int | None = None
    crop: int | None = None  # None: the base model's
    gan: bool = False
    keep: float = 0.6  # the fine-tuned weights' share when averaged with the base's (WiSE-FT); 1: no averaging
    temperatures: tuple[float, ...] = (0.6, 0.8, 1.0)  # the grid the defaults are chosen from, on the held-out
    saturations: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3)  # photos (a collection may want bolder colour)


def finetune(data: list[Path], base: str | Path | None, out: Path, settings: FinetuneSettings | None = None,
             console: Console | None = None) -> dict[str, Any]:
    """Train ``base`` further on ``data`` into the model folder ``out``; resumes if ``out`` has a checkpoint.

    Writes ``out/model.safetensors`` (the best by held-out score), ``out/evaluation.json`` and
    ``out/MODEL_CARD.md`` with the base and fine-tuned models' scores on the held-out photos.
    """
    s = settings or FinetuneSettings()
    console = console or Console(soft_wrap=True, highlight=False)
    base_file = resolve_model(base)
    base_cfg = read_metadata(base_file)["extra"].get("train_config", {})
    lam = s.rebalance_lambda if s.rebalance_lambda is not None else base_cfg.get("rebalance_lambda", 0.7)
    if not 0 < s.keep <= 1:
        raise ValueError(f"the share of fine-tuned weights to keep must lie in (0, 1], not {s.keep}")
    held_out = [p for d in data for p in find_images(Path(d)) if in_holdout(p, s.holdout)]
    if len(held_out) < 3:
        raise ValueError(f"only {len(held_out)} photos fall in the {s.holdout:.0%} held-out split: "
                         "fine-tuning needs a collection of at least a few dozen photos")
    crop = s.crop or base_cfg.get("crop", 128)
    store = base_cfg.get("store_side")  # crops cut as the base model's were (docs/quality.md: More varied crops)
    cfg = TrainConfig(
        data=[str(d) for d in data], out=str(out), init=str(base_file), lr=s.lr, batch=s.batch,
        warmup_steps=50, schedule_images=int(s.minutes * 60 * 30), holdout=s.holdout, patience=s.patience,
        freeze_encoder_steps=s.freeze_encoder_steps, val_every=s.val_every, max_minutes=s.minutes,
        checkpoint_minutes=s.checkpoint_minutes, crop=crop, max_steps=s.max_steps,
        store_side=store if store and store >= crop else None, crop_scale=base_cfg.get("crop_scale", 0.6),
        rotate=base_cfg.get("rotate", 0.0), stretch=base_cfg.get("stretch", 1.0),
        rebalance_lambda=lam, gan=s.gan,
    )
    trainer = Trainer(cfg, console)
    console.print(f"fine-tuning {base_file} on {len(trainer.photos or [])} photos, "
                  f"{len(held_out)} held out for validation")
    trainer.run()
    finish(out, base_file, data, s, console)
    console.print("scoring the base and the fine-tuned model on the held-out photos")
    before = evaluate(Colouriser.from_pretrained(base_file), [], paths=held_out, classify=False)
    after = evaluate(Colouriser.from_pretrained(out), [], paths=held_out, classify=False)
    result = {"base": str(base_file), "held_out": len(held_out), "before": before.as_dict(),
              "after": after.as_dict(), "steps": trainer.step, "images_seen": trainer.seen}
    (out / "evaluation.json").write_text(json.dumps(result, indent=1))
    (out / CARD_FILE).write_text(card(base_file, data, trainer, before, after, len(held_out)))
    return result


def finish(out: Path, base: Path, data: list[Path], settings: FinetuneSettings, console: Console) -> None:
    """After training: average the best weights with the base's (once), then choose the defaults."""
    if settings.keep < 1 and "weight_interpolation" not in read_metadata(out / WEIGHTS_FILE)["extra"]:
        console.print(f"averaging the weights: {settings.keep:.0%} fine-tuned, {1 - settings.keep:.0%} base (WiSE-FT)")
        interpolate_weights(base, out / WEIGHTS_FILE, settings.keep)
    calibrate(out, base, data, settings, console)


def at_least_as_colourful(floor: float) -> Callable[[dict[str, float]], float]:
    """The objective for a fine-tuned model's defaults: the PSNR gain over grey, but never at a colourfulness
    below ``floor`` (the base model's, as a share of the originals', on the same photos): every 0.01 below it
    costs 0.1 dB, and every output left grey 10 dB per unit share."""
    def objective(m: dict[str, float]) -> float:
        return m["psnr_gain"] - 10 * max(0.0, floor - m["colourfulness_ratio"]) - 10 * m["grey_share"]
    return objective


def calibrate(out: Path, base: Path, data: list[Path], settings: FinetuneSettings,
              console: Console) -> dict[str, Any]:
    """Choose the fine-tuned model's default temperature and saturation on the held-out photos: the best
    PSNR at which it is at least as colourful there as the base model at its own defaults."""
    console.print("choosing the temperature and saturation on the held-out photos")
    valset = ValSet.load(list(data), holdout=settings.holdout)
    base_model, meta = load_model(base)
    chosen = meta["extra"].get("defaults", {})
    t, sat = float(chosen.get("temperature", DEFAULT_TEMPERATURE)), float(chosen.get("saturation", 1.0))
    floor = validate(base_model, valset, (t,), saturation=sat)[t]["colourfulness_ratio"]
    console.print(f"the base model's colourfulness there: {floor:.0%} of the originals'")
    best = tune_defaults(out / WEIGHTS_FILE, valset, settings.temperatures, settings.saturations,
                         log=lambda line: console.print(line, style="dim"), objective=at_least_as_colourful(floor))
    console.print(f"defaults: temperature {best['temperature']}, saturation {best['saturation']}")
    return best


def card(base: Path, data: list[Path], trainer: Trainer, before: Report, after: Report, held_out: int) -> str:
    rows = "\n".join(
        f"| {name} | {r.ours['psnr']:.2f} | {r.ours['colourfulness']:.1f} | {r.ours['delta_e']:.2f} "
        f"| {r.ours['grey']:.0%} |" for name, r in (("base model", before), ("fine-tuned", after)))
    return f"""# Fine-tuned colouriser model

- Base: `{base}`
- Data: {', '.join(f'`{d}`' for d in data)}; {held_out} photos held out (stable split by file name).
- Steps: {trainer.step:,} in this run; images seen in total: {trainer.seen:,}; CPU time in total:
  {trainer.cpu_seconds:,.0f} s. Best held-out score at step {trainer.best.get('step', '?')}.

**The colours are estimates**, not a record of the originals.

## On the held-out photos ({held_out}; grey baseline PSNR {before.grey['psnr']:.2f} dB)

| model | PSNR dB | colourfulness | delta E 2000 | left grey |
|---|---:|---:|---:|---:|
{rows}
| originals | | {before.original_colourfulness:.1f} | | |
"""
