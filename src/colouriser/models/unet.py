"""U-Net colouriser: EfficientNet-Lite encoder on L (+ optional hints), a global-context branch
(Iizuka et al. 2016) and a decoder that predicts a distribution over ab bins at stride 4, or at stride 2 with the
optional fine branch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .efficientnet_lite import EfficientNetLite, block_specs, imagenet_state_dict
from .registry import register

HINT_SCALE = 110.0  # hint ab values are divided by this before entering the network


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _pool_to(x: torch.Tensor, size: tuple[int, int] | torch.Size, factor: int = 4) -> torch.Tensor:
    """Average-pool to ``size``: a plain ``factor`` x ``factor`` pooling when the sizes are exact multiples (the
    pipeline's working sizes are; it is also what ONNX can export with free height and width), else adaptive."""
    if x.shape[-2] == factor * size[0] and x.shape[-1] == factor * size[1]:
        return F.avg_pool2d(x, factor)
    return F.adaptive_avg_pool2d(x, size)


class UpBlock(nn.Module):
    def __init__(self, cin: int, skip: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv_bn_relu(cin + skip, cout), _conv_bn_relu(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], 1))


class ColourUNet(nn.Module):
    """Maps lightness (B, 1, H, W) in 0..100, and optional hints, to bin logits (B, Q, H/4, W/4), or
    (B, Q, H/2, W/2) with a fine branch of ``fine`` channels.

    Hints are an ab map (B, 2, H, W) and a mask (B, 1, H, W) that is 1 where the user gave a colour.

    The fine branch adds a correction at stride 2 to the stride-4 logits, bilinearly enlarged: it reads the
    decoder's stride-4 features and the encoder's stride-2 features (and the hints again), and its last layer
    starts at zero, so a model it is added to starts out colouring as before (up to enlarging logits rather
    than colour) and training only has to learn the detail the stride-4 grid averages away.
    """

    def __init__(self, centres: list[list[float]], encoder_specs: list[list[int]], stem: int = 32,
                 decoder: tuple[int, int, int] = (128, 96, 64), global_channels: int = 256, fine: int = 0) -> None:
        super().__init__()
        specs = [tuple(int(v) for v in s) for s in encoder_specs]
        self.encoder = EfficientNetLite(specs, stem=stem, in_channels=4, num_classes=0)  # type: ignore[arg-type]
        c2, c4, c8, c16, c32 = self.encoder.feature_channels
        d16, d8, d4 = decoder
        self.global_mlp = nn.Sequential(nn.Linear(c32, global_channels), nn.ReLU(inplace=True),
                                        nn.Linear(global_channels, d16))
        self.bottleneck = _conv_bn_relu(c32, d16, 1)
        self.up16 = UpBlock(d16, c16, d16)
        self.up8 = UpBlock(d16, c8, d8)
        self.up4 = UpBlock(d8, c4 + 3, d4)  # the hints enter again here, at the head's resolution
        self.head = nn.Conv2d(d4, len(centres), 1)
        self.fine = fine
        if fine:
            self.reduce2 = _conv_bn_relu(d4, fine, 1)
            self.up2 = UpBlock(fine, c2 + 3, fine)
            self.head2 = nn.Conv2d(fine, len(centres), 1)
            nn.init.zeros_(self.head2.weight)
            nn.init.zeros_(self.head2.bias)
        self.register_buffer("centres", torch.tensor(centres, dtype=torch.float32))

    def forward(self, lightness: torch.Tensor, hint_ab: torch.Tensor | None = None,
                hint_mask: torch.Tensor | None = None, coarse: bool = False) -> torch.Tensor:
        """Bin logits; ``coarse``: the stride-4 logits alone, the fine branch (if any) not run."""
        b, _, h, w = lightness.shape
        if hint_ab is None or hint_mask is None:
            hint_ab = lightness.new_zeros(b, 2, h, w)
            hint_mask = lightness.new_zeros(b, 1, h, w)
        hints = torch.cat([hint_ab * hint_mask / HINT_SCALE, hint_mask], 1)
        x = torch.cat([(lightness * 2.55 - 127) / 128, hints], 1)
        f2, f4, f8, f16, f32 = self.encoder.features(x)
        g = self.global_mlp(f32.mean((2, 3)))
        x = self.bottleneck(f32) + g[:, :, None, None]
        x = self.up16(x, f16)
        x = self.up8(x, f8)
        x = self.up4(x, torch.cat([f4, _pool_to(hints, f4.shape[-2:])], 1))
        if not self.fine or coarse:
            return self.head(x)
        base = F.interpolate(self.head(x), size=f2.shape[-2:], mode="bilinear", align_corners=False)
        x = self.up2(self.reduce2(x), torch.cat([f2, _pool_to(hints, f2.shape[-2:], 2)], 1))
        return base + self.head2(x)

    def init_encoder_from_imagenet(self, variant: str) -> None:
        """Load ImageNet weights; the RGB stem is folded into the L channel, hint channels start at 0."""
        state = {k: v for k, v in imagenet_state_dict(variant).items()
                 if not k.startswith(("_fc.", "_conv_head.", "_bn1."))}
        stem = state["_conv_stem.weight"]
        state["_conv_stem.weight"] = torch.cat([stem.sum(1, keepdim=True), stem.new_zeros(stem.shape[0], 3, 3, 3)], 1)
        self.encoder.load_state_dict(state)


def encoder_config(variant: str) -> dict[str, Any]:
    """The architecture of an EfficientNet-Lite variant, read off its ImageNet weights."""
    state = imagenet_state_dict(variant)
    return {"encoder_specs": [list(s) for s in block_specs(state)], "stem": int(state["_conv_stem.weight"].shape[0])}


@register("unet-effnet-lite")
def build_unet(**config: Any) -> ColourUNet:
    return ColourUNet(**config)


FINE_BRANCH = ("reduce2.", "up2.", "head2.")  # parameter-name prefixes of the fine branch


def with_fine_branch(model: ColourUNet, config: dict[str, Any], channels: int) -> tuple[ColourUNet, dict[str, Any]]:
    """The same network with a fine branch of ``channels`` added (its weights as ``model``'s, the branch's new),
    and its config; a model that has one already is returned as it is."""
    if model.fine:
        return model, config
    config = {**config, "fine": channels}
    fine = ColourUNet(**config)
    missing, unexpected = fine.load_state_dict(model.state_dict(), strict=False)
    if unexpected or not all(k.startswith(FINE_BRANCH) for k in missing):
        raise ValueError(f"not a network to add a fine branch to: missing {missing}, unexpected {unexpected}")
    return fine, config
