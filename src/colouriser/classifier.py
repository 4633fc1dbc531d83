"""An ImageNet classifier for Zhang et al.'s semantic-interpretability test: does a classifier see the
same thing in the colourised photo as in the original? EfficientNet-Lite2 from PyPI, not our encoder."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .models.efficientnet_lite import build_pretrained, imagenet_input

INPUT_SIZE = 260  # Lite2's resolution


class ImageNetClassifier:
    def __init__(self, variant: str = "lite2") -> None:
        self.net = build_pretrained(variant)

    def top1(self, rgb: np.ndarray) -> int:
        """Top-1 ImageNet class of an sRGB image (H, W, 3) in 0..1."""
        return self.top_classes(rgb, 1)[0]

    @torch.inference_mode()
    def top_classes(self, rgb: np.ndarray, k: int = 5) -> list[int]:
        """The k likeliest ImageNet classes of an sRGB image (H, W, 3) in 0..1, likeliest first: short side
        resized, centre crop."""
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
        h, w = x.shape[-2:]
        scale = INPUT_SIZE / min(h, w)
        x = F.interpolate(x, size=(max(INPUT_SIZE, round(h * scale)), max(INPUT_SIZE, round(w * scale))),
                          mode="bilinear", antialias=True, align_corners=False)
        top, left = (x.shape[-2] - INPUT_SIZE) // 2, (x.shape[-1] - INPUT_SIZE) // 2
        x = x[..., top:top + INPUT_SIZE, left:left + INPUT_SIZE]
        return self.net(imagenet_input(x))[0].topk(k).indices.tolist()
