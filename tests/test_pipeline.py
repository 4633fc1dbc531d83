import io

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image
from skimage.color import rgb2gray, rgb2lab

from colouriser import Colouriser
from colouriser.colour import lab_to_rgb
from colouriser.load import load_image
from colouriser.metrics import colourfulness, delta_e
from colouriser.pipeline import Prediction
from colouriser.predict import CHROMA_FLOOR, MAX_LIFT, fit_gamut, lift_chroma
from colouriser.save import read_provenance
from colouriser.upsample import RADIUS, guided_upsample


@pytest.fixture(scope="module")
def colouriser() -> Colouriser:
    return Colouriser.from_pretrained()


def _grey(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray((rgb2gray(rgb) * 255 + 0.5).astype(np.uint8), "L")


def test_shipped_model_colours_the_scikit_image_photos(colouriser: Colouriser) -> None:
    better = 0
    for name in ("astronaut", "coffee", "chelsea"):
        original = getattr(skimage.data, name)()
        out = colouriser(_grey(original))
        assert out.size == (original.shape[1], original.shape[0]) and out.mode == "RGB"
        rgb = np.asarray(out) / 255
        assert colourfulness(rgb) > 15, name
        ref = rgb2lab(original)
        grey_lab = rgb2lab(np.asarray(_grey(original).convert("RGB")) / 255)
        better += delta_e(rgb2lab(rgb), ref) < delta_e(grey_lab, ref)
    assert better >= 2


def test_output_keeps_the_input_lightness(colouriser: Colouriser) -> None:
    grey = _grey(skimage.data.astronaut())
    out = np.asarray(colouriser(grey)) / 255
    lin = rgb2lab(np.asarray(grey.convert("RGB")) / 255)[..., 0]
    assert np.abs(rgb2lab(out)[..., 0] - lin).mean() < 1.0


def test_sepia_and_grey_scans_give_the_same_colours(colouriser: Colouriser) -> None:
    rgb = skimage.data.chelsea() / 255
    lab = rgb2lab(rgb)
    grey = lab_to_rgb(torch.from_numpy(np.stack([lab[..., 0], 0 * lab[..., 0], 0 * lab[..., 0]])).float())
    sepia = lab_to_rgb(torch.from_numpy(np.stack([lab[..., 0], 0 * lab[..., 0] + 8, 0 * lab[..., 0] + 25])).float())
    a = colouriser.colourise_rgb(grey.permute(1, 2, 0).numpy())
    b = colouriser.colourise_rgb(sepia.permute(1, 2, 0).numpy())
    assert np.abs(a - b).mean() < 2 / 255


def test_settings_change_the_result(colouriser: Colouriser) -> None:
    grey = _grey(skimage.data.coffee())
    base = np.asarray(colouriser(grey)) / 255
    flat = np.asarray(colouriser(grey, saturation=0.0)) / 255
    bold = np.asarray(colouriser(grey, saturation=1.5)) / 255
    assert colourfulness(flat) < 1 < colourfulness(base) < colourfulness(bold)
    small = np.asarray(colouriser(grey, size=96)) / 255
    assert small.shape == base.shape and np.abs(small - base).mean() > 1e-3
    with pytest.raises(ValueError, match="working size"):
        colouriser(grey, size=8)


def test_the_python_api_turns_a_camera_photo_upright(colouriser: Colouriser) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored lying on its side: viewers turn it 90 degrees clockwise
    buf = io.BytesIO()
    _grey(skimage.data.coffee()).save(buf, "JPEG", exif=exif.tobytes())
    with Image.open(buf) as im:
        out = colouriser(im)
        upright = im.transpose(Image.Transpose.ROTATE_270)
    assert out.size == (400, 600) == upright.size
    light = rgb2lab(np.asarray(out))[..., 0]
    assert np.abs(light - rgb2lab(np.asarray(upright.convert("RGB")))[..., 0]).mean() < 1.0


def test_alpha_is_kept(colouriser: Colouriser) -> None:
    im = _grey(skimage.data.chelsea()).convert("LA")
    alpha = np.zeros(im.size[::-1], np.uint8)
    alpha[50:, :] = 255
    im.putalpha(Image.fromarray(alpha))
    out = colouriser(im)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)


@pytest.mark.parametrize(("fmt", "mode"), [
    ("JPEG", "L"), ("JPEG", "CMYK"), ("PNG", "1"), ("PNG", "LA"), ("PNG", "P"), ("PNG", "RGBA"), ("PNG", "I;16"),
    ("TIFF", "L"), ("TIFF", "I;16"), ("TIFF", "RGB;16"), ("TIFF", "CMYK"), ("BMP", "RGB"), ("WEBP", "RGB"),
    ("WEBP", "RGBA")])
def test_every_format_comes_back_at_full_size_with_provenance(colouriser: Colouriser, fmt: str, mode: str) -> None:
    grey = np.asarray(_grey(skimage.data.coffee()))[:201, :303]  # odd sizes
    buf = io.BytesIO()
    if mode == "RGB;16":  # 16-bit RGB TIFF: Pillow cannot write one
        import tifffile

        tifffile.imwrite(buf, np.repeat(grey[..., None].astype(np.uint16) * 257, 3, 2), photometric="rgb")
    else:
        im = Image.fromarray(grey.astype(np.uint16) * 257) if mode == "I;16" else Image.fromarray(grey).convert(mode)
        if mode in ("LA", "RGBA"):
            im.putalpha(Image.fromarray(np.where(np.arange(303) < 150, 255, 128).astype(np.uint8)[None].repeat(201, 0)))
        im.save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    data, used = colouriser.colourise_file(buf.getvalue())
    assert used == fmt
    out = load_image(data)
    assert out.rgb.shape == (201, 303, 3)
    if fmt != "BMP":
        prov = read_provenance(data)
        assert "guess" in prov["Description"] and prov["Software"].startswith("colouriser")
    src = load_image(buf.getvalue())
    assert np.abs(rgb2lab(out.rgb)[..., 0] - rgb2lab(src.rgb)[..., 0]).mean() < 1.0
    if src.alpha is not None:  # the alpha comes back where the format holds it
        assert out.alpha is not None and np.abs(out.alpha - src.alpha).max() < 1 / 255 + 1e-6


def test_exif_orientation_is_honoured(colouriser: Colouriser) -> None:
    im = _grey(skimage.data.chelsea())  # 451 x 300
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    data, _ = colouriser.colourise_file(buf.getvalue())
    out = Image.open(io.BytesIO(data))
    assert out.size == (300, 451)
    assert out.getexif().get(0x0112, 1) == 1


def test_guided_upsampling_follows_edges_of_the_full_resolution_lightness() -> None:
    full = torch.full((1, 1, 64, 64), 20.0)
    full[..., 35:] = 80.0  # the edge lies between pixels 34 and 35 at full resolution
    work = torch.nn.functional.interpolate(full, size=(16, 16), mode="bilinear", antialias=True)
    ab = torch.zeros(1, 2, 16, 16)
    ab[:, 0, :, :9] = 40.0  # colour of the dark side, a little off the edge at the working size
    ab[:, 0, :, 9:] = -40.0
    bilinear = torch.nn.functional.interpolate(ab, size=(64, 64), mode="bilinear")
    for radius in (RADIUS, 2):  # the pipeline's default, and a wider window
        up = guided_upsample(ab, work, full, radius=radius)
        assert up[0, 0, 32, 33] > 30 and up[0, 0, 32, 35] < -20  # sharp at the true edge
        assert up[0, 0, 32, 34] - up[0, 0, 32, 35] > 60  # one pixel from one colour to the other
    assert bilinear[0, 0, 32, 34] - bilinear[0, 0, 32, 35] < 25  # where plain resizing blurs


def test_guided_upsampling_of_colour_on_the_network_grid_is_closer_to_the_truth_than_plain_resizing() -> None:
    # Flat-coloured shapes of their own lightness; their colour seen as the network predicts it (averaged onto a
    # stride-4 grid of the working size, brought to the working size bilinearly), then upsampled to full size.
    # The default filter must recover more of the true colour than resizing alone: a window too wide (radius 4)
    # blurs it more than it sharpens edges (benchmarks/upsampling.py).
    g = torch.Generator().manual_seed(0)
    full = torch.full((1, 1, 128, 128), 50.0)
    ab = torch.zeros(1, 2, 128, 128)
    for _ in range(12):
        y, x, h, w = (int(v) for v in torch.randint(0, 100, (2,), generator=g).tolist()
                      + torch.randint(12, 40, (2,), generator=g).tolist())
        full[..., y:y + h, x:x + w] = float(torch.randint(10, 95, (1,), generator=g))
        ab[..., y:y + h, x:x + w] = torch.rand(2, 1, 1, generator=g) * 80 - 40
    work = torch.nn.functional.interpolate(full, size=(64, 64), mode="bilinear", antialias=True)
    grid = torch.nn.functional.interpolate(ab, size=(16, 16), mode="area")
    ab_work = torch.nn.functional.interpolate(grid, size=(64, 64), mode="bilinear")
    resized = torch.nn.functional.interpolate(ab_work, size=(128, 128), mode="bilinear")
    guided = guided_upsample(ab_work, work, full)
    assert (guided - ab).abs().mean() < 0.97 * (resized - ab).abs().mean()


def test_fit_gamut_brings_every_colour_into_srgb() -> None:
    light = torch.rand(1, 1, 16, 16) * 100
    ab = torch.randn(1, 2, 16, 16) * 80
    fitted = fit_gamut(light, ab)
    rgb = lab_to_rgb(torch.cat([light, fitted], 1), clip=False)
    assert rgb.min() > -0.01 and rgb.max() < 1.01
    hue = torch.atan2(ab[:, 1], ab[:, 0])
    kept = fitted.norm(dim=1) > 1
    assert torch.allclose(torch.atan2(fitted[:, 1], fitted[:, 0])[kept], hue[kept], atol=1e-3)


@pytest.mark.parametrize("tol", [1e-3, 1e-5])
def test_fit_gamut_is_the_bisection_on_the_srgb_values(tol: float) -> None:
    """fit_gamut tests linear RGB against the bounds sRGB's -tol and 1 + tol encode: the same answer, in float64 to
    the bit, as six halvings tested on the sRGB values themselves (a plain copy of that here)."""
    gen = torch.Generator().manual_seed(5)
    light = torch.rand(1, 1, 40, 40, generator=gen, dtype=torch.float64) * 100
    ab = torch.randn(1, 2, 40, 40, generator=gen, dtype=torch.float64) * 70

    def inside(factor: torch.Tensor | float) -> torch.Tensor:
        rgb = lab_to_rgb(torch.cat([light, ab * factor], 1), clip=False)
        return ((rgb >= -tol) & (rgb <= 1 + tol)).all(1, keepdim=True)

    lo, hi = torch.zeros_like(light), torch.ones_like(light)
    for _ in range(6):
        mid = (lo + hi) / 2
        lo, hi = torch.where(inside(mid), mid, lo), torch.where(inside(mid), hi, mid)
    expected = torch.where(inside(1.0), ab, ab * lo)
    assert (expected != ab).any() and (expected == ab).any()  # both kinds of colour are in the test
    assert torch.equal(fit_gamut(light, ab, tol=tol), expected)


def test_a_nearly_grey_colouring_is_lifted_to_the_floor_and_a_colourful_one_is_not() -> None:
    light = torch.full((1, 1, 16, 16), 50.0)
    light[..., :4, :] = 99.0  # a white sky, where the gamut allows almost no colour
    hue = torch.tensor([0.6, -0.8]).view(1, 2, 1, 1)
    dull = hue * 2.0 * torch.ones(1, 1, 16, 16)
    lifted = lift_chroma(light, fit_gamut(light, dull))
    assert float(lifted.norm(dim=1).mean()) == pytest.approx(CHROMA_FLOOR, abs=0.05)  # despite the sky
    assert torch.allclose(lifted / lifted.norm(dim=1, keepdim=True), hue, atol=1e-3)  # hue kept
    faint = hue * 0.5 * torch.ones(1, 1, 16, 16)
    assert torch.allclose(lift_chroma(light, faint), faint * MAX_LIFT)  # a faint guess is not blown up
    colourful = hue * 20 * torch.ones(1, 1, 16, 16)
    assert torch.equal(lift_chroma(light, colourful), colourful)
    zero = torch.zeros(1, 2, 16, 16)
    assert torch.equal(lift_chroma(light, zero), zero)


def test_no_automatic_colouring_comes_back_grey_but_a_faint_hint_is_kept(colouriser: Colouriser) -> None:
    # A network that is nearly sure of grey: 82% on the (0, 0) bin, 18% on (10, 0): annealed mean a = 1.8.
    centres = colouriser.model.centres
    logits = torch.full((1, len(centres), 16, 16), -30.0)
    logits[:, int(((centres - torch.tensor([0.0, 0.0])).abs().sum(1)).argmin())] = 0.0
    logits[:, int(((centres - torch.tensor([10.0, 0.0])).abs().sum(1)).argmin())] = float(np.log(0.18 / 0.82))
    light = torch.linspace(35, 65, 96).view(1, 1, 96, 1).expand(1, 1, 96, 128).contiguous()
    work = torch.nn.functional.interpolate(light, size=(64, 64), mode="bilinear")
    pred = Prediction(light, work, logits)

    def chroma(rgb: np.ndarray) -> float:
        lab = rgb2lab(rgb)
        return float(np.hypot(lab[..., 1], lab[..., 2]).mean())

    assert chroma(colouriser.render(pred, temperature=1.0, saturation=1.0)) >= 3.0  # lifted from 1.8
    hint_ab, hint_mask = torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64)
    hint_ab[:, 0, 30:33, 30:33] = 1.8  # the user says: this faint colour, here
    hint_mask[..., 30:33, 30:33] = 1
    hinted = Prediction(light, work, logits, hint_ab, hint_mask)
    assert chroma(colouriser.render(hinted, temperature=1.0, saturation=1.0)) < 2.5  # kept, not lifted


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="no model 'nope'"):
        Colouriser.from_pretrained("nope")


def test_a_boosted_colouring_stays_in_gamut_at_the_input_lightness(colouriser: Colouriser) -> None:
    """Saturation 2 pushes many colours out of sRGB. They must lose chroma along their own hue, not be clipped per
    RGB channel at full resolution (which shifts lightness and hue into blotches): the output's lightness is the
    input's everywhere, to the rounding of 8-bit output (clipped after the fit, 1.9% of the astronaut's pixels were
    more than 1 L off; fitted at the working size after the saturation, 0.8%, at edges where the upsampling
    overshoots; with the merge fitting those pixels too, none is more than 1 off)."""
    for name in ("astronaut", "coffee"):
        grey = _grey(getattr(skimage.data, name)())
        lightness = rgb2lab(np.asarray(grey.convert("RGB")) / 255)[..., 0]
        for saturation in (1.0, 2.0):
            out = np.asarray(colouriser(grey, saturation=saturation)) / 255
            error = np.abs(rgb2lab(out)[..., 0] - lightness)
            assert error.max() < 1 and error.mean() < 0.1, (name, saturation)


def test_flip_average_colours_a_mirrored_photo_as_the_mirror_of_its_colouring() -> None:
    """With --flip-average the colour no longer depends on which way the photo faces, hints mirrored too; without
    it, it does."""
    from colouriser.hints import Hint

    photo = skimage.data.chelsea() / 255
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    width = photo.shape[1]
    plain = Colouriser.from_pretrained(backend="torch")
    both = Colouriser.from_pretrained(backend="torch", flip_average=True)
    assert both.settings.flip_average and not plain.settings.flip_average

    def asymmetry(c: Colouriser, x: float | None = None) -> float:
        hint = [Hint(x, 80, (40, 90, 200))] if x is not None else None
        mirror_hint = [Hint(width - 1 - x, 80, (40, 90, 200))] if x is not None else None
        a = c.colourise_rgb(photo, hints=hint)
        b = c.colourise_rgb(mirrored, hints=mirror_hint)[:, ::-1]
        return float(np.abs(rgb2lab(a)[..., 1:] - rgb2lab(b)[..., 1:]).mean())

    assert asymmetry(both) < 0.01 < 1 < asymmetry(plain)
    assert asymmetry(both, 100) < 0.01 < 1 < asymmetry(plain, 100)  # a hint off the middle, mirrored with the photo
    ab_plain = rgb2lab(plain.colourise_rgb(photo))[..., 1:]
    ab_both = rgb2lab(both.colourise_rgb(photo))[..., 1:]
    assert 0.2 < float(np.abs(ab_plain - ab_both).mean()) < 5  # a change, and a small one: the same colouring
