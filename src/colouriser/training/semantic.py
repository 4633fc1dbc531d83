"""Semantic consistency as a training signal: a frozen ImageNet classifier should see the same thing in the
colouring as in the colour original (Zhang et al. 2016's semantic-interpretability test, made a loss).

The classifier is EfficientNet-Lite0's ImageNet network from PyPI, frozen, at the crop's own size. It is not the
Lite2 classifier that ``colouriser evaluate`` reports agreement with, so that the evaluation stays a check by
another network and not the one trained against."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..colour import lab_to_rgb
from ..models.efficientnet_lite import build_pretrained, imagenet_input


class SemanticLoss:
    def __init__(self, variant: str = "lite0") -> None:
        self.net = build_pretrained(variant).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def __call__(self, light: torch.Tensor, ab: torch.Tensor, original_ab: torch.Tensor) -> torch.Tensor:
        """KL(p_original || p_colouring) in nats, batch mean: p are the classifier's class probabilities on the
        lightness ``light`` (B, 1, H, W) with the original colour ``original_ab`` and with the colouring ``ab``
        (both B, 2, H, W). Only the colouring carries a gradient."""
        with torch.no_grad():
            want = F.log_softmax(self.net(imagenet_input(lab_to_rgb(torch.cat([light, original_ab], 1)))), 1)
        got = F.log_softmax(self.net(imagenet_input(lab_to_rgb(torch.cat([light, ab], 1)))), 1)
        return F.kl_div(got, want, log_target=True, reduction="batchmean")
