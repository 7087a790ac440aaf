"""Per-layer parameters and multiply-adds of any model at an input shape, in the FFT form and the
dense form of every structured layer, with the form inference would choose, and a switch that
puts a model in those forms.

Units: multiply-adds (MA, the log's unit; FFTs by the convention of :mod:`acdc_core.flops`);
FLOPs = 2 × MA. Counted units are ``nn.Linear``, ``nn.Conv2d``, :class:`~acdc_core.ACDC`,
:class:`~acdc_core.StackedACDC` and :class:`~acdc_core.SeparableACDCConv2d`; elementwise layers
(BatchNorm, ReLU, pooling, biases) cost nothing here, as in the log's tables and in
``FlopCounterMode``. Their parameters are one "other" row, so the parameter total is every
parameter of the model.

The dense form of a layer multiplies by its collapsed weight. A separable convolution multiplies
its stack out on every call, so its dense form counts that too; it is the ``"collapsed"`` or the
``"full"`` form (:mod:`acdc_core.conv`), whichever the rule of :mod:`acdc_core.forms` finds faster.
An ACDC layer caches its collapsed weight and a linear stack is replaced by an ``nn.Linear`` once
(:func:`use_cheaper_forms`), so theirs is not counted per call. Every layer's form is the one that
rule chooses for inference on the example's device, as ``form="auto"`` does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ...acdc import ACDC
from ...conv import SeparableACDCConv2d
from ...base import parameter_count
from ...flops import acdc_mult_adds
from ...forms import Work, conv_forms, fastest, stack_work
from ...stack import StackedACDC
from ...checks import check_choice, check_positive_int

UNITS = (nn.Linear, nn.Conv2d, ACDC, StackedACDC, SeparableACDCConv2d)
FORCE = (None, "fft", "dense")


@dataclass
class LayerCost:
    """One counted layer (``name`` "" for the model itself): ``fft`` and ``dense`` are its MA per
    forward pass of the whole input in the FFT form and the dense one (equal for dense layers),
    ``form`` the one counted: ``"fft"``, or ``"dense"`` (a separable convolution's dense forms are
    ``"collapsed"`` and ``"full"``)."""
    name: str
    kind: str
    parameters: int
    fft: float
    dense: float
    form: str
    structured: bool = True

    @property
    def mult_adds(self) -> float:
        return self.fft if self.form == "fft" else self.dense

    def row(self) -> dict:
        return {"layer": self.name, "kind": self.kind, "params": self.parameters,
                "MA fft form": self.fft, "MA dense form": self.dense, "form": self.form,
                "MA": self.mult_adds}


def _is_linear(stack: StackedACDC) -> bool:
    return not (stack.relu or stack.batchnorm)


def _separable_cost(name: str, module: SeparableACDCConv2d, y: torch.Tensor, force) -> LayerCost:
    """The layer on every output pixel of ``y`` in its forms (:func:`~acdc_core.forms.conv_forms`);
    its form the rule's (or ``force``; ``"dense"`` takes the faster of its two dense forms)."""
    kh, kw = module.kernel_size
    works = conv_forms(module, y.shape[0] * y.shape[2] * y.shape[3])
    dense_form = fastest({f: works[f] for f in ("collapsed", "full")}, y.device, training=False)
    form = {"fft": "fft", "dense": dense_form, None: fastest(works, y.device, training=False)}[force]
    kind = f"separable ACDC {kh}×{kw}, {module.pointwise.n_layers} layers"
    return LayerCost(name, kind, parameter_count(module), works["fft"].mult_adds,
                     works[dense_form if form == "fft" else form].mult_adds, form)


def _cost(name: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor, force) -> LayerCost:
    params = parameter_count(module)
    if isinstance(module, nn.Linear):
        ma = math.prod(x.shape[:-1]) * module.in_features * module.out_features
        return LayerCost(name, "Linear", params, ma, ma, "dense", structured=False)
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        ma = y.numel() * (module.in_channels // module.groups) * kh * kw
        kind = "Conv2d depthwise" if module.groups == module.in_channels > 1 else "Conv2d"
        return LayerCost(name, f"{kind} {kh}×{kw}", params, ma, ma, "dense", structured=False)
    if isinstance(module, SeparableACDCConv2d):
        return _separable_cost(name, module, y, force)
    rows = math.prod(x.shape[:-1])
    if isinstance(module, StackedACDC):
        fft = stack_work(module, rows)
        kind = f"StackedACDC, {module.n_layers} layers" + ("" if _is_linear(module) else " (nonlinear)")
    else:  # ACDC
        blocks = module.features // module.block_size
        fft = Work(fused=rows * blocks * acdc_mult_adds(module.block_size), calls=1)
        kind = "ACDC"
    works = {"fft": fft}
    if not isinstance(module, StackedACDC) or _is_linear(module):  # a nonlinear stack has no dense form
        works["dense"] = Work(matmul=rows * module.in_features * module.out_features)
    form = "dense" if force == "dense" and "dense" in works else force or fastest(works, x.device, training=False)
    return LayerCost(name, kind, params, fft.mult_adds,
                     works["dense"].mult_adds if "dense" in works else math.inf, form)


def _run_once(model: nn.Module, example: torch.Tensor, hooks: list) -> None:
    """Run ``model`` once on ``example`` in eval mode without gradients (its mode restored), so its
    ``hooks`` see every layer's input; then remove them."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()
            model(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()


def layer_costs(model: nn.Module, example: torch.Tensor, force: str | None = None) -> list[LayerCost]:
    """Run ``model`` once on ``example`` (no gradient, eval mode, restored afterwards) and cost
    every counted unit, outermost first (a unit inside another is not counted again; a unit
    called twice is counted at its first call); the last row, "other", holds every parameter
    outside the units (BatchNorm's, say) at no cost.

    ``force``: None (each structured layer in its cheaper form), ``"fft"`` or ``"dense"``."""
    check_choice("force", force, FORCE)
    units, inside = [], set()
    for name, module in model.named_modules():
        if isinstance(module, UNITS) and id(module) not in inside:
            units.append((name, module))
            inside.update(id(m) for m in module.modules())
    seen: dict[int, tuple] = {}

    def record(module, args, output) -> None:  # a hook that returns nothing keeps the output
        seen.setdefault(id(module), (args[0], output))

    hooks = [m.register_forward_hook(record) for _, m in units]
    _run_once(model, example, hooks)
    rows = [_cost(name, m, *seen[id(m)], force) for name, m in units if id(m) in seen]
    other = parameter_count(model) - sum(row.parameters for row in rows)
    rows.append(LayerCost("other", "BatchNorm and others (not counted)", other, 0, 0, "dense",
                          structured=False))
    return rows


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
    _run_once(model, example, hooks)
    return chosen


def totals(costs: list[LayerCost]) -> dict:
    """Parameters, and MA and FLOPs (= 2 × MA) in the chosen forms, all forms FFT, all dense."""
    ma = sum(c.mult_adds for c in costs)
    return {"parameters": sum(c.parameters for c in costs), "MA": ma, "FLOPs": 2 * ma,
            "MA all fft": sum(c.fft for c in costs), "MA all dense": sum(c.dense for c in costs)}


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
    was_training = model.training
    try:
        with torch.no_grad(), counter:
            model.eval()
            model(example)
    finally:
        model.train(was_training)
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, nn.Linear) and m.bias is not None)
    return {"relu": counter.elements, "bias": example.shape[0] * biases}


def use_cheaper_forms(model: nn.Module, example: torch.Tensor) -> list[dict]:
    """Switch every structured layer of ``model`` to the form :func:`layer_costs` chooses for
    ``example``: a separable conv's ``form`` (``"fft"``, ``"collapsed"`` or ``"full"``), an ACDC layer's
    ``impl`` (``"dense"`` or ``"fft"``); a linear stack whose dense form is cheaper is replaced
    by an ``nn.Linear`` holding its collapsed weight (an inference copy: its diagonals are gone).
    Returns one record per structured layer: name, form."""
    records = []
    for cost in layer_costs(model, example):
        if not cost.structured:
            continue
        module = model.get_submodule(cost.name)
        if isinstance(module, SeparableACDCConv2d):
            module.form = cost.form
        elif isinstance(module, ACDC):
            module.impl = cost.form
        elif cost.form == "dense":  # a linear StackedACDC
            if not cost.name:
                raise ValueError("the model itself is a stack whose dense form is cheaper: "
                                 "use its effective_weight() and effective_bias() directly")
            with torch.no_grad():
                linear = nn.Linear(module.in_features, module.out_features, dtype=module.dtype,
                                   device=module.device)
                linear.weight.copy_(module.effective_weight())
                linear.bias.copy_(module.effective_bias())
            parent, _, child = cost.name.rpartition(".")
            setattr(model.get_submodule(parent), child, linear)
        records.append({"layer": cost.name, "form": cost.form})
    return records
