"""One small training loop for every training notebook: per-epoch train/test loss and accuracy, time
and throughput, progress bars, atomic resumable checkpoints, and a history as JSON/CSV.

Determinism: on the CPU a run is a function of the model's initial weights, the batches' seed and
the global torch RNG state at the start (dropout draws from it); a checkpoint stores all three, so
a run stopped after any epoch and resumed ends with the same weights as one that never stopped.
"""
from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as checkpoints
from . import distributed
from ..acdc import ACDC
from ..checks import check_positive_int
from .files import write_atomically
FIELDS = ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate",
          "train_seconds", "seconds", "samples_per_second")


@dataclass
class History:
    """Per-epoch records (dicts with the keys of ``FIELDS``) of one run called ``name``;
    ``resumed`` of them were read from a checkpoint rather than trained by this call."""
    name: str
    records: list[dict] = field(default_factory=list)
    resumed: int = 0

    @property
    def final(self) -> dict:
        """The last epoch's record."""
        if not self.records:
            raise ValueError(f"run {self.name!r} has no completed epoch")
        return self.records[-1]

    def column(self, key: str) -> list[float]:
        """One field over the epochs."""
        return [record[key] for record in self.records]

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write ``{"name": ..., "epochs": [...]}`` atomically."""
        text = json.dumps({"name": self.name, "epochs": self.records}, indent=1)
        return write_atomically(path, lambda p: p.write_text(text))

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write one row per epoch, columns ``FIELDS``, atomically."""
        def write(p: Path) -> None:
            with open(p, "w", newline="") as f:
                writer = csv.DictWriter(f, FIELDS)
                writer.writeheader()
                writer.writerows(self.records)
        return write_atomically(path, write)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(model: nn.Module, train_batches: Iterable, test_batches: Iterable,
          optimiser: torch.optim.Optimizer, epochs: int, *, name: str = "run",
          scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
          loss_fn: Callable | None = None, device: torch.device | str | None = None,
          amp: bool = False, compile: bool = False, checkpoint: str | os.PathLike | None = None,
          checkpoint_every: int | None = None, progress: bool | Callable = True,
          on_epoch: Callable[[dict], None] | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and evaluate it on ``test_batches`` after each.

    Args:
        model: maps a batch of inputs to logits ``(B, classes)``, or to a tuple whose first item
            is the logits (e.g. ``(logits, maps)`` for distillation); moved to ``device``.
        train_batches, test_batches: iterables of ``(inputs, labels)``; a ``set_epoch(e)`` method,
            when present, is called before each epoch (see :class:`acdc_core.training.batches.Batches`);
            resuming part-way through an epoch needs ``train_batches.set_epoch(e, start)``.
        optimiser: built on ``model``'s parameters.
        epochs: total number of epochs of the run, at least 1 (a resumed run continues up to it;
            a checkpoint of fewer epochs is extended to it when the run has no scheduler or one
            whose rates do not depend on the number of epochs, see
            :data:`acdc_core.training.checkpoint.LENGTH_FREE_SCHEDULERS`).
        name: the run's name, stored in the checkpoint.
        scheduler: stepped after every batch (build epoch-based schedules in batches).
        loss_fn: ``loss_fn(output, labels)`` of the model's whole output, a mean over the batch;
            default :func:`cross_entropy` of the logits. Evaluation uses it too.
        device: default CUDA when present, else CPU.
        amp: autocast to bfloat16 (no loss scaling needed).
        compile: run the training and evaluation steps through ``torch.compile``.
        Inside a process group (see :mod:`acdc_core.training.distributed`) the model trains wrapped in
        DistributedDataParallel, metrics are summed over the processes, and only rank 0 writes
        checkpoints and shows progress.
        checkpoint: file written atomically after every epoch and resumed from when it exists.
            It stores the run's configuration (see :func:`acdc_core.training.checkpoint.fingerprint`):
            a checkpoint of another configuration, or a damaged one, is refused with a
            :class:`~acdc_core.training.checkpoint.CheckpointError` naming the file and the fields that
            differ, and model, optimiser and scheduler are left as they were.
        checkpoint_every: also write it every this many batches within an epoch.
        progress: a progress bar over each epoch's batches: True for a tqdm text bar, or a function
            that wraps them, called as ``progress(batches, desc=..., leave=False)`` (e.g.
            :func:`acdc_core.lab.notebook.progress`); False for none.
        on_epoch: called with each epoch's record as soon as it is complete.

    Returns:
        the :class:`History`, the resumed epochs included.
    """
    check_positive_int("epochs", epochs)
    if checkpoint_every is not None:
        check_positive_int("checkpoint_every", checkpoint_every)
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    run = _Run(name, epochs, model, _step_model(model, device, compile), optimiser, scheduler,
               loss_fn or cross_entropy, device, _autocast(device, amp), checkpoint, checkpoint_every,
               checkpoints.fingerprint(name, epochs, model, optimiser, scheduler, train_batches, test_batches),
               History(name))
    start, partial = run.resume()
    for epoch in range(start, epochs):
        began = time.perf_counter()
        _position(train_batches, test_batches, epoch, partial, checkpoint)
        partial = partial or Progress(learning_rate=optimiser.param_groups[0]["lr"])
        totals = _train_epoch(run, train_batches, epoch, partial, progress if distributed.is_main() else False)
        test = evaluate(run.step_model, test_batches, run.loss_fn, device, run.autocast)
        run.history.records.append(_record(name, epoch, totals, test, time.perf_counter() - began))
        run.save(epoch + 1)
        if on_epoch is not None:
            on_epoch(run.history.final)
        partial = None
    return run.history


@dataclass
class Progress:
    """How far one epoch has got: batches trained, the running loss sum, correct predictions and
    samples seen, seconds spent training, and the learning rate it started at. A checkpoint saved
    part-way through an epoch stores it."""
    batch: int = 0
    loss: float = 0.0
    correct: int = 0
    seen: int = 0
    seconds: float = 0.0
    learning_rate: float = 0.0


@dataclass
class _Run:
    """What the parts of one :func:`train` call share."""
    name: str
    epochs: int
    model: nn.Module
    step_model: nn.Module  # the model as trained: maybe wrapped in DDP, maybe compiled
    optimiser: torch.optim.Optimizer
    scheduler: object
    loss_fn: Callable
    device: torch.device
    autocast: Callable
    checkpoint: str | os.PathLike | None
    checkpoint_every: int | None
    config: dict  # the fingerprint a checkpoint is checked against
    history: History

    def resume(self) -> tuple[int, Progress | None]:
        """Load the checkpoint when there is one: (completed epochs, progress through the next)."""
        if self.checkpoint is None or not Path(self.checkpoint).exists():
            return 0, None
        start, partial, self.history.records = checkpoints.resume(
            self.checkpoint, self.config, self.model, self.optimiser, self.scheduler, FIELDS)
        self.history.resumed = start
        return start, Progress(**partial) if partial else None

    def save(self, epoch: int, progress: Progress | None = None) -> None:
        """Checkpoint ``epoch`` completed epochs (and ``progress`` through the next); rank 0 only."""
        if self.checkpoint is not None and distributed.is_main():
            checkpoints.save(self.checkpoint, self.config, epoch, self.model, self.optimiser,
                             self.scheduler, self.history.records, progress and asdict(progress))

    def saves_at(self, step: int) -> bool:
        return bool(self.checkpoint_every) and step % self.checkpoint_every == 0


def _step_model(model: nn.Module, device: torch.device, compile: bool) -> nn.Module:
    """The model as the steps call it: in DistributedDataParallel inside a process group, compiled
    on request."""
    if distributed.active():
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(model) if compile else model


def _autocast(device: torch.device, amp: bool) -> Callable:
    if amp:
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def _position(train_batches, test_batches, epoch: int, progress: Progress | None, checkpoint) -> None:
    """Point the batches at ``epoch`` (and the training batches past those already trained)."""
    done = progress.batch if progress else 0
    if done and not hasattr(train_batches, "set_epoch"):
        raise ValueError(f"{checkpoint} stopped part-way through epoch {epoch + 1}; resuming it "
                         "needs train_batches with set_epoch(epoch, start)")
    if hasattr(train_batches, "set_epoch"):
        train_batches.set_epoch(epoch, done) if done else train_batches.set_epoch(epoch)
    if hasattr(test_batches, "set_epoch"):
        test_batches.set_epoch(epoch)


def _train_epoch(run: _Run, batches: Iterable, epoch: int, progress: Progress, show: bool | Callable) -> Progress:
    """Train on the batches of ``epoch`` that ``progress`` has not seen yet, checkpointing every
    ``checkpoint_every`` batches; the epoch's totals (summed over processes when distributed)."""
    began = time.perf_counter() - progress.seconds
    run.model.train()
    loss_sum = torch.tensor(progress.loss, device=run.device)
    correct, seen = torch.tensor(progress.correct, device=run.device), progress.seen
    step = progress.batch
    for step, (inputs, labels) in enumerate(_bar(batches, show, f"{run.name} epoch {epoch + 1}/{run.epochs}"),
                                            start=progress.batch + 1):
        inputs, labels = inputs.to(run.device, non_blocking=True), labels.to(run.device, non_blocking=True)
        output, loss = _step(run, inputs, labels)
        loss_sum += loss.detach() * len(labels)
        correct += (logits_of(output).argmax(-1) == labels).sum()
        seen += len(labels)
        if run.saves_at(step):
            run.save(epoch, Progress(step, loss_sum.item(), int(correct.item()), seen,
                                     time.perf_counter() - began, progress.learning_rate))
    _synchronise(run.device)
    seconds = time.perf_counter() - began
    loss_sum, correct, seen = _sum_over_processes(loss_sum, correct, seen)
    return Progress(step, loss_sum.item(), int(correct.item()), seen, seconds, progress.learning_rate)


def _step(run: _Run, inputs: torch.Tensor, labels: torch.Tensor):
    """One optimisation step on a batch: (the model's output, the loss)."""
    with run.autocast():
        output = run.step_model(inputs)
        loss = run.loss_fn(output, labels)
    run.optimiser.zero_grad(set_to_none=True)
    loss.backward()
    run.optimiser.step()
    if run.scheduler is not None:
        run.scheduler.step()
    return output, loss


def _record(name: str, epoch: int, progress: Progress, test: tuple[float, float], seconds: float) -> dict:
    """One epoch's record (the keys of ``FIELDS``); an epoch without batches or with a non-finite
    loss is an error."""
    if progress.seen == 0:
        raise ValueError(f"{name}: train_batches gave no batches in epoch {epoch + 1}")
    train_loss = progress.loss / progress.seen
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"{name}: the training loss became {train_loss} in epoch "
                                 f"{epoch + 1}; lower the learning rate")
    return {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": progress.correct / progress.seen,
            "test_loss": test[0], "test_accuracy": test[1], "learning_rate": progress.learning_rate,
            "train_seconds": progress.seconds, "seconds": seconds,
            "samples_per_second": progress.seen / progress.seconds}


def logits_of(output) -> torch.Tensor:
    """The logits of a model's output: the output itself, or the first item of a tuple."""
    return output[0] if isinstance(output, (tuple, list)) else output


def cross_entropy(output, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the logits of ``output`` (computed in float32 under autocast)."""
    return F.cross_entropy(logits_of(output).float(), labels)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, loss_fn: Callable = cross_entropy,
             device: torch.device | str | None = None, autocast=contextlib.nullcontext) -> tuple[float, float]:
    """(mean loss, accuracy in [0, 1]) of ``model`` in eval mode over ``batches``."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for inputs, labels in batches:
        inputs, labels = inputs.to(device), labels.to(device)
        with autocast():
            output = model(inputs)
        total_loss += loss_fn(output, labels) * len(labels)
        correct += (logits_of(output).argmax(-1) == labels).sum()
        seen += len(labels)
    model.train(was_training)
    total_loss, correct, seen = _sum_over_processes(total_loss, correct, seen)
    if seen == 0:
        raise ValueError("evaluate() got no batches")
    return total_loss.item() / seen, correct.item() / seen


def _sum_over_processes(loss_sum: torch.Tensor, correct: torch.Tensor, seen: int):
    """The three running sums of an epoch, summed over all processes when distributed."""
    if not distributed.active():
        return loss_sum, correct, seen
    sums = torch.stack([loss_sum.float(), correct.float(), torch.tensor(float(seen), device=loss_sum.device)])
    torch.distributed.all_reduce(sums)
    return sums[0], sums[1], int(sums[2].item())


def _bar(batches, progress: bool | Callable, description: str):
    """The epoch's batches wrapped in the progress bar ``progress`` asks for (see :func:`train`)."""
    if callable(progress):
        return progress(batches, desc=description, leave=False)
    from tqdm.std import tqdm

    return tqdm(batches, desc=description, disable=not progress, leave=False)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


FLAT_STRUCTURED_DECAY = 8.8e-6  # the log's fix for structured parameters (E19, docs/experiments.md)


def parameter_groups(model: nn.Module, weight_decay: float, structured: str | float = "scaled",
                     dense_parameters: int | None = None) -> list[dict]:
    """Optimiser parameter groups: every parameter of an ACDC layer (diagonals, biases) in one,
    with its own weight decay, the rest in the other with ``weight_decay``.

    ``structured``: ``"flat"`` (8.8e-6, the log), ``"scaled"`` (``weight_decay`` × the compression
    ratio = trainable parameters of ``model`` / ``dense_parameters``, the follow-up work's finding
    that such networks only trained that way), or a number.
    """
    ids = {id(p) for m in model.modules() if isinstance(m, ACDC) for p in m.parameters()}
    acdc = [p for p in model.parameters() if id(p) in ids and p.requires_grad]
    rest = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    if structured == "flat":
        decay = FLAT_STRUCTURED_DECAY
    elif structured == "scaled":
        if not dense_parameters:
            raise ValueError("structured='scaled' needs dense_parameters, the parameter count of the "
                             "network before substitution")
        decay = weight_decay * sum(p.numel() for p in acdc + rest) / dense_parameters
    elif isinstance(structured, (int, float)) and not isinstance(structured, bool):
        decay = float(structured)
    else:
        raise ValueError(f"structured must be 'flat', 'scaled' or a number, got {structured!r}")
    return [{"params": rest, "weight_decay": weight_decay, "kind": "dense"},
            {"params": acdc, "weight_decay": decay, "kind": "structured"}]
