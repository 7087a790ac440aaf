"""The CIFAR-10 experiments of the log (E12–E23) and the follow-up work as named recipes:
network, which convolutions become separable ACDC ones, SGD settings, schedule, weight decay of the
structured parameters, and the teacher for attention transfer. :func:`run` trains one (its teacher
first, or from the teacher's finished checkpoint); ``python -m acdc_core.lab.analysis.cifar`` does the
same from the command line, under ``torchrun`` too. The experiments are described in
docs/experiments.md.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ...training import distributed
from ...training.batches import Batches, cifar_augment
from ...checks import check_choice
from ...conv import replace_convolutions
from ...training.data import STANDIN_LABEL, DataNotFoundError, Dataset, load
from ...training.distill import Distilled, DistillationLoss
from ...base import parameter_count
from ..models.cifar import ResNet18, WideResNet
from ...training.train import History, checkpoint_file, parameter_groups, run_title, train
from .. import results
from ..log_figures import accuracy
from .command import count, run_spec
from ...costs import layer_costs, totals

SCHEDULES = ("constant", "step", "cosine", "onecycle")
TEST_BATCH = 500


@dataclass(frozen=True)
class CifarRecipe:
    """One CIFAR-10 configuration.

    ``network`` builds the dense model (returning ``(logits, maps)``); ``substitute`` says which
    convolutions become :class:`~acdc_core.conv.SeparableACDCConv2d` (None: none; see
    :func:`~acdc_core.conv.replace_convolutions`) with ``conv`` options. SGD with Nesterov-free
    momentum at ``lr``; ``schedule``: ``"constant"``, ``"step"`` (×0.2 at 30%, 60% and 80% of
    ``schedule_epochs``: 60/120/160 of 200) or ``"cosine"`` (to zero at ``schedule_epochs``);
    ``"onecycle"`` (from ``lr``/25 up to ``lr`` over the first 30%, then cosine to zero);
    ``schedule_epochs`` defaults to ``epochs`` (E22 stopped at 150 of a 200-epoch plan).
    ``structured_decay``: weight decay of the ACDC parameters, ``"flat"``, ``"scaled"`` or None
    (the same as everything else). ``teacher``: a recipe name; the student then learns with
    attention transfer (β = ``beta``) from that recipe's trained network. ``dense``: the recipe of
    the same network without substitution, which a substituted recipe is compared with.
    """
    network: Callable[[], nn.Module]
    description: str
    epochs: int
    substitute: str | None = None
    conv: dict = field(default_factory=dict)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    structured_decay: str | None = None
    batch_size: int = 128
    schedule: str = "step"
    schedule_epochs: int | None = None
    cutout: int | None = None
    teacher: str | None = None
    beta: float = 1e3
    log_accuracy: float | None = None  # the log's (or the later work's) test accuracy, in [0, 1]
    source: str = ""  # where that figure comes from, and what differs here
    dense: str | None = None  # the recipe of the same network, dense: what a substituted one is set against


def wrn(depth: int, widen: int) -> Callable[[], nn.Module]:
    return lambda: WideResNet(depth, widen, attention=True)


def resnet18() -> nn.Module:
    return ResNet18(attention=True)


_ORIGINAL, _RIFFLE = {"parameterisation": "original"}, {"parameterisation": "riffle"}
_QUICK = _CPU = {"n_layers": 12, "parameterisation": "riffle"}

CIFAR_RECIPES = {
    # quick profile: WRN-10-2 (one block per group), three short epochs on the CPU
    "quick_teacher": CifarRecipe(wrn(10, 2), "WRN-10-2, dense (quick teacher)", 3, lr=0.1,
                                 batch_size=64, schedule="cosine"),
    "quick_scratch": CifarRecipe(wrn(10, 2), "WRN-10-2, all convs but the first → ACDC, from scratch",
                                 3, "all_but_first", _QUICK, lr=0.1, batch_size=64, schedule="cosine",
                                 structured_decay="flat", dense="quick_teacher"),
    "quick_distilled": CifarRecipe(wrn(10, 2), "WRN-10-2, all convs but the first → ACDC, "
                                   "attention transfer from quick_teacher", 3, "all_but_first", _QUICK,
                                   lr=0.1, batch_size=64, schedule="cosine", structured_decay="flat",
                                   teacher="quick_teacher", dense="quick_teacher"),
    # cpu profile: what a 2-core CPU trains in a few hours on real CIFAR-10
    "wrn16_2": CifarRecipe(wrn(16, 2), "WRN-16-2, dense (cpu teacher)", 15, schedule="onecycle",
                           source="a teacher sized for a CPU; the log's teacher is WRN-40-2"),
    "wrn16_2_scratch": CifarRecipe(wrn(16, 2), "WRN-16-2, all convs but the first → separable ACDC "
                                   "(riffle), from scratch", 15, "all_but_first", _CPU,
                                   schedule="onecycle", structured_decay="flat",
                                   source="E22's substitution on the cpu teacher's network",
                                   dense="wrn16_2"),
    "wrn16_2_distilled": CifarRecipe(wrn(16, 2), "WRN-16-2, all convs but the first → separable "
                                     "ACDC (riffle), attention transfer from wrn16_2", 15,
                                     "all_but_first", _CPU, schedule="onecycle",
                                     structured_decay="flat", teacher="wrn16_2",
                                     source="E22 at the cpu profile's scale", dense="wrn16_2"),
    # the log, ResNet18 (E12–E15): SGD 0.1, momentum 0.9, wd 5e-4 everywhere, batch 128, crop+flip
    "resnet18": CifarRecipe(resnet18, "ResNet18, dense", 79, schedule="constant",
                            log_accuracy=accuracy("E15", "dense ResNet18"),
                            source="E15's dense reference (≈91%); the log names no schedule: lr 0.1 "
                                   "constant for the epochs it reports"),
    "e12": CifarRecipe(resnet18, "ResNet18, 1×1 shortcuts → 12-layer ACDC", 40, "shortcuts",
                       _ORIGINAL, schedule="constant", log_accuracy=accuracy("E12"),
                       source="E12, after ~40 epochs", dense="resnet18"),
    "e13": CifarRecipe(resnet18, "ResNet18, 1×1 shortcuts → one ACDC layer", 50, "shortcuts",
                       {"n_layers": 1, **_ORIGINAL}, schedule="constant", log_accuracy=accuracy("E13"),
                       source="E13, after 50 epochs", dense="resnet18"),
    "e14": CifarRecipe(resnet18, "ResNet18, 1×1 shortcuts → 12-layer ACDC with the extra riffle", 70,
                       "shortcuts", _RIFFLE, schedule="constant", log_accuracy=accuracy("E14"),
                       source="E14, after 70+ epochs", dense="resnet18"),
    "e15": CifarRecipe(resnet18, "ResNet18, all convs but the first → ACDC", 79, "all_but_first",
                       _RIFFLE, schedule="constant", log_accuracy=accuracy("E15", "most convolutions"),
                       source="E15, after 79 epochs", dense="resnet18"),
    # the log, WRN-40-2 with attention transfer (E19–E23): 200 epochs, ×0.2 at 60/120/160
    "wrn40_2": CifarRecipe(wrn(40, 2), "WRN-40-2, dense (teacher)", 200,
                           source="teacher of E19–E23; the log gives no figure for it"),
    "e22": CifarRecipe(wrn(40, 2), "WRN-40-2, all convs but the first → separable ACDC (riffle), "
                       "attention transfer", 150, "all_but_first", _RIFFLE, schedule_epochs=200,
                       structured_decay="flat", teacher="wrn40_2", log_accuracy=accuracy("E22"),
                       source="E22, after 150 epochs", dense="wrn40_2"),
    "e23_scratch": CifarRecipe(wrn(40, 2), "WRN-40-2, every conv (first too) → separable ACDC "
                               "(original), from scratch", 200, "all", _ORIGINAL,
                               structured_decay="flat",
                               log_accuracy=accuracy("E23", "from scratch, full-rank 3×3"),
                               source="E23, full-rank 3×3 column (its ACDC-3×3 column is not built here)",
                               dense="wrn40_2"),
    "e23_distilled": CifarRecipe(wrn(40, 2), "WRN-40-2, every conv (first too) → separable ACDC "
                                 "(original), attention transfer", 200, "all", _ORIGINAL,
                                 structured_decay="flat", teacher="wrn40_2",
                                 log_accuracy=accuracy("E23", "attention transfer, full-rank 3×3"),
                                 source="E23, full-rank 3×3 column", dense="wrn40_2"),
    # the follow-up work: WRN-28-10, Cutout(16), structured decay scaled by the compression ratio
    "wrn28_10": CifarRecipe(wrn(28, 10), "WRN-28-10, dense (teacher)", 200, cutout=16,
                            log_accuracy=accuracy("follow-up", "WRN-28-10 teacher"),
                            source="follow-up work, ≈3.3% error"),
    "wrn28_10_acdc": CifarRecipe(wrn(28, 10), "WRN-28-10, all convs but the first → separable "
                                 "12-layer ACDC, attention transfer", 200, "all_but_first", _ORIGINAL,
                                 structured_decay="scaled", cutout=16, teacher="wrn28_10",
                                 log_accuracy=accuracy("follow-up", "WRN-28-10 ACDC student"),
                                 source="follow-up work, 4.99% error", dense="wrn28_10"),
}


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
    """``splits`` with "CIFAR-10" in their names replaced by ``data_name`` (e.g. "CIFAR-10 (JPEG
    copy)" for a re-encoded copy); the stand-in keeps its name, and nothing changes when
    ``data_name`` is empty."""
    return [split if not data_name or is_standin(split) else
            replace(split, name=split.name.replace("CIFAR-10", data_name, 1)) for split in splits]


def data_provenance(split: Dataset) -> tuple[str, bool]:
    """What :func:`acdc_core.lab.results.provenance` says of the data ``split`` comes from: its
    name without the split's size, and whether its files were verified."""
    return split.name.split(" train")[0].split(" test")[0].rstrip(", "), "unverified" not in split.name


CIFAR10_IMAGES = {"train": 50_000, "test": 10_000}


def is_standin(split: Dataset) -> bool:
    """Whether ``split`` is (a part of) the generated stand-in rather than CIFAR-10 itself."""
    return split.name.startswith(STANDIN_LABEL)


def log_setting(name: str, train_set: Dataset, test_set: Dataset, epochs: int) -> dict[str, tuple]:
    """What a run of recipe ``name`` for ``epochs`` epochs on these splits shares with the log's
    (whole CIFAR-10, the recipe's epochs), as :func:`~.verdicts.verdict`'s ``setting``."""
    check_choice("recipe", name, tuple(CIFAR_RECIPES))
    data = "synthetic stand-in" if is_standin(train_set) else "CIFAR-10"
    return {"data": (data, "CIFAR-10"), "training images": (len(train_set), CIFAR10_IMAGES["train"]),
            "test images": (len(test_set), CIFAR10_IMAGES["test"]),
            "epochs": (epochs, CIFAR_RECIPES[name].epochs)}


@dataclass
class Built:
    """A recipe's network after surgery: the model, the dense network's parameter count, and the
    surgery report (one record per replaced convolution)."""
    model: nn.Module
    dense_parameters: int
    replaced: list[dict]

    @property
    def parameters(self) -> int:
        return parameter_count(self.model)


def build(name: str) -> Built:
    """A fresh network of recipe ``name``, drawn from torch's RNG, with its convolutions replaced."""
    check_choice("recipe", name, tuple(CIFAR_RECIPES))
    recipe = CIFAR_RECIPES[name]
    model = recipe.network()
    dense = parameter_count(model)
    replaced = replace_convolutions(model, recipe.substitute, **recipe.conv) if recipe.substitute else []
    return Built(model, dense, replaced)


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


@dataclass
class Run:
    """One trained recipe: name, seed, parameter counts, history, and the trained network."""
    recipe: str
    seed: int
    parameters: int
    dense_parameters: int
    history: History
    model: nn.Module


def run(name: str, train_set: Dataset, test_set: Dataset, epochs: int | None = None, seed: int = 0,
        device=None, checkpoint_dir: str | Path | None = None, teacher: nn.Module | None = None,
        progress: bool | Callable = True, amp: bool = False) -> Run:
    """Train recipe ``name`` for ``epochs`` (default the recipe's) from seed ``seed``, under
    bfloat16 autocast when ``amp`` (its teacher too, when it is trained here).

    A student recipe needs its teacher: ``teacher`` if given, else the teacher recipe is run
    first with the same data, seed and ``checkpoint_dir`` (so a finished teacher checkpoint is
    read, not trained again). With ``checkpoint_dir`` the run checkpoints there every epoch and
    every 50 batches under a name made of recipe, data, epochs and seed, and resumes from it.
    Inside a process group (``torchrun``) each process trains on its shard of every batch."""
    check_choice("recipe", name, tuple(CIFAR_RECIPES))
    recipe = CIFAR_RECIPES[name]
    epochs = epochs or recipe.epochs
    if recipe.teacher and teacher is None:
        teacher = run(recipe.teacher, train_set, test_set, None if epochs == recipe.epochs else epochs,
                      seed, device, checkpoint_dir, progress=progress, amp=amp).model
    torch.manual_seed(seed)
    built = build(name)
    model = Distilled(built.model, teacher) if recipe.teacher else built.model
    structured = recipe.structured_decay or recipe.weight_decay
    groups = parameter_groups(built.model, recipe.weight_decay, structured,
                              dense_parameters=built.dense_parameters)
    optimiser = torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)
    shard = distributed.shard()
    train_batches = Batches(train_set, recipe.batch_size, shuffle=True, seed=seed, shard=shard,
                            augment=cifar_augment(recipe.cutout))
    test_batches = Batches(test_set, TEST_BATCH, shard=shard)
    factor = schedule_factor(recipe, len(train_batches), epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    checkpoint = checkpoint_file(checkpoint_dir, name, train_set.name, epochs, seed, amp)
    history = train(model, train_batches, test_batches, optimiser, epochs,
                    name=run_title(name, train_set.name, epochs, seed, amp), scheduler=scheduler,
                    device=device, amp=amp, checkpoint=checkpoint, checkpoint_every=50,
                    loss_fn=DistillationLoss(recipe.beta), progress=progress)
    return Run(name, seed, built.parameters, built.dense_parameters, history, built.model)


def run_record(result: Run, data: str, provenance: dict) -> dict:
    """A trained run as :func:`acdc_core.lab.results.record` keeps it: its figures, multiply-adds
    per 32×32 image in the forms inference would take, curves, and ``provenance``."""
    with torch.no_grad():
        example = torch.zeros(1, 3, 32, 32, device=next(result.model.parameters()).device)
        mult_adds = totals(layer_costs(result.model, example))["MA"]
    history = result.history
    return {"recipe": result.recipe, "seed": result.seed, "data": data, "epochs": history.final["epoch"],
            "test_accuracy": history.final["test_accuracy"], "parameters": result.parameters,
            "dense_parameters": result.dense_parameters, "mult_adds": mult_adds,
            "train_seconds": sum(history.column("train_seconds")),
            "teacher": CIFAR_RECIPES[result.recipe].teacher, "curves": history.records,
            "provenance": provenance}


def recorded_rows(recorded: dict) -> list[dict]:
    """A table row per run of a recorded results file (:mod:`acdc_core.lab.results`)."""
    return [{"recipe": r["recipe"], "seed": r["seed"], "epochs": r["epochs"],
             "test %": f"{100 * r['test_accuracy']:.2f}", "params": f"{r['parameters']:,}",
             "MA per image": f"{r['mult_adds']:.3e}", "train hours": f"{r['train_seconds'] / 3600:.2f}",
             "teacher": r.get("teacher") or "—"} for r in recorded["runs"]]


def recorded_verdicts(recorded: dict) -> list[str]:
    """For each recorded substituted run whose dense recipe is recorded too, the gap between them
    (and, with attention transfer, against the same student from scratch), then what the log and
    the follow-up work found, from the recipes' figures."""
    runs = {(r["recipe"], r["seed"]): r for r in recorded["runs"]}
    lines = []
    for (name, seed), r in runs.items():
        dense = runs.get((CIFAR_RECIPES[name].dense, seed))
        if dense is None:
            continue
        gap = 100 * (dense["test_accuracy"] - r["test_accuracy"])
        line = (f"{name} (seed {seed}): {100 * r['test_accuracy']:.2f}%, {abs(gap):.2f} points "
                f"{'below' if gap > 0 else 'above'} the dense {dense['recipe']} "
                f"({100 * dense['test_accuracy']:.2f}%), with {dense['parameters'] / r['parameters']:.1f}× "
                f"fewer parameters and {dense['mult_adds'] / r['mult_adds']:.1f}× fewer multiply-adds")
        scratch = twin(r, runs)
        if scratch is not None:
            change = 100 * (r["test_accuracy"] - scratch["test_accuracy"])
            line += f"; attention transfer: {change:+.2f} points against {scratch['recipe']} from scratch"
        lines.append(line + ".")
    e22, e23, e23_at, wrn28, student = (CIFAR_RECIPES[n] for n in
                                        ("e22", "e23_scratch", "e23_distilled", "wrn28_10", "wrn28_10_acdc"))
    follow_up_gap = 100 * (wrn28.log_accuracy - student.log_accuracy)
    log_transfer = 100 * (e23_at.log_accuracy - e23.log_accuracy)
    lines.append(f"The log: E22's WRN-40-2 student with attention transfer reached "
                 f"{100 * e22.log_accuracy:.1f}% after {e22.epochs} epochs (its teacher's accuracy is "
                 f"not given); in E23, attention transfer moved the student {log_transfer:+.2f} points. The "
                 f"follow-up: a WRN-28-10 student {100 * student.log_accuracy:.2f}% against its dense "
                 f"teacher's {100 * wrn28.log_accuracy:.1f}%, a gap of {follow_up_gap:.1f} points, after "
                 f"{student.epochs} epochs.")
    lines += [_verdict(r, runs, follow_up_gap, log_transfer) for r in runs.values() if _gap(r, runs) is not None]
    return lines


def twin(run: dict, runs: dict) -> dict | None:
    """For a student with attention transfer, its twin trained from scratch: the recorded run of
    the same seed whose recipe has no teacher and the same dense recipe, substitution and
    convolution options. None for a run without a teacher, or when no twin is recorded."""
    recipe = CIFAR_RECIPES[run["recipe"]]
    if not recipe.teacher:
        return None
    same = lambda other: (other.teacher is None and (other.dense, other.substitute, other.conv) ==
                          (recipe.dense, recipe.substitute, recipe.conv))
    return next((r for r in runs.values() if r["seed"] == run["seed"] and r is not run
                 and same(CIFAR_RECIPES[r["recipe"]])), None)


def _gap(run: dict, runs: dict) -> float | None:
    """Points of test accuracy by which ``run`` falls below its dense recipe's run (same seed)."""
    dense = runs.get((CIFAR_RECIPES[run["recipe"]].dense, run["seed"]))
    return None if dense is None or dense is run else 100 * (dense["test_accuracy"] - run["test_accuracy"])


def _verdict(run: dict, runs: dict, follow_up_gap: float, log_transfer: float) -> str:
    """The verdict on one substituted run: the direction and size of its gap to dense against the
    follow-up's, and for a student with attention transfer, that change against E23's."""
    gap = _gap(run, runs)
    size = "larger" if gap > follow_up_gap else "smaller"
    direction = "below dense, as in the follow-up" if gap > 0 else "above dense, unlike the follow-up"
    text = f"Verdict, {run['recipe']}: ACDC {direction}, with a {size} gap ({gap:.2f} against {follow_up_gap:.1f} points)"
    scratch = twin(run, runs)
    if scratch is not None:
        change = _gap(scratch, runs) - gap
        text += (f"; attention transfer {'helped' if change > 0 else 'did not help'} ({change:+.2f} "
                 f"points; E23: {log_transfer:+.2f})")
    return (text + f". Indicative only: {run['epochs']} epochs against the follow-up's "
            f"{CIFAR_RECIPES['wrn28_10_acdc'].epochs}, and one seed, so a point or two may be seed noise.")


def trained_teacher(name: str, weights: str | Path) -> nn.Module:
    """Recipe ``name``'s network (no surgery is undone: it must be a dense recipe's) holding the
    state_dict saved at ``weights``, in eval mode."""
    model = build(name).model
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.eval()


def main(argv=None) -> None:
    """Train CIFAR-10 recipes into a checkpoint folder (each student's teacher first, unless its
    checkpoint is there); the CIFAR notebook with the same ``checkpoint_dir`` then reads them.
    Runs under ``torchrun --nproc-per-node N`` as well (each process takes 1/N of every batch)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.split(";")[0])
    parser.add_argument("runs", nargs="+", metavar="RECIPE[:SEED]", type=run_spec(CIFAR_RECIPES),
                        help=f"one of {', '.join(CIFAR_RECIPES)}, e.g. e22:0")
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar10_standin"))
    parser.add_argument("--root", default=None, help="data folder (default $ACDC_DATA)")
    parser.add_argument("--epochs", type=count(1), default=None, help="default: each recipe's own")
    parser.add_argument("--train-images", type=count(0), default=0, help="use the first N (0: all)")
    parser.add_argument("--test-images", type=count(0), default=0, help="use the first N (0: all)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the MD5 check (a copy that is not byte-identical, e.g. re-encoded)")
    parser.add_argument("--data-name", default=None,
                        help='what outputs call the data instead of "CIFAR-10", e.g. "CIFAR-10 (JPEG copy)"')
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--teacher-weights", default=None, metavar="PATH",
                        help="a trained teacher's state_dict (e.g. results/cifar/wrn16_2-s0-weights.pt) "
                             "for the students, instead of training their teacher recipe")
    parser.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    parser.add_argument("--amp", action="store_true", help="train under bfloat16 autocast")
    parser.add_argument("--record", default=None, metavar="PROFILE",
                        help="record each finished run in RESULTS/cifar/PROFILE.json (e.g. cpu)")
    parser.add_argument("--results", default=str(results.RESULTS), help="the results folder")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if distributed.launched():
        distributed.start()
    splits = renamed(load(args.dataset, root=args.root, verify=not args.no_verify), args.data_name)
    train_set, test_set = splits[0].first(args.train_images), splits[1].first(args.test_images)
    command = "python -m acdc_core.lab.analysis.cifar " + " ".join(sys.argv[1:] if argv is None else argv)
    origin = results.provenance(command, *data_provenance(train_set))
    for name, seed in args.runs:
        teacher = None
        if args.teacher_weights and CIFAR_RECIPES[name].teacher:
            teacher = trained_teacher(CIFAR_RECIPES[name].teacher, args.teacher_weights)
        result = run(name, train_set, test_set, args.epochs, seed, checkpoint_dir=args.checkpoint_dir,
                     teacher=teacher, progress=False, amp=args.amp)
        final = result.history.final
        if args.record and distributed.is_main():
            results.record("cifar", args.record, run_record(result, train_set.name, origin), args.results)
        if distributed.is_main():
            print(f"{name} seed {seed} on {train_set.name}: test accuracy "
                  f"{final['test_accuracy']:.4f} after {final['epoch']} epochs, "
                  f"{result.parameters:,} parameters", flush=True)


if __name__ == "__main__":
    main()
