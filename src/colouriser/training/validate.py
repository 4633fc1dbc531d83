"""Quick validation during training: colour the validation photos at a few temperatures and score them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from ..bins import annealed_mean
from ..colour import lab_to_rgb, rgb_to_lab
from ..metrics import GREY_CHROMA, colourfulness, psnr
from .data import find_images, in_holdout

TEMPERATURES = (0.3, 0.45, 0.6, 1.0)


@dataclass
class ValSet:
    images: list[torch.Tensor]  # each (1, 3, H, W) sRGB 0..1, long side = ``size``

    @classmethod
    def load(cls, roots: list[Path], size: int = 256, limit: int | None = None, holdout: float = 0.0) -> ValSet:
        """The photos under ``roots`` (only the held-out share when ``holdout`` > 0), long side ``size``."""
        images = []
        for root in roots:
            for path in find_images(root):
                if holdout and not in_holdout(path, holdout):
                    continue
                with Image.open(path) as im:
                    im = ImageOps.exif_transpose(im).convert("RGB")
                    im.thumbnail((size, size), Image.Resampling.LANCZOS)
                    arr = np.asarray(im, dtype=np.float32) / 255
                images.append(torch.from_numpy(arr).permute(2, 0, 1)[None])
        return cls(images[:limit] if limit else images)


def score(metrics: dict[str, float]) -> float:
    """One number to pick checkpoints by: PSNR gain over grey, penalised outside 85-115% colourfulness
    of the originals and for outputs left grey."""
    ratio = metrics["colourfulness_ratio"]
    penalty = 5 * max(0.0, 0.85 - ratio) + 5 * max(0.0, ratio - 1.15) + 10 * metrics["grey_share"]
    return metrics["psnr_gain"] - penalty


@torch.inference_mode()
def validate(model: torch.nn.Module, valset: ValSet, temperatures: tuple[float, ...] = TEMPERATURES,
             saturation: float = 1.0) -> dict[float, dict[str, float]]:
    was_training = model.training
    model.eval()
    rows: dict[float, list[tuple[float, float, float, float, float]]] = {t: [] for t in temperatures}
    for rgb in valset.images:
        lab = rgb_to_lab(rgb)
        light = lab[:, :1]
        logits = model(light)
        original = rgb[0].permute(1, 2, 0).numpy()
        grey = lab_to_rgb(torch.cat([light, torch.zeros_like(lab[:, 1:])], 1))[0].permute(1, 2, 0).numpy()
        cf_orig = colourfulness(original)
        psnr_grey = psnr(grey, original)
        for t in temperatures:
            ab = F.interpolate(annealed_mean(logits, model.centres, t), size=light.shape[-2:],
                               mode="bilinear", align_corners=False)
            out = lab_to_rgb(torch.cat([light, ab * saturation], 1))
            chroma = float(rgb_to_lab(out)[:, 1:].norm(dim=1).mean())
            out_np = out[0].permute(1, 2, 0).numpy()
            rows[t].append((psnr(out_np, original), psnr_grey, colourfulness(out_np), cf_orig,
                            float(chroma < GREY_CHROMA)))
    model.train(was_training)
    result = {}
    for t, r in rows.items():
        a = np.array(r)
        result[t] = {
            "psnr": float(a[:, 0].mean()),
            "psnr_grey": float(a[:, 1].mean()),
            "psnr_gain": float(a[:, 0].mean() - a[:, 1].mean()),
            "colourfulness": float(a[:, 2].mean()),
            "colourfulness_original": float(a[:, 3].mean()),
            "colourfulness_ratio": float(a[:, 2].mean() / a[:, 3].mean()),
            "grey_share": float(a[:, 4].mean()),
        }
        result[t]["score"] = score(result[t])
    return result
