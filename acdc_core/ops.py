"""The fused ACDC core as custom operators, ``acdc::acdc_core`` and ``acdc::acdc_core_backward``,
for dispatch modes: ``FlopCounterMode`` counts them by the formulas in :mod:`acdc_core.flops`
(it sees nothing of the FFTs inside a Python autograd function). The forward, and a backward
returning every gradient but the bias's, computed by :mod:`acdc_core.core`.
"""
from __future__ import annotations

import torch

from .core import core_backward, core_forward, scale_pairs


@torch.library.custom_op("acdc::acdc_core", mutates_args=())
def core_op(v: torch.Tensor, a: torch.Tensor, d: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return core_forward(v, a, scale_pairs(d), bias)


@torch.library.custom_op("acdc::acdc_core_backward", mutates_args=())
def core_backward_op(grad: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
                     d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w, grad_d = core_backward(grad, v, a, scale_pairs(d), True)
    return w * a, (w * v).sum(0), grad_d


@core_op.register_fake
def _(v, a, d, bias):
    return torch.empty_like(v)


@core_backward_op.register_fake
def _(grad, v, a, d):
    return torch.empty_like(v), torch.empty_like(a), torch.empty_like(d)


def _core_op_context(ctx, inputs, output):
    v, a, d, bias = inputs
    ctx.save_for_backward(v, a, d)
    ctx.has_bias = bias is not None


def _core_op_backward(ctx, grad):
    v, a, d = ctx.saved_tensors
    grad_v, grad_a, grad_d = core_backward_op(grad, v, a, d)
    return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None


core_op.register_autograd(_core_op_backward, setup_context=_core_op_context)
