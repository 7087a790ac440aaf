"""The log's MNIST models (E1, E2, E11 in docs/experiments.md), a recipe that improves E11 under the same
constraint, and the baselines: a dense MLP of E11's depth and width, and the ConvNet of PyTorch's
MNIST example. Every model maps images ``(B, 1, 28, 28)`` (or ``(B, 784)``) to logits ``(B, 10)``.
"""
from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ...acdc import ACDC
from ...checks import check_choice
from ...shuffle import unriffle
from ...stack import StackedACDC, grow, shrink
from ..log_figures import accuracy

LOG_LAYERS = {"shuffle": "unriffle", "bias_init": "uniform"}  # the log's code: its riffle, nn.Linear's bias
E1_READINGS = ("narrowing", "padded", "unpadded")


class FirstOutputs(nn.Module):
    """Keep the first ``k`` features: ``(B, N) -> (B, k)``; E11 reads its logits this way."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x[..., : self.k]

    def extra_repr(self) -> str:
        return f"k={self.k}"


def narrowing_widths(in_features: int, out_features: int, n_layers: int, groups: int) -> list[int]:
    """The width of each layer of a stack that narrows in even steps (the log's reading of "maps
    down in the 12 steps"): blocks of the power of two at or above ``in_features / groups``, their
    count moving from the input's to the output's (rounded up) evenly over ``n_layers + 1`` steps.
    For E1 (784 → 64, 12 layers, 8 groups): 896, 768, 768, 640, ..., 256, 128."""
    block = 2 ** math.ceil(math.log2(in_features // groups))
    first, last = math.ceil(in_features / block), math.ceil(out_features / block)
    return [block * (first + round((last - first) * i / (n_layers + 1))) for i in range(1, n_layers + 1)]


class NarrowingACDC(nn.Module):
    """The log's StackedACDC with changing width (:func:`narrowing_widths`), as its code ran E1
    and E2. Before a layer, a wider width concatenates a bias-free linear projection of the input;
    a narrower one keeps the first features and, with ``residual``, adds a bias-free linear map
    of the dropped ones. Every layer, the last included: ACDC in ``groups`` equal blocks with
    nn.Linear's bias initialisation, BatchNorm (no affine), the log's riffle
    (:func:`~acdc_core.shuffle.unriffle`), ReLU. Then a last narrowing to ``out_features``.
    ``(B, in_features) -> (B, out_features)``."""

    def __init__(self, in_features: int, out_features: int, n_layers: int, groups: int,
                 init: str = "normal", residual: bool = True):
        super().__init__()
        widths = narrowing_widths(in_features, out_features, n_layers, groups)
        self.resizes = nn.ModuleList(_resize(d, d_to, residual)
                                     for d, d_to in zip([in_features, *widths], widths))
        self.layers = nn.ModuleList(ACDC(d, block_size=d // groups, init=init, bias_init="uniform")
                                    for d in widths)
        self.batchnorms = nn.ModuleList(nn.BatchNorm1d(d, affine=False) for d in widths)
        for i, d in enumerate(widths):
            self.register_buffer(f"shuffle_{i}", unriffle(d))
        self.last = _resize(widths[-1], out_features, residual)

    def forward(self, x):
        for i, (resize, layer, batchnorm) in enumerate(zip(self.resizes, self.layers, self.batchnorms)):
            x = torch.relu(batchnorm(layer(resize(x)))[:, getattr(self, f"shuffle_{i}")])
        return self.last(x)


class _Resized(nn.Module):
    """Widen by concatenating ``Linear(d, d_to - d)(x)``, or narrow to the first ``d_to`` features
    plus, with ``residual``, ``Linear(d - d_to, d_to)`` of the rest: ``(B, d) -> (B, d_to)``;
    :class:`~acdc_core.stack.StackedACDC`'s grow and shrink with their bias-free linear maps."""

    def __init__(self, d: int, d_to: int, residual: bool):
        super().__init__()
        self.d_to = d_to
        if d_to > d:
            self.linear = nn.Linear(d, d_to - d, bias=False)
        else:
            self.linear = nn.Linear(d - d_to, d_to, bias=False) if residual else None

    def forward(self, x):
        if self.d_to > x.shape[-1]:
            return grow(x, self.d_to, "linear", self.linear)
        return shrink(x, self.d_to, "truncate" if self.linear is None else "linear", self.linear)


def _resize(d: int, d_to: int, residual: bool) -> nn.Module:
    return nn.Identity() if d == d_to else _Resized(d, d_to, residual)


def e1(init: str = "normal", reading: str = "narrowing") -> nn.Sequential:
    """E1: a 12-layer ACDC stack 784→64, each layer with a bias, BatchNorm, the log's riffle and
    ReLU (the last layer's too); then ReLU and Linear(64, 10). Its log leaves the stack's widths
    open; ``reading``: ``"narrowing"`` (:class:`NarrowingACDC`, the width shrinking over the 12
    layers: the log's code, and the one that reproduces the log), ``"padded"`` (784 padded to 7
    blocks of 128, the log's groups=8; the linear shrink to 64 after the last layer) or
    ``"unpadded"`` (one 784-wide block)."""
    check_choice("reading", reading, E1_READINGS)
    if reading == "narrowing":
        stack = NarrowingACDC(784, 64, 12, groups=8, init=init)
    else:
        stack = StackedACDC(784, 64, 12, relu=True, batchnorm=True, shuffle_last=True,
                            relu_last=True, shrink="linear",
                            block_size=128 if reading == "padded" else None, init=init, **LOG_LAYERS)
    return nn.Sequential(nn.Flatten(), stack, nn.ReLU(), nn.Linear(64, 10))


def e2() -> nn.Sequential:
    """E2: E1's stack with 32 layers, narrowing to 10 outputs in blocks of 128 (the log's
    groups=8), the narrowings keeping the first features with no residual; no Linear after it."""
    return nn.Sequential(nn.Flatten(), NarrowingACDC(784, 10, 32, groups=8, residual=False))


def e11(depth: int = 32, sigma: float = 1e-2, shuffle: str = LOG_LAYERS["shuffle"]) -> nn.Sequential:
    """E11: 32 ACDC layers at width 784 with a bias each (nn.Linear's initialisation), the log's
    riffle and ReLU between layers, one more riffle after the last (as the log's code did), and the
    first 10 outputs as logits: outputs 0, 2, ..., 18 of the last layer. ``depth`` layers, N(1,
    ``sigma``²) diagonals and ``shuffle`` (:data:`~acdc_core.shuffle.SHUFFLES`) make its variants."""
    return nn.Sequential(
        nn.Flatten(),
        StackedACDC(784, 784, depth, shuffle_last=True, relu=True, sigma=sigma,
                    **{**LOG_LAYERS, "shuffle": shuffle}),
        FirstOutputs(10))


def dense_mlp(depth: int = 32, width: int = 784) -> nn.Sequential:
    """``depth`` Linear(width, width) layers with ReLU between them, first 10 outputs as logits:
    E11 with every ACDC layer made dense. He-initialised with zero biases: with nn.Linear's own
    initialisation the signal shrinks at every layer and a 32-layer stack never leaves chance."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        linear = nn.Linear(784 if i == 0 else width, width)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < depth - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, FirstOutputs(10))


class ConvNet(nn.Module):
    """The ConvNet of PyTorch's MNIST example: two 3×3 convolutions (32, 64 channels), max-pool,
    dropout 0.25, Linear(9216, 128), dropout 0.5, Linear(128, 10)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(0.25), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
                                        nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(self.features(x.view(-1, 1, 28, 28)))


@dataclass(frozen=True)
class Recipe:
    """A model and how the log (or we) trained it: optimiser ``"sgd"`` (momentum) or ``"adam"``,
    learning rate, batch size, schedule ``"constant"`` or ``"onecycle"`` (peak at ``lr``), and
    ``shift``: training images shifted at random by up to that many pixels (0: none)."""
    build: Callable[[], nn.Module]
    description: str
    optimiser: str
    lr: float
    batch_size: int = 64
    momentum: float = 0.0
    schedule: str = "constant"
    shift: int = 0
    log_accuracy: float | None = None  # the log's test accuracy after 10 epochs, in [0, 1]
    change: str = ""  # what differs from the log, for rows that are not the log's


MNIST_MODELS = {
    "e1_uniform": Recipe(lambda: e1("uniform"), "E1, uniform(-1, 1) init", "sgd", 0.01, momentum=0.5,
                         log_accuracy=accuracy("E1", "uniform(-1, 1) init")),
    "e1_normal": Recipe(lambda: e1("normal"), "E1, N(1, 1e-2) init", "sgd", 0.01, momentum=0.5,
                        log_accuracy=accuracy("E1", "N(1, 1e-2) init")),
    **{f"e1_{init}_{reading}": Recipe(lambda init=init, reading=reading: e1(init, reading),
                                      f"E1, {label} init, {reading} reading", "sgd", 0.01, momentum=0.5,
                                      log_accuracy=accuracy("E1", f"{label} init"))
       for reading in E1_READINGS[1:]
       for init, label in (("uniform", "uniform(-1, 1)"), ("normal", "N(1, 1e-2)"))},
    "e2": Recipe(e2, "E2, 32 layers narrowing to 10 outputs, no Linear", "sgd", 0.01, momentum=0.5,
                 log_accuracy=accuracy("E2")),
    "e11": Recipe(e11, "E11, 32 ACDC layers, no Linear", "adam", 1e-3, log_accuracy=accuracy("E11")),
    "e11_improved": Recipe(e11, "E11, one-cycle Adam, shifted digits", "adam", 1e-2,
                           schedule="onecycle", shift=1,
                           change="same network; Adam with a one-cycle schedule (peak 1e-2) in place of "
                                  "a constant 1e-3, and training digits shifted by up to 1 pixel"),
    "dense_mlp": Recipe(dense_mlp, "dense MLP, E11's depth (32) and width (784)", "adam", 1e-4,
                        change="baseline, not in the log"),
    "convnet": Recipe(ConvNet, "PyTorch example ConvNet", "sgd", 0.01, momentum=0.5,
                      change="baseline, not in the log"),
}


def build(name: str) -> nn.Module:
    """A fresh model of recipe ``name`` (see :data:`MNIST_MODELS`), drawn from torch's RNG."""
    check_choice("model", name, tuple(MNIST_MODELS))
    return MNIST_MODELS[name].build()
