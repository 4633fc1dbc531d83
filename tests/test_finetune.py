import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from colouriser import Colouriser
from colouriser.finetune import FinetuneSettings, finetune
from colouriser.pipeline import installed_models
from colouriser.training.loop import CHECKPOINT
from colouriser.weights import WEIGHTS_FILE, interpolate_weights, load_model, read_metadata, save_model

from .conftest import save_photos


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_photos(tmp_path_factory.mktemp("museum"), 60, 80, seed=5, name="plate_{:03d}.jpg")


def test_finetune_writes_a_model_folder_with_card_and_before_after(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "museum-model"
    settings = FinetuneSettings(max_steps=12, batch=4, crop=64, val_every=6, freeze_encoder_steps=6)
    model, meta = load_model(installed_models()["default"])  # a base trained on turned and stretched crops
    meta["extra"]["train_config"] = {**meta["extra"]["train_config"], "rotate": 10.0, "stretch": 1.2}
    save_model(model, meta["arch"], meta["config"], tmp_path / "base.safetensors", meta["extra"])
    result = finetune([collection], tmp_path / "base.safetensors", out, settings)
    assert result["held_out"] >= 3 and result["steps"] == 12
    assert (out / WEIGHTS_FILE).exists() and (out / "MODEL_CARD.md").exists()
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert {"before", "after"} <= evaluation.keys()
    assert "| fine-tuned |" in (out / "MODEL_CARD.md").read_text()
    base = read_metadata(tmp_path / "base.safetensors")["extra"]
    extra = read_metadata(out / WEIGHTS_FILE)["extra"]
    assert extra["images_seen"] > base["images_seen"]
    for key, before in (("store_side", None), ("crop_scale", 0.6)):  # crops cut as the base model's were
        assert extra["train_config"][key] == base["train_config"].get(key, before)
    assert extra["train_config"]["rotate"] == 10.0 and extra["train_config"]["stretch"] == 1.2
    assert extra["weight_interpolation"]["keep"] == settings.keep  # averaged with the base (WiSE-FT)
    chosen = extra["defaults"]  # temperature and saturation chosen on the held-out photos, from the grid
    assert chosen["temperature"] in settings.temperatures and chosen["saturation"] in settings.saturations
    model = Colouriser.from_pretrained(out)  # --model DIR
    assert model.colourise_rgb(np.full((32, 32, 3), 0.5)).shape == (32, 32, 3)
    assert "museum-model" in installed_models([str(tmp_path)])


def test_finetune_resumes_after_being_killed(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "colouriser.cli", "finetune", "--data", str(collection), "--out", str(out),
           "--batch", "4", "--crop", "64", "--val-every", "1000", "--checkpoint-minutes", "0.002", "--max-steps", "400"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / CHECKPOINT).exists():
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)  # no chance to save: only the periodic checkpoints survive
    proc.wait()
    state = torch.load(out / CHECKPOINT, weights_only=False)
    assert state["step"] > 0
    resumed = subprocess.run([*cmd[:-1], str(state["step"] + 3)], capture_output=True, text=True, env=env,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resumed {out / CHECKPOINT} at step {state['step']:,}" in resumed.stdout
    assert torch.load(out / CHECKPOINT, weights_only=False)["step"] == state["step"] + 3


def test_interpolated_weights_lie_between_base_and_fine_tuned(tmp_path: Path) -> None:
    base = installed_models()["default"]
    tensors = load_file(str(base))
    name = next(k for k, v in tensors.items() if v.dtype == torch.float16 and v.numel() > 100)
    tuned = tmp_path / WEIGHTS_FILE
    meta = read_metadata(base)
    metadata = {"arch": meta["arch"], "config": json.dumps(meta["config"]), "extra": json.dumps({"marker": 1})}
    save_file({**tensors, name: tensors[name] + 1.0}, str(tuned), metadata=metadata)
    interpolate_weights(base, tuned, keep=0.25)
    mixed = load_file(str(tuned))
    assert torch.allclose(mixed[name].float(), tensors[name].float() + 0.25, atol=2e-3)
    others = [k for k in tensors if k != name]
    assert all(torch.equal(mixed[k], tensors[k]) for k in others)
    extra = read_metadata(tuned)["extra"]
    assert extra["marker"] == 1 and extra["weight_interpolation"]["keep"] == 0.25
    other = tmp_path / "other.safetensors"
    save_file({k: v for k, v in tensors.items() if k != name}, str(other), metadata=metadata)
    with pytest.raises(ValueError, match="same architecture"):
        interpolate_weights(other, tuned, keep=0.5)
