"""The MNIST study: the recipes of :mod:`acdc_core.lab.models.mnist`, trained one per
(recipe, seed) by :mod:`.runner`; ``python -m acdc_core.lab.experiments.mnist`` from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ...base import parameter_count
from ...checks import check_choice
from ...training.batches import Batches, random_crop
from ...training.data import Dataset, load
from ..models.mnist import MNIST_MODELS, Recipe, build
from .runner import Plan, Run, Study, fit, main as run_main, run_record

TEST_BATCH = 1000


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


def plan(name: str, train_set: Dataset, test_set: Dataset, epochs: int, seed: int) -> Plan:
    """Recipe ``name``'s network, drawn from seed ``seed``, with its batches, optimiser and schedule."""
    recipe = MNIST_MODELS[name]
    torch.manual_seed(seed)
    model = build(name)
    background = -train_set.mean[0] / train_set.std[0]  # a black pixel, normalised
    augment = random_crop(recipe.shift, fill=background) if recipe.shift else None
    train_batches = Batches(train_set, recipe.batch_size, shuffle=True, seed=seed, augment=augment)
    optimiser = optimiser_for(recipe, model)
    scheduler = scheduler_for(recipe, optimiser, epochs * len(train_batches))
    return Plan(model, train_batches, Batches(test_set, TEST_BATCH), optimiser, scheduler)


def run(name: str, train_set: Dataset, test_set: Dataset, epochs: int, seed: int = 0,
        device=None, checkpoint_dir: str | Path | None = None, progress: bool | Callable = True,
        amp: bool = False) -> Run:
    """Train recipe ``name`` for ``epochs`` epochs from seed ``seed`` (weights, batch order),
    under bfloat16 autocast when ``amp``; checkpointed in ``checkpoint_dir`` and resumed from it."""
    check_choice("model", name, tuple(MNIST_MODELS))
    trained = plan(name, train_set, test_set, epochs, seed)
    history = fit(name, trained, train_set, epochs, seed, device, checkpoint_dir, progress, amp)
    return Run(name, seed, parameter_count(trained.model), history, trained.model)


def data(args) -> tuple[Dataset, Dataset]:
    """The ``--dataset`` splits from ``--root``."""
    return load(args.dataset, root=args.root)


STUDY = Study("mnist", MNIST_MODELS, ("mnist", "fashion_mnist", "mnist_subset"), 10, run, run_record,
              data)


def main(argv=None) -> None:
    """Train MNIST recipes into a checkpoint folder, which the MNIST notebook with the same
    ``checkpoint_dir`` then reads instead of training again."""
    run_main(STUDY, argv, "Train MNIST recipes into a checkpoint folder")


if __name__ == "__main__":
    main()
