import numpy as np
import torch
import torch.nn.functional as F

from colouriser.bins import (
    annealed_mean,
    in_gamut_bins,
    nearest_bin,
    nearest_bins,
    rebalancing_weights,
    soft_cross_entropy,
    soft_encode,
)
from colouriser.colour import lab_to_rgb

CENTRES = in_gamut_bins()


def _displayable_cells_by_numpy(samples: int = 5) -> set[tuple[float, float]]:
    """The ab cells (grid 10, centres -110..110) in which any of samples x samples points is a displayable sRGB
    colour at some L in 1..99, worked out apart from the package: the CIE formulas in numpy with scikit-image's D65
    white and XYZ-to-sRGB matrix (linear RGB in 0..1 is the same test as sRGB in 0..1)."""
    from skimage.color import lab2xyz
    from skimage.color.colorconv import rgb_from_xyz

    white = lab2xyz(np.array([[[100.0, 0.0, 0.0]]]))[0, 0]
    offsets = (np.arange(samples) + 0.5) / samples * 10 - 5

    def f_inverse(t: np.ndarray) -> np.ndarray:
        return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))

    cells = set()
    for a0 in np.arange(-110, 111, 10.0):
        for b0 in np.arange(-110, 111, 10.0):
            a, b, light = np.meshgrid(a0 + offsets, b0 + offsets, np.arange(1, 100, 1.0), indexing="ij")
            fy = (light + 16) / 116
            xyz = np.stack([white[0] * f_inverse(fy + a / 500), white[1] * f_inverse(fy),
                            white[2] * f_inverse(fy - b / 200)], -1)
            rgb = xyz @ rgb_from_xyz.T
            if ((rgb >= 0) & (rgb <= 1)).all(-1).any():
                cells.add((float(a0), float(b0)))
    return cells


def test_in_gamut_bins_are_exactly_the_displayable_cells() -> None:
    assert len(CENTRES) == 249  # at grid 10 (Zhang et al. list 313 by their own test of the gamut)
    assert {tuple(c) for c in CENTRES.tolist()} == _displayable_cells_by_numpy()


def test_in_gamut_bins_are_a_grid_of_10_inside_srgb() -> None:
    assert torch.all(CENTRES % 10 == 0)
    assert [0.0, 0.0] in CENTRES.tolist()
    assert [100.0, -100.0] not in CENTRES.tolist()  # far outside sRGB
    # every bin is displayable at some lightness, within its cell
    lab = torch.stack(torch.meshgrid(torch.arange(5.0, 100, 5), torch.arange(len(CENTRES), dtype=torch.float32),
                                     indexing="ij"))
    light = lab[0]
    ab = CENTRES[lab[1].long()].permute(2, 0, 1)
    rgb = lab_to_rgb(torch.cat([light[None], ab * 0.6], 0), clip=False)
    assert ((rgb >= -0.02) & (rgb <= 1.02)).all(0).any(0).float().mean() > 0.95


def test_soft_encode_uses_five_nearest_bins_with_gaussian_weights() -> None:
    ab = torch.tensor([[3.0, -4.0], [52.0, 21.0]]).T.reshape(1, 2, 1, 2)
    q = soft_encode(ab, CENTRES)
    assert q.shape == (1, len(CENTRES), 1, 2)
    assert torch.allclose(q.sum(1), torch.ones(1, 1, 2))
    assert ((q > 0).sum(1) == 5).all()
    nearest = nearest_bin(ab, CENTRES)
    assert torch.equal(q.argmax(1), nearest)
    assert CENTRES[nearest[0, 0, 0]].tolist() == [0.0, 0.0]
    # sigma 5: a bin at distance 5 has weight exp(-0.5) relative to one at distance 0
    exact = soft_encode(torch.tensor([0.0, 0.0]).view(1, 2, 1, 1), CENTRES)[0, :, 0, 0]
    w0 = exact[nearest_bin(torch.zeros(1, 2, 1, 1), CENTRES).item()]
    assert abs(exact.max().item() - w0.item()) < 1e-6
    assert torch.isclose(exact.sort(descending=True).values[1] / w0, torch.exp(torch.tensor(-100 / 50)), atol=1e-5)


def test_the_sparse_cross_entropy_equals_the_one_against_the_dense_soft_encoding() -> None:
    gen = torch.Generator().manual_seed(0)
    ab = CENTRES[torch.randint(len(CENTRES), (2, 6, 7), generator=gen)].permute(0, 3, 1, 2)
    ab = ab + torch.rand(ab.shape, generator=gen) * 10 - 5  # around in-gamut bins, between them too
    logits = torch.randn(2, len(CENTRES), 6, 7, generator=gen) * 3
    idx, wts = nearest_bins(ab, CENTRES)
    assert idx.shape == wts.shape == (2, 5, 6, 7)
    assert torch.equal(idx[:, 0], nearest_bin(ab, CENTRES))  # nearest first: the bin class rebalancing weighs by
    dense = -(soft_encode(ab, CENTRES) * F.log_softmax(logits, 1)).sum(1)
    assert torch.allclose(soft_cross_entropy(logits, idx, wts), dense, atol=1e-5)
    # and so are the gradients
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    soft_cross_entropy(a, idx, wts).sum().backward()
    (-(soft_encode(ab, CENTRES) * F.log_softmax(b, 1)).sum(1)).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)
    # a colour far from every bin still gets a distribution (its nearest bins' weights do not all underflow)
    far = nearest_bins(torch.tensor([[[[150.0]], [[150.0]]]]), CENTRES)[1]
    assert torch.isfinite(far).all() and torch.isclose(far.sum(), torch.tensor(1.0))


def test_nearest_bins_by_candidate_table_are_the_nearest_of_all_bins() -> None:
    gen = torch.Generator().manual_seed(1)
    ab = torch.rand(1, 2, 300, 300, generator=gen) * 260 - 130  # the whole ab plane, past the table's edge too
    ab[0, :, 0, :5] = torch.tensor([[5.0, 0.0, 300.0, -200.0, 127.99], [5.0, 5.0, 0.0, 90.0, -128.0]])  # ties, far
    idx, wts = nearest_bins(ab, CENTRES)
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2, want = ((flat.double()[:, None] - CENTRES.double()) ** 2).sum(-1).topk(5, 1, largest=False)  # all bins
    got = idx.permute(0, 2, 3, 1).reshape(-1, 5)
    # the same distances (a tie may name another bin at the same distance), nearest first
    assert torch.allclose(((CENTRES.double()[got] - flat.double()[:, None]) ** 2).sum(-1), d2)
    assert (got == want).float().mean() > 0.9999
    expected = torch.softmax(-d2 / 50, 1).float()
    assert torch.allclose(wts.permute(0, 2, 3, 1).reshape(-1, 5), expected, atol=1e-4)  # float32 far from bins


def test_rebalancing_weights_are_normalised_and_favour_rare_colours() -> None:
    prior = torch.rand(len(CENTRES)) ** 4
    prior[0] = 50
    for lam in (0.0, 0.5, 0.7):
        w = rebalancing_weights(prior, lam, centres=CENTRES)
        p = prior / prior.sum()
        assert abs(float((w * p).sum()) - 1) < 1e-4
        assert w[0] < w.median()  # the common bin is weighted down
    uniform = rebalancing_weights(prior, 1.0)
    assert torch.allclose(uniform, torch.ones_like(uniform))


def test_annealed_mean_goes_from_mean_to_mode() -> None:
    logits = torch.full((1, len(CENTRES), 1, 1), -10.0)
    i, j = 10, 100
    logits[0, i] = 2.0
    logits[0, j] = 1.5
    mode = CENTRES[i]
    p = torch.softmax(logits[0, :, 0, 0], 0)
    mean = (p[:, None] * CENTRES).sum(0)
    assert torch.allclose(annealed_mean(logits, CENTRES, 1.0)[0, :, 0, 0], mean, atol=1e-4)
    assert torch.allclose(annealed_mean(logits, CENTRES, 0.01)[0, :, 0, 0], mode, atol=1e-3)
    mid = annealed_mean(logits, CENTRES, 0.38)[0, :, 0, 0]
    assert (mid - mode).norm() < (mean - mode).norm()
