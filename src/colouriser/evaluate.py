"""Evaluation: grey each colour photo, colour it again and compare with the original and the grey baseline."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage.color import rgb2lab

from .colour import lab_to_rgb
from .hints import Hint, sample_hints
from .load import ImageError, load_image
from .metrics import GREY_CHROMA, compare
from .pipeline import Colouriser
from .prepare import lightness
from .training.data import find_images

METRICS = ("psnr", "colourfulness", "delta_e", "auc", "grey", "dull", "l_error", "l_off")


@dataclass
class Report:
    images: int = 0
    ours: dict[str, float] = field(default_factory=dict)
    grey: dict[str, float] = field(default_factory=dict)
    original_colourfulness: float = 0.0
    original_dull: float = 0.0  # share of the originals themselves under the "dull" line
    has_reference: bool = True
    classifier: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    hint_ab_error: float = 0.0  # mean |ab(output) - ab(hint)| at the hinted points, with --hints

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def grey_baseline(rgb: np.ndarray) -> np.ndarray:
    light = lightness(rgb)
    return lab_to_rgb(torch.cat([light, torch.zeros(1, 2, *light.shape[-2:])], 1))[0].permute(1, 2, 0).numpy()


def lightness_errors(output: np.ndarray, light_in: torch.Tensor) -> dict[str, float]:
    """``l_error``: the mean absolute difference of CIE L between output and input (``light_in``, the input's
    :func:`lightness`, worked out once a photo), on 0..100; ``l_off``: the share of pixels more than 1 L off, where
    a colour outside sRGB was clipped
    rather than fitted (a blotch, not the mean's rounding)."""
    diff = (lightness(output) - light_in).abs()
    return {"l_error": float(diff.mean()), "l_off": float((diff > 1).float().mean())}


def _hint_error(output: np.ndarray, hints: list[Hint]) -> float:
    lab = rgb2lab(output)
    return float(np.mean([np.hypot(*(lab[int(h.y), int(h.x), 1:] - np.array(h.ab()))) for h in hints]))


def _to_jpeg(rgb: np.ndarray, path: Path, long_side: int = 320) -> None:
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    im.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    im.save(path, "JPEG", quality=85)


def evaluate(colouriser: Colouriser, folders: Iterable[Path], limit: int | None = None, classify: bool = True,
             sheet: Path | None = None, progress: Callable[[int, int], None] | None = None,
             hint_count: int = 0, paths: list[Path] | None = None, **options: Any) -> Report:
    """Score ``colouriser`` on the photos in ``folders`` (or on ``paths``)."""
    if paths is None:
        paths = [p for folder in folders for p in find_images(Path(folder))]
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no photos found in {', '.join(map(str, folders))}")
    classifier = None
    if classify:
        from .classifier import ImageNetClassifier

        classifier = ImageNetClassifier()
    rows_ours: list[dict[str, float]] = []
    rows_grey: list[dict[str, float]] = []
    agree = {"ours": 0, "grey": 0}
    hint_errors: list[float] = []
    report = Report(settings={"model": colouriser.name, **colouriser.settings.__dict__, **options})
    sheet_rows = []
    if sheet:
        (sheet / "images").mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        try:
            original = load_image(path).rgb
        except ImageError as exc:
            report.failures.append(f"{path}: {exc}")
            continue
        hints = sample_hints(original, hint_count, np.random.default_rng(i)) if hint_count else None
        output = colouriser.colourise_rgb(original, hints=hints, **options)
        if hints:
            hint_errors.append(_hint_error(output, hints))
        grey = grey_baseline(original)
        m_ours, m_grey = compare(output, original), compare(grey, original)
        light_in = lightness(original)
        m_ours.update(lightness_errors(output, light_in))
        m_grey.update(lightness_errors(grey, light_in))
        rows_ours.append(m_ours)
        rows_grey.append(m_grey)
        if classifier is not None:
            want = classifier.top1(original)
            agree["ours"] += classifier.top1(output) == want
            agree["grey"] += classifier.top1(grey) == want
        if sheet:
            stem = f"{i:04d}"
            _to_jpeg(grey, sheet / "images" / f"{stem}_grey.jpg")
            _to_jpeg(output, sheet / "images" / f"{stem}_ours.jpg")
            _to_jpeg(original, sheet / "images" / f"{stem}_original.jpg")
            sheet_rows.append((path.name, stem, m_ours))
        if progress:
            progress(i + 1, len(paths))
    n = len(rows_ours)
    if n == 0:
        raise FileNotFoundError("none of the photos could be read")
    report.images = n
    report.ours = {k: float(np.mean([r[k] for r in rows_ours])) for k in METRICS}
    report.grey = {k: float(np.mean([r[k] for r in rows_grey])) for k in METRICS}
    report.hint_ab_error = float(np.mean(hint_errors)) if hint_errors else 0.0
    report.original_colourfulness = float(np.mean([r["colourfulness_original"] for r in rows_ours]))
    report.original_dull = float(np.mean([r["dull_original"] for r in rows_ours]))
    # Photos that are grey already (historical scans) have no colour to compare with.
    report.has_reference = report.original_colourfulness > 2 * GREY_CHROMA
    if classifier is not None and report.has_reference:
        report.classifier = {"ours": agree["ours"] / n, "grey": agree["grey"] / n}
    if sheet:
        write_sheet(sheet, sheet_rows, report)
    return report


def write_sheet(folder: Path, rows: list[tuple[str, str, dict[str, float]]], report: Report) -> Path:
    """A side-by-side HTML contact sheet: grey input, our colouring, the original."""
    cells = []
    for name, stem, m in rows:
        cells.append(
            f"<tr><td><img src='images/{stem}_grey.jpg'></td><td><img src='images/{stem}_ours.jpg'></td>"
            f"<td><img src='images/{stem}_original.jpg'></td><td>{html.escape(name)}<br>PSNR {m['psnr']:.1f} dB"
            f"<br>colourfulness {m['colourfulness']:.1f} (original {m['colourfulness_original']:.1f})</td></tr>")
    page = ("<!doctype html><meta charset='utf-8'><title>colouriser evaluation</title>"
            "<style>body{font-family:sans-serif}img{max-width:320px}td{vertical-align:top;padding:4px}</style>"
            f"<h1>colouriser evaluation: {report.images} photos</h1>"
            f"<pre>{html.escape(json.dumps(report.as_dict(), indent=1))}</pre>"
            "<table><tr><th>input (grey)</th><th>colouriser</th><th>original</th><th></th></tr>"
            + "".join(cells) + "</table>")
    out = folder / "index.html"
    out.write_text(page)
    return out


def contact_sheet(images: list[tuple[str, np.ndarray, np.ndarray]], path: Path, columns: int = 4,
                  cell: int = 256) -> Path:
    """A PNG grid of (label, input, output) pairs, for the README."""
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell * 2, rows * cell), "white")
    for i, (_, before, after) in enumerate(images):
        r, c = divmod(i, columns)
        for j, arr in enumerate((before, after)):
            im = Image.fromarray((np.clip(arr, 0, 1) * 255 + 0.5).astype(np.uint8))
            im.thumbnail((cell - 4, cell - 4), Image.Resampling.LANCZOS)
            sheet.paste(im, (c * cell * 2 + j * cell + 2, r * cell + 2))
    sheet.save(path, quality=85, optimize=True)  # format from the suffix
    return path
