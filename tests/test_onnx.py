"""``colouriser export`` and the ONNX Runtime backend (needs the onnx extra, which dev installs)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from colouriser import Colouriser
from colouriser.cli import main
from colouriser.onnx_backend import ONNX_FILE, OnnxNetwork
from colouriser.pipeline import resolve_model
from colouriser.weights import WEIGHTS_FILE


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    shutil.copy(resolve_model(None), folder / WEIGHTS_FILE)
    assert main(["export", "--model", str(folder)]) == 0
    assert (folder / ONNX_FILE).is_file()
    return folder


@pytest.mark.parametrize(("height", "width"), [(256, 192), (96, 160)])
def test_export_round_trip_gives_the_torch_logits(model_dir: Path, height: int, width: int) -> None:
    torch_model = Colouriser.from_pretrained(model_dir, backend="torch").model
    network = OnnxNetwork(model_dir / ONNX_FILE)
    light = torch.rand(1, 1, height, width) * 100
    hint_ab, hint_mask = torch.zeros(1, 2, height, width), torch.zeros(1, 1, height, width)
    hint_ab[..., 20:23, 30:33], hint_mask[..., 20:23, 30:33] = 25.0, 1.0
    for hints in ((None, None), (hint_ab, hint_mask)):
        with torch.inference_mode():
            expected = torch_model(light.contiguous(memory_format=torch.channels_last), *hints)
        assert torch.allclose(network(light, *hints), expected, atol=1e-3)


def test_auto_backend_uses_an_export_beside_the_weights(model_dir: Path) -> None:
    onnx = Colouriser.from_pretrained(model_dir)
    assert onnx.backend == "onnx"
    assert Colouriser.from_pretrained(model_dir, backend="torch").backend == "torch"
    photo = (np.random.default_rng(0).random((60, 80)) * 255).astype(np.uint8)
    a = onnx.colourise_uint8(photo)
    b = Colouriser.from_pretrained(model_dir, backend="torch").colourise_uint8(photo)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_a_stale_export_is_not_used(model_dir: Path, tmp_path: Path) -> None:
    weights = tmp_path / WEIGHTS_FILE
    data = bytearray((model_dir / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 1  # other weights
    weights.write_bytes(bytes(data))
    shutil.copy(model_dir / ONNX_FILE, tmp_path / ONNX_FILE)
    with pytest.warns(UserWarning, match="export it again"):
        assert Colouriser.from_pretrained(tmp_path).backend == "torch"
    with pytest.raises(ValueError, match="export it again"):
        Colouriser.from_pretrained(tmp_path, backend="onnx")
