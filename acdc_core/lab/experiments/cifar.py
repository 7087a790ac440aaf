"""The CIFAR study: the recipes of :mod:`acdc_core.lab.models.cifar_recipes` trained by
:mod:`.runner`, a student's teacher first (or from its finished checkpoint or saved weights);
``python -m acdc_core.lab.experiments.cifar`` from the command line, under ``torchrun`` too."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ...training import distributed
from ...training.batches import Batches, cifar_augment
from ...checks import check_choice
from ...training.data import STANDIN_LABEL, DataNotFoundError, Dataset, load
from ...training.distill import Distilled, DistillationLoss
from ...training.train import parameter_groups
from ...costs import layer_costs, totals
from ..command import count
from ..models.cifar_recipes import CIFAR_RECIPES, SCHEDULES, Built, CifarRecipe, build
from .runner import Plan, Run, Study, fit, main as run_main, run_record as base_record

TEST_BATCH = 500


def load_or_standin(dataset: str = "cifar10", root=None, download: bool = True,
                    verify: bool = True) -> tuple[Dataset, Dataset, str]:
    """``(train, test, note)``: ``dataset`` from :func:`acdc_core.training.data.load`, or, when it is
    CIFAR-10 and neither on disk nor downloadable, the synthetic stand-in with ``note`` saying why
    (empty when the real data loaded)."""
    try:
        return (*load(dataset, root=root, download=download, verify=verify), "")
    except DataNotFoundError as error:
        if dataset != "cifar10":
            raise
        train_set, test_set = load("cifar10_standin")
        return train_set, test_set, f"CIFAR-10 is not available ({error}); using the {STANDIN_LABEL}"


def renamed(splits, data_name: str | None) -> list[Dataset]:
    """``splits`` with their source called ``data_name`` (e.g. "CIFAR-10 (JPEG copy)" for a
    re-encoded copy); the synthetic stand-in keeps its name, and nothing changes when
    ``data_name`` is empty."""
    return [split if not data_name or split.synthetic else replace(split, source=data_name)
            for split in splits]


def schedule_factor(recipe: CifarRecipe, steps_per_epoch: int, epochs: int | None = None) -> Callable[[int], float]:
    """Learning-rate multiplier as a function of the batch index (for ``LambdaLR``). A run of
    other than the recipe's ``epochs`` stretches the schedule in proportion."""
    check_choice("schedule", recipe.schedule, SCHEDULES)
    plan = (recipe.schedule_epochs or recipe.epochs) * (epochs or recipe.epochs) / recipe.epochs
    total = max(round(plan * steps_per_epoch), 1)
    if recipe.schedule == "constant":
        return lambda step: 1.0
    if recipe.schedule == "cosine":
        return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    if recipe.schedule == "onecycle":
        peak = max(round(0.3 * total), 1)
        return lambda step: (0.04 + 0.96 * step / peak if step < peak else
                             0.5 * (1 + math.cos(math.pi * min(step - peak, total - peak) / max(total - peak, 1))))
    milestones = [round(f * total) for f in (0.3, 0.6, 0.8)]
    return lambda step: 0.2 ** sum(step >= m for m in milestones)


def plan(name: str, train_set: Dataset, test_set: Dataset, epochs: int, seed: int,
         teacher: nn.Module | None) -> tuple[Plan, Built]:
    """Recipe ``name``'s network drawn from seed ``seed`` (beside ``teacher`` for a student), its
    batches (each process's shard under ``torchrun``), SGD with decay groups, and schedule (None
    for a constant rate, so that a longer run extends a finished one)."""
    recipe = CIFAR_RECIPES[name]
    torch.manual_seed(seed)
    built = build(name)
    structured = recipe.structured_decay or recipe.weight_decay
    groups = parameter_groups(built.model, recipe.weight_decay, structured,
                              dense_parameters=built.dense_parameters)
    optimiser = torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)
    shard = distributed.shard()
    train_batches = Batches(train_set, recipe.batch_size, shuffle=True, seed=seed, shard=shard,
                            augment=cifar_augment(recipe.cutout))
    scheduler = None if recipe.schedule == "constant" else \
        torch.optim.lr_scheduler.LambdaLR(optimiser, schedule_factor(recipe, len(train_batches), epochs))
    model = Distilled(built.model, teacher) if recipe.teacher else built.model
    options = {"checkpoint_every": 50, "loss_fn": DistillationLoss(recipe.beta)}
    return Plan(model, train_batches, Batches(test_set, TEST_BATCH, shard=shard), optimiser, scheduler,
                options), built


def run(name: str, train_set: Dataset, test_set: Dataset, epochs: int | None = None, seed: int = 0,
        device=None, checkpoint_dir: str | Path | None = None, teacher: nn.Module | None = None,
        progress: bool | Callable = True, amp: bool = False) -> Run:
    """Train recipe ``name`` for ``epochs`` (default the recipe's) from seed ``seed``, under
    bfloat16 autocast when ``amp`` (its teacher too, when it is trained here).

    A student recipe needs its teacher: ``teacher`` if given, else the teacher recipe is run
    first with the same data, seed and ``checkpoint_dir`` (so a finished teacher checkpoint is
    read, not trained again). With ``checkpoint_dir`` the run checkpoints there every epoch and
    every 50 batches and resumes from it."""
    check_choice("recipe", name, tuple(CIFAR_RECIPES))
    recipe = CIFAR_RECIPES[name]
    epochs = epochs or recipe.epochs
    if recipe.teacher and teacher is None:
        teacher = run(recipe.teacher, train_set, test_set, None if epochs == recipe.epochs else epochs,
                      seed, device, checkpoint_dir, progress=progress, amp=amp).model
    trained, built = plan(name, train_set, test_set, epochs, seed, teacher)
    history = fit(name, trained, train_set, epochs, seed, device, checkpoint_dir, progress, amp)
    return Run(name, seed, built.parameters, history, built.model, built.dense_parameters)


def run_record(result: Run, data: str, provenance: dict) -> dict:
    """A trained run as :func:`acdc_core.lab.results.record` keeps it: its figures, multiply-adds
    per 32×32 image in the forms inference would take, its teacher, curves, and ``provenance``."""
    with torch.no_grad():
        example = torch.zeros(1, 3, 32, 32, device=next(result.model.parameters()).device)
        mult_adds = totals(layer_costs(result.model, example))["MA"]
    record = base_record(result, data, provenance, dense_parameters=result.dense_parameters,
                         mult_adds=mult_adds)
    tail = {key: record.pop(key) for key in ("curves", "provenance")}
    return {**record, "teacher": CIFAR_RECIPES[result.recipe].teacher, **tail}


def trained_teacher(name: str, weights: str | Path) -> nn.Module:
    """Recipe ``name``'s network (no surgery is undone: it must be a dense recipe's) holding the
    state_dict saved at ``weights``, in eval mode."""
    model = build(name).model
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def flags(parser) -> None:
    """The CIFAR study's own flags: which images, how the data is checked and named, a teacher."""
    parser.add_argument("--train-images", type=count(0), default=0, help="use the first N (0: all)")
    parser.add_argument("--test-images", type=count(0), default=0, help="use the first N (0: all)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the MD5 check (a copy that is not byte-identical, e.g. re-encoded)")
    parser.add_argument("--data-name", default=None,
                        help='what outputs call the data instead of "CIFAR-10", e.g. "CIFAR-10 (JPEG copy)"')
    parser.add_argument("--teacher-weights", default=None, metavar="PATH",
                        help="a trained teacher's state_dict (e.g. results/cifar/wrn16_2-s0-weights.pt) "
                             "for the students, instead of training their teacher recipe")


def data(args) -> tuple[Dataset, Dataset]:
    """The ``--dataset`` splits, renamed by ``--data-name`` and cut to their first images."""
    splits = renamed(load(args.dataset, root=args.root, verify=not args.no_verify), args.data_name)
    return splits[0].first(args.train_images), splits[1].first(args.test_images)


def options(args, name: str) -> dict:
    """``teacher``: the ``--teacher-weights`` network for a student recipe (else none given)."""
    teacher = CIFAR_RECIPES[name].teacher
    return {"teacher": trained_teacher(teacher, args.teacher_weights)
            if args.teacher_weights and teacher else None}


STUDY = Study("cifar", CIFAR_RECIPES, ("cifar10", "cifar10_standin"), None, run, run_record, data,
              flags, options)


def main(argv=None) -> None:
    """Train CIFAR-10 recipes into a checkpoint folder (each student's teacher first, unless its
    checkpoint is there); the CIFAR notebook with the same ``checkpoint_dir`` then reads them.
    Runs under ``torchrun --nproc-per-node N`` as well (each process takes 1/N of every batch)."""
    run_main(STUDY, argv, "Train CIFAR-10 recipes into a checkpoint folder (each student's teacher "
                          "first, unless its checkpoint is there)")


if __name__ == "__main__":
    main()
