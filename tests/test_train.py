"""The training loop: it learns, it is deterministic, and a resumed run ends where an uninterrupted
one does."""
import csv
import json

import pytest
import torch
from conftest import blobs
from torch import nn

from acdc_core.training.batches import Batches
from acdc_core.training.checkpoint import CheckpointError
from acdc_core.training.train import FIELDS, History, train


def setup(seed=0, schedule=True):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_batches = Batches(blobs(96, 1), 16, shuffle=True, seed=7)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimiser, 1e-2, total_steps=4 * len(train_batches))
                 if schedule else None)
    return model, optimiser, scheduler, train_batches, Batches(blobs(64, 2), 32)


def test_it_learns_and_records_every_field():
    model, optimiser, scheduler, tr, te = setup()
    history = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu")
    assert [r["epoch"] for r in history.records] == [1, 2, 3, 4]
    assert set(history.final) == set(FIELDS)
    assert history.final["test_accuracy"] > 0.9 and history.final["train_loss"] < history.records[0]["train_loss"]
    assert history.final["samples_per_second"] > 0


def test_runs_are_deterministic():
    weights = []
    for _ in range(2):
        model, optimiser, scheduler, tr, te = setup()
        train(model, tr, te, optimiser, 2, scheduler=scheduler, progress=False, device="cpu")
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    model, optimiser, scheduler, tr, te = setup()
    whole = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
                  checkpoint=tmp_path / "whole.pt")
    expected = model.state_dict()

    class Stop(Exception):
        pass

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Stop

    model, optimiser, scheduler, tr, te = setup()
    with pytest.raises(Stop):
        train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
              checkpoint=tmp_path / "split.pt", on_epoch=stop_after_two)
    torch.rand(100)  # the process goes on drawing numbers before the run is resumed
    model, optimiser, scheduler, tr, te = setup(seed=99)  # different weights: all must come from the file
    resumed = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
                    checkpoint=tmp_path / "split.pt")
    assert all(torch.equal(expected[k], model.state_dict()[k]) for k in expected)
    assert (whole.resumed, resumed.resumed) == (0, 2)
    same = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")
    assert [[r[k] for k in same] for r in resumed.records] == [[r[k] for k in same] for r in whole.records]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["split.pt", "whole.pt"]  # no partial files
    state = torch.load(tmp_path / "split.pt", weights_only=True)
    assert state["epoch"] == 4

    again = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
                  checkpoint=tmp_path / "split.pt")  # finished: nothing more to do
    assert len(again.records) == 4


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    model, optimiser, _, tr, te = setup(schedule=False)
    train(model, tr, te, optimiser, 1, name="a", progress=False, device="cpu", checkpoint=tmp_path / "c.pt")
    with pytest.raises(ValueError, match="name: checkpoint .a., this run .b."):
        train(model, tr, te, optimiser, 2, name="b", progress=False, device="cpu", checkpoint=tmp_path / "c.pt")
    _, _, scheduler, _, _ = setup()
    with pytest.raises(ValueError, match="scheduler"):
        train(model, tr, te, optimiser, 2, name="a", scheduler=scheduler, progress=False, device="cpu",
              checkpoint=tmp_path / "c.pt")


def step_schedule(optimiser):
    return torch.optim.lr_scheduler.StepLR(optimiser, step_size=5, gamma=0.5)


@pytest.mark.parametrize("schedule", [None, step_schedule], ids=["constant", "step"])
def test_a_run_extended_from_two_to_four_epochs_ends_as_a_straight_four_epoch_run(tmp_path, schedule):
    def fresh(seed=0):
        model, optimiser, _, tr, te = setup(seed, schedule=False)
        return model, optimiser, schedule and schedule(optimiser), tr, te

    model, optimiser, scheduler, tr, te = fresh()
    straight = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu")
    expected = model.state_dict()
    model, optimiser, scheduler, tr, te = fresh()
    train(model, tr, te, optimiser, 2, scheduler=scheduler, progress=False, device="cpu",
          checkpoint=tmp_path / "c.pt")
    model, optimiser, scheduler, tr, te = fresh(seed=99)  # different weights: all must come from the file
    extended = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
                     checkpoint=tmp_path / "c.pt")
    assert all(torch.equal(expected[k], model.state_dict()[k]) for k in expected)
    same = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")
    assert [[r[k] for k in same] for r in extended.records] == [[r[k] for k in same] for r in straight.records]
    assert extended.resumed == 2 and torch.load(tmp_path / "c.pt", weights_only=True)["epoch"] == 4


def test_a_schedule_shaped_by_the_epochs_is_not_extended(tmp_path):
    def cosine(epochs):
        model, optimiser, _, tr, te = setup(schedule=False)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * len(tr))
        return train(model, tr, te, optimiser, epochs, scheduler=scheduler, progress=False,
                     device="cpu", checkpoint=tmp_path / "c.pt")

    cosine(2)
    with pytest.raises(CheckpointError, match="schedule .CosineAnnealingLR. may depend on the number of "
                       "epochs .*keep epochs=2, or start afresh with another checkpoint file"):
        cosine(4)
    assert torch.load(tmp_path / "c.pt", weights_only=True)["epoch"] == 2


def test_more_epochs_and_another_change_is_still_refused(tmp_path):
    model, optimiser, _, tr, te = setup(schedule=False)
    train(model, tr, te, optimiser, 2, progress=False, device="cpu", checkpoint=tmp_path / "c.pt")
    model, _, _, tr, te = setup(schedule=False)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(CheckpointError, match="another configuration .*optimiser.groups.0..lr: "
                       "checkpoint 0.01, this run 0.001"):
        train(model, tr, te, optimiser, 4, progress=False, device="cpu", checkpoint=tmp_path / "c.pt")


def test_history_files(tmp_path):
    model, optimiser, _, tr, te = setup(schedule=False)
    history = train(model, tr, te, optimiser, 2, name="h", progress=False, device="cpu")
    saved = json.loads(history.to_json(tmp_path / "h.json").read_text())
    assert saved["name"] == "h" and saved["epochs"] == history.records
    rows = list(csv.DictReader(open(history.to_csv(tmp_path / "h.csv"))))
    assert [float(r["test_accuracy"]) for r in rows] == history.column("test_accuracy")
    with pytest.raises(ValueError, match="no completed epoch"):
        History("empty").final


def test_divergence_is_reported():
    model, _, _, tr, te = setup(schedule=False)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train(model, tr, te, optimiser, 2, progress=False, device="cpu")


def test_bfloat16_autocast_trains_an_acdc_model():
    from acdc_core import StackedACDC

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), StackedACDC(16, 16, 3, relu=True), nn.Linear(16, 2))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    _, _, _, tr, te = setup(schedule=False)
    history = train(model, tr, te, optimiser, 3, amp=True, progress=False, device="cpu")
    assert history.final["test_accuracy"] > 0.8


def test_compiled_training_matches_eager():
    results = []
    for compiled in (False, True):
        model, optimiser, _, tr, te = setup(schedule=False)
        model[3].p = 0.0  # no dropout: compiled and eager draw their masks differently
        results.append(train(model, tr, te, optimiser, 1, compile=compiled, progress=False, device="cpu"))
    assert abs(results[0].final["train_loss"] - results[1].final["train_loss"]) < 1e-4
    assert results[0].final["test_accuracy"] == results[1].final["test_accuracy"]


def test_a_run_stopped_mid_epoch_resumes_to_the_same_weights(tmp_path):
    from acdc_core.training.batches import random_crop

    def setup_augmented(seed=0):
        model, optimiser, scheduler, tr, te = setup(seed)
        tr.augment = random_crop(1)  # augmentation randomness must resume too
        return model, optimiser, scheduler, tr, te

    model, optimiser, scheduler, tr, te = setup_augmented()
    whole = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu")
    expected = model.state_dict()

    class Interrupted(Batches):
        """Stops the process (as a kill would) after 4 batches of the third epoch."""
        def __iter__(self):
            for i, batch in enumerate(super().__iter__()):
                if self.epoch == 2 and i == 4:
                    raise KeyboardInterrupt
                yield batch

    model, optimiser, scheduler, tr, te = setup_augmented()
    tr.__class__ = Interrupted
    with pytest.raises(KeyboardInterrupt):
        train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
              checkpoint=tmp_path / "c.pt", checkpoint_every=2)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert (state["epoch"], state["partial"]["batch"]) == (2, 4)
    model, optimiser, scheduler, tr, te = setup_augmented(seed=99)
    resumed = train(model, tr, te, optimiser, 4, scheduler=scheduler, progress=False, device="cpu",
                    checkpoint=tmp_path / "c.pt", checkpoint_every=2)
    assert all(torch.equal(expected[k], model.state_dict()[k]) for k in expected)
    same = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")
    assert [[r[k] for k in same] for r in resumed.records] == [[r[k] for k in same] for r in whole.records]


class Hostile:
    def __reduce__(self):
        return (print, ("code ran",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    import pickle

    torch.save({"format": 1, "payload": Hostile()}, tmp_path / "c.pt", pickle_module=pickle)
    model, optimiser, _, tr, te = setup(schedule=False)
    with pytest.raises(CheckpointError, match="Weights only load failed.*Unsupported global"):
        train(model, tr, te, optimiser, 1, progress=False, device="cpu", checkpoint=tmp_path / "c.pt")
    assert "code ran" not in capsys.readouterr().out
