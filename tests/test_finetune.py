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

from colouriser import Colouriser
from colouriser.finetune import FinetuneSettings, finetune
from colouriser.pipeline import installed_models
from colouriser.training.loop import CHECKPOINT
from colouriser.weights import WEIGHTS_FILE, read_metadata

from .conftest import save_photos


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_photos(tmp_path_factory.mktemp("museum"), 60, 80, seed=5, name="plate_{:03d}.jpg")


def test_finetune_writes_a_model_folder_with_card_and_before_after(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "museum-model"
    settings = FinetuneSettings(max_steps=12, batch=4, crop=64, val_every=6, freeze_encoder_steps=6)
    result = finetune([collection], None, out, settings)
    assert result["held_out"] >= 3 and result["steps"] == 12
    assert (out / WEIGHTS_FILE).exists() and (out / "MODEL_CARD.md").exists()
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert {"before", "after"} <= evaluation.keys()
    assert "| fine-tuned |" in (out / "MODEL_CARD.md").read_text()
    base_seen = read_metadata(installed_models()["default"])["extra"]["images_seen"]
    assert read_metadata(out / WEIGHTS_FILE)["extra"]["images_seen"] > base_seen
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
