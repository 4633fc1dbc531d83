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
import torch.nn.functional as F
from PIL import Image
from torch import nn

from . import __version__
from .bins import DEFAULT_TEMPERATURE
from .heatmap import heatmap
from .hints import Hint, rasterise
from .load import LoadedImage, load_image, loaded_from_pil
from .merge import merge
from .predict import confidence, decode_ab, fit_gamut, pin_hints, predict_logits, smooth_noise
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
class Prediction:
    light: torch.Tensor  # (1, 1, H, W) full-resolution L
    work: torch.Tensor  # (1, 1, h, w) L at the working size
    logits: torch.Tensor  # (1, Q, h/4, w/4) bin logits
    hint_ab: torch.Tensor | None = None
    hint_mask: torch.Tensor | None = None


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
    def predict(self, rgb: np.ndarray, size: int | None = None, hints: list[Hint] | None = None) -> Prediction:
        """Prepare and predict: the colour distribution for an sRGB image (H, W, 3) in 0..1; only its
        lightness is used."""
        with torch.inference_mode():
            light = lightness(rgb)
            work = to_working_size(light, self.settings.size if size is None else size)
            hint_ab = hint_mask = None
            if hints:
                hint_ab, hint_mask = rasterise(hints, light.shape[-2:], work.shape[-2:])
            logits = predict_logits(self.model, work, hint_ab, hint_mask)
        return Prediction(light, work, logits, hint_ab, hint_mask)

    def render(self, pred: Prediction, temperature: float | None = None, saturation: float | None = None,
               noise: torch.Tensor | None = None) -> np.ndarray:
        """Decode, upsample and merge a prediction into full-resolution sRGB (H, W, 3) in 0..1."""
        s = self.settings
        temperature = s.temperature if temperature is None else temperature
        saturation = s.saturation if saturation is None else saturation
        with torch.inference_mode():
            logits = pred.logits if noise is None else pred.logits + noise * temperature
            ab_work = decode_ab(logits, self.model.centres, temperature, pred.work.shape[-2:])
            if pred.hint_mask is not None and pred.hint_ab is not None:
                ab_work = pin_hints(ab_work, pred.work, pred.hint_ab, pred.hint_mask)
            ab_work = fit_gamut(pred.work, ab_work)
            ab = guided_upsample(ab_work, pred.work, pred.light)
            return merge(pred.light, ab, saturation)

    def colourise_rgb(self, rgb: np.ndarray, size: int | None = None, temperature: float | None = None,
                      saturation: float | None = None, hints: list[Hint] | None = None) -> np.ndarray:
        """sRGB (H, W, 3) float in 0..1 -> colour sRGB of the same size; only its lightness is used."""
        return self.render(self.predict(rgb, size, hints), temperature, saturation)

    def confidence(self, pred: Prediction) -> np.ndarray:
        """How sure the network is of each pixel's colour, 0..1, at full resolution (H, W)."""
        with torch.inference_mode():
            conf = confidence(pred.logits)
            conf = F.interpolate(conf, size=pred.light.shape[-2:], mode="bilinear", align_corners=False)
            return conf[0, 0].clamp(0, 1).numpy()

    def variants(self, pred: Prediction, count: int, seed: int = 0, temperature: float | None = None,
                 saturation: float | None = None) -> list[np.ndarray]:
        """``count`` different plausible colourings: the distribution sampled with spatially smooth
        Gumbel noise, so that each region takes one colour."""
        generator = torch.Generator().manual_seed(seed)
        return [self.render(pred, temperature, saturation, smooth_noise(pred.logits, generator))
                for _ in range(count)]

    def colourise_loaded(self, image: LoadedImage, **options: Any) -> np.ndarray:
        return self.colourise_rgb(image.rgb, **options)

    def __call__(self, image: Image.Image, **options: Any) -> Image.Image:
        loaded = loaded_from_pil(image)
        rgb = self.colourise_loaded(loaded, **options)
        out = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), "RGB")
        if loaded.alpha is not None:
            out.putalpha(Image.fromarray((loaded.alpha * 255 + 0.5).astype(np.uint8), "L"))
        return out

    def encode_outputs(self, source: Path | bytes, fmt: str | None = None, quality: int = 92,
                       hints: list[Hint] | None = None, confidence: bool = False, variants: int = 0,
                       size: int | None = None, temperature: float | None = None,
                       saturation: float | None = None) -> list[tuple[str, bytes, str]]:
        """Read a photo and colour it: [(name suffix, encoded bytes, format)] for the result (suffix ""),
        its confidence heat-map (".confidence", PNG) and alternative colourings (".variant1", ...).
        The results keep the input's EXIF and ICC and carry provenance."""
        loaded = load_image(source)
        fmt = output_format(loaded.format, fmt)
        pred = self.predict(loaded.rgb, size, hints)
        keep: dict[str, Any] = {"quality": quality, "exif": loaded.exif, "icc": loaded.icc,
                                "provenance": self.provenance(), "alpha": loaded.alpha}
        outputs = [("", encode_image(self.render(pred, temperature, saturation), fmt, **keep), fmt)]
        if confidence:
            outputs.append((".confidence", encode_image(heatmap(self.confidence(pred)), "PNG"), "PNG"))
        for i, rgb in enumerate(self.variants(pred, variants, temperature=temperature, saturation=saturation), 1):
            outputs.append((f".variant{i}", encode_image(rgb, fmt, **keep), fmt))
        return outputs

    def colourise_file(self, source: Path | bytes, fmt: str | None = None, quality: int = 92,
                       **options: Any) -> tuple[bytes, str]:
        """Read a photo, colour it and encode it: (encoded bytes, format name). Keeps EXIF and ICC."""
        _, data, used = self.encode_outputs(source, fmt, quality, **options)[0]
        return data, used

__all__ = ["Colouriser", "Settings", "extension", "resolve_model", "save_image"]
