"""Bad input to training (checkpoints, atomic writes, the training command lines): every damaged
file, every other run's checkpoint and every bad argument gets one clear error naming the file or
argument; a refused checkpoint leaves model, optimiser, scheduler and RNG exactly as they were;
nothing outside the target is written."""
import copy
import os

import pytest
import torch
from conftest import blobs
from torch import nn

from acdc_core.training.batches import Batches
from acdc_core.training.checkpoint import CheckpointError
from acdc_core.training.files import write_atomically
from acdc_core.training.train import train


def setup(lr=1e-2, kind=torch.optim.Adam, schedule=True, size=96, seed=7, width=32):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, width), nn.ReLU(), nn.Linear(width, 2))
    optimiser = kind(model.parameters(), lr=lr)
    batches = Batches(blobs(size, 1), 16, shuffle=True, seed=seed)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=4 * len(batches))
                 if schedule else None)
    return model, optimiser, scheduler, batches, Batches(blobs(32, 2), 32)


def run(parts, epochs, path, **options):
    model, optimiser, scheduler, tr, te = parts
    return train(model, tr, te, optimiser, epochs, scheduler=scheduler, progress=False, device="cpu",
                 checkpoint=path, **options)


def state_of(parts):
    """Everything a refused resume must leave alone, copied."""
    model, optimiser, scheduler, _, _ = parts
    return (copy.deepcopy(model.state_dict()), copy.deepcopy(optimiser.state_dict()),
            copy.deepcopy(scheduler.state_dict()) if scheduler else None, torch.get_rng_state())


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def refused(parts, epochs, path, match, error=CheckpointError):
    """Resuming from ``path`` fails with ``error`` naming the file (and ``match``), touching nothing."""
    before = state_of(parts)
    with pytest.raises(error, match=match) as caught:
        run(parts, epochs, path)
    assert str(path) in str(caught.value)
    assert same(before, state_of(parts)), "a refused checkpoint changed the run's state"


class Stop(Exception):
    pass


def stop_after_two(record):
    if record["epoch"] == 2:
        raise Stop


@pytest.fixture
def saved(tmp_path):
    """A genuine checkpoint after 2 of 4 epochs, and its loaded contents."""
    path = tmp_path / "c.pt"
    with pytest.raises(Stop):
        run(setup(), 4, path, on_epoch=stop_after_two)
    return path, torch.load(path, weights_only=True)


# ------------------------------------------------------------------------- damaged files
@pytest.mark.parametrize("damage", ["empty", "truncated", "random bytes", "text", "directory"])
def test_a_damaged_file_is_refused_with_one_error_naming_it(tmp_path, damage):
    path = tmp_path / "c.pt"
    run(setup(), 1, path)
    whole = path.read_bytes()
    if damage == "directory":
        path.unlink()
        path.mkdir()
    else:
        path.write_bytes({"empty": b"", "truncated": whole[: len(whole) // 2],
                          "random bytes": os.urandom(4096), "text": b"epoch 3\n"}[damage])
    refused(setup(), 4, path, "not a readable checkpoint")


@pytest.mark.parametrize("content, match", [
    ([1, 2, 3], "not a training checkpoint .*found list"),
    ({"epoch": 3}, "not a training checkpoint"),
    ({"format": 1, "name": "run", "epoch": 1}, "format 1, this version reads format 2"),
    (torch.zeros(3), "not a training checkpoint .*found Tensor"),
])
def test_something_else_saved_under_the_name_is_refused(tmp_path, content, match):
    torch.save(content, tmp_path / "c.pt")
    refused(setup(), 4, tmp_path / "c.pt", match)


@pytest.mark.parametrize("missing", ["fingerprint", "model", "optimiser", "rng", "history", "epoch"])
def test_a_dict_missing_an_entry_is_refused_naming_it(saved, missing):
    path, state = saved
    del state[missing]
    torch.save(state, path)
    refused(setup(), 4, path, f"entry '{missing}' is missing")


# ---------------------------------------------------------- a checkpoint of another run
@pytest.mark.parametrize("other, field", [
    (dict(lr=0.5), r"optimiser.groups\[0\].max_lr: checkpoint 0.5, this run 0.01"),
    (dict(kind=torch.optim.SGD), "optimiser.class: checkpoint 'SGD', this run 'Adam'"),
    (dict(schedule=False), "scheduler: checkpoint None"),
    (dict(size=80), "data.train.size: checkpoint 80, this run 96"),
    (dict(seed=8), "data.train.seed: checkpoint 8, this run 7"),
    (dict(width=64), r"model.tensors.1.weight\[0\]: checkpoint \[64, 16\], this run \[32, 16\]"),
])
def test_a_checkpoint_of_another_configuration_is_refused_naming_the_fields(tmp_path, other, field):
    path = tmp_path / "c.pt"
    run(setup(**other), 1, path)
    refused(setup(), 1, path, field)


def test_runs_sharing_a_default_checkpoint_name_do_not_continue_each_other(tmp_path):
    path = tmp_path / "c.pt"
    run(setup(lr=0.5, schedule=False), 2, path)
    refused(setup(lr=0.1, schedule=False), 2, path, r"groups\[0\].lr: checkpoint 0.5, this run 0.1")


def test_an_sgd_checkpoint_is_refused_by_adam_before_the_weights_change(tmp_path):
    path = tmp_path / "c.pt"
    run(setup(kind=torch.optim.SGD, schedule=False), 1, path)
    refused(setup(schedule=False), 1, path, "optimiser.class: checkpoint 'SGD', this run 'Adam'")


def test_fewer_epochs_than_the_checkpoint_holds_is_refused(saved):
    path, _ = saved
    refused(setup(), 1, path, "epochs: checkpoint 4, this run 1")


@pytest.mark.parametrize("epochs, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                           (True, TypeError), ("4", TypeError)])
def test_epochs_must_be_a_positive_int(tmp_path, epochs, error):
    with pytest.raises(error, match=f"epochs must be a positive int, got {epochs!r}"):
        run(setup(), epochs, tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize("which", ["train", "test"])
def test_no_batches_to_train_or_test_on_is_refused(tmp_path, which):
    model, optimiser, _, tr, te = setup(schedule=False)
    empty = {"train": (iter(()), te), "test": (tr, [])}[which]
    with pytest.raises(ValueError, match="train_batches gave no batches in epoch 1|evaluate\\(\\) got no batches"):
        train(model, *empty, optimiser, 1, progress=False, device="cpu", checkpoint=tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize("every, error", [(0, ValueError), (-3, ValueError), (1.5, TypeError)])
def test_checkpoint_every_must_be_a_positive_int(tmp_path, every, error):
    with pytest.raises(error, match="checkpoint_every must be a positive int"):
        run(setup(), 2, tmp_path / "c.pt", checkpoint_every=every)


# ------------------------------------------- a file that passes for this run's but is damaged
def tamper_model(state):
    state["model"]["1.weight"] = torch.zeros(3, 3)


def tamper_model_extra(state):
    state["model"]["9.weight"] = torch.zeros(3)


def tamper_optimiser(state):
    state["optimiser"]["state"][0]["exp_avg"] = torch.zeros(5)


def tamper_optimiser_groups(state):
    state["optimiser"]["param_groups"].append({"params": []})


def tamper_optimiser_index(state):
    state["optimiser"]["state"][17] = {}


def tamper_history(state):
    state["history"].pop()


def tamper_history_record(state):
    del state["history"][0]["test_loss"]


def tamper_epoch(state):
    state["epoch"] = 9


def tamper_partial(state):
    state["partial"] = {"batch": 2}


def tamper_rng(state):
    state["rng"] = torch.zeros(7)


def tamper_scheduler(state):
    state["scheduler"] = {"nonsense": 1}


@pytest.mark.parametrize("tamper, match", [
    (tamper_model, r"the model's '1.weight' should be a tensor of shape \(32, 16\), found shape \(3, 3\)"),
    (tamper_model_extra, "entries this model has not: 9.weight"),
    (tamper_optimiser, r"optimiser's 'exp_avg' of parameter 0 has shape \(5,\)"),
    (tamper_optimiser_groups, "should hold 'state' and 1 'param_groups'"),
    (tamper_optimiser_index, "names parameter 17"),
    (tamper_history, "history should hold 2 records"),
    (tamper_history_record, "history should hold 2 records with the fields"),
    (tamper_epoch, "9 completed epochs, expected 0 to 4"),
    (tamper_partial, "progress through epoch 3 should hold"),
    (tamper_rng, "the RNG state is torch.float32"),
    (tamper_scheduler, "the scheduler state should hold .*found nonsense"),
])
def test_a_tampered_checkpoint_is_refused_touching_nothing(saved, tamper, match):
    path, state = saved
    tamper(state)
    torch.save(state, path)
    refused(setup(), 4, path, match)


def test_the_genuine_checkpoint_still_resumes(saved):
    path, state = saved
    assert state["epoch"] == 2
    history = run(setup(), 4, path)
    assert history.resumed == 2 and len(history.records) == 4


# ------------------------------------------------------------------------- atomic writes
def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def test_a_symlink_planted_beside_the_checkpoint_is_never_written_through(tmp_path):
    outside, inside = tmp_path / "outside", tmp_path / "runs"
    outside.mkdir()
    inside.mkdir()
    victim = outside / "precious.txt"
    victim.write_bytes(b"the user's own file\n")
    for name in (".c.pt.partial", ".c.pt.tmp", "c.pt.partial", "c.pt.tmp"):  # every predictable partial name
        (inside / name).symlink_to(victim)
    before = snapshot(outside)
    run(setup(), 1, inside / "c.pt")
    assert snapshot(outside) == before
    assert torch.load(inside / "c.pt", weights_only=True)["epoch"] == 1


def test_partial_files_are_new_unpredictable_and_in_the_target_folder(tmp_path):
    names = []
    for _ in range(3):
        write_atomically(tmp_path / "t.txt", lambda p: (names.append(p), p.write_text("x")))
    assert len(set(names)) == 3 and all(p.parent == tmp_path for p in names)
    assert all(p.name.startswith(".t.txt.") and p.name not in (".t.txt.partial", ".t.txt.tmp") for p in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_a_failing_write_leaves_the_target_and_no_partial_file(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")

    def fail(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, fail)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


def test_the_file_then_its_folder_are_flushed_around_the_rename(tmp_path, monkeypatch):
    events = []
    fsync, replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}"))), fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", None)), replace(a, b)))
    write_atomically(tmp_path / "t.txt", lambda p: p.write_text("new"))
    assert events == [("fsync", False), ("replace", None), ("fsync", True)]


def test_a_symlink_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "t.txt").symlink_to(victim)
    write_atomically(tmp_path / "t.txt", lambda p: p.write_text("new"))
    assert victim.read_text() == "keep" and (tmp_path / "t.txt").read_text() == "new"
    assert not (tmp_path / "t.txt").is_symlink()


def test_a_rewritten_file_keeps_its_permissions(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_atomically(target, lambda p: p.write_text("new"))
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.txt"
    write_atomically(fresh, lambda p: p.write_text("new"))
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_checkpoint_under_a_file_names_the_file_that_should_be_a_folder(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="runs should be a folder but is a file") as caught:
        run(setup(), 1, tmp_path / "runs" / "deeper" / "c.pt")
    assert str(tmp_path / "runs" / "deeper" / "c.pt") in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]
    assert (tmp_path / "runs").read_text() == "not a folder"


def test_a_history_written_to_a_folder_says_the_path_is_a_folder(tmp_path):
    history = run(setup(), 1, None)
    with pytest.raises(IsADirectoryError, match=f"^{tmp_path} is a folder; expected the path of a file"):
        history.to_json(tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- the training command lines
@pytest.mark.parametrize("module", ["mnist", "cifar"])
@pytest.mark.parametrize("arguments, message", [
    (["nope:1"], "unknown recipe 'nope' in 'nope:1'; valid recipes: "),
    (["{recipe}:x"], "the seed in '{recipe}:x' must be a non-negative integer, got 'x'"),
    (["{recipe}:-1"], "the seed in '{recipe}:-1' must be a non-negative integer, got '-1'"),
    (["{recipe}:1.5"], "the seed in '{recipe}:1.5' must be a non-negative integer, got '1.5'"),
    (["{recipe}", "--epochs", "0"], "argument --epochs: expected an integer of at least 1, got '0'"),
    (["{recipe}", "--epochs", "ten"], "argument --epochs: expected an integer of at least 1, got 'ten'"),
    (["{recipe}", "--threads", "-2"], "argument --threads: expected an integer of at least 1, got '-2'"),
    (["{recipe}", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
])
def test_a_training_command_line_refuses_bad_arguments_in_one_line(module, arguments, message, tmp_path, capsys):
    import importlib

    command = importlib.import_module(f"acdc_core.lab.experiments.{module}")
    recipe = {"mnist": "e11", "cifar": "e22"}[module]
    with pytest.raises(SystemExit) as exit:
        command.main([a.format(recipe=recipe) for a in arguments] + ["--checkpoint-dir", str(tmp_path / "c")])
    error = capsys.readouterr().err
    assert exit.value.code == 2 and message.format(recipe=recipe) in error and "Traceback" not in error
    assert not (tmp_path / "c").exists()
