"""The colourising pipeline and its Python API.

    load -> prepare -> predict -> upsample -> merge -> save

>>> from colouriser import Colouriser
>>> colourise = Colouriser.from_pretrained()
>>> colour = colourise(PIL.Image.open("grandmother.jpg"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from . import __version__
from .bins import DEFAULT_TEMPERATURE
from .load import LoadedImage, load_image, loaded_from_pil
from .merge import merge
from .predict import decode_ab, fit_gamut, predict_logits
from .prepare import DEFAULT_SIZE, lightness, to_working_size
from .save import encode_image, extension, output_format, save_image
from .upsample import guided_upsample
from .weights import CARD_FILE, WEIGHTS_FILE, load_model

PACKAGE_MODELS = Path(__file__).parent / "pretrained"
DEFAULT_MODEL = "default"
ESTIMATED = ("Colours estimated by a neural network (colouriser); "
             "they are a guess, not a record of the original colours.")


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model name (a folder under the package's ``pretrained/``), a model folder, or a .safetensors file."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if path.suffix == ".safetensors" and path.is_file():
        return path
    if (path / WEIGHTS_FILE).is_file():
        return path / WEIGHTS_FILE
    packaged = PACKAGE_MODELS / str(name_or_path) / WEIGHTS_FILE
    if packaged.is_file():
        return packaged
    known = ", ".join(sorted(p.name for p in PACKAGE_MODELS.iterdir() if (p / WEIGHTS_FILE).is_file())) \
        if PACKAGE_MODELS.is_dir() else "none"
    raise FileNotFoundError(f"no model {str(name_or_path)!r}: not a model folder or .safetensors file, "
                            f"nor an installed model (installed: {known})")


@dataclass
class Settings:
    size: int = DEFAULT_SIZE
    temperature: float = DEFAULT_TEMPERATURE
    saturation: float = 1.0


class Colouriser:
    """A loaded model and its settings; call it on a PIL image to get the colour version back."""

    def __init__(self, model: nn.Module, meta: dict[str, Any], name: str = DEFAULT_MODEL,
                 settings: Settings | None = None) -> None:
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.meta = meta
        self.name = name
        chosen = meta.get("extra", {}).get("defaults", {})
        self.settings = settings or Settings(
            size=int(chosen.get("size", DEFAULT_SIZE)),
            temperature=float(chosen.get("temperature", DEFAULT_TEMPERATURE)),
        )

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None, **settings: Any) -> Colouriser:
        path = resolve_model(name_or_path)
        model, meta = load_model(path)
        name = path.parent.name if path.name == WEIGHTS_FILE else path.stem
        inst = cls(model, meta, name)
        for key, value in settings.items():
            if value is not None:
                setattr(inst.settings, key, value)
        return inst

    @property
    def card(self) -> str:
        path = resolve_model(self.name).parent / CARD_FILE
        return path.read_text() if path.is_file() else ""

    def provenance(self) -> dict[str, str]:
        return {"Software": f"colouriser {__version__}", "Model": self.name, "Description": ESTIMATED}

    # -- the pipeline ------------------------------------------------------------------------------
    def colourise_rgb(self, rgb: np.ndarray, size: int | None = None, temperature: float | None = None,
                      saturation: float | None = None) -> np.ndarray:
        """sRGB (H, W, 3) float in 0..1 -> colour sRGB of the same size; only its lightness is used."""
        s = self.settings
        size = s.size if size is None else size
        temperature = s.temperature if temperature is None else temperature
        saturation = s.saturation if saturation is None else saturation
        with torch.inference_mode():
            light = lightness(rgb)  # prepare
            work = to_working_size(light, size)
            logits = predict_logits(self.model, work)  # predict
            ab_work = fit_gamut(work, decode_ab(logits, self.model.centres, temperature, work.shape[-2:]))
            ab = guided_upsample(ab_work, work, light)  # upsample
            return merge(light, ab, saturation)  # merge

    def colourise_loaded(self, image: LoadedImage, **options: Any) -> np.ndarray:
        return self.colourise_rgb(image.rgb, **options)

    def __call__(self, image: Image.Image, **options: Any) -> Image.Image:
        loaded = loaded_from_pil(image)
        rgb = self.colourise_loaded(loaded, **options)
        out = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), "RGB")
        if loaded.alpha is not None:
            out.putalpha(Image.fromarray((loaded.alpha * 255 + 0.5).astype(np.uint8), "L"))
        return out

    def colourise_file(self, source: Path | bytes, fmt: str | None = None, quality: int = 92,
                       **options: Any) -> tuple[bytes, str]:
        """Read a photo, colour it and encode it: (encoded bytes, format name). Keeps EXIF and ICC."""
        loaded = load_image(source)
        rgb = self.colourise_loaded(loaded, **options)
        fmt = output_format(loaded.format, fmt)
        data = encode_image(rgb, fmt, quality=quality, exif=loaded.exif, icc=loaded.icc,
                            provenance=self.provenance(), alpha=loaded.alpha)
        return data, fmt


__all__ = ["Colouriser", "Settings", "extension", "resolve_model", "save_image"]
