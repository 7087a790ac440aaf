"""Training the MNIST recipes of :mod:`acdc_core.lab.models.mnist` and setting the results beside the
log's: one run per (recipe, seed), seeds summarised as mean ± std (the verdicts are
:mod:`.verdicts`')."""
from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ...training.batches import Batches, random_crop
from ...checks import check_choice
from ...training.data import Dataset
from ...base import parameter_count
from ..models.mnist import E1_READINGS, MNIST_MODELS, Recipe, build
from ...training.train import History, checkpoint_file, run_title, train
from .. import results
from .command import count, run_spec
from .verdicts import ACCURACY, qualified, verdict

TEST_BATCH = 1000
LOG_EPOCHS = 10  # the PyTorch MNIST example's, which the log kept
IMPROVED_GOAL = 0.985  # the improved E11's goal: mean test accuracy over 3 seeds, full MNIST, 10 epochs


@dataclass
class Run:
    """One trained recipe: its name, seed, parameter count and per-epoch history."""
    recipe: str
    seed: int
    parameters: int
    history: History


def optimiser_for(recipe: Recipe, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The recipe's optimiser over every trainable parameter."""
    if recipe.optimiser == "sgd":
        return torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum)
    return torch.optim.Adam(model.parameters(), lr=recipe.lr)


def scheduler_for(recipe: Recipe, optimiser, steps: int):
    """The recipe's schedule over ``steps`` batches (None when constant)."""
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimiser, recipe.lr, total_steps=steps)
    return None


def run(name: str, train_set: Dataset, test_set: Dataset, epochs: int, seed: int = 0,
        device=None, checkpoint_dir: str | Path | None = None, progress: bool | Callable = True,
        amp: bool = False) -> Run:
    """Train recipe ``name`` for ``epochs`` epochs from seed ``seed`` (weights, batch order),
    under bfloat16 autocast when ``amp``.

    With ``checkpoint_dir``, the run checkpoints there after every epoch under a file name made of
    recipe, data, epochs and seed, and a finished or interrupted run is picked up again."""
    check_choice("model", name, tuple(MNIST_MODELS))
    recipe = MNIST_MODELS[name]
    torch.manual_seed(seed)
    model = build(name)
    background = -train_set.mean[0] / train_set.std[0]  # a black pixel, normalised
    augment = random_crop(recipe.shift, fill=background) if recipe.shift else None
    train_batches = Batches(train_set, recipe.batch_size, shuffle=True, seed=seed, augment=augment)
    test_batches = Batches(test_set, TEST_BATCH)
    optimiser = optimiser_for(recipe, model)
    scheduler = scheduler_for(recipe, optimiser, epochs * len(train_batches))
    checkpoint = checkpoint_file(checkpoint_dir, name, train_set.name, epochs, seed, amp)
    history = train(model, train_batches, test_batches, optimiser, epochs,
                    name=run_title(name, train_set.name, epochs, seed, amp), scheduler=scheduler,
                    device=device, amp=amp, checkpoint=checkpoint, progress=progress)
    return Run(name, seed, parameter_count(model), history)


def summary(runs: list[Run]) -> dict:
    """Final test accuracy over the runs of one recipe: mean, std (0 for one run), best epoch."""
    finals = [r.history.final["test_accuracy"] for r in runs]
    peaks = [max(r.history.column("test_accuracy")) for r in runs]
    return {"mean": statistics.fmean(finals), "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "peak": statistics.fmean(peaks), "seeds": len(runs)}


def result_row(name: str, finals: list[float], parameters: int, setting: dict[str, tuple]) -> dict:
    """A table row for recipe ``name`` from its runs' final test accuracies: the log's figure (or
    the improved recipe's goal), ours as mean ± std over seeds, and the verdict under ``setting``
    (:func:`log_setting`)."""
    recipe = MNIST_MODELS[name]
    mean = statistics.fmean(finals)
    std = statistics.stdev(finals) if len(finals) > 1 else 0.0
    if recipe.log_accuracy is not None:
        log_text = f"{100 * recipe.log_accuracy:.2f}"
        word = verdict(mean, recipe.log_accuracy, ACCURACY, ours_spread=std, setting=setting)
    elif name == "e11_improved":
        log_text = f"(goal ≥ {100 * IMPROVED_GOAL:.1f})"
        word = qualified("meets the goal" if mean >= IMPROVED_GOAL else "misses the goal", setting)
    else:
        log_text, word = "—", recipe.change
    return {"model": name, "params": f"{parameters:,}", "seeds": len(finals), "log %": log_text,
            "ours %": f"{100 * mean:.2f} ± {100 * std:.2f}", "verdict": word}


def recorded_rows(recorded: dict) -> list[dict]:
    """:func:`result_row` of every recipe in a recorded results file (:mod:`acdc_core.lab.results`),
    in the order of :data:`MNIST_MODELS`, with the seeds' accuracies."""
    rows = []
    for name in MNIST_MODELS:
        runs = [r for r in recorded["runs"] if r["recipe"] == name]
        if not runs:
            continue
        setting = log_setting(runs[0]["provenance"]["data"]["name"].lower(), runs[0]["epochs"])
        row = result_row(name, [r["test_accuracy"] for r in runs], runs[0]["parameters"], setting)
        rows.append({**row, "per seed %": ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in runs)})
    return rows


def beside_full(rows: list[dict], recorded: dict | None) -> list[dict]:
    """Rows of :func:`result_row` with the recorded full profile's accuracy and verdict for the same
    recipe beside each ("—" where it is not recorded)."""
    full = {row["model"]: row for row in recorded_rows(recorded)} if recorded else {}
    missing = {"ours %": "—", "verdict": "—"}
    return [{**row, "full %": full.get(row["model"], missing)["ours %"],
             "full verdict": full.get(row["model"], missing)["verdict"]} for row in rows]


def e1_readings(recorded: dict) -> list[dict]:
    """E1's readings (:data:`~acdc_core.lab.models.mnist.E1_READINGS`) side by side from a recorded
    results file: per reading, each initialisation's accuracy against the log's and the largest
    distance from it (points); the closest reading first."""
    finals = {r["recipe"]: r["test_accuracy"] for r in recorded["runs"] if r["seed"] == 0}
    rows = []
    for reading in E1_READINGS:
        names = {init: f"e1_{init}" + ("" if reading == E1_READINGS[0] else f"_{reading}")
                 for init in ("uniform", "normal")}
        if not all(name in finals for name in names.values()):
            continue
        gaps = [100 * abs(finals[n] - MNIST_MODELS[n].log_accuracy) for n in names.values()]
        rows.append({"reading": reading, **{f"{init} %": f"{100 * finals[n]:.2f} (log {100 * MNIST_MODELS[n].log_accuracy:.2f})"
                                            for init, n in names.items()},
                     "largest distance (points)": round(max(gaps), 2)})
    return sorted(rows, key=lambda row: row["largest distance (points)"])


def run_record(result: Run, data: str, provenance: dict) -> dict:
    """A trained run as :func:`acdc_core.lab.results.record` keeps it."""
    history = result.history
    return {"recipe": result.recipe, "seed": result.seed, "data": data, "epochs": history.final["epoch"],
            "test_accuracy": history.final["test_accuracy"], "parameters": result.parameters,
            "train_seconds": sum(history.column("train_seconds")), "curves": history.records,
            "provenance": provenance}


def log_setting(dataset: str, epochs: int) -> dict[str, tuple]:
    """What a run on ``dataset`` for ``epochs`` epochs shares with the log's (full MNIST, 10
    epochs), as :func:`~.verdicts.verdict`'s ``setting``."""
    return {"data": (dataset, "mnist"), "epochs": (epochs, LOG_EPOCHS)}


def main(argv=None) -> None:
    """Train recipes from the command line into a checkpoint folder, which the MNIST notebook with
    the same ``checkpoint_dir`` then reads instead of training again."""
    import argparse

    from ...training.data import load

    parser = argparse.ArgumentParser(description=main.__doc__.split(",")[0])
    parser.add_argument("runs", nargs="+", metavar="RECIPE:SEED", type=run_spec(MNIST_MODELS),
                        help="e.g. e11:0 e11_improved:2")
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion_mnist", "mnist_subset"))
    parser.add_argument("--root", default=None, help="data folder (default $ACDC_DATA)")
    parser.add_argument("--epochs", type=count(1), default=10)
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    parser.add_argument("--amp", action="store_true", help="train under bfloat16 autocast")
    parser.add_argument("--record", default=None, metavar="PROFILE",
                        help="record each finished run in RESULTS/mnist/PROFILE.json (e.g. full)")
    parser.add_argument("--results", default=str(results.RESULTS), help="the results folder")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set, test_set = load(args.dataset, root=args.root)
    command = "python -m acdc_core.lab.analysis.mnist " + " ".join(sys.argv[1:] if argv is None else argv)
    origin = results.provenance(command, train_set.name.split(" train")[0], verified=True)
    for name, seed in args.runs:
        result = run(name, train_set, test_set, args.epochs, seed,
                     checkpoint_dir=args.checkpoint_dir, progress=False, amp=args.amp)
        final = result.history.final
        if args.record:
            results.record("mnist", args.record, run_record(result, train_set.name, origin), args.results)
        print(f"{name} seed {seed}: test accuracy {final['test_accuracy']:.4f} after "
              f"{final['epoch']} epochs, {final['samples_per_second']:.0f} samples/s", flush=True)


if __name__ == "__main__":
    main()
