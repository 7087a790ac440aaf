"""The ``acdc::`` operators, defined with ``torch.library.custom_op``: what every layer calls, in
eager mode, under ``torch.compile``, under ``torch.export`` and under ``torch.func`` alike.

- ``acdc::acdc_core(v, a, d, bias, natural)``: the fused ACDC pass, and
  ``acdc::acdc_core_backward`` its gradients;
- ``acdc::acdc_stack(v, a, d, bias, steps, inverses, relu)``: K fused layers with the gathers (and
  ReLU) between them, run where the Triton kernel takes a whole stack in one launch;
- ``acdc::dct_plan(x, kind, scales)``: one DCT :class:`~acdc_core.ops.plans.Plan` along the last
  dimension; its gradient is the transposed plan.

Each has a fake (meta) implementation for tracing, an autograd formula, a vmap rule and a FLOP
formula (:mod:`acdc_core.flops`). Which implementation runs the fused pass (torch.fft's
:mod:`~acdc_core.ops.reference` or the Triton kernel) is asked of :mod:`~acdc_core.ops.backend`
each time it runs. For ONNX, :mod:`acdc_core.ops.onnx` gives each forward operator a translation.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.utils.flop_counter import register_flop_formula

from .. import flops
from . import backend, reference
from .plans import Plan


# ----------------------------------------------------------------------------------------------
# The fused pass

@torch.library.custom_op("acdc::acdc_core", mutates_args=())
def _core(v: Tensor, a: Tensor, d: Tensor, bias: Tensor | None, natural: bool) -> Tensor:
    kernel = backend.kernel_for(v)
    if kernel is None:
        return reference.core_forward(v, a, reference.scale_pairs(d), bias, natural)
    if not natural:
        return kernel.core_pass(v, a, d, bias)
    order = reference.to_makhoul
    return reference.from_makhoul(kernel.core_pass(order(v), order(a), d, None), bias)


@torch.library.custom_op("acdc::acdc_core_backward", mutates_args=())
def _core_backward(grad: Tensor, v: Tensor, a: Tensor, d: Tensor,
                   natural: bool) -> tuple[Tensor, Tensor, Tensor]:
    kernel = backend.kernel_for(v)
    if kernel is None:
        return reference.core_backward(grad, v, a, d, natural)
    if not natural:
        return kernel.core_backward(grad, v, a, d)
    order, back = reference.to_makhoul, reference.from_makhoul
    grad_v, grad_a, grad_d = kernel.core_backward(order(grad), order(v), order(a), d)
    return back(grad_v), back(grad_a), grad_d


@_core.register_fake
def _(v, a, d, bias, natural):
    return v.new_empty(v.shape)


@_core_backward.register_fake
def _(grad, v, a, d, natural):
    return v.new_empty(v.shape), a.new_empty(a.shape), d.new_empty(d.shape)


def _core_context(ctx, inputs, output):
    v, a, d, bias, natural = inputs
    ctx.save_for_backward(v, a, d)
    ctx.has_bias, ctx.natural = bias is not None, natural


def _core_gradients(ctx, grad):
    v, a, d = ctx.saved_tensors
    with torch.no_grad():
        grad_v, grad_a, grad_d = torch.ops.acdc.acdc_core_backward(grad, v, a, d, ctx.natural)
    return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None, None


class _Core(torch.autograd.Function):
    """``acdc::acdc_core`` with its gradients, as the layers call it (see :class:`_DctPlan`)."""
    generate_vmap_rule = True
    setup_context, backward = staticmethod(_core_context), staticmethod(_core_gradients)

    @staticmethod
    def forward(v, a, d, bias, natural):
        with torch.no_grad():  # the operator's own (empty) autograd kernel is never entered
            return torch.ops.acdc.acdc_core(v, a, d, bias, natural)


def acdc_pass(v: Tensor, a: Tensor, d: Tensor, bias: Tensor | None = None,
              natural: bool = False) -> Tensor:
    """``r = C⁻¹ D C (a ⊙ v) + bias`` on rows ``v`` (M, G, n) or (M, n): ``a``, ``bias`` (G, n)
    or (n,), ``d`` the same shape in DCT-coefficient order. The rows, ``a``, ``bias`` and the
    result are in Makhoul's order (as a stack keeps them), or with ``natural`` in natural order
    (the reordering then rides on the first and last passes)."""
    return _Core.apply(v, a, d, bias, natural)


# ----------------------------------------------------------------------------------------------
# A whole stack in one launch

@torch.library.custom_op("acdc::acdc_stack", mutates_args=())
def _stack(v: Tensor, a: Tensor, d: Tensor, bias: Tensor | None, steps: Tensor, inverses: Tensor,
           relu: bool) -> Tensor:
    kernel = backend.kernel_for(v) if v.dtype == torch.float32 else None
    if kernel is not None:
        return kernel.stack_pass(v, a, d, bias, steps, relu)
    return reference.stack_forward(v, a, d, bias, steps, relu)


@_stack.register_fake
def _(v, a, d, bias, steps, inverses, relu):
    return v.new_empty(a.shape[0], *v.shape)


def _stack_context(ctx, inputs, outputs):
    v, a, d, bias, steps, inverses, relu = inputs
    ctx.save_for_backward(v, a, d, outputs, steps, inverses)
    ctx.relu, ctx.has_bias = relu, bias is not None


def _stack_gradients(ctx, grad):
    """Layer by layer from the last, by ``acdc::acdc_core_backward``, from the outputs kept."""
    v, a, d, outputs, steps, inverses = ctx.saved_tensors
    grads_a, grads_d, grads_bias = [], [], []
    g = grad[-1]
    for layer in reversed(range(a.shape[0])):
        x = v if layer == 0 else outputs[layer - 1][:, steps[layer - 1]]
        if layer > 0 and ctx.relu:
            x = x.clamp_min(0)
        grads_bias.append(g.sum(0))
        with torch.no_grad():
            g, grad_a, grad_d = torch.ops.acdc.acdc_core_backward(g, x, a[layer], d[layer], False)
        grads_a.append(grad_a)
        grads_d.append(grad_d)
        if layer > 0:
            g = (g * (x > 0) if ctx.relu else g)[:, inverses[layer - 1]]
    stacked = [torch.stack(grads[::-1]) for grads in (grads_a, grads_d, grads_bias)]
    return g, stacked[0], stacked[1], stacked[2] if ctx.has_bias else None, None, None, None


class _Stack(torch.autograd.Function):
    """``acdc::acdc_stack`` with its gradients (see :class:`_DctPlan`)."""
    generate_vmap_rule = True
    setup_context, backward = staticmethod(_stack_context), staticmethod(_stack_gradients)

    @staticmethod
    def forward(v, a, d, bias, steps, inverses, relu):
        with torch.no_grad():
            return torch.ops.acdc.acdc_stack(v, a, d, bias, steps, inverses, relu)


def one_launch(v: Tensor) -> bool:
    """Whether a whole stack on Makhoul-ordered rows ``v`` (M, n) runs as ``acdc::acdc_stack``: where
    the backend runs the Triton kernel on float32 rows."""
    return v.ndim == 2 and v.dtype == torch.float32 and backend.kernel_for(v) is not None


def stack_pass(v: Tensor, a: Tensor, d: Tensor, bias: Tensor | None, steps: Tensor,
               inverses: Tensor, relu: bool) -> Tensor:
    """K fused layers on Makhoul-ordered rows ``v`` (M, n): ``a``, ``d``, ``bias`` (K, n);
    ``steps``, ``inverses`` (K-1, n) the gathers between layers and their inverses, ReLU after
    each gather when ``relu``. The last layer's rows (M, n), in Makhoul order."""
    return _Stack.apply(v, a, d, bias, steps, inverses, relu)[-1]


# ----------------------------------------------------------------------------------------------
# DCT plans

def _plan_of(kind: int, n: int, scales) -> Plan:
    return Plan(kind, n, tuple(scales[:3]), tuple(scales[3:]))


@torch.library.custom_op("acdc::dct_plan", mutates_args=())
def _dct_plan(x: Tensor, kind: int, scales: list[float]) -> Tensor:
    return _plan_of(kind, x.shape[-1], scales)(x)


@_dct_plan.register_fake
def _(x, kind, scales):
    return x.new_empty(x.shape)


def _plan_context(ctx, inputs, output):
    ctx.kind, ctx.scales = inputs[1], inputs[2]


def _plan_gradient(ctx, grad):
    """The transposed plan on ``grad``; differentiable again when a graph of the backward is
    being recorded (a double backward)."""
    transposed = _plan_of(ctx.kind, grad.shape[-1], ctx.scales).transpose()
    if torch.is_grad_enabled():
        return dct_plan(grad, transposed), None, None
    return torch.ops.acdc.dct_plan(grad, transposed.kind, [*transposed.pre, *transposed.post]), \
        None, None


class _DctPlan(torch.autograd.Function):
    """``acdc::dct_plan`` with its gradient. The operators carry no autograd formula of their
    own: ``torch.func`` does not yet see one registered with ``register_autograd``
    (pytorch/pytorch#168393), and takes an ``autograd.Function`` with ``setup_context``, whose
    vmap rule it makes from the operators' own."""
    generate_vmap_rule = True
    setup_context, backward = staticmethod(_plan_context), staticmethod(_plan_gradient)

    @staticmethod
    def forward(x, kind, scales):
        with torch.no_grad():
            return torch.ops.acdc.dct_plan(x, kind, scales)


def dct_plan(x: Tensor, plan: Plan) -> Tensor:
    """``plan`` applied along the last dimension of ``x`` (float32 or float64)."""
    return _DctPlan.apply(x, plan.kind, [*plan.pre, *plan.post])


# ----------------------------------------------------------------------------------------------
# vmap: the batch folded into the rows where only the rows are batched, else one call per entry

def _per_entry(op):
    """A vmap rule calling ``op`` once per batch entry and stacking the results."""
    def rule(info, in_dims, *args):
        def entry(i):
            return [x.select(dim, i) if dim is not None else x for x, dim in zip(args, in_dims)]
        results = [op(*entry(i)) for i in range(info.batch_size)]
        if isinstance(results[0], tuple):
            return tuple(torch.stack(r) for r in zip(*results)), (0,) * len(results[0])
        return torch.stack(results), 0
    return rule


def _core_vmap(info, in_dims, v, a, d, bias, natural):
    if in_dims[1:4] != (None, None, None) or in_dims[0] is None:
        return _per_entry(_core)(info, in_dims, v, a, d, bias, natural)
    rows = v.movedim(in_dims[0], 0)
    return _core(rows.flatten(0, 1), a, d, bias, natural).unflatten(0, rows.shape[:2]), 0


def _plan_vmap(info, in_dims, x, kind, scales):
    return _dct_plan(x.movedim(in_dims[0], 0), kind, scales), 0


torch.library.register_vmap(_core, _core_vmap)
torch.library.register_vmap(_core_backward, _per_entry(_core_backward))
torch.library.register_vmap(_stack, _per_entry(_stack))
torch.library.register_vmap(_dct_plan, _plan_vmap)


# ----------------------------------------------------------------------------------------------
# FLOP formulas (FlopCounterMode counts FLOPs, 2 per multiply-add)

def _rows(shape) -> int:
    return math.prod(shape[:-1])


@register_flop_formula(torch.ops.acdc.dct_plan)
def _dct_plan_flops(x_shape, kind, scales, *args, out_shape=None, **kwargs) -> int:
    return round(2 * _rows(x_shape) * flops.dct_mult_adds(x_shape[-1], kind))


@register_flop_formula(torch.ops.acdc.acdc_core)
def _core_flops(v_shape, *args, out_shape=None, **kwargs) -> int:
    return round(2 * _rows(v_shape) * flops.acdc_mult_adds(v_shape[-1]))


@register_flop_formula(torch.ops.acdc.acdc_core_backward)
def _core_backward_flops(grad_shape, *args, out_shape=None, **kwargs) -> int:
    return round(2 * _rows(grad_shape) * flops.acdc_backward_mult_adds(grad_shape[-1]))


@register_flop_formula(torch.ops.acdc.acdc_stack)
def _stack_flops(v_shape, a_shape, *args, out_shape=None, **kwargs) -> int:
    return round(2 * _rows(v_shape) * flops.acdc_mult_adds(v_shape[-1], a_shape[0]))
