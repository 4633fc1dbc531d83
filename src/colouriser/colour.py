"""sRGB <-> CIE Lab (D65) in torch, matching scikit-image's conventions.

Tensors are channel-first: ``(..., 3, H, W)``. sRGB is in 0..1, L in 0..100, a/b roughly -128..127.
"""

from __future__ import annotations

import torch

# sRGB (D65) to XYZ, as in scikit-image (IEC 61966-2-1).
_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
# D65 reference white (2 degree observer), as in scikit-image.
_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)
_EPS = 216 / 24389  # (6/29)^3
_KAPPA = 24389 / 27


def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix over the channel axis (-3) of ``x``."""
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x.dtype), x)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def linear_to_srgb(lin: torch.Tensor) -> torch.Tensor:
    return torch.where(lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, lin * 12.92)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in 0..1 -> CIE Lab (D65)."""
    return linear_to_lab(srgb_to_linear(rgb))


def linear_to_lab(lin: torch.Tensor) -> torch.Tensor:
    """Linear-light RGB (sRGB primaries) -> CIE Lab (D65)."""
    xyz = _mix(_RGB_TO_XYZ, lin)
    xyz = xyz / _WHITE.to(lin.dtype).view(3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), (_KAPPA * xyz + 16) / 116)
    fx, fy, fz = f.unbind(-3)
    lab = torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)
    return lab


def lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (D65) -> linear-light RGB (sRGB primaries), not clipped."""
    light, a, b = lab.unbind(-3)
    fy = (light + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    xyz = _f_inverse(torch.stack([fx, fy, fz], dim=-3)) * _WHITE.to(lab.dtype).view(3, 1, 1)
    return _mix(_XYZ_TO_RGB, xyz)


class ChromaLine:
    """Linear-light RGB of colours (L, a, b) with their chroma scaled by ``t``: ``lab_to_linear(L, t a, t b)``,
    lightness and hue kept, with all that does not depend on ``t`` worked out once (the gamut fit's bisection
    evaluates it a few times a pixel). ``light`` (..., 1, H, W), ``ab`` (..., 2, H, W); ``t`` broadcasts
    against ``light``."""

    def __init__(self, light: torch.Tensor, ab: torch.Tensor) -> None:
        to_rgb = (_XYZ_TO_RGB * _WHITE).to(light.dtype)  # XYZ_TO_RGB applied to the white-scaled XYZ
        self.fy = (light + 16) / 116
        self.da = ab[..., :1, :, :] / 500
        self.db = ab[..., 1:, :, :] / 200
        self.x_weight, y_weight, self.z_weight = (to_rgb[:, j].view(3, 1, 1) for j in range(3))
        self.from_y = y_weight * _f_inverse(self.fy)

    def __call__(self, t: torch.Tensor | float) -> torch.Tensor:
        x = _f_inverse(self.fy + self.da * t)
        z = _f_inverse(self.fy - self.db * t)
        return torch.addcmul(torch.addcmul(self.from_y, self.x_weight, x), self.z_weight, z)


def _f_inverse(f: torch.Tensor) -> torch.Tensor:
    """The inverse of Lab's companding function f: f^3 above 6/29, its linear segment below."""
    return torch.where(f > 6 / 29, f * f * f, (116 * f - 16) / _KAPPA)


def srgb_bounds_in_linear(tol: float) -> tuple[float, float]:
    """The linear-light values that sRGB's -tol and 1 + tol encode (the sRGB curve is monotonic, so testing
    linear values against these is testing the sRGB values against -tol and 1 + tol, without the power
    function)."""
    low, high = srgb_to_linear(torch.tensor([-tol, 1 + tol], dtype=torch.float64)).tolist()
    return low, high


def channel_range(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The lowest and highest of each pixel's three channels (..., 3, H, W) -> two (..., H, W), by elementwise
    min/max: a reduction over the channel axis is strided, 3x slower on a band of the merge."""
    red, green, blue = rgb.unbind(-3)
    return torch.minimum(torch.minimum(red, green), blue), torch.maximum(torch.maximum(red, green), blue)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """CIE Lab (D65) -> sRGB; clipped to 0..1 unless ``clip`` is False."""
    lin = lab_to_linear(lab)
    rgb = linear_to_srgb(lin.clamp(min=0) if clip else lin)
    return rgb.clamp(0, 1) if clip else rgb


def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in 0..1 -> CIE L (0..100), shape ``(..., 1, H, W)``."""
    y = _mix(_RGB_TO_XYZ[1:2], srgb_to_linear(rgb))
    return torch.where(y > _EPS, 116 * y.clamp(min=_EPS) ** (1 / 3) - 16, _KAPPA * y)
