"""A model with a stride-2 fine branch through every path a user reaches: the pipeline (full-size output,
alternative colourings, confidence map) and the ONNX export."""

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from colouriser import Colouriser
from colouriser.cli import main
from colouriser.models.unet import with_fine_branch
from colouriser.pipeline import resolve_model, variant_noise
from colouriser.weights import WEIGHTS_FILE, load_model, save_model


@pytest.fixture(scope="module")
def fine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with a fine branch whose last layer is not zero (as after training), in a model folder."""
    model, meta = load_model(resolve_model(None))
    if not meta["config"].get("fine"):
        model, meta["config"] = with_fine_branch(model, meta["config"], 8)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.head2.weight.copy_(torch.randn(model.head2.weight.shape, generator=gen) * 0.2)
    folder = tmp_path_factory.mktemp("fine")
    save_model(model, meta["arch"], meta["config"], folder / WEIGHTS_FILE, meta["extra"])
    return folder


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.chelsea()[:150, :201]  # odd sizes: the working size is not a multiple of the strides


def test_a_fine_model_colours_at_full_size_with_variants_and_confidence(fine_dir: Path, photo: np.ndarray) -> None:
    colouriser = Colouriser.from_pretrained(fine_dir, backend="torch")
    pred = colouriser.predict(photo, size=128)
    assert pred.logits.shape[-2:] == (pred.work.shape[-2] // 2, pred.work.shape[-1] // 2)  # stride 2
    out = colouriser.render_uint8(pred)
    assert out.shape == photo.shape
    a, b = colouriser.variants(pred, 2)
    assert a.shape == photo.shape and np.abs(a - b).mean() > 0.005  # 0..1
    assert colouriser.confidence(pred).shape == photo.shape[:2]


def test_variants_of_a_fine_model_vary_over_regions_as_large_as_a_coarse_models(
        fine_dir: Path, photo: np.ndarray) -> None:
    colouriser = Colouriser.from_pretrained(fine_dir, backend="torch")
    fine = colouriser.predict(photo, size=128)
    colouriser.model.fine = 0  # the same network without its branch: stride-4 logits
    coarse = colouriser.predict(photo, size=128)
    assert coarse.logits.shape[-1] * 2 == fine.logits.shape[-1]

    def change_per_working_pixel(pred) -> float:  # mean step of the noise between neighbours, per working pixel
        noise = variant_noise(pred, 1)
        per_cell = (noise[..., 1:] - noise[..., :-1]).abs().mean()
        return float(per_cell) * noise.shape[-1] / pred.work.shape[-1]

    ratio = change_per_working_pixel(fine) / change_per_working_pixel(coarse)
    assert 0.6 < ratio < 1.5, ratio  # half-size regions would change twice as fast


def test_a_fine_model_exports_to_onnx_and_gives_the_torch_logits(fine_dir: Path) -> None:
    from colouriser.onnx_backend import ONNX_FILE, OnnxNetwork

    assert main(["export", "--model", str(fine_dir)]) == 0
    torch_model = Colouriser.from_pretrained(fine_dir, backend="torch").model
    network = OnnxNetwork(fine_dir / ONNX_FILE)
    light = torch.rand(1, 1, 96, 160) * 100
    with torch.inference_mode():
        expected = torch_model(light.contiguous(memory_format=torch.channels_last))
    got = network(light)
    assert got.shape == expected.shape == (1, expected.shape[1], 48, 80)
    assert torch.allclose(got, expected, atol=1e-3)
    (fine_dir / ONNX_FILE).unlink()  # the other tests use torch on this folder
