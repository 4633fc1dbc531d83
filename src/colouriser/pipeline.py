"""The colourising pipeline and its Python API.

    load -> prepare -> predict -> upsample -> merge -> save

>>> from colouriser import Colouriser
>>> colourise = Colouriser.from_pretrained()
>>> colour = colourise(PIL.Image.open("grandmother.jpg"))
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Callable
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
from .merge import BandedMerge
from .onnx_backend import ONNX_FILE, OnnxNetwork, onnxruntime_available, weights_digest
from .optimise import configure_threads, for_inference
from .predict import confidence, decode_ab, fit_gamut, lift_chroma, predict_logits, smooth_noise
from .prepare import DEFAULT_SIZE, lightness, to_working_size
from .propagate import propagate_hints
from .save import encode_image, extension, output_format, save_image
from .tiles import row_bands
from .upsample import CoefficientRows, guided_coefficients
from .weights import CARD_FILE, WEIGHTS_FILE, load_model

PACKAGE_MODELS = Path(__file__).parent / "pretrained"
DEFAULT_MODEL = "default"
BACKENDS = ("auto", "torch", "onnx")
ESTIMATED = ("Colours estimated by a neural network (colouriser); "
             "they are a guess, not a record of the original colours.")


def user_models() -> Path:
    """Where a user's own models live: $COLOURISER_MODELS, else ~/.local/share/colouriser/models."""
    return Path(os.environ.get("COLOURISER_MODELS", Path.home() / ".local/share/colouriser/models"))


def installed_models(extra_dirs: list[str] | None = None) -> dict[str, Path]:
    """Model name -> weights file, for the package's models, the user's, and any folders given."""
    found: dict[str, Path] = {}
    for root in [PACKAGE_MODELS, user_models(), *map(Path, extra_dirs or [])]:
        if (root / WEIGHTS_FILE).is_file():
            found.setdefault(root.name, root / WEIGHTS_FILE)
        elif root.is_dir():
            for sub in sorted(root.iterdir()):
                if (sub / WEIGHTS_FILE).is_file():
                    found.setdefault(sub.name, sub / WEIGHTS_FILE)
    return found


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model name (a folder under the package's ``pretrained/``), a model folder, or a .safetensors file."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    path = Path(name_or_path)
    if path.suffix == ".safetensors" and path.is_file():
        return path
    if (path / WEIGHTS_FILE).is_file():
        return path / WEIGHTS_FILE
    models = installed_models()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    known = ", ".join(sorted(models)) or "none"
    raise FileNotFoundError(f"no model {str(name_or_path)!r}: not a model folder or .safetensors file, "
                            f"nor an installed model (installed: {known})")


@dataclass
class Prediction:
    light: torch.Tensor  # (1, 1, H, W) full-resolution L
    work: torch.Tensor  # (1, 1, h, w) L at the working size
    logits: torch.Tensor  # (1, Q, h/4, w/4) bin logits; (1, Q, h/2, w/2) with a fine branch
    hint_ab: torch.Tensor | None = None
    hint_mask: torch.Tensor | None = None


@dataclass
class Settings:
    size: int = DEFAULT_SIZE
    temperature: float = DEFAULT_TEMPERATURE
    saturation: float = 1.0  # automatic colourings: the model's chosen boost
    # With hints the hints supply the colour and the boost overshoots around them: 10 sampled hints gained
    # 3.14 dB over the automatic colouring at saturation 1 and 2.92 dB at its boost of 1.12 (session-4 default;
    # benchmarks/guidance.py).
    saturation_with_hints: float = 1.0
    flip_average: bool = False  # also predict on the mirror image and average (predict_logits; README)


VARIANT_REGION = 32  # working pixels: the size of the regions an alternative colouring varies by


def variant_noise(pred: Prediction, index: int, seed: int = 0) -> torch.Tensor:
    """The smooth noise of alternative colouring ``index`` (1, 2, ...): seeded per variant, so any one of
    them can be made without the others. Its regions are 32 working pixels across whatever grid the network
    predicts on (8 cells at stride 4, 16 at stride 2), so a fine branch does not halve them."""
    cell = max(1, round(VARIANT_REGION * pred.logits.shape[-1] / pred.work.shape[-1]))
    return smooth_noise(pred.logits, torch.Generator().manual_seed(seed * 1_000_003 + index), cell)


class Colouriser:
    """A loaded model and its settings; call it on a PIL image to get the colour version back.

    The network runs with torch (batch norms folded, channels-last) or, if given one, an ONNX Runtime session
    (``network``); ``model`` is kept either way (its bin centres, and as the fallback).
    """

    def __init__(self, model: nn.Module, meta: dict[str, Any], name: str = DEFAULT_MODEL,
                 settings: Settings | None = None, network: Callable[..., torch.Tensor] | None = None,
                 fuse: bool = True) -> None:
        self.model = for_inference(copy.deepcopy(model)) if fuse else model.eval().to(memory_format=torch.channels_last)
        self.network = network or self.model
        self.meta = meta
        self.name = name
        self.weights_sha256: str | None = None  # of the weights file, when loaded from one (provenance)
        chosen = meta.get("extra", {}).get("defaults", {})
        self.settings = settings or Settings(
            size=int(chosen.get("size", DEFAULT_SIZE)),
            temperature=float(chosen.get("temperature", DEFAULT_TEMPERATURE)),
            saturation=float(chosen.get("saturation", 1.0)),
        )

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path | None = None, backend: str | None = None,
                        threads: int | None = None, **settings: Any) -> Colouriser:
        """Load a model (see :func:`resolve_model`). ``backend``: "torch", "onnx" (ONNX Runtime, with the
        ``model.onnx`` beside the weights) or "auto" (the default; also ``$COLOURISER_BACKEND``): ONNX
        Runtime when it is installed and an up-to-date ``model.onnx`` sits beside the weights, else torch.
        ``threads``: set torch's intra-op threads (default: leave them as they are, which torch sizes to the
        machine's cores, so that a caller such as the server's workers can size them first)."""
        path = resolve_model(name_or_path)
        model, meta = load_model(path)
        name = path.parent.name if path.name == WEIGHTS_FILE else path.stem
        threads = configure_threads(threads) if threads else configure_threads(torch.get_num_threads())
        digest = weights_digest(path)
        inst = cls(model, meta, name, network=_onnx_network(path, digest, backend, threads))
        inst.weights_sha256 = digest
        for key, value in settings.items():
            if value is not None:
                setattr(inst.settings, key, value)
        if settings.get("saturation") is not None and settings.get("saturation_with_hints") is None:
            inst.settings.saturation_with_hints = settings["saturation"]  # a saturation asked for applies to both
        return inst

    @property
    def card(self) -> str:
        path = resolve_model(self.name).parent / CARD_FILE
        return path.read_text() if path.is_file() else ""

    @property
    def backend(self) -> str:
        return "onnx" if isinstance(self.network, OnnxNetwork) else "torch"

    def provenance(self) -> dict[str, str]:
        """What made the colours: the software, the model's name and which weights exactly (a name such as
        "default" has named many), and that the colours are a guess."""
        named = {"Software": f"colouriser {__version__}", "Model": self.name}
        if self.weights_sha256:
            seen = self.meta.get("extra", {}).get("images_seen")
            named["Weights"] = f"sha256:{self.weights_sha256[:16]}" + (f" ({seen:,} training images)" if seen else "")
        return {**named, "Description": ESTIMATED}

    # -- the pipeline ------------------------------------------------------------------------------
    def predict(self, rgb: np.ndarray, size: int | None = None, hints: list[Hint] | None = None) -> Prediction:
        """Prepare and predict: the colour distribution for an sRGB image (H, W, 3) in 0..1 (or, as
        ``LoadedImage.pixels`` holds them, greyscale (H, W) and uint8/uint16); only its lightness is used."""
        with torch.inference_mode():
            light = lightness(rgb)
            work = to_working_size(light, self.settings.size if size is None else size)
            hint_ab = hint_mask = None
            if hints:
                hint_ab, hint_mask = rasterise(hints, light.shape[-2:], work.shape[-2:])
            logits = predict_logits(self.network, work, hint_ab, hint_mask, self.settings.flip_average)
        return Prediction(light, work, logits, hint_ab, hint_mask)

    def render(self, pred: Prediction, temperature: float | None = None, saturation: float | None = None,
               noise: torch.Tensor | None = None) -> np.ndarray:
        """Decode, upsample and merge a prediction into full-resolution sRGB (H, W, 3) float32 in 0..1."""
        return self._render(pred, temperature, saturation, noise, np.float32)

    def render_uint8(self, pred: Prediction, temperature: float | None = None, saturation: float | None = None,
                     noise: torch.Tensor | None = None) -> np.ndarray:
        """As :meth:`render`, as uint8 (H, W, 3): 3 bytes a pixel instead of 12, and faster."""
        return self._render(pred, temperature, saturation, noise, np.uint8)

    def working_colour(self, pred: Prediction, temperature: float | None = None, saturation: float | None = None,
                       noise: torch.Tensor | None = None) -> torch.Tensor:
        """The colour (1, 2, h, w) at the working size, ready to upsample: decoded at ``temperature``, the hints
        propagated (or a nearly grey colouring lifted), boosted by ``saturation`` and fitted into sRGB."""
        s = self.settings
        temperature = s.temperature if temperature is None else temperature
        hinted = pred.hint_mask is not None and pred.hint_ab is not None
        if saturation is None:
            saturation = s.saturation_with_hints if hinted else s.saturation
        with torch.inference_mode():
            # Variants: Gumbel noise on the logits samples the network's own distribution (temperature 1);
            # the annealed mean below then sharpens each sample, so a lower temperature gives more decided
            # variants rather than, as noise scaled by the temperature did, fewer distinct ones.
            logits = pred.logits if noise is None else pred.logits + noise
            ab_work = decode_ab(logits, self.model.centres, temperature, pred.work.shape[-2:])
            if hinted:
                assert pred.hint_mask is not None and pred.hint_ab is not None
                # The hints are the colours wanted in the output, after the saturation below is applied: divided
                # by it here, multiplied back below.
                wanted = pred.hint_ab / saturation if saturation > 0 else pred.hint_ab
                ab_work = propagate_hints(ab_work, pred.work, wanted, pred.hint_mask)
            else:  # automatic: never hand back a grey-looking colouring (the user's hints stay as given)
                ab_work = lift_chroma(pred.work, fit_gamut(pred.work, ab_work))
            # The saturation is applied here, at the working size, and the gamut fitted after it: a colour boosted
            # out of sRGB loses chroma along its own hue, at its own lightness, instead of being clipped per RGB
            # channel at full resolution, which shifts hue and lightness (blotches).
            return fit_gamut(pred.work, ab_work * saturation)

    def _render(self, pred: Prediction, temperature: float | None, saturation: float | None,
                noise: torch.Tensor | None, dtype: type) -> np.ndarray:
        ab_work = self.working_colour(pred, temperature, saturation, noise)
        with torch.inference_mode():
            # Full resolution, a band of rows at a time: coefficients resized, multiply-add, Lab -> sRGB.
            height, width = pred.light.shape[-2:]
            coef = CoefficientRows(guided_coefficients(ab_work, pred.work), height, width)
            out = np.empty((height, width, 3), dtype)
            merged = BandedMerge(out)
            for top, bottom in row_bands(height, width):
                merged.add(top, pred.light[0, 0, top:bottom], coef.rows(top, bottom))
            merged.finish()  # the few pixels a clip would visibly move, fitted into sRGB all at once
            return out

    def colourise_rgb(self, rgb: np.ndarray, size: int | None = None, temperature: float | None = None,
                      saturation: float | None = None, hints: list[Hint] | None = None) -> np.ndarray:
        """sRGB (H, W, 3) float in 0..1 -> colour sRGB of the same size; only its lightness is used."""
        return self.render(self.predict(rgb, size, hints), temperature, saturation)

    def confidence(self, pred: Prediction) -> np.ndarray:
        """How sure the network is of each pixel's colour, 0..1, at full resolution (H, W)."""
        with torch.inference_mode():
            conf = confidence(pred.logits, self.model.centres)
            conf = F.interpolate(conf, size=pred.light.shape[-2:], mode="bilinear", align_corners=False)
            return conf[0, 0].clamp(0, 1).numpy()

    def variants(self, pred: Prediction, count: int, seed: int = 0, temperature: float | None = None,
                 saturation: float | None = None) -> list[np.ndarray]:
        """``count`` different plausible colourings: the distribution sampled with spatially smooth
        Gumbel noise, so that each region takes one colour."""
        return [self.render(pred, temperature, saturation, variant_noise(pred, i, seed)) for i in range(1, count + 1)]

    def colourise_loaded(self, image: LoadedImage, **options: Any) -> np.ndarray:
        """A loaded photo -> colour sRGB (H, W, 3) float32 in 0..1."""
        return self.colourise_rgb(image.pixels, **options)

    def colourise_uint8(self, image: LoadedImage | np.ndarray, size: int | None = None,
                        temperature: float | None = None, saturation: float | None = None,
                        hints: list[Hint] | None = None) -> np.ndarray:
        """A loaded photo (or its pixels) -> colour sRGB (H, W, 3) uint8: the lean path for big photos."""
        pixels = image.pixels if isinstance(image, LoadedImage) else image
        return self.render_uint8(self.predict(pixels, size, hints), temperature, saturation)

    def __call__(self, image: Image.Image, **options: Any) -> Image.Image:
        loaded = loaded_from_pil(image)
        out = Image.fromarray(self.colourise_uint8(loaded, **options), "RGB")
        if loaded.icc:  # sRGB: the input's own profile if it was sRGB, else a built-in one after the conversion
            out.info["icc_profile"] = loaded.icc
        if loaded.alpha is not None:
            out.putalpha(Image.fromarray((loaded.alpha * 255 + 0.5).astype(np.uint8), "L"))
        return out

    def encode_outputs(self, source: Path | bytes, fmt: str | None = None, quality: int = 92,
                       hints: list[Hint] | None = None, confidence: bool = False, variants: int = 0,
                       size: int | None = None, temperature: float | None = None,
                       saturation: float | None = None, max_pixels: int | None = None,
                       only: str | None = None) -> list[tuple[str, bytes, str]]:
        """Read a photo and colour it: [(name suffix, encoded bytes, format)] for the result (suffix ""),
        its confidence heat-map (".confidence", PNG) and alternative colourings (".variant1", ...).
        The results keep the input's EXIF and ICC and carry provenance. ``max_pixels``: refuse larger photos
        (default: the loader's limit). ``only``: render and encode just the output with this suffix (what the
        server needs: one answer per request)."""
        loaded = load_image(source) if max_pixels is None else load_image(source, max_pixels=max_pixels)
        fmt = output_format(loaded.format, fmt)
        keep: dict[str, Any] = {"quality": quality, "exif": loaded.exif, "icc": loaded.icc,
                                "provenance": self.provenance(), "alpha": loaded.alpha}
        pixels = loaded.pixels
        del loaded  # from here on only the lightness is needed: let the decoded pixels go
        pred = self.predict(pixels, size, hints)
        del pixels

        def wanted(suffix: str) -> bool:
            return only is None or only == suffix

        outputs = []
        if wanted(""):
            rgb = self.render_uint8(pred, temperature, saturation)
            if not (confidence or variants):
                del pred  # its full-resolution lightness (4 bytes a pixel) is not needed while encoding
            outputs.append(("", encode_image(rgb, fmt, **keep), fmt))
            del rgb
        if confidence and wanted(".confidence"):
            outputs.append((".confidence", encode_image(heatmap(self.confidence(pred)), "PNG"), "PNG"))
        for i in range(1, variants + 1):  # as variants(pred, count, seed=0), one at a time
            if wanted(f".variant{i}"):
                rgb = self.render_uint8(pred, temperature, saturation, variant_noise(pred, i, 0))
                outputs.append((f".variant{i}", encode_image(rgb, fmt, **keep), fmt))
        return outputs

    def colourise_file(self, source: Path | bytes, fmt: str | None = None, quality: int = 92,
                       **options: Any) -> tuple[bytes, str]:
        """Read a photo, colour it and encode it: (encoded bytes, format name). Keeps EXIF and ICC."""
        _, data, used = self.encode_outputs(source, fmt, quality, **options)[0]
        return data, used

def _onnx_network(weights: Path, digest: str, backend: str | None, threads: int) -> OnnxNetwork | None:
    """The ONNX Runtime session to use instead of torch, or None (see ``Colouriser.from_pretrained``)."""
    backend = backend or os.environ.get("COLOURISER_BACKEND") or "auto"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    onnx_path = weights.parent / ONNX_FILE
    if backend == "torch" or (backend == "auto" and not (onnx_path.is_file() and onnxruntime_available())):
        return None
    if backend == "onnx" and not onnxruntime_available():
        raise RuntimeError("the onnx backend needs onnxruntime: pip install 'colouriser[onnx]'")
    if not onnx_path.is_file():
        raise FileNotFoundError(f"no {ONNX_FILE} beside {weights}: run colouriser export first")
    network = OnnxNetwork(onnx_path, threads)
    if network.digest not in (None, digest):
        message = f"{onnx_path} was exported from other weights than {weights.name}; export it again"
        if backend == "onnx":
            raise ValueError(message)
        warnings.warn(f"{message} (using torch meanwhile)", stacklevel=3)
        return None
    return network


__all__ = ["Colouriser", "Settings", "extension", "resolve_model", "save_image"]
