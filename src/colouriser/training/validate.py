"""Quick validation during training: colour the validation photos at a few temperatures and score them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..colour import lab_to_rgb, rgb_to_lab
from ..metrics import GREY_CHROMA, colourfulness, psnr
from ..predict import decode_ab, fit_gamut, lift_chroma
from ..prepare import to_working_size
from .data import find_images, in_holdout

TEMPERATURES = (0.3, 0.45, 0.6, 0.8, 1.0)  # checkpoints are scored at each, and shipping tunes over them


@dataclass
class ValSet:
    images: list[torch.Tensor]  # each (1, 3, H, W) sRGB 0..1, long side = ``size``

    @classmethod
    def load(cls, roots: list[Path], size: int = 256, limit: int | None = None, holdout: float = 0.0) -> ValSet:
        """The photos under ``roots`` (only the held-out share when ``holdout`` > 0), long side ``size``."""
        paths = [p for root in roots for p in find_images(root) if not holdout or in_holdout(p, holdout)]
        return cls.from_paths(paths[:limit] if limit else paths, size)

    @classmethod
    def from_paths(cls, paths: list[Path], size: int = 256) -> ValSet:
        """These photos, long side ``size``."""
        images = []
        for path in paths:
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.thumbnail((size, size), Image.Resampling.LANCZOS)
                arr = np.asarray(im, dtype=np.float32) / 255
            images.append(torch.from_numpy(arr).permute(2, 0, 1)[None])
        return cls(images)


def score(metrics: dict[str, float]) -> float:
    """One number to choose a model's default temperature and saturation by: PSNR gain over grey, penalised
    outside 85-115% colourfulness of the originals and for outputs left grey."""
    ratio = metrics["colourfulness_ratio"]
    penalty = 5 * max(0.0, 0.85 - ratio) + 5 * max(0.0, ratio - 1.15) + 10 * metrics["grey_share"]
    return metrics["psnr_gain"] - penalty


MATCH_COLOURFULNESS = 0.9  # checkpoints are compared at this share of the originals' colourfulness
MAX_SATURATION = 2.0  # as far as the CLI and server let a user turn it
# 1: PSNR gain at saturation 1 penalised outside 85-115% colourfulness; 2: checkpoint_score; 3: the same with
# the pipeline's never-grey lift applied (version 2 counted photos as left grey that the pipeline would lift);
# 4: T 0.8 among the temperatures (the shipped default's, which version 3 never scored)
SCORE_VERSION = 4


def checkpoint_score(metrics: dict[str, float]) -> float:
    """One number to pick checkpoints by: the PSNR gain over grey at the saturation that makes the outputs
    ``MATCH_COLOURFULNESS`` as colourful as the originals, less 10 dB per unit share of outputs left grey there
    and 10 dB per unit the colourfulness still misses the target by (a model too dull to reach it even at
    ``MAX_SATURATION``). Comparing at matched colourfulness keeps a model from winning by being duller (a
    duller model scores a higher PSNR at saturation 1) and from losing for it (saturation makes up the rest)."""
    ratio = metrics["colourfulness_ratio_matched"]
    miss = abs(ratio - MATCH_COLOURFULNESS) if np.isfinite(ratio) else 0.0  # photos without colour: no target
    return metrics["psnr_gain_matched"] - 10 * metrics["grey_share_matched"] - 10 * miss


def best_temperature(results: dict[float, dict[str, float]]) -> tuple[float, dict[str, float]]:
    """The temperature of ``validate(..., matched=True)``'s results with the highest ``checkpoint_score``, and
    its metrics."""
    return max(results.items(), key=lambda kv: kv[1]["checkpoint_score"])


def _row(light: torch.Tensor, ab: torch.Tensor, saturation: float, original: np.ndarray, psnr_grey: float,
         cf_orig: float) -> tuple[float, float, float, float, float]:
    """One photo's (PSNR, grey PSNR, colourfulness, original's colourfulness, left grey) for ``ab`` (at the
    size of ``light``) scaled by ``saturation``."""
    out = lab_to_rgb(torch.cat([light, fit_gamut(light, ab * saturation)], 1))  # as the pipeline does
    chroma = float(rgb_to_lab(out)[:, 1:].norm(dim=1).mean())
    out_np = out[0].permute(1, 2, 0).numpy()
    return psnr(out_np, original), psnr_grey, colourfulness(out_np), cf_orig, float(chroma < GREY_CHROMA)


def _lifted(light: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """``ab`` as the pipeline colours it before the saturation, but upsampled bilinearly, not guided (faster): lifted
    when its gamut-fitted chroma is under the never-grey floor; otherwise left unfitted, so that two models that
    differ only in boldness reach the same colours at their matched saturations (the gamut is fitted after it)."""
    fitted = fit_gamut(light, ab)
    lifted = lift_chroma(light, fitted)
    return ab if lifted is fitted else lifted


def _summary(rows: list[tuple[float, float, float, float, float]]) -> dict[str, float]:
    a = np.array(rows)
    return {
        "psnr": float(a[:, 0].mean()),
        "psnr_grey": float(a[:, 1].mean()),
        "psnr_gain": float(a[:, 0].mean() - a[:, 1].mean()),
        "colourfulness": float(a[:, 2].mean()),
        "colourfulness_original": float(a[:, 3].mean()),
        "colourfulness_ratio": float(a[:, 2].mean() / a[:, 3].mean()),
        "grey_share": float(a[:, 4].mean()),
    }


@torch.inference_mode()
def validate(model: torch.nn.Module, valset: ValSet, temperatures: tuple[float, ...] = TEMPERATURES,
             saturation: float = 1.0, matched: bool = False, work_size: int | None = None,
             ) -> dict[float, dict[str, float]]:
    """Metrics per temperature at ``saturation``; with ``matched``, also at the saturation that brings the
    outputs to ``MATCH_COLOURFULNESS`` of the originals' colourfulness (keys ending ``_matched``, and
    ``checkpoint_score``). The network sees each photo as loaded, or shrunk to a long side of ``work_size``
    (its colour then brought back to the photo's size bilinearly, where the pipeline uses the guided filter)."""
    was_training = model.training
    model.eval()
    rows: dict[float, list[tuple[float, float, float, float, float]]] = {t: [] for t in temperatures}
    kept: list[tuple[torch.Tensor, np.ndarray, float, float, dict[float, torch.Tensor]]] = []
    for rgb in valset.images:
        lab = rgb_to_lab(rgb)
        light = lab[:, :1]
        logits = model(light if work_size is None else to_working_size(light, work_size))
        original = rgb[0].permute(1, 2, 0).numpy()
        grey = lab_to_rgb(torch.cat([light, torch.zeros_like(lab[:, 1:])], 1))[0].permute(1, 2, 0).numpy()
        cf_orig = colourfulness(original)
        psnr_grey = psnr(grey, original)
        ab_by_t = {t: _lifted(light, decode_ab(logits, model.centres, t, light.shape[-2:])) for t in temperatures}
        for t in temperatures:
            rows[t].append(_row(light, ab_by_t[t], saturation, original, psnr_grey, cf_orig))
        if matched:
            kept.append((light, original, psnr_grey, cf_orig, ab_by_t))
    result = {t: _summary(r) for t, r in rows.items()}
    for t, m in result.items():
        m["score"] = score(m)
        if not matched:
            continue
        # colourfulness grows less than linearly with saturation (gamut fitting): the first guess scales the
        # saturation in proportion, later ones step along the secant of the last two tries
        sat, ratio, at = saturation, m["colourfulness_ratio"], m
        before: tuple[float, float] | None = None
        for _ in range(6):
            if not np.isfinite(ratio):  # validation photos without colour: nothing to match
                break
            guess = sat * MATCH_COLOURFULNESS / max(ratio, 1e-3)
            if before is not None and abs(ratio - before[1]) > 1e-6:
                slope = (ratio - before[1]) / (sat - before[0])
                if slope > 0:
                    guess = sat + (MATCH_COLOURFULNESS - ratio) / slope
            before = (sat, ratio)
            sat = float(np.clip(guess, 0.1, MAX_SATURATION))
            at = _summary([_row(light, ab_by_t[t], sat, original, psnr_grey, cf_orig)
                           for light, original, psnr_grey, cf_orig, ab_by_t in kept])
            ratio = at["colourfulness_ratio"]
            if abs(ratio - MATCH_COLOURFULNESS) < 0.002 or sat == MAX_SATURATION:
                break
        m.update({"saturation_matched": sat, "psnr_matched": at["psnr"], "psnr_gain_matched": at["psnr_gain"],
                  "colourfulness_ratio_matched": at["colourfulness_ratio"], "grey_share_matched": at["grey_share"]})
        m["checkpoint_score"] = checkpoint_score(m)
    model.train(was_training)
    return result
