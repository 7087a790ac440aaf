"""What every study's runs share: training one (recipe, seed) with a checkpoint that resumes it,
the record a finished run leaves, and the command line that trains and records them."""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from ...training import distributed
from ...training.data import Dataset
from ...training.checkpoint import extendable
from ...training.train import History, train
from .. import results
from ..command import count, run_spec


@dataclass
class Run:
    """One trained recipe: name, seed, parameter count, per-epoch history, the trained network,
    and its dense network's parameter count (None: nothing was substituted)."""
    recipe: str
    seed: int
    parameters: int
    history: History
    model: nn.Module
    dense_parameters: int | None = None


@dataclass
class Plan:
    """What one run trains: ``model`` (what the loop steps), the batches, optimiser, schedule
    (None: constant) and further :func:`~acdc_core.training.train.train` options."""
    model: nn.Module
    train_batches: object
    test_batches: object
    optimiser: object
    scheduler: object = None
    options: dict = field(default_factory=dict)


def fit(name: str, plan: Plan, data: Dataset, epochs: int, seed: int, device=None,
        checkpoint_dir: str | Path | None = None, progress: bool | Callable = True,
        amp: bool = False) -> History:
    """Train ``plan`` for ``epochs`` epochs on ``data`` (its name titles the run); with
    ``checkpoint_dir``, checkpointed there (:func:`checkpoint_file`), so a finished or interrupted
    run is picked up again, and one asked for more epochs trains on where its schedule allows."""
    length = None if extendable(plan.scheduler) else epochs
    checkpoint = checkpoint_file(checkpoint_dir, name, data, seed, amp, length)
    title = f"{name} on {data.name}, seed {seed}" + (", bfloat16 autocast" if amp else "")
    return train(plan.model, plan.train_batches, plan.test_batches, plan.optimiser, epochs,
                 name=title, scheduler=plan.scheduler,
                 device=device, amp=amp, checkpoint=checkpoint, progress=progress, **plan.options)


def checkpoint_file(folder: str | Path | None, recipe: str, data: Dataset, seed: int, amp: bool,
                    epochs: int | None) -> Path | None:
    """Where a run checkpoints in ``folder`` (None without one): a file named by recipe, the data's
    slug, ``epochs`` (None for a schedule that does not depend on them: a longer rerun then extends
    the checkpoint), seed and autocast, e.g. ``e11-mnist-train-60000-s0.pt``."""
    if not folder:
        return None
    words = [recipe, data.slug, *([f"e{epochs}"] if epochs else []), f"s{seed}", *(["amp"] if amp else [])]
    return Path(folder) / (re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-") + ".pt")


def run_record(result: Run, data: str, provenance: dict, **extra) -> dict:
    """A trained run as :func:`acdc_core.lab.results.record` keeps it, with a study's ``extra``
    fields before its curves and ``provenance``."""
    history = result.history
    return {"recipe": result.recipe, "seed": result.seed, "data": data, "epochs": history.final["epoch"],
            "test_accuracy": history.final["test_accuracy"], "parameters": result.parameters, **extra,
            "train_seconds": sum(history.column("train_seconds")), "curves": history.records,
            "provenance": provenance}


@dataclass(frozen=True)
class Study:
    """A study's command line: ``name`` (its results folder and module), ``recipes``, the
    datasets it trains on (the first the default), its default epochs (None: each recipe's),
    ``run`` (recipe, train, test, epochs, seed, **options) → :class:`Run`, ``record``
    (run, data name, provenance) → record, ``data`` (parsed arguments) → (train, test), ``flags``
    adding its own arguments, ``options`` (arguments, recipe) → ``run``'s further keywords, and
    ``describe`` (run, data) → the line printed for a finished run (default :func:`report`). A
    study with no ``datasets`` takes its data from its own flags (no ``--dataset``)."""
    name: str
    recipes: Mapping
    datasets: tuple[str, ...]
    epochs: int | None
    run: Callable[..., Run]
    record: Callable[[Run, str, dict], dict]
    data: Callable[[argparse.Namespace], tuple[Dataset, Dataset]]
    flags: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    options: Callable[[argparse.Namespace, str], dict] = lambda args, name: {}
    describe: Callable[[Run, object], str] | None = None


def parser(study: Study, description: str) -> argparse.ArgumentParser:
    """The flags every study takes, then the study's own."""
    made = argparse.ArgumentParser(description=description)
    made.add_argument("runs", nargs="+", metavar="RECIPE[:SEED]", type=run_spec(study.recipes),
                      help=f"one of {', '.join(study.recipes)}, e.g. {next(iter(study.recipes))}:0")
    if study.datasets:
        made.add_argument("--dataset", default=study.datasets[0], choices=study.datasets)
    made.add_argument("--root", default=None, help="data folder (default $ACDC_DATA)")
    made.add_argument("--epochs", type=count(1), default=study.epochs,
                      help=f"default: {study.epochs or 'each recipe' + chr(39) + 's own'}")
    made.add_argument("--checkpoint-dir", required=True)
    made.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    made.add_argument("--amp", action="store_true", help="train under bfloat16 autocast")
    made.add_argument("--record", default=None, metavar="PROFILE",
                      help=f"record each finished run in RESULTS/{study.name}/PROFILE.json")
    made.add_argument("--results", default=str(results.RESULTS), help="the results folder")
    study.flags(made)
    return made


def main(study: Study, argv=None, description: str = "") -> None:
    """Train and (with ``--record``) record the runs named on the command line, one after another
    into the checkpoint folder, which the study's notebook then reads instead of training again.
    Under ``torchrun`` each process trains on its shard and the first reports."""
    args = parser(study, description).parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if distributed.launched():
        distributed.start()
    train_set, test_set = study.data(args)
    command = (f"python -m acdc_core.lab.experiments.{study.name} "
               + " ".join(sys.argv[1:] if argv is None else argv))
    origin = results.provenance(command, train_set.origin, train_set.verified)
    for name, seed in args.runs:
        result = study.run(name, train_set, test_set, args.epochs, seed, checkpoint_dir=args.checkpoint_dir,
                           progress=False, amp=args.amp, **study.options(args, name))
        if distributed.is_main():
            if args.record:
                results.record(study.name, args.record, study.record(result, train_set.name, origin),
                               args.results)
            print((study.describe or report)(result, train_set), flush=True)


def report(result: Run, data: Dataset) -> str:
    """One line on a finished run: data, test accuracy, epochs, parameters, throughput."""
    final = result.history.final
    return (f"{result.recipe} seed {result.seed} on {data.name}: test accuracy {final['test_accuracy']:.4f} "
            f"after {final['epoch']} epochs, {result.parameters:,} parameters, "
            f"{final['samples_per_second']:.0f} samples/s")
