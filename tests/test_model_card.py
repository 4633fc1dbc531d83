"""The model card `scripts/ship_model.py` writes: its training text follows the run's settings, and the shipped
card states the images, steps and CPU time its weights' metadata records."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import asdict
from pathlib import Path

from colouriser.pipeline import PACKAGE_MODELS
from colouriser.training.loop import TrainConfig
from colouriser.weights import CARD_FILE, WEIGHTS_FILE, read_metadata

ROOT = Path(__file__).resolve().parent.parent


def ship_model():
    spec = importlib.util.spec_from_file_location("ship_model", ROOT / "scripts" / "ship_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config(**changes) -> dict:
    return asdict(TrainConfig(data=["train"], out="run", **changes))


def test_card_names_the_crops_warps_and_schedule_of_the_run() -> None:
    card = ship_model()
    plain = config(crop=176, store_side=320, crop_scale=0.55, schedule_images=90_000)
    assert card.crops(plain) == "photos kept at short side 320, each crop 55% to all of it and at least 176 px, resized"
    assert card.schedule(plain) == "a linear warm-up over 300 steps, then cosine decay to 5% over 90,000 images"

    warped = config(crop=176, rotate=10, stretch=1.25)
    assert "turned by up to 10 degrees and stretched by up to 1.25 times, resized" in card.crops(warped)
    assert "stretched" not in card.crops(config(crop=176, rotate=5))
    assert "turned" not in card.crops(config(crop=176, stretch=1.5))

    resumed = config(warmup_steps=0, schedule_images=200_000, retimed=[[3206, 76944, 400000]])
    assert card.schedule(resumed) == ("cosine decay to 5% over 200,000 images (re-timed at step 3,206, 76,944 "
                                      "images into the run, from 400,000 images)")
    assert card.trained_part(config(init="base.safetensors", coarse_only=True, freeze_bn=True)) == (
        " (all but the fine branch, on the stride-4 logits; the branch kept as it was; batch-norm statistics held, "
        "`--freeze-bn`)")
    assert card.trained_part(config()) == ""


def test_shipped_card_matches_its_weights() -> None:
    card = ship_model()
    folder = PACKAGE_MODELS / "default"
    extra = read_metadata(folder / WEIGHTS_FILE)["extra"]
    text = (folder / CARD_FILE).read_text()
    stated = re.search(r"Steps: ([\d,]+); images seen: ([\d,]+); CPU time: ([\d,]+) s", text)
    assert stated, "the card has no steps / images / CPU time line"
    assert [int(x.replace(",", "")) for x in stated.groups()] == [
        extra["steps"], extra["images_seen"], round(extra["cpu_seconds"])]
    cfg = extra["train_config"]
    flat = " ".join(text.split())  # the card wraps its lines
    assert f"lambda {cfg['rebalance_lambda']}" in flat
    assert "## Training data and its terms" in text and "non-commercial research" in text  # what it was learnt from
    assert f"AdamW lr {cfg['lr']}{card.trained_part(cfg)}, {card.schedule(cfg)}, EMA" in flat
    assert f"{cfg['crop']}x{cfg['crop']} crops ({card.crops(cfg)})" in flat
