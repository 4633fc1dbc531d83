from pathlib import Path

import pytest
import torch

from colouriser.training.critic import PatchCritic, real_ab
from colouriser.training.loop import CHECKPOINT, TrainConfig, Trainer

from .conftest import save_photos


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_photos(tmp_path_factory.mktemp("gan"), 16, 72, seed=2)


def test_critic_scores_patches_and_real_ab_loses_its_sharpness() -> None:
    critic = PatchCritic(width=8)
    scores = critic(torch.rand(2, 1, 64, 64) * 100, torch.randn(2, 2, 64, 64) * 30)
    assert scores.shape == (2, 1, 8, 8)
    ab = torch.zeros(1, 2, 16, 16)
    ab[..., ::2] = 40.0  # a pattern finer than the generator's stride
    assert real_ab(ab, (4, 4)).std() < 0.5 * ab.std()
    # blurred to the grid the generator predicts on: stripes 2 px wide survive a fine branch's stride-2 grid and are
    # averaged away on the stride-4 grid
    stripes = torch.zeros(1, 2, 16, 16)
    stripes[..., 0::4] = stripes[..., 1::4] = 40.0
    assert real_ab(stripes, (8, 8)).std() > 0.5 * stripes.std()
    assert real_ab(stripes, (4, 4)).std() < 0.01 * stripes.std()


def test_nogan_pretrains_the_critic_then_trains_adversarially_and_resumes(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "gan"
    cfg = dict(data=[str(photos)], out=str(out), batch=4, crop=64, lr=1e-3, warmup_steps=1, gan=True,
               gan_critic_steps=3, checkpoint_minutes=100.0, val_every=1000)
    trainer = Trainer(TrainConfig(**cfg, max_steps=3))  # type: ignore[arg-type]
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    critic_before = {k: v.clone() for k, v in trainer.critic.state_dict().items()}
    trainer.run()
    # critic pretraining: the generator is untouched, the critic has learnt
    assert all(torch.equal(v, before[k]) for k, v in trainer.model.state_dict().items())
    assert any(not torch.equal(v, critic_before[k]) for k, v in trainer.critic.state_dict().items())
    resumed = Trainer(TrainConfig(**cfg, max_steps=5))  # type: ignore[arg-type]
    assert resumed.gan_step == 3
    resumed.run()
    assert any(not torch.equal(v, before[k]) for k, v in resumed.model.state_dict().items()
               if v.is_floating_point())
    assert torch.load(out / CHECKPOINT, weights_only=False)["gan_step"] == 5
