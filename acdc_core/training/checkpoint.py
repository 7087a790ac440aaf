"""Training checkpoints: what a run stores, the fingerprint of its configuration, and a loader that
refuses a damaged file or another run's before it touches anything.

A checkpoint is a dict saved with ``torch.save`` and read with ``weights_only=True``:
``format``, ``fingerprint`` (see :func:`fingerprint`), ``epoch`` (completed epochs), ``partial``
(progress through the next epoch, or None), ``model``, ``optimiser`` and ``scheduler`` state
dicts, the CPU and CUDA RNG states, and ``history`` (one record per completed epoch).
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from torch import nn

from .files import write_atomically

FORMAT = 2
# Scheduler entries that record progress through the run, not its configuration.
_PROGRESS = {"last_epoch", "_step_count", "_last_lr", "_is_initial", "_get_lr_called_within_step",
             "best", "num_bad_epochs", "cooldown_counter"}
_PARTIAL = {"batch": int, "loss": float, "correct": int, "seen": int, "seconds": float,
            "learning_rate": float}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, is damaged, or belongs to another run."""


def fingerprint(name: str, epochs: int, model: nn.Module, optimiser: torch.optim.Optimizer,
                scheduler, train_batches, test_batches) -> dict:
    """The configuration a run is resumed under: its name and epochs, the model's class and
    tensor shapes, the optimiser's class and hyperparameters, the scheduler's class and settings,
    and each split's data name, size, batch size and seed where the batches carry them."""
    return {"name": name, "epochs": epochs,
            "model": {"class": type(model).__name__,
                      "tensors": {k: [list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()}},
            "optimiser": {"class": type(optimiser).__name__,
                          "groups": [_hyperparameters(g) for g in optimiser.param_groups]},
            "scheduler": None if scheduler is None else
            {"class": type(scheduler).__name__, **_plain(scheduler.state_dict())},
            "data": {"train": _data(train_batches), "test": _data(test_batches)}}


def _hyperparameters(group: dict) -> dict:
    """A parameter group's settings. What a scheduler varies is taken from the range it was set
    up with (``initial_lr``, the momentum bounds), not from where the run has got to."""
    settings = {k: v for k, v in group.items() if k != "params"}
    settings["parameters"] = len(group["params"])
    if "initial_lr" in settings:
        del settings["lr"]
    if "base_momentum" in settings:
        settings.pop("momentum", None)
        settings.pop("betas", None)
    return _plain(settings)


def _data(batches) -> dict:
    dataset = getattr(batches, "dataset", None)
    found = {"batches": len(batches) if hasattr(batches, "__len__") else None}
    if dataset is not None:
        found.update(name=getattr(dataset, "name", type(dataset).__name__), size=len(dataset),
                     batch_size=getattr(batches, "batch_size", None), seed=getattr(batches, "seed", None))
    return found


def _plain(value):
    """``value`` as plain data (lists, dicts, numbers, strings) for storing and comparing, without
    the entries that record progress."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in _PROGRESS}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def save(path: str | os.PathLike, fingerprint: dict, epoch: int, model: nn.Module, optimiser,
         scheduler, history: list[dict], partial: dict | None = None) -> None:
    """Write the checkpoint atomically: ``epoch`` completed epochs, plus ``partial`` progress
    through the next (batches done and the running sums) when saved part-way."""
    state = {"format": FORMAT, "fingerprint": fingerprint, "epoch": epoch, "partial": partial,
             "model": model.state_dict(), "optimiser": optimiser.state_dict(),
             "scheduler": scheduler.state_dict() if scheduler is not None else None,
             "rng": torch.get_rng_state(), "history": history,
             "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    path = Path(path)
    _make_folder(path)
    write_atomically(path, lambda p: torch.save(state, p))


def _make_folder(path: Path) -> None:
    """Create the folder ``path`` goes in; a file where a folder of it should be is an error."""
    for folder in reversed(path.parents):
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"cannot write the checkpoint {path}: {folder} should be a "
                                     "folder but is a file")
    path.parent.mkdir(parents=True, exist_ok=True)


def resume(path: str | os.PathLike, fingerprint: dict, model: nn.Module, optimiser,
           scheduler, fields) -> tuple[int, dict | None, list[dict]]:
    """Load the checkpoint at ``path`` into model, optimiser, scheduler and the RNGs; return the
    completed epochs, the progress through the next one (None at an epoch boundary) and the
    history records (each with ``fields``).

    Raises :class:`CheckpointError`, naming the file and the fault, when it cannot be read, is
    damaged, or was written by a run of another configuration (naming the fields that differ);
    then model, optimiser, scheduler and RNGs are exactly as they were."""
    path = Path(path)
    state = _read(path)
    try:
        _check_structure(state)
        _check_fingerprint(state["fingerprint"], fingerprint)
        _check_progress(state, fields, fingerprint["epochs"])
        _check_model(state["model"], model)
        _check_optimiser(state["optimiser"], optimiser)
        _check_scheduler(state["scheduler"], scheduler)
    except CheckpointError as fault:
        raise CheckpointError(f"{path}: {fault}") from None
    _apply(path, state, model, optimiser, scheduler)
    return state["epoch"], state["partial"], state["history"]


def _read(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many kinds on a damaged file; all mean the same
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        if "Weights only load failed" in str(error):
            detail = next((line for line in lines if "Unsupported" in line), lines[-1]).split(". Please")[0]
            fault = f"Weights only load failed: it holds what a checkpoint never does ({detail})"
        else:
            fault = f"empty or damaged ({lines[0] if lines else type(error).__name__})"
        raise CheckpointError(f"{path}: not a readable checkpoint: {fault}") from None


def _check_structure(state) -> None:
    if not isinstance(state, dict) or not isinstance(state.get("format"), int):
        raise CheckpointError(f"not a training checkpoint (expected a dict with a 'format' entry, "
                              f"found {type(state).__name__})")
    if state["format"] != FORMAT:
        raise CheckpointError(f"checkpoint format {state['format']}, this version reads format "
                              f"{FORMAT} (older checkpoints store no configuration to check a "
                              "resume against): use another checkpoint file to start afresh")
    kinds = {"fingerprint": dict, "epoch": int, "partial": (dict, type(None)), "model": dict,
             "optimiser": dict, "scheduler": (dict, type(None)), "rng": torch.Tensor,
             "cuda_rng": list, "history": list}
    for key, kind in kinds.items():
        if not isinstance(state.get(key), kind):
            raise CheckpointError(f"entry {key!r} is missing or of the wrong type (expected "
                                  f"{_names(kind)}, found {type(state.get(key)).__name__})")
    rng = torch.get_rng_state()
    if state["rng"].dtype != rng.dtype or state["rng"].shape != rng.shape:
        raise CheckpointError(f"the RNG state is {state['rng'].dtype} {tuple(state['rng'].shape)}, "
                              f"expected {rng.dtype} {tuple(rng.shape)}")


def _names(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join("None" if k is type(None) else k.__name__ for k in kinds)


# Schedulers whose learning rate at a step does not depend on how many steps the run has in all.
LENGTH_FREE_SCHEDULERS = frozenset({"ConstantLR", "StepLR", "MultiStepLR", "ExponentialLR"})


def _check_fingerprint(saved: dict, current: dict) -> None:
    """Refuse a checkpoint of another configuration; one that differs only in ``epochs`` is
    extended (or shortened) when the schedule cannot depend on the epochs."""
    found = sorted(_differences(saved, current), key=lambda d: d[0].count(".") + d[0].count("["))
    keys = [key for key, _, _ in found]
    if not found or (keys == ["epochs"] and _length_free(current["scheduler"])):
        return
    differences = [f"{key}: checkpoint {was!r}, this run {now!r}" for key, was, now in found]
    shown = "; ".join(differences[:8]) + (f"; and {len(differences) - 8} more" if len(differences) > 8 else "")
    if "epochs" in keys and not _length_free(current["scheduler"]):
        raise CheckpointError(
            f"written by a run of {saved.get('epochs')} epochs whose learning-rate schedule "
            f"({current['scheduler']['class']}) may depend on the number of epochs ({shown}): keep "
            f"epochs={saved.get('epochs')}, or start afresh with another checkpoint file; only runs "
            f"without a scheduler or with {', '.join(sorted(LENGTH_FREE_SCHEDULERS))} can be extended")
    raise CheckpointError(f"written by a run of another configuration ({shown}): use another "
                          "checkpoint file for this run")


def _length_free(scheduler: dict | None) -> bool:
    return scheduler is None or scheduler["class"] in LENGTH_FREE_SCHEDULERS


def extendable(scheduler) -> bool:
    """Whether a run under ``scheduler`` (None: a constant rate) can be resumed for more epochs
    than it was started with: its rates do not depend on the number of epochs."""
    return scheduler is None or type(scheduler).__name__ in LENGTH_FREE_SCHEDULERS


def _differences(saved, current, prefix: str = ""):
    """(dotted key, saved value, current value) for every leaf where the two differ."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current), key=str):
            yield from _differences(saved.get(key), current.get(key), f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current) \
            and any(isinstance(v, (dict, list)) for v in saved + current):
        for i, (was, now) in enumerate(zip(saved, current)):
            yield from _differences(was, now, f"{prefix}[{i}]")
    elif saved != current:
        yield prefix, saved, current


def _check_progress(state: dict, fields, epochs: int) -> None:
    """The counts fit together: at most the saved run's ``epochs`` completed, and at most
    ``epochs``, this run's."""
    epoch, planned = state["epoch"], state["fingerprint"].get("epochs")
    if not 0 <= epoch <= planned:
        raise CheckpointError(f"{epoch} completed epochs, expected 0 to {planned}")
    if epoch > epochs:
        raise CheckpointError(f"{epoch} completed epochs, more than this run's {epochs}: ask for "
                              f"at least {epoch} epochs, or use another checkpoint file")
    history = state["history"]
    if len(history) != epoch or not all(isinstance(r, dict) and set(r) == set(fields) for r in history):
        raise CheckpointError(f"the history should hold {epoch} records with the fields "
                              f"{', '.join(fields)}")
    partial = state["partial"]
    if partial is not None:
        if epoch == planned or set(partial) != set(_PARTIAL) or not all(
                isinstance(partial[k], kind) and not isinstance(partial[k], bool) for k, kind in _PARTIAL.items()):
            raise CheckpointError(f"the progress through epoch {epoch + 1} should hold "
                                  f"{', '.join(f'{k} ({t.__name__})' for k, t in _PARTIAL.items())}")


def _check_model(saved: dict, model: nn.Module) -> None:
    for key, tensor in model.state_dict().items():
        found = saved.get(key)
        if not isinstance(found, torch.Tensor) or found.shape != tensor.shape:
            raise CheckpointError(f"the model's {key!r} should be a tensor of shape "
                                  f"{tuple(tensor.shape)}, found {_describe(found)}")
    if set(saved) != set(model.state_dict()):
        extra = sorted(set(saved) - set(model.state_dict()))
        raise CheckpointError(f"the model state holds entries this model has not: {', '.join(extra[:5])}")


def _check_optimiser(saved: dict, optimiser) -> None:
    groups, state = saved.get("param_groups"), saved.get("state")
    if not isinstance(groups, list) or not isinstance(state, dict) or len(groups) != len(optimiser.param_groups):
        raise CheckpointError(f"the optimiser state should hold 'state' and {len(optimiser.param_groups)} "
                              "'param_groups'")
    shapes = {}
    for i, (group, live) in enumerate(zip(groups, optimiser.param_groups)):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list) \
                or len(group["params"]) != len(live["params"]):
            raise CheckpointError(f"optimiser parameter group {i} should hold {len(live['params'])} parameters")
        shapes.update(zip(group["params"], (p.shape for p in live["params"])))
    for index, entries in state.items():
        if index not in shapes or not isinstance(entries, dict):
            raise CheckpointError(f"the optimiser state names parameter {index!r}, which no group holds")
        for key, value in entries.items():
            if isinstance(value, torch.Tensor) and value.ndim and value.shape != shapes[index]:
                raise CheckpointError(f"the optimiser's {key!r} of parameter {index} has shape "
                                      f"{tuple(value.shape)}, expected {tuple(shapes[index])}")


def _check_scheduler(saved: dict | None, scheduler) -> None:
    """A scheduler's ``load_state_dict`` sets whatever it is given as attributes: admit only the
    entries its own state has."""
    if scheduler is not None and set(saved) != set(scheduler.state_dict()):
        raise CheckpointError(f"the scheduler state should hold {', '.join(sorted(scheduler.state_dict()))}, "
                              f"found {', '.join(sorted(map(str, saved)))}")


def _describe(value) -> str:
    return f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _apply(path: Path, state: dict, model: nn.Module, optimiser, scheduler) -> None:
    """Load the checked state; should anything still fail, put everything back as it was."""
    before = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimiser.state_dict()),
              None if scheduler is None else copy.deepcopy(scheduler.state_dict()))
    try:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
    except Exception as error:
        model.load_state_dict(before[0])
        optimiser.load_state_dict(before[1])
        if scheduler is not None:
            scheduler.load_state_dict(before[2])
        raise CheckpointError(f"{path}: the saved state does not load ({error})") from None
    torch.set_rng_state(state["rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
