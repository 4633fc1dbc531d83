"""The peers' networks, rebuilt for timing only (random weights: speed does not depend on them).

- :func:`zhang2016`: Zhang, Isola & Efros 2016, "Colorful Image Colorization", as ``eccv16`` in
  richzhang/colorization: eight VGG-style blocks (64, 128, 256, 512, 512 dilated 2, 512 dilated 2, 512,
  256 after a transposed convolution), a 313-bin 1x1 head, softmax, the 1x1 decode to ab and the x4
  upsampling. Its default input is 256 x 256 lightness.
- :func:`deoldify_like`: a DeOldify-style generator: a ResNet-101 encoder (bottleneck blocks [3, 4, 23, 3])
  under fastai's wide dynamic U-Net as DeOldify's ``DynamicUnetWide`` builds it (nf_factor 2: a 2048 -> 4096
  -> 2048 middle, decoder blocks of 512 channels with ICNR pixel-shuffle upsampling and blur, one
  self-attention layer, the last cross-connection to the input and a full-resolution residual block, 3 outputs).
  DeOldify's "stable" generator; at render factor 35 its input is 560 x 560 RGB.

Written here without torchvision or timm (which do not import beside our torch). Spectral normalisation
(DeOldify's) is left out: at inference it is a per-call weight rescale, nothing per pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# --- Zhang et al. 2016 ----------------------------------------------------------------------------------------


def _zhang_block(cin: int, cout: int, convs: int, stride_last: int = 1, dilation: int = 1) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i in range(convs):
        stride = stride_last if i == convs - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, padding=dilation, dilation=dilation),
                   nn.ReLU(inplace=True)]
    layers.append(nn.BatchNorm2d(cout))
    return layers


class Zhang2016(nn.Module):
    """Lightness (B, 1, H, W) -> ab (B, 2, H, W) through a 313-bin distribution at stride 4."""

    def __init__(self, bins: int = 313) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_zhang_block(1, 64, 2, stride_last=2),
            *_zhang_block(64, 128, 2, stride_last=2),
            *_zhang_block(128, 256, 3, stride_last=2),
            *_zhang_block(256, 512, 3),
            *_zhang_block(512, 512, 3, dilation=2),
            *_zhang_block(512, 512, 3, dilation=2),
            *_zhang_block(512, 512, 3),
            nn.ConvTranspose2d(512, 256, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(256, bins, 1),
        )
        self.decode = nn.Conv2d(bins, 2, 1, bias=False)

    def forward(self, light: torch.Tensor) -> torch.Tensor:
        prob = F.softmax(self.body((light - 50) / 100), 1)
        return F.interpolate(self.decode(prob), scale_factor=4, mode="bilinear", align_corners=False) * 110


def zhang2016() -> Zhang2016:
    return Zhang2016()


# --- ResNet-101 -----------------------------------------------------------------------------------------------


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.body = nn.Sequential(_conv_bn(cin, planes, 1), _conv_bn(planes, planes, 3, stride),
                                  _conv_bn(planes, cout, 1, relu=False))
        self.shortcut = _conv_bn(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x), inplace=True)


class ResNetEncoder(nn.Module):
    """ResNet (v1.5: stride on the 3x3) without its pooling head; features at strides 2, 4, 8, 16, 32."""

    def __init__(self, blocks: tuple[int, int, int, int] = (3, 4, 23, 3)) -> None:
        super().__init__()
        self.stem = _conv_bn(3, 64, 7, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for i, (count, planes) in enumerate(zip(blocks, (64, 128, 256, 512), strict=True)):
            layers = []
            for j in range(count):
                layers.append(Bottleneck(cin, planes, 2 if j == 0 and i > 0 else 1))
                cin = planes * Bottleneck.expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.channels = [64, 256, 512, 1024, 2048]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        features = [x]
        x = self.pool(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


# --- fastai's wide dynamic U-Net, as DeOldify uses it ---------------------------------------------------------


class SelfAttention(nn.Module):
    """fastai's self-attention layer (SAGAN): query and key at C/8 channels, over all positions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = nn.Conv1d(channels, channels // 8, 1, bias=False)
        self.key = nn.Conv1d(channels, channels // 8, 1, bias=False)
        self.value = nn.Conv1d(channels, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        flat = x.reshape(b, c, h * w)
        f, g, v = self.query(flat), self.key(flat), self.value(flat)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        return (self.gamma * torch.bmm(v, beta) + flat).reshape(b, c, h, w)


class PixelShuffleICNR(nn.Module):
    """1x1 convolution to 4x the channels, pixel shuffle x2, then fastai's blur (replication pad + 2x2 average)."""

    def __init__(self, cin: int, cout: int, blur: bool = True) -> None:
        super().__init__()
        self.conv = _conv_bn(cin, cout * 4, 1, relu=False)
        self.shuffle = nn.PixelShuffle(2)
        self.blur = nn.Sequential(nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1)) if blur else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.shuffle(self.conv(x)))
        return self.blur(x) if self.blur is not None else x


class UnetBlockWide(nn.Module):
    def __init__(self, up_in: int, skip_in: int, n_out: int, self_attention: bool = False) -> None:
        super().__init__()
        half = n_out // 2
        self.shuf = PixelShuffleICNR(up_in, half)
        self.bn = nn.BatchNorm2d(skip_in)
        self.conv = _conv_bn(half + skip_in, half, 3)
        self.attention = SelfAttention(half) if self_attention else nn.Identity()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(x)
        if up.shape[-2:] != skip.shape[-2:]:
            up = F.interpolate(up, skip.shape[-2:], mode="nearest")
        return self.attention(self.conv(F.relu(torch.cat([up, self.bn(skip)], 1))))


class DeOldifyLike(nn.Module):
    """RGB (B, 3, H, W) -> RGB, DeOldify's "stable" generator layout (ResNet-101, nf_factor 2)."""

    def __init__(self, nf_factor: int = 2) -> None:
        super().__init__()
        self.encoder = ResNetEncoder()
        deepest = self.encoder.channels[-1]
        nf = 512 * nf_factor
        self.middle = nn.Sequential(nn.BatchNorm2d(deepest), nn.ReLU(inplace=True),
                                    _conv_bn(deepest, deepest * 2, 3), _conv_bn(deepest * 2, deepest, 3))
        skips = self.encoder.channels[-2::-1]  # 1024, 512, 256, 64
        blocks, up_in = [], deepest
        for i, skip in enumerate(skips):
            final = i == len(skips) - 1
            n_out = nf // 2 if final else nf
            blocks.append(UnetBlockWide(up_in, skip, n_out, self_attention=i == len(skips) - 3))
            up_in = n_out // 2
        self.blocks = nn.ModuleList(blocks)
        self.to_full = PixelShuffleICNR(up_in, up_in)
        cross = up_in + 3
        self.res = nn.Sequential(_conv_bn(cross, cross, 3), _conv_bn(cross, cross, 3))
        self.head = nn.Conv2d(cross, 3, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        features = self.encoder(rgb)
        x = self.middle(features[-1])
        for block, skip in zip(self.blocks, features[-2::-1], strict=True):
            x = block(x, skip)
        x = self.to_full(x)
        if x.shape[-2:] != rgb.shape[-2:]:
            x = F.interpolate(x, rgb.shape[-2:], mode="nearest")
        x = torch.cat([x, rgb], 1)
        x = x + self.res(x)
        return torch.sigmoid(self.head(x)) * 6 - 3  # fastai's SigmoidRange(-3, 3)


def deoldify_like() -> DeOldifyLike:
    return DeOldifyLike()


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
