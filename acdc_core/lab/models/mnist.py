"""The log's MNIST models (E1, E2, E11 in docs/experiments.md), a recipe that improves E11 under the same
constraint, and the baselines: a dense MLP of E11's depth and width, and the ConvNet of PyTorch's
MNIST example. Every model maps images ``(B, 1, 28, 28)`` (or ``(B, 784)``) to logits ``(B, 10)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ...checks import check_choice
from ...stack import StackedACDC


class FirstOutputs(nn.Module):
    """Keep the first ``k`` features: ``(B, N) -> (B, k)``; E11 reads its logits this way."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x[..., : self.k]

    def extra_repr(self) -> str:
        return f"k={self.k}"


def e1(init: str = "normal") -> nn.Sequential:
    """E1: StackedACDC 784→64 of 12 layers in blocks of 128 (the log's groups=8), bias, BatchNorm,
    riffle and ReLU between layers, the log's linear shrink; then ReLU and Linear(64, 10)."""
    return nn.Sequential(
        nn.Flatten(),
        StackedACDC(784, 64, 12, shuffle="riffle", relu=True, batchnorm=True,
                    shrink="linear", block_size=128, init=init),
        nn.ReLU(), nn.Linear(64, 10))


def e2() -> nn.Sequential:
    """E2: E1's stack, 32 layers, straight to 10 outputs (the shrink keeps the first 10, no Linear
    anywhere)."""
    return nn.Sequential(
        nn.Flatten(),
        StackedACDC(784, 10, 32, shuffle="riffle", relu=True, batchnorm=True,
                    shrink="truncate", block_size=128))


def e11() -> nn.Sequential:
    """E11: 32 ACDC layers at width 784 with a bias each, riffle and ReLU between layers, one more
    riffle after the last (as the log's code did), and the first 10 outputs as logits."""
    return nn.Sequential(
        nn.Flatten(),
        StackedACDC(784, 784, 32, shuffle="riffle", shuffle_last=True, relu=True),
        FirstOutputs(10))


def e11_improved() -> nn.Sequential:
    """E11's network unchanged (32 ACDC layers, no dense layer, the first 10 outputs are the
    logits); only its training differs: see ``MNIST_MODELS["e11_improved"]``."""
    return e11()


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
                         log_accuracy=0.9657),
    "e1_normal": Recipe(lambda: e1("normal"), "E1, N(1, 1e-2) init", "sgd", 0.01, momentum=0.5,
                        log_accuracy=0.9518),
    "e2": Recipe(e2, "E2, 32 layers to 10 outputs, no Linear", "sgd", 0.01, momentum=0.5,
                 log_accuracy=0.5541),
    "e11": Recipe(e11, "E11, 32 ACDC layers, no Linear", "adam", 1e-3, log_accuracy=0.9741),
    "e11_improved": Recipe(e11_improved, "E11, one-cycle Adam, shifted digits", "adam", 3e-3,
                           schedule="onecycle", shift=2,
                           change="same network; Adam with a one-cycle schedule (peak 3e-3) in place of "
                                  "a constant 1e-3, and training digits shifted by up to 2 pixels"),
    "dense_mlp": Recipe(dense_mlp, "dense MLP, E11's depth (32) and width (784)", "adam", 1e-4,
                        change="baseline, not in the log"),
    "convnet": Recipe(ConvNet, "PyTorch example ConvNet", "sgd", 0.01, momentum=0.5,
                      change="baseline, not in the log"),
}


def build(name: str) -> nn.Module:
    """A fresh model of recipe ``name`` (see :data:`MNIST_MODELS`), drawn from torch's RNG."""
    check_choice("model", name, tuple(MNIST_MODELS))
    return MNIST_MODELS[name].build()
