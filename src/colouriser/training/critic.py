"""GAN refinement in the manner of DeOldify's NoGAN: after the generator has learnt with its own loss,
a patch critic is pretrained on its colourings against real colour, then a short adversarial phase runs
with the generator's own loss kept."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..bins import annealed_mean


class PatchCritic(nn.Module):
    """Spectral-norm convolutional critic on Lab: one real/fake score per ~30-pixel patch."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in (width, width * 2, width * 4):
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        layers.append(spectral_norm(nn.Conv2d(cin, 1, 3, 1, 1)))
        self.net = nn.Sequential(*layers)

    def forward(self, light: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([light / 50 - 1, ab / 110], 1))


def generated_ab(logits: torch.Tensor, centres: torch.Tensor, size: tuple[int, int],
                 temperature: float) -> torch.Tensor:
    """The generator's colouring as the critic sees it: differentiable annealed mean, resized up."""
    return F.interpolate(annealed_mean(logits, centres, temperature), size=size, mode="bilinear",
                         align_corners=False)


def real_ab(ab: torch.Tensor, grid: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Real colour averaged onto the grid the generator predicts on (its logits' height and width: stride 4, or 2
    with a fine branch) and resized back, so that sharpness gives nothing away."""
    small = F.adaptive_avg_pool2d(ab, grid)
    return F.interpolate(small, size=ab.shape[-2:], mode="bilinear", align_corners=False)


def critic_loss(critic: PatchCritic, light: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the critic."""
    return F.relu(1 - critic(light, real)).mean() + F.relu(1 + critic(light, fake.detach())).mean()


def generator_adversarial_loss(critic: PatchCritic, light: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return -critic(light, fake).mean()
