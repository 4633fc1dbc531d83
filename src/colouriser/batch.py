"""Colourise many files: expand inputs, name outputs, skip what exists, report each failure and go on."""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hints import Hint
from .load import ImageError
from .pipeline import Colouriser
from .save import extension, output_format
from .training.data import IMAGE_SUFFIXES, find_images
from .weights import atomic_write


@dataclass
class Job:
    source: Path
    relative: Path  # where the output goes under the output folder, without suffix


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def expand_inputs(inputs: list[str]) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Files, folders (searched recursively, sub-folders kept) and glob patterns -> jobs, plus inputs
    that matched nothing."""
    jobs: list[Job] = []
    missing: list[tuple[Path, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = find_images(path)
            if not files:
                missing.append((path, "folder holds no photos"))
            jobs += [Job(f, f.relative_to(path).with_suffix("")) for f in files]
        elif path.is_file():
            jobs.append(Job(path, Path(path.stem)))
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
            if not files:
                missing.append((path, "pattern matched no photos"))
            jobs += [Job(f, Path(f.stem)) for f in files]
        else:
            missing.append((path, "no such file or folder"))
    return jobs, missing


def output_path(job: Job, out_dir: Path, source_format: str | None, fmt: str | None) -> Path:
    return out_dir / job.relative.with_suffix(extension(output_format(source_format, fmt)))


def _guess_format(path: Path) -> str | None:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
            ".webp": "WEBP"}.get(path.suffix.lower())


def run_batch(colouriser: Colouriser, jobs: list[Job], out_dir: Path, fmt: str | None = None, quality: int = 92,
              overwrite: bool = False, on_done: Callable[[Job, str, str], None] | None = None,
              hints: list[Hint] | None = None, confidence: bool = False, variants: int = 0,
              **options: Any) -> BatchResult:
    """Colour each job's photo into ``out_dir``; ``on_done(job, status, detail)`` hears of each one.

    A photo that cannot be read or written is recorded as failed and the batch goes on.
    """
    result = BatchResult()
    for job in jobs:
        # Skipping needs no decode: the name follows from the suffix unless a format is asked for.
        target = output_path(job, out_dir, _guess_format(job.source), fmt)
        if target.exists() and not overwrite:
            result.skipped.append(target)
            status, detail = "skipped", str(target)
        else:
            try:
                for suffix, data, used in colouriser.encode_outputs(job.source, fmt, quality, hints, confidence,
                                                                   variants, **options):
                    target = out_dir / (str(job.relative) + suffix + extension(used))
                    atomic_write(target, lambda tmp, data=data: Path(tmp).write_bytes(data))
                    result.written.append(target)
                status, detail = "written", str(result.written[-1])
            except (ImageError, ValueError) as exc:
                status, detail = "failed", str(exc)
            except OSError as exc:
                status, detail = "failed", exc.strerror or str(exc)
            if status == "failed":
                result.failed.append((job.source, detail))
        if on_done:
            on_done(job, status, detail)
    return result
