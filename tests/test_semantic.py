"""The semantic-consistency term: a frozen ImageNet classifier compares the colouring with the original."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from colouriser.colour import rgb_to_lab
from colouriser.training.critic import generated_ab
from colouriser.training.loop import TrainConfig, Trainer
from colouriser.training.semantic import SemanticLoss

from .test_training import _config, photo_dirs  # noqa: F401  (photo_dirs is a fixture)


@pytest.fixture(scope="module")
def semantic() -> SemanticLoss:
    return SemanticLoss()


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    import skimage.data

    rgb = torch.from_numpy(skimage.data.chelsea().astype(np.float32) / 255).permute(2, 0, 1)[None]
    return F.interpolate(rgb, size=(128, 192), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def test_the_original_colours_cost_nothing_and_wrong_ones_do(semantic: SemanticLoss, cat: torch.Tensor) -> None:
    lab = rgb_to_lab(cat)
    light, ab = lab[:, :1], lab[:, 1:]
    assert abs(float(semantic(light, ab, ab))) < 1e-6
    wrong = float(semantic(light, -ab * 2, ab))  # a blue-green cat on a purple ground
    assert wrong > 0.1


def test_the_term_can_be_lowered_by_changing_the_colour(semantic: SemanticLoss, cat: torch.Tensor) -> None:
    """Its gradient reaches the colour and points somewhere useful: a few steps on a wrong colouring bring the
    classifier's view of it closer to its view of the original; the classifier itself stays frozen."""
    lab = rgb_to_lab(cat)
    ab = (-lab[:, 1:] * 2).requires_grad_(True)
    before = {k: v.clone() for k, v in semantic.net.state_dict().items()}
    opt = torch.optim.Adam([ab], lr=2.0)
    losses = []
    for _ in range(8):
        loss = semantic(lab[:, :1], ab, lab[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0]
    for k, v in semantic.net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None and not p.requires_grad for p in semantic.net.parameters())


def test_training_with_the_term_moves_the_model_another_way(photo_dirs: tuple[Path, Path],  # noqa: F811
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs on the same batches (same seed), with and without the term: the weights part ways, and the
    logged loss stays the cross-entropy (equal at the first step, before the weights differ). The term judges
    the colouring decoded at ``semantic_temperature`` on ``semantic_crops`` crops."""
    import colouriser.training.loop as loop

    decoded: list[tuple[int, float]] = []

    def recording(logits: torch.Tensor, centres: torch.Tensor, size: tuple[int, int], temperature: float):
        decoded.append((len(logits), temperature))
        return generated_ab(logits, centres, size, temperature)

    monkeypatch.setattr(loop, "generated_ab", recording)
    runs = {}
    for weight in (0.0, 1.0):
        cfg: TrainConfig = _config(photo_dirs, tmp_path / f"run{weight}", max_steps=3, val=[], semantic=weight,
                                   semantic_crops=4, semantic_temperature=0.45)
        trainer = Trainer(cfg)
        runs[weight] = (trainer, trainer.run()["losses"])
        assert (trainer.semantic is not None) == bool(weight)
    assert decoded == [(4, 0.45)] * 3  # only the run with the term, at each of its steps
    (plain, plain_losses), (with_term, term_losses) = runs[0.0], runs[1.0]
    assert plain_losses[0] == pytest.approx(term_losses[0], rel=1e-5)
    moved = [k for k, v in plain.model.state_dict().items()
             if v.is_floating_point() and not torch.allclose(v, with_term.model.state_dict()[k])]
    assert moved
    with pytest.raises(ValueError, match="NoGAN"):
        Trainer(_config(photo_dirs, tmp_path / "gan", val=[], semantic=1.0, gan=True))
