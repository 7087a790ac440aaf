"""The CIFAR-10 experiments of the log (E12–E23) and the follow-up work as named recipes:
network, which convolutions become separable ACDC ones, SGD settings, schedule, weight decay of the
structured parameters, and the teacher for attention transfer; :func:`build` makes one's network.
The experiments are described in docs/experiments.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ...base import parameter_count
from ...checks import check_choice
from ...conv import replace_convolutions
from ..log_figures import accuracy
from .cifar import ResNet18, WideResNet

SCHEDULES = ("constant", "step", "cosine", "onecycle")
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
