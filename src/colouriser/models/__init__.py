"""Network architectures, built by name from :mod:`.registry`."""

from . import unet  # noqa: F401  (registers its architecture)
from .registry import build, names, register

__all__ = ["build", "names", "register"]
