import json

import numpy as np
import pytest
import skimage.data
import torch
from skimage.color import lab2rgb, rgb2lab

from colouriser import Colouriser
from colouriser.bins import in_gamut_bins
from colouriser.hints import Hint, empty_hints, parse_hint, parse_hints_json, rasterise
from colouriser.metrics import delta_e
from colouriser.predict import confidence
from colouriser.propagate import propagate_hints


@pytest.fixture(scope="module")
def colouriser() -> Colouriser:
    return Colouriser.from_pretrained()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skimage.data.chelsea()[::2, ::2] / 255  # 150 x 226


def test_hints_parse_from_pixels_percent_and_json() -> None:
    assert parse_hint("12,30,#ff0000") == Hint(12, 30, (255, 0, 0), False)
    assert parse_hint("50%,25%,#0f0") == Hint(0.5, 0.25, (0, 255, 0), True)
    items = [{"x": 3, "y": 4, "colour": "#102030"}, {"x": "1%", "y": "2%", "color": "#fff"}]
    hints = parse_hints_json(json.dumps(items))
    assert hints == [Hint(3, 4, (16, 32, 48)), Hint(0.01, 0.02, (255, 255, 255), True)]
    for bad, reason in (("1,2", "X,Y,#RRGGBB"), ("a,2,#ff0000", "pixels or percentages"), ("1,2,#ff00", "#RRGGBB"),
                        ("10%,2,#ff0000", "both"), ("150%,20%,#ff0000", "outside")):
        with pytest.raises(ValueError, match=reason):
            parse_hint(bad)
    with pytest.raises(ValueError, match="JSON"):
        parse_hints_json("[{")


def test_rasterise_puts_a_small_ab_patch_at_the_working_size() -> None:
    ab, mask = rasterise([Hint(0.5, 0.5, (200, 30, 30), True)], (400, 600), (100, 150))
    assert mask.sum() == 9 and mask[0, 0, 49:52, 74:77].all()
    lab = rgb2lab(np.array([[[200, 30, 30]]]) / 255)[0, 0]
    assert torch.allclose(ab[0, :, 50, 75], torch.tensor(lab[1:], dtype=torch.float32), atol=1e-3)
    with pytest.raises(ValueError, match="outside"):
        rasterise([Hint(700, 10, (0, 0, 0))], (400, 600), (100, 150))


def test_no_hints_is_the_automatic_result(colouriser: Colouriser, photo: np.ndarray) -> None:
    assert np.array_equal(colouriser.colourise_rgb(photo), colouriser.colourise_rgb(photo, hints=[]))


def test_a_hint_sets_the_colour_at_its_point_and_keeps_the_lightness(colouriser: Colouriser,
                                                                      photo: np.ndarray) -> None:
    auto = colouriser.colourise_rgb(photo)
    light = rgb2lab(photo)[75, 110, 0]
    green = lab2rgb(np.array([[[light, -35.0, 30.0]]]))[0, 0]  # a green the photo can show at that lightness
    hint = Hint(110, 75, tuple(int(v) for v in (green * 255).round()))
    out = colouriser.colourise_rgb(photo, hints=[hint])
    lab_out, lab_auto = rgb2lab(out), rgb2lab(auto)
    assert np.hypot(*(lab_out[75, 110, 1:] - np.array(hint.ab()))) < 10
    assert np.hypot(*(lab_auto[75, 110, 1:] - np.array(hint.ab()))) > 20  # it was not green before
    assert np.abs(lab_out[..., 0] - rgb2lab(photo)[..., 0]).mean() < 1.0
    strong = rgb2lab(colouriser.colourise_rgb(photo, hints=[hint], saturation=2.0))
    assert np.hypot(*(strong[75, 110, 1:] - np.array(hint.ab()))) < 3  # the hint is the output's colour


def test_hinted_colourings_default_to_saturation_one_unless_one_is_asked_for(photo: np.ndarray) -> None:
    """The model's saturation boost is for automatic colourings; with hints the default is 1, and a saturation
    the user sets applies to both."""
    boosted = Colouriser.from_pretrained(saturation_with_hints=1.0)
    boosted.settings.saturation = 1.3
    hint = [Hint(0.5, 0.5, (40, 160, 60), True)]
    auto = boosted.colourise_rgb(photo)
    assert np.array_equal(auto, boosted.colourise_rgb(photo, saturation=1.3))
    assert not np.array_equal(auto, boosted.colourise_rgb(photo, saturation=1.0))
    hinted = boosted.colourise_rgb(photo, hints=hint)
    assert np.array_equal(hinted, boosted.colourise_rgb(photo, hints=hint, saturation=1.0))
    assert not np.array_equal(hinted, boosted.colourise_rgb(photo, hints=hint, saturation=1.3))
    asked = Colouriser.from_pretrained(saturation=1.3)
    assert asked.settings.saturation == asked.settings.saturation_with_hints == 1.3
    assert np.array_equal(asked.colourise_rgb(photo, hints=hint),
                          boosted.colourise_rgb(photo, hints=hint, saturation=1.3))


def test_confidence_is_low_where_the_distribution_is_flat() -> None:
    centres = in_gamut_bins()
    logits = torch.zeros(1, len(centres), 4, 4)
    logits[0, 7, :2] = 30.0  # top half: one sure colour; bottom half: all colours equally likely
    spread_out = -((centres - centres[120]) ** 2).sum(1) / (2 * 15.0**2)  # a Gaussian of 15 ab: in between
    logits[0, :, 2, :2] = spread_out.view(-1, 1)
    conf = confidence(logits, centres)
    assert conf.shape == (1, 1, 4, 4)
    assert torch.allclose(conf[0, 0, :2], torch.ones(2, 4), atol=1e-3)
    assert torch.allclose(conf[0, 0, 3], torch.zeros(4), atol=1e-3)
    assert bool((conf[0, 0, 2, :2] > conf[0, 0, 3, :2]).all()) and bool((conf[0, 0, 2, :2] < 1).all())


def test_confidence_map_is_full_resolution(colouriser: Colouriser, photo: np.ndarray) -> None:
    conf = colouriser.confidence(colouriser.predict(photo))
    assert conf.shape == photo.shape[:2] and conf.min() >= 0 and conf.max() <= 1 and conf.std() > 0


def test_variants_differ_and_keep_the_lightness(colouriser: Colouriser, photo: np.ndarray) -> None:
    pred = colouriser.predict(photo)
    variants = colouriser.variants(pred, 3, seed=1)
    auto = colouriser.render(pred)
    light = rgb2lab(auto)[..., 0]
    labs = [rgb2lab(v) for v in variants]
    for lab in labs:
        assert np.abs(lab[..., 0] - light).mean() < 1.0
    assert min(delta_e(labs[i], labs[j]) for i, j in ((0, 1), (0, 2), (1, 2))) > 2
    assert np.array_equal(variants[0], colouriser.variants(pred, 1, seed=1)[0])  # seeded


def test_a_hint_spreads_over_its_region_but_not_across_an_edge() -> None:
    ab = torch.zeros(1, 2, 64, 64)
    light = torch.full((1, 1, 64, 64), 30.0)
    light[..., 32:, :] = 80.0  # a dark top half and a light bottom half
    hint_ab, mask = empty_hints(1, 64, 64)
    hint_ab[0, :, 10:13, 10:13] = torch.tensor([40.0, 20.0]).view(2, 1, 1)
    mask[..., 10:13, 10:13] = 1
    out = propagate_hints(ab, light, hint_ab, mask)
    assert torch.equal(out[0, :, 11, 11], torch.tensor([40.0, 20.0]))  # the hint itself holds exactly
    assert float(out[0, 0, 20, 30]) > 20  # the same region, 20 px away, takes most of it
    assert abs(float(out[0, 0, 50, 11])) < 1  # across the lightness edge it does not leak
    assert torch.equal(propagate_hints(ab, light, *empty_hints(1, 64, 64)), ab)  # no hint: unchanged
    ab[..., :, 40:] = 20.0  # same lightness, but the network coloured the right side differently
    out = propagate_hints(ab, light, hint_ab, mask)
    assert float(out[0, 0, 20, 30]) > 20  # still spreads within its own object
    assert abs(float(out[0, 0, 20, 50]) - 20.0) < 1  # the other object keeps its colour

