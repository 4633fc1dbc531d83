"""Image-quality numbers for colourisation, all on sRGB uint8 or float images in 0..1 (H, W, 3)."""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

GREY_CHROMA = 3.0  # an output whose mean chroma is under this is "left grey"
DULL_COLOURFULNESS = 15.0  # under this an output is "dull": Hasler & Suesstrunk's "slightly colourful" or less


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over sRGB in 0..1."""
    mse = float(np.mean((output.astype(np.float64) - target.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10 * np.log10(1.0 / mse)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M, on sRGB scaled to 0..255."""
    x = rgb.astype(np.float64) * 255
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def mean_chroma(lab: np.ndarray) -> float:
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    """Mean CIEDE2000 colour difference."""
    return float(deltaE_ciede2000(lab_a, lab_b).mean())


def ab_error_auc(lab_out: np.ndarray, lab_ref: np.ndarray, max_threshold: int = 150) -> float:
    """Zhang et al. 2016's AuC: share of pixels whose ab error is within t, averaged over t = 0..150."""
    err = np.hypot(lab_out[..., 1] - lab_ref[..., 1], lab_out[..., 2] - lab_ref[..., 2]).ravel()
    thresholds = np.arange(max_threshold + 1)
    counts = np.searchsorted(np.sort(err), thresholds, side="right") / err.size
    return float(counts.mean())


def compare(output: np.ndarray, original: np.ndarray) -> dict[str, float]:
    """All per-image numbers of an output against the colour original (both float sRGB 0..1)."""
    lab_out, lab_ref = rgb2lab(output), rgb2lab(original)
    vivid, vivid_original = colourfulness(output), colourfulness(original)
    return {
        "psnr": psnr(output, original),
        "colourfulness": vivid,
        "colourfulness_original": vivid_original,
        "delta_e": delta_e(lab_out, lab_ref),
        "auc": ab_error_auc(lab_out, lab_ref),
        "grey": float(mean_chroma(lab_out) < GREY_CHROMA),
        "dull": float(vivid < DULL_COLOURFULNESS),
        "dull_original": float(vivid_original < DULL_COLOURFULNESS),
    }
