"""Colour many files: expand inputs, name outputs, skip what exists, report each failure and go on.

Output names: a file input is written under its own name; a folder input (searched recursively) and a glob
pattern keep their sub-folders (``colourise photos -o out``: photos/a/x.jpg -> out/a/x.jpg; ``"photos/*/x.jpg"``:
the sub-folders below the pattern's fixed part, here a/x.jpg). The extension is the format written. Inputs of one
batch that would still share an output name (compared ignoring case) are all renamed: with the source's
extension if that tells them apart (x.jpg, x.png with ``--format jpg`` -> x-jpg.jpg, x-png.jpg), else numbered
in input order (a/x.jpg, b/x.jpg given as files -> x-1.jpg, x-2.jpg). The same inputs always get the same names,
so a re-run skips them all. The skip check and the writer both name a file by :func:`output_path`.
"""

from __future__ import annotations

import glob
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from PIL import Image

from .hints import Hint
from .load import ImageError
from .pipeline import Colouriser
from .save import extension, format_of_suffix, output_format
from .training.data import IMAGE_SUFFIXES, find_images
from .weights import atomic_write


@dataclass
class Job:
    source: Path
    relative: Path  # the output's path under the output folder, without its extension (the name may hold dots)
    format: str | None = None  # the format to write, chosen by plan_outputs
    renamed: bool = False  # plan_outputs changed the name: another input of the batch had the same one


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def expand_inputs(inputs: list[str]) -> tuple[list[Job], list[tuple[Path, str]]]:
    """Files, folders (searched recursively, sub-folders kept) and glob patterns (sub-folders below the pattern's
    fixed part kept) -> jobs, plus inputs that matched nothing. A file met twice is colourised once."""
    jobs: list[Job] = []
    missing: list[tuple[Path, str]] = []
    seen: set[Path] = set()

    def add(files: list[Path], base: Path) -> None:
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                jobs.append(Job(f, _without_suffix(f, base)))

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = find_images(path)
            if not files:
                missing.append((path, "folder holds no photos"))
            add(files, path)
        elif path.is_file():
            add([path], path.parent)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
            if not files:
                missing.append((path, "pattern matched no photos"))
            add(files, _fixed_part(item))
        else:
            missing.append((path, "no such file or folder"))
    return jobs, missing


def _fixed_part(pattern: str) -> Path:
    """The leading folders of a glob pattern that hold no wildcard: photos/*/x.jpg -> photos."""
    parts = Path(pattern).parts
    fixed = parts[: next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))]
    return Path(*fixed)


def _without_suffix(file: Path, base: Path) -> Path:
    try:
        relative = file.relative_to(base)
    except ValueError:  # not below it after all (a pattern with "..", say): the name alone
        relative = Path(file.name)
    return relative.with_name(relative.stem)


def source_format(path: Path) -> str | None:
    """The input's format as the loader will see it (Pillow reads only the header), so a PNG misnamed .jpg
    is a PNG; for a file that cannot be read, a guess from its suffix (the loader then says what is wrong)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                return im.format
    except Exception:  # unreadable in any way: colouring it fails and reports why
        return format_of_suffix(path.suffix)


def output_path(job: Job, out_dir: Path, suffix: str = "", fmt: str | None = None) -> Path:
    """Where a job's output goes: the one place output names are made. ``suffix``: "" for the colouring,
    ".confidence" or ".variantN" for the extras; ``fmt``: the format written (default: the job's)."""
    fmt = fmt or job.format
    if fmt is None:
        raise ValueError(f"no output format chosen for {job.source} (plan_outputs chooses it)")
    return out_dir / job.relative.parent / (job.relative.name + suffix + extension(fmt))


def plan_outputs(jobs: list[Job], fmt: str | None = None) -> list[Job]:
    """The jobs with their output format chosen (``fmt``, else the input's) and every output name distinct
    (see the module's docstring for how clashing names are told apart)."""
    planned = [replace(job, format=output_format(source_format(job.source), fmt)) for job in jobs]

    def key(job: Job) -> str:
        return str(output_path(job, Path())).casefold()  # x.JPG and x.jpg are one file on many systems

    groups: dict[str, list[int]] = defaultdict(list)
    for i, job in enumerate(planned):
        groups[key(job)].append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        exts = [planned[i].source.suffix.lstrip(".").casefold() for i in members]
        by_extension = all(exts) and len(set(exts)) == len(exts)
        for n, (i, ext) in enumerate(zip(members, exts, strict=True), 1):
            job = planned[i]
            tag = ext if by_extension else str(n)
            planned[i] = replace(job, relative=job.relative.with_name(f"{job.relative.name}-{tag}"), renamed=True)
    # A new name may meet another input's own (x.jpg and x.png beside an x-png.jpg): the input keeps its own
    # name, and the renamed one counts on from 2.
    taken = {key(job) for job in planned if not job.renamed}
    for i, job in enumerate(planned):
        if not job.renamed:
            continue
        base, n = job.relative, 2
        while key(job) in taken:
            job = replace(job, relative=base.with_name(f"{base.name}-{n}"), renamed=True)
            n += 1
        taken.add(key(job))
        planned[i] = job
    return planned


def run_batch(colouriser: Colouriser, jobs: list[Job], out_dir: Path, fmt: str | None = None, quality: int = 92,
              overwrite: bool = False, on_done: Callable[[Job, str, str], None] | None = None,
              hints: list[Hint] | None = None, confidence: bool = False, variants: int = 0,
              **options: Any) -> BatchResult:
    """Colour each job's photo into ``out_dir``; ``on_done(job, status, detail)`` hears of each one.

    Jobs from :func:`expand_inputs` are named by :func:`plan_outputs` here (pass planned jobs to name them
    yourself). A photo that cannot be read or written is recorded as failed and the batch goes on.
    """
    if any(job.format is None for job in jobs):
        jobs = plan_outputs(jobs, fmt)
    result = BatchResult()
    for job in jobs:
        target = output_path(job, out_dir)
        if target.exists() and not overwrite:
            result.skipped.append(target)
            status, detail = "skipped", str(target)
        else:
            try:
                for suffix, data, used in colouriser.encode_outputs(job.source, job.format, quality, hints,
                                                                   confidence, variants, **options):
                    written = output_path(job, out_dir, suffix, used)
                    atomic_write(written, lambda tmp, data=data: Path(tmp).write_bytes(data))
                    result.written.append(written)
                status, detail = "written", str(target)
            except (ImageError, ValueError) as exc:
                status, detail = "failed", str(exc)
            except OSError as exc:
                status, detail = "failed", exc.strerror or str(exc)
            if status == "failed":
                result.failed.append((job.source, detail))
        if on_done:
            on_done(job, status, detail)
    return result
