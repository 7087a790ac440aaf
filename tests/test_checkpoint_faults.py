"""Fault injection: a real training process killed with SIGKILL at random moments, most of them
while it writes its checkpoint, always leaves a loadable checkpoint (the previous one or the new
one), and the run resumed from it ends bit-identical to a run that was never interrupted."""
import random
import signal
import subprocess
import sys
import time

import torch

# Trains a model whose checkpoint (weights and Adam state, ~12 MB) takes far longer to write than
# a training step, saving after every batch; prints "ready" just before training starts.
CHILD = """
import sys, torch
from torch import nn
sys.path[:0] = [{root!r}, {tests!r}]  # the acdc_core under test
from conftest import blobs
from acdc_core.training.batches import Batches
from acdc_core.training.train import train

torch.set_num_threads(1)
torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(16, 1000), nn.ReLU(), nn.Linear(1000, 1000), nn.ReLU(),
                      nn.Dropout(0.2), nn.Linear(1000, 2))
optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
batches = Batches(blobs(128, 1), 8, shuffle=True, seed=3)
print("ready", flush=True)
train(model, batches, Batches(blobs(32, 2), 32), optimiser, {epochs}, name="faults", device="cpu",
      progress=False, checkpoint=sys.argv[1], checkpoint_every=1)
torch.save(model.state_dict(), sys.argv[2])
"""
BATCHES = 16  # per epoch
# Enough that the eight kills (each a few to a dozen batches apart on a fast machine) never see the
# run finish, so the last start always resumes.
EPOCHS = 8
TOTAL_BATCHES = EPOCHS * BATCHES


def start(script, checkpoint, weights):
    child = subprocess.Popen([sys.executable, str(script), str(checkpoint), str(weights)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def progress_of(checkpoint):
    """Batches trained according to the checkpoint on disk (0 when there is none yet); it must load."""
    if not checkpoint.exists():
        return 0
    state = torch.load(checkpoint, weights_only=True)
    assert state["format"] == 2 and set(state["model"]) == {"1.weight", "1.bias", "3.weight", "3.bias",
                                                            "6.weight", "6.bias"}
    return state["epoch"] * BATCHES + (state["partial"]["batch"] if state["partial"] else 0)


def partials(folder):
    return set(folder.glob(".run.ckpt.*.partial"))


def kill(child, folder, delay, mid_write):
    """SIGKILL ``child`` after ``delay`` seconds, or (``mid_write``) at the first moment after it
    that a checkpoint is being written."""
    time.sleep(delay)
    before = partials(folder)
    while mid_write and child.poll() is None and not partials(folder) - before:
        time.sleep(0.0005)
    child.send_signal(signal.SIGKILL)
    child.wait()


def test_killed_during_checkpoint_writes_resumes_bit_identical(tmp_path):
    from pathlib import Path

    script = tmp_path / "child.py"
    import acdc_core

    root = Path(acdc_core.__file__).resolve().parents[1]
    script.write_text(CHILD.format(root=str(root), tests=str(Path(__file__).parent), epochs=EPOCHS))
    reference = tmp_path / "reference.pt"
    subprocess.run([sys.executable, str(script), str(tmp_path / "whole.ckpt"), str(reference)],
                   check=True, stdout=subprocess.DEVNULL)
    checkpoint, weights = tmp_path / "run.ckpt", tmp_path / "resumed.pt"
    choose, seen, mid_write = random.Random(15), [0], 0
    for attempt in range(8):
        if seen[-1] > TOTAL_BATCHES - 6:
            break
        child, left_before = start(script, checkpoint, weights), partials(tmp_path)
        kill(child, tmp_path, choose.uniform(0.0, 0.4), mid_write=attempt % 2 == 1)
        mid_write += bool(partials(tmp_path) - left_before)  # killed before its rename
        seen.append(progress_of(checkpoint))
        assert seen[-1] >= seen[-2], f"the checkpoint went back from {seen[-2]} to {seen[-1]} batches"
    assert mid_write >= 3 and seen[-1] < TOTAL_BATCHES, f"{mid_write} kills mid-write; batches on disk: {seen}"
    start(script, checkpoint, weights).wait(timeout=300)
    expected, resumed = torch.load(reference), torch.load(weights)
    assert all(torch.equal(expected[k], resumed[k]) for k in expected), f"resumed after {seen}"
