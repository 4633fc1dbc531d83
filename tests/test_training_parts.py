"""Parts of training on their own: simulated hints, the checkpoint's atomic save, the progress line."""

from __future__ import annotations

import io
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from rich.console import Console

import colouriser.training.loop as loop
from colouriser.hints import simulate_hints
from colouriser.training.loop import CHECKPOINT, TrainConfig, Trainer

from .conftest import save_photos

# -- simulated hints ---------------------------------------------------------------------------------------


def _ab(batch: int, size: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(-60, 60, (batch, 2, size, size)).astype(np.float32))


@pytest.mark.parametrize("none_share", [0.0, 0.3, 0.5, 0.8, 1.0])
def test_share_of_images_without_hints(none_share: float) -> None:
    rng = np.random.default_rng(1)
    ab = _ab(100)
    without = torch.cat([simulate_hints(ab, rng, none_share)[1].flatten(1).amax(1) == 0 for _ in range(20)])
    share = float(without.float().mean())
    if none_share in (0.0, 1.0):
        assert share == none_share  # an image that is not left without hints gets at least one
    else:
        assert share == pytest.approx(none_share, abs=0.04)


def test_hints_are_patch_means_of_the_true_colour_and_zero_elsewhere() -> None:
    ab = _ab(200, seed=2)
    hint_ab, mask = simulate_hints(ab, np.random.default_rng(3), none_share=0.0, mean_count=1.0)  # one patch each
    assert hint_ab.shape == ab.shape and mask.shape == (200, 1, 16, 16)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(hint_ab * (1 - mask), torch.zeros_like(hint_ab))  # nothing outside the hinted pixels
    sizes = set()
    for i in range(len(ab)):
        rows, cols = torch.nonzero(mask[i, 0], as_tuple=True)
        y0, y1, x0, x1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert y1 - y0 == x1 - x0 and int(mask[i].sum()) == (y1 - y0) ** 2  # a filled square patch
        sizes.add(y1 - y0)
        patch_mean = ab[i, :, y0:y1, x0:x1].mean((1, 2), keepdim=True)
        assert torch.allclose(hint_ab[i, :, y0:y1, x0:x1], patch_mean.expand(2, y1 - y0, x1 - x0), atol=1e-5)
    assert sizes == {1, 2, 3, 4, 5}


def test_several_hints_carry_the_true_colour_and_cluster_around_the_centre() -> None:
    """With the colour constant over each image, every hinted pixel carries exactly that image's ab."""
    colours = torch.from_numpy(np.random.default_rng(4).uniform(-60, 60, (300, 2, 1, 1)).astype(np.float32))
    ab = colours.expand(300, 2, 32, 32).contiguous()
    hint_ab, mask = simulate_hints(ab, np.random.default_rng(5), none_share=0.5)
    hinted = mask.bool().expand_as(ab)
    assert torch.allclose(hint_ab[hinted], ab[hinted], atol=1e-4)
    assert torch.equal(hint_ab[~hinted], torch.zeros(int((~hinted).sum())))
    assert float((mask.flatten(1).sum(1) > 25).float().mean()) > 0.2  # often more than one patch
    where = torch.nonzero(mask[:, 0])[:, 1:].float()  # (row, col) of every hinted pixel
    assert torch.allclose(where.mean(0), torch.tensor([16.0, 16.0]), atol=2.5)  # around the centre
    assert 5 < float(where.std(0).max()) < 9  # drawn with a spread of a quarter of the side, clipped to the image


def test_hints_are_deterministic_for_a_generator_seed() -> None:
    ab = _ab(16)
    a = simulate_hints(ab, np.random.default_rng(9))
    b = simulate_hints(ab, np.random.default_rng(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


# -- a tiny trainer ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_photos(tmp_path_factory.mktemp("parts") / "photos", count=8, size=80, seed=0)


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A uniform colour prior instead of one estimated from 2,000 crops, and the thread count put back."""
    monkeypatch.setattr(loop, "estimate_prior", lambda photos, centres, rng, **kw: torch.full((len(centres),),
                                                                                            1 / len(centres)))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _trainer(photos: Path, out: Path, console: Console | None = None, **kw: Any) -> Trainer:
    cfg = dict(data=[str(photos)], out=str(out), batch=2, crop=64, lr=2e-3, warmup_steps=1, checkpoint_minutes=1e9,
               hint_none_share=0.5, seed=1, threads=1)
    cfg.update(kw)
    return Trainer(TrainConfig(**cfg), console=console or Console(file=io.StringIO()))  # type: ignore[arg-type]


# -- the checkpoint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_save_leaves_the_previous_checkpoint(photos: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           error: BaseException) -> None:
    out = tmp_path / "run"
    trainer = _trainer(photos, out, max_steps=2)
    trainer.run()
    checkpoint = out / CHECKPOINT
    saved, files = checkpoint.read_bytes(), sorted(p.name for p in out.iterdir())
    written: list[str] = []

    def broken_save(obj: Any, f: Any, *args: Any, **kw: Any) -> None:
        if isinstance(f, str | Path):
            written.append(str(f))
            Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        else:
            f.write(b"PK\x03\x04 half a checkpoint")
        raise error

    monkeypatch.setattr(torch, "save", broken_save)
    trainer.step += 1
    with pytest.raises(type(error)):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert written and Path(written[0]).parent == out and Path(written[0]).name != CHECKPOINT  # a temporary file
    assert checkpoint.read_bytes() == saved
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["step"] == 2
    assert sorted(p.name for p in out.iterdir()) == files  # no temporary file left behind
    trainer.save_checkpoint()  # and the next save goes through
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["step"] == 3
    assert sorted(p.name for p in out.iterdir()) == files


def test_a_resumed_run_goes_on_as_an_uninterrupted_one(photos: Path, tmp_path: Path) -> None:
    """The batches, degradations and hints after a checkpoint come from the seed saved in it, in the run that
    saved it as in a run resumed from it, so the two end with the same weights."""
    going_on = _trainer(photos, tmp_path / "a", max_steps=2)
    going_on.run()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    going_on.cfg.max_steps = 4
    going_on.run()
    resumed = _trainer(photos, tmp_path / "b", max_steps=4)
    assert resumed.step == 2
    resumed.run()
    for name, value in going_on.model.state_dict().items():
        assert torch.allclose(value.float(), resumed.model.state_dict()[name].float(), atol=1e-6), name


# -- the progress line -------------------------------------------------------------------------------------


class _StopAfterReport(Console):
    """Captures the output and asks the trainer to stop after its first progress line."""

    trainer: Trainer | None = None

    def print(self, *objects: Any, **kw: Any) -> None:  # type: ignore[override]
        super().print(*objects, **kw)
        if self.trainer is not None and str(objects[0]).startswith("step "):
            self.trainer.stop_requested = True


def _report(photos: Path, out: Path, monkeypatch: pytest.MonkeyPatch, speed: float = 1.0, **kw: Any) -> str:
    """The progress line at step 50 of a run taken up at step 45, with the loop's clock ``speed`` times fast."""
    console = _StopAfterReport(file=io.StringIO(), width=200)
    trainer = _trainer(photos, out, console=console, **kw)
    console.trainer = trainer
    trainer.step = 45
    if speed != 1.0:
        monkeypatch.setattr(loop, "time", SimpleNamespace(time=lambda: time.time() * speed,
                                                          process_time=time.process_time))
    trainer.run()
    lines = [line for line in console.file.getvalue().splitlines() if line.startswith("step ")]  # type: ignore[attr-defined]
    assert len(lines) == 1 and trainer.step == 50
    assert len(lines[0]) < 110, lines[0]  # short enough for one line of a terminal
    return lines[0]


def _minutes(line: str, what: str) -> int | None:
    match = re.search(rf"{what} ([\d,]+) min", line)
    return int(match[1].replace(",", "")) if match else None


def test_progress_line_estimates_the_time_left_by_steps(photos: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    line = _report(photos, tmp_path / "run", monkeypatch, speed=3000.0, max_steps=55)
    assert re.match(r"step 50  seen \d+  loss [\d.]+  lr [\d.e+-]+  [\d.]+ img/s  elapsed [\d,]+ min, eta [\d,]+ min$",
                    line), line
    elapsed, eta = _minutes(line, "elapsed"), _minutes(line, "eta")
    assert elapsed is not None and elapsed >= 1
    assert eta == elapsed  # 5 steps done in this session, 5 to go


def test_progress_line_estimates_the_time_left_by_minutes(photos: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    line = _report(photos, tmp_path / "run", monkeypatch, max_minutes=30.0)
    assert _minutes(line, "elapsed") == 0 and _minutes(line, "eta") == 30
    # with both limits, the one reached first
    line = _report(photos, tmp_path / "both", monkeypatch, speed=3000.0, max_minutes=10_000.0, max_steps=10**6)
    elapsed, eta = _minutes(line, "elapsed"), _minutes(line, "eta")
    assert elapsed is not None and eta is not None and abs(elapsed + eta - 10_000) <= 1


def test_progress_line_without_a_limit_has_no_estimate(photos: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    line = _report(photos, tmp_path / "run", monkeypatch)
    assert _minutes(line, "elapsed") == 0 and "eta" not in line


def test_best_temperature_picks_the_highest_checkpoint_score_not_the_highest_psnr() -> None:
    from colouriser.training.validate import best_temperature

    results = {0.45: {"checkpoint_score": 0.2, "psnr": 28.0},
               0.6: {"checkpoint_score": 0.5, "psnr": 27.0},
               0.8: {"checkpoint_score": -0.1, "psnr": 29.0}}
    t, m = best_temperature(results)
    assert t == 0.6 and m is results[0.6]
