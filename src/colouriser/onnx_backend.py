"""The network as an ONNX file, run with ONNX Runtime: ``colouriser export`` writes it, the pipeline uses it
when asked to (or, by default, when one sits beside the weights and onnxruntime is installed).

Both packages are optional (``pip install 'colouriser[onnx]'``). The file records the SHA-256 of the weights
it was exported from, so a stale export beside newer weights is noticed and not used.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ONNX_FILE = "model.onnx"
INPUTS = ("lightness", "hint_ab", "hint_mask")
OPSET = 17


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def weights_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_onnx(model: nn.Module, out: Path, weights: Path | None = None, opset: int = OPSET) -> Path:
    """Write the network (inputs: lightness (B, 1, H, W), hint_ab (B, 2, H, W), hint_mask (B, 1, H, W), H and W
    free multiples of 4; output: logits (B, Q, H/4, W/4), or (B, Q, H/2, W/2) with a fine branch) to ``out``."""
    import onnx

    model = model.eval()
    example = (torch.rand(1, 1, 64, 96) * 100, torch.zeros(1, 2, 64, 96), torch.zeros(1, 1, 64, 96))
    axes = {name: {0: "batch", 2: "height", 3: "width"} for name in INPUTS}
    axes["logits"] = {0: "batch", 2: "grid_height", 3: "grid_width"}  # H/4, W/4 (H/2, W/2 with a fine branch)
    buffer = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(model, example, buffer, dynamo=False, input_names=list(INPUTS), output_names=["logits"],
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True)
    proto = onnx.load_from_string(buffer.getvalue())
    if weights is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "weights_sha256", weights_digest(weights)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return out


class OnnxNetwork:
    """Called like the torch network: (lightness, hint_ab, hint_mask) tensors -> logits tensor."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.digest = self.session.get_modelmeta().custom_metadata_map.get("weights_sha256")

    def __call__(self, lightness: torch.Tensor, hint_ab: torch.Tensor | None = None,
                 hint_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = lightness.shape
        if hint_ab is None or hint_mask is None:
            hint_ab, hint_mask = torch.zeros(b, 2, h, w), torch.zeros(b, 1, h, w)
        feed: dict[str, Any] = {name: np.ascontiguousarray(t.float().numpy())
                                for name, t in zip(INPUTS, (lightness, hint_ab, hint_mask), strict=True)}
        (logits,) = self.session.run(["logits"], feed)
        return torch.from_numpy(logits)
