"""Make a network fast for inference on a CPU: batch norms folded into their convolutions, channels-last
memory, and the thread settings."""

from __future__ import annotations

import itertools
import os

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .models.efficientnet_lite import EfficientNetLite, MBConv

# Modules whose forward applies each BatchNorm2d directly to the output of the Conv2d registered just before it.
_CONV_THEN_BN = (nn.Sequential, MBConv, EfficientNetLite)


def fuse_conv_bn(model: nn.Module) -> int:
    """Fold every batch norm that directly follows a convolution into it (eval mode only); returns how many."""
    if model.training:
        raise ValueError("fuse batch norms only into a model in eval mode")
    fused = 0
    for module in model.modules():
        if not isinstance(module, _CONV_THEN_BN):
            continue
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in itertools.pairwise(children):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and conv.out_channels == bn.num_features:
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
                fused += 1
    return fused


def for_inference(model: nn.Module) -> nn.Module:
    """Eval mode, batch norms folded, weights channels-last, no gradients. Changes ``model`` in place."""
    model.eval()
    fuse_conv_bn(model)
    model.to(memory_format=torch.channels_last)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def configure_threads(threads: int | None = None) -> int:
    """Use ``threads`` (default: every CPU this process may use, unless ``OMP_NUM_THREADS`` says otherwise) for
    torch's intra-op work and flush denormals to zero; returns the thread count."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else available_cpus()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    return threads


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask, e.g. a container's limit), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
