"""The evaluation's numbers against answers worked out by hand."""

import numpy as np
import pytest

from colouriser.evaluate import grey_baseline
from colouriser.metrics import ab_error_auc, colourfulness, compare, delta_e, mean_chroma, psnr
from colouriser.prepare import lightness


def test_psnr_of_a_known_error() -> None:
    a = np.full((4, 5, 3), 0.5)
    assert psnr(a + 0.1, a) == pytest.approx(20.0)  # MSE 0.01 on a peak of 1
    assert psnr(a + 0.01, a) == pytest.approx(40.0)
    assert psnr(a, a) == 100.0  # identical: capped rather than infinite


def test_colourfulness_is_zero_on_grey_and_hasler_suesstrunk_on_two_colours() -> None:
    assert colourfulness(np.full((6, 6, 3), 0.4)) == pytest.approx(0.0, abs=1e-9)
    half = np.zeros((2, 4, 3))
    half[0] = (1.0, 0.0, 0.0)  # red on one half, black on the other
    # rg = 255 or 0, yb = 127.5 or 0: std and mean of each are half their top values
    expected = np.hypot(127.5, 63.75) + 0.3 * np.hypot(127.5, 63.75)
    assert colourfulness(half) == pytest.approx(expected)


def test_mean_chroma_and_ciede2000() -> None:
    lab = np.zeros((3, 3, 3))
    lab[..., 0], lab[..., 1], lab[..., 2] = 50, 3, 4
    assert mean_chroma(lab) == pytest.approx(5.0)
    assert delta_e(lab, lab) == pytest.approx(0.0)
    dark, light = np.zeros((2, 2, 3)), np.zeros((2, 2, 3))
    dark[..., 0], light[..., 0] = 45, 55  # around L 50 CIEDE2000's lightness weight is 1: the difference itself
    assert delta_e(dark, light) == pytest.approx(10.0)


def test_auc_of_ab_error() -> None:
    ref = np.zeros((8, 8, 3))
    ref[..., 0] = 60
    assert ab_error_auc(ref, ref) == pytest.approx(1.0)
    off = ref.copy()
    off[..., 1], off[..., 2] = 6, 8  # an ab error of 10 everywhere: within t for t = 10..150
    assert ab_error_auc(off, ref) == pytest.approx((151 - 10) / 151)
    half = ref.copy()
    half[:4, :, 1] = 200  # half the pixels beyond every threshold
    assert ab_error_auc(half, ref) == pytest.approx(0.5)


def test_grey_baseline_keeps_the_lightness_and_has_no_colour() -> None:
    rng = np.random.default_rng(0)
    photo = rng.random((16, 20, 3))
    grey = grey_baseline(photo)
    assert grey.shape == photo.shape
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 1e-3 and np.abs(grey[..., 1] - grey[..., 2]).max() < 1e-3
    assert float((lightness(grey) - lightness(photo)).abs().max()) < 0.05
    numbers = compare(grey, photo)
    assert numbers["grey"] == 1.0 and numbers["dull"] == 1.0 and numbers["colourfulness"] < 0.5
    itself = compare(photo, photo)
    assert itself["psnr"] == 100.0 and itself["delta_e"] == pytest.approx(0.0) and itself["auc"] == 1.0
    assert itself["grey"] == 0.0  # random colours: far above the grey line's mean chroma


def test_the_share_of_pixels_off_the_input_lightness() -> None:
    from colouriser.evaluate import lightness_errors

    photo = np.full((16, 10, 3), 0.4)
    off = photo.copy()
    off[:4] += 0.2  # a quarter of the rows much lighter (about 20 L)
    off[4:8, :, 0] += 0.002  # a hair redder: under 1 L, not counted
    numbers = lightness_errors(off, lightness(photo))
    assert numbers["l_off"] == pytest.approx(0.25)
    assert 0.25 * 15 < numbers["l_error"] < 0.25 * 25
    assert lightness_errors(photo, lightness(photo)) == {"l_error": 0.0, "l_off": 0.0}
