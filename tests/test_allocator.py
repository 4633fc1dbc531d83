"""Freed memory is kept for reuse: a training step's large tensors land on the pages the last step freed, so
touching them costs no page faults. Each check runs in a fresh interpreter, since the setting lasts for the
process; ``COLOURISER_KEEP_FREED_MEMORY=0`` is the control."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Real training steps of the shipped model (stride-2 logits of 8 x 249 x 88 x 88: 62 MB, above glibc's largest mmap
# threshold, 32 MB), on generated photos.
# How much of a freed 1.2 GB block at the top of the heap the process hands back (where the heap ends, sbrk(0), before
# and after the free). Nothing is written to the block, so it takes no memory. Shared by both probes below.
HANDED_BACK = """
def handed_back(size=1_200_000_000):
    import ctypes
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.sbrk.restype, libc.sbrk.argtypes = ctypes.c_void_p, [ctypes.c_long]
    block = libc.malloc(size)
    assert block, "malloc refused 1.2 GB"
    end = libc.sbrk(0)
    libc.free(block)
    return end - libc.sbrk(0)
"""

PROBE = HANDED_BACK + """
import json, resource, tempfile
from pathlib import Path
from colouriser.pipeline import resolve_model
from colouriser.training.loop import TrainConfig, Trainer
from tests.conftest import save_photos
faults = []
with tempfile.TemporaryDirectory() as name:
    tmp = Path(name)
    save_photos(tmp / "train" / "generated", 6, 200, seed=0)
    trainer = Trainer(TrainConfig(data=[str(tmp / "train")], val=[], out=str(tmp / "run"), batch=8, crop=176,
                                  store_side=200, init=str(resolve_model(None)), warmup_steps=1, lr=1e-5, threads=1))
    for _ in range(7):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        trainer.train_step()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"faults": faults, "handed_back": handed_back()}))  # what the trainer set
"""

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")


def run(code: str, keep: str, *argv: str) -> str:
    """The last line ``code`` prints in a fresh interpreter with ``COLOURISER_KEEP_FREED_MEMORY=keep``."""
    env = {**os.environ, "COLOURISER_KEEP_FREED_MEMORY": keep}
    out = subprocess.run([sys.executable, "-c", code, *argv], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return out.stdout.splitlines()[-1]


def training_probe(keep: str) -> dict:
    """Page faults of each training step, and how much of a freed 1.2 GB block the process then handed back."""
    return json.loads(run(PROBE, keep))


def test_the_setting_is_taken_and_the_environment_turns_it_off() -> None:
    code = "from colouriser.allocator import keep_freed_memory; print(keep_freed_memory())"
    for keep, took in (("1", "True"), ("0", "False")):
        assert run(code, keep).strip() == took


# The bare setting, and with the 1 GB trim threshold session 13 set as the control: on it glibc handed such a block
# back and a training run faulted it in again each step.
BIG_BLOCK = HANDED_BACK + """
import json, sys
from colouriser.allocator import keep_freed_memory
assert keep_freed_memory(**json.loads(sys.argv[1]))
print(handed_back())
"""


def test_a_freed_block_of_any_size_is_kept() -> None:
    """No trim threshold to outgrow: a training step that frees more than a gigabyte at the top of the heap (the
    stride-2 logits and their gradients of a batch, laid out anew after a validation) keeps it for the next step."""
    kept = int(run(BIG_BLOCK, "1", "{}"))
    session_13 = int(run(BIG_BLOCK, "1", json.dumps({"trim_threshold": 1 << 30})))
    assert kept == 0
    assert session_13 > 1_000_000_000  # the control: handed back, so the probe sees a trim


def test_training_steps_reuse_the_last_steps_pages() -> None:
    """The trainer sets it up itself, so `colouriser train` and the benchmarks get it with no step of their own.
    The first steps map their pages either way (and malloc settles where each block goes); after them, a step
    maps hardly any page when freed memory is kept, and tens of thousands when it is handed back."""
    kept_probe = training_probe("1")
    kept, returned = kept_probe["faults"], training_probe("0")["faults"]
    assert statistics.median(returned[3:]) > 1_000, returned  # tens of thousands; a few thousand on huge pages
    assert statistics.median(kept[3:]) < statistics.median(returned[3:]) / 100, (kept, returned)
    assert kept_probe["handed_back"] == 0  # the trainer turned trimming off, not just on to a threshold


def test_a_threshold_mallopt_cannot_take_is_refused() -> None:
    """mallopt takes a C int: 3 GiB would wrap around silently (to never trimming), so it is refused first."""
    from colouriser.allocator import keep_freed_memory

    for threshold in (3 << 30, -2):
        with pytest.raises(ValueError, match="trim_threshold"):
            keep_freed_memory(trim_threshold=threshold)
