"""Per-layer parameters and multiply-adds of any model at an input shape, in the FFT form and the
dense form of every structured layer, with the form inference would choose, and a switch that
puts a model in those forms.

Units: multiply-adds (MA, the log's unit; FFTs by the convention of :mod:`acdc_core.flops`);
FLOPs = 2 × MA. Counted units are ``nn.Linear``, ``nn.Conv2d``, :class:`~acdc_core.ACDC`,
:class:`~acdc_core.StackedACDC`, :class:`~acdc_core.SeparableACDCConv2d` and the comparison
layers of :mod:`acdc_core.structured` that report their ``work`` (dense, low rank, Monarch,
butterfly: their one form is ``"structured"``, counted in the ``fft`` column); elementwise layers
(BatchNorm, ReLU, pooling, biases) cost nothing here, as in the log's tables and in
``FlopCounterMode``. Their parameters are one "other" row, so the parameter total is every
parameter of the model.

Each structured layer's forms and their work are its own (``work``, :mod:`acdc_core.forms`). Its
dense form multiplies by its collapsed weight. A separable convolution multiplies its stack out
on every call, so its dense form counts that too; it is the ``"collapsed"`` or the ``"full"``
form, whichever the rule of :mod:`acdc_core.forms` finds faster. An ACDC layer caches its
collapsed weight and a linear stack is replaced once by its ``to_linear()``
(:func:`use_cheaper_forms`), so theirs is not counted per call. Every layer's form is the one
that rule chooses for inference on the example's device, as ``form="auto"`` does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .acdc import ACDC
from .base import parameter_count
from .checks import check_choice
from .conv import SeparableACDCConv2d
from .forms import Work, fastest
from .stack import StackedACDC
from .structured import Butterfly, Dense, LowRank, Monarch

COMPARISON = (Dense, LowRank, Monarch, Butterfly)
UNITS = (nn.Linear, nn.Conv2d, ACDC, StackedACDC, SeparableACDCConv2d, *COMPARISON)
FORMS = ("auto", "fft", "dense")


@dataclass
class LayerCost:
    """One counted layer (``name`` "" for the model itself): ``fft`` and ``dense`` are its MA per
    forward pass of the whole input in the FFT form and the dense one (equal for dense layers;
    inf for a layer without a dense form), ``form`` the one counted: ``"fft"``, or ``"dense"``
    (a separable convolution's dense forms are ``"collapsed"`` and ``"full"``), or, for a
    comparison layer, ``"structured"`` (its own form, in the ``fft`` column)."""
    name: str
    kind: str
    parameters: int
    fft: float
    dense: float
    form: str
    structured: bool = True

    @property
    def mult_adds(self) -> float:
        return self.fft if self.form in ("fft", "structured") else self.dense

    def row(self) -> dict:
        return {"layer": self.name, "kind": self.kind, "params": self.parameters,
                "MA fft form": self.fft, "MA dense form": self.dense, "form": self.form,
                "MA": self.mult_adds}


def run_in_eval_mode(model: nn.Module, example: torch.Tensor, hooks: list = ()) -> None:
    """Run ``model`` once on ``example`` in eval mode without gradients (its mode restored), so
    its ``hooks`` see every layer's input; then remove them."""
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()
            model(example)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()


def _table_forms(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[str, dict[str, Work]]:
    """(kind, form -> :class:`~acdc_core.forms.Work`) of a structured layer called on ``x``
    giving ``y``: its own forms, except that a linear stack's dense form is its ``to_linear()``."""
    if isinstance(module, SeparableACDCConv2d):
        kh, kw = module.kernel_size
        kind = f"separable ACDC {kh}×{kw}, {module.pointwise.n_layers} layers"
        return kind, module.work(y.shape[0] * y.shape[2] * y.shape[3])
    rows = math.prod(x.shape[:-1])
    if isinstance(module, ACDC):
        return "ACDC", module.work(rows)
    works = {"fft": module.work(rows)["fft"]}
    if not module.is_linear():
        return f"StackedACDC, {module.n_layers} layers (nonlinear)", works
    works["dense"] = Work(matmul=rows * module.in_features * module.out_features)
    return f"StackedACDC, {module.n_layers} layers", works


def _dense_cost(name: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> LayerCost:
    """An ``nn.Linear`` or ``nn.Conv2d`` called on ``x`` giving ``y``."""
    params = parameter_count(module)
    if isinstance(module, nn.Linear):
        ma = math.prod(x.shape[:-1]) * module.in_features * module.out_features
        return LayerCost(name, "Linear", params, ma, ma, "dense", structured=False)
    kh, kw = module.kernel_size
    ma = y.numel() * (module.in_channels // module.groups) * kh * kw
    kind = "Conv2d depthwise" if module.groups == module.in_channels > 1 else "Conv2d"
    return LayerCost(name, f"{kind} {kh}×{kw}", params, ma, ma, "dense", structured=False)


def _cost(name: str, module: nn.Module, x: torch.Tensor, y: torch.Tensor, form: str) -> LayerCost:
    """The row of ``module`` called on ``x`` giving ``y``, in ``form`` (``"auto"``: the rule's
    choice; ``"dense"``: the faster dense form, or the FFT form where there is none)."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        return _dense_cost(name, module, x, y)
    if isinstance(module, COMPARISON):
        rows = math.prod(x.shape[:-1])
        own = module.work(rows)["structured"].mult_adds
        return LayerCost(name, module.label, parameter_count(module), own,
                         rows * module.in_features * module.out_features,
                         "dense" if form == "dense" else "structured")
    kind, works = _table_forms(module, x, y)
    dense = {f: work for f, work in works.items() if f != "fft"}
    dense_form = fastest(dense, y.device, training=False) if dense else None
    if form == "auto":
        chosen = fastest(works, y.device, training=False)
    else:
        chosen = dense_form if form == "dense" and dense else "fft"
    return LayerCost(name, kind, parameter_count(module), works["fft"].mult_adds,
                     works[dense_form].mult_adds if dense else math.inf, chosen)


def layer_costs(model: nn.Module, example: torch.Tensor, form: str = "auto") -> list[LayerCost]:
    """Run ``model`` once on ``example`` (no gradient, eval mode, restored afterwards) and cost
    every counted unit, outermost first (a unit inside another is not counted again; a unit
    called twice is counted at its first call); the last row, "other", holds every parameter
    outside the units (BatchNorm's, say) at no cost.

    ``form``: ``"auto"`` (each structured layer in its cheaper form), ``"fft"`` or ``"dense"``."""
    check_choice("form", form, FORMS)
    units, inside = [], set()
    for name, module in model.named_modules():
        if isinstance(module, UNITS) and id(module) not in inside:
            units.append((name, module))
            inside.update(id(m) for m in module.modules())
    costs: dict[int, LayerCost] = {}

    def hook(name):
        def record(module, args, output) -> None:  # returning nothing keeps the output
            if id(module) not in costs:
                costs[id(module)] = _cost(name, module, args[0], output, form)
        return record

    run_in_eval_mode(model, example, [m.register_forward_hook(hook(name)) for name, m in units])
    rows = [costs[id(m)] for _, m in units if id(m) in costs]
    other = parameter_count(model) - sum(row.parameters for row in rows)
    rows.append(LayerCost("other", "BatchNorm and others (not counted)", other, 0, 0, "dense",
                          structured=False))
    return rows


def totals(costs: list[LayerCost]) -> dict:
    """Parameters, and MA and FLOPs (= 2 × MA) in the chosen forms, all forms FFT, all dense."""
    ma = sum(c.mult_adds for c in costs)
    return {"parameters": sum(c.parameters for c in costs), "MA": ma, "FLOPs": 2 * ma,
            "MA all fft": sum(c.fft for c in costs), "MA all dense": sum(c.dense for c in costs)}


def use_cheaper_forms(model: nn.Module, example: torch.Tensor) -> list[dict]:
    """Switch every structured layer of ``model`` to the form :func:`layer_costs` chooses for
    ``example``: a separable conv's or an ACDC layer's ``form``; a linear stack whose dense form
    is cheaper is replaced by its ``to_linear()`` in eval mode (an inference copy: its diagonals
    are gone, its BatchNorm statistics frozen in). Returns one record per structured layer:
    name, form."""
    records = []
    for cost in layer_costs(model, example):
        if not cost.structured or cost.form == "structured":
            continue
        module = model.get_submodule(cost.name)
        if not isinstance(module, StackedACDC):
            module.form = cost.form
        elif cost.form == "dense":
            if not cost.name:
                raise ValueError("the model itself is a stack whose dense form is cheaper: "
                                 "use its to_linear() directly")
            parent, _, child = cost.name.rpartition(".")
            setattr(model.get_submodule(parent), child, module.eval().to_linear())
        records.append({"layer": cost.name, "form": cost.form})
    return records
