"""The lab's counts around the cost tables of :mod:`acdc_core.costs`: the forms a model trains in,
the width where ACDC stacks start to cost less than a dense matrix, and what the log's counter
added to the multiply-adds (MA).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ...checks import check_positive_int
from ...conv import SeparableACDCConv2d
from ...costs import run_in_eval_mode
from ...stack import StackedACDC


def training_forms(model: nn.Module, example: torch.Tensor) -> dict[str, str]:
    """The form each separable convolution and each stack outside one computes in during a
    training step on a batch like ``example`` (the rule of :mod:`acdc_core.forms` with gradients
    enabled), by layer name. The model runs once in eval mode without gradients, restored
    afterwards, so no statistics change."""
    chosen, hooks = {}, []
    inside = {id(m) for conv in model.modules() if isinstance(conv, SeparableACDCConv2d)
              for m in conv.modules() if m is not conv}
    for name, module in model.named_modules():
        if isinstance(module, (SeparableACDCConv2d, StackedACDC)) and id(module) not in inside:
            def record(module, args, name=name):
                with torch.enable_grad():
                    chosen.setdefault(name, module.chosen_form(args[0]))
            hooks.append(module.register_forward_pre_hook(record))
    run_in_eval_mode(model, example, hooks)
    return chosen


def crossover_width(n_layers: int) -> float:
    """The width N above which ``n_layers`` ACDC layers cost fewer MA per vector than one dense
    N×N matrix: the root of ``n_layers · (4N + 5N·log2 N) = N²``, i.e. of
    ``N = n_layers · (4 + 5·log2 N)``, found by bisection in log N over [2, 2^40]."""
    check_positive_int("n_layers", n_layers)
    low, high = 2.0, 2.0 ** 40
    for _ in range(200):  # each halves the interval in log2 N: far below float precision
        middle = math.sqrt(low * high)
        if n_layers * (4 + 5 * math.log2(middle)) > middle:
            low = middle
        else:
            high = middle
    return high


class _ReluCounter(TorchDispatchMode):
    """Counts the elements every ReLU produces."""

    def __init__(self):
        super().__init__()
        self.elements = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket in (torch.ops.aten.relu, torch.ops.aten.relu_):
            self.elements += out.numel()
        return out


def log_convention_extras(model: nn.Module, example: torch.Tensor) -> dict:
    """What the log's counter (and the follow-up's) added to the multiply-adds, for ``example``'s
    batch: ``{"relu": one per ReLU output, "bias": one per nn.Linear bias entry}``. Its counter
    saw only ReLU *modules*: networks written with ``F.relu`` had none counted."""
    counter = _ReluCounter()
    with counter:
        run_in_eval_mode(model, example)
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None)
    return {"relu": counter.elements, "bias": example.shape[0] * biases}
