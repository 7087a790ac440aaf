"""Which implementation runs the fused ACDC core, and the autograd functions around the Triton
kernels of :mod:`acdc_core.triton_core`.

:func:`acdc_core` is the one entry point: inside a dispatch mode it calls the ``acdc::`` operator
(:mod:`acdc_core.ops`, so FLOP counters see it), where :mod:`acdc_core.backend` chooses the Triton
kernel it runs that, and otherwise the torch.fft function of :mod:`acdc_core.core`. A stack of
layers may instead run in one kernel launch (:func:`stack_kernel_for`, :func:`kernel_stack`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import backend
from .compiled_core import CompiledCore
from .core import FFTCore
from .dct import counted
from .ops import core_op


class _KernelCore(torch.autograd.Function):
    """:class:`~acdc_core.core.FFTCore` with the Triton kernels of ``acdc_core.triton_core`` for
    forward and backward."""

    @staticmethod
    def forward(ctx, v, a, d, bias, kernel):
        ctx.save_for_backward(v, a, d)
        ctx.has_bias, ctx.kernel = bias is not None, kernel
        return kernel.core_pass(v, a, d, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, d = ctx.saved_tensors
        grad_v, grad_a, grad_d = ctx.kernel.core_backward(grad, v, a, d)
        return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None, None


class _KernelStack(torch.autograd.Function):
    """K fused layers in one Triton launch (``triton_core.stack_pass``); the backward runs the
    backward kernel layer by layer, from the outputs the forward kept."""

    @staticmethod
    def forward(ctx, v, a, d, bias, steps, inverses, relu, kernel):
        outputs = kernel.stack_pass(v, a, d, bias, steps, relu)
        ctx.save_for_backward(v, a, d, outputs, steps, inverses)
        ctx.relu, ctx.kernel, ctx.has_bias = relu, kernel, bias is not None
        return outputs[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, d, outputs, steps, inverses = ctx.saved_tensors
        grad_a, grad_d, grad_bias = torch.empty_like(a), torch.empty_like(d), torch.empty_like(a)
        g = grad
        for layer in reversed(range(a.shape[0])):
            x = v if layer == 0 else outputs[layer - 1][:, steps[layer - 1]]
            if layer > 0 and ctx.relu:
                x = F.relu(x)
            grad_bias[layer] = g.sum(0)
            g, grad_a[layer], grad_d[layer] = ctx.kernel.core_backward(g, x, a[layer], d[layer])
            if layer > 0:
                g = (g * (x > 0) if ctx.relu else g)[:, inverses[layer - 1]]
        return g, grad_a, grad_d, grad_bias if ctx.has_bias else None, None, None, None, None


def _kernel_for(v: torch.Tensor):
    """The Triton kernel module for rows ``v`` (see :mod:`acdc_core.backend`), else None; None for
    no rows, which the torch.fft path passes through."""
    return backend.kernel_for(v) if v.numel() else None


def stack_kernel_for(v: torch.Tensor):
    """The Triton kernel module when a whole stack on Makhoul-ordered float32 rows ``v`` (M, n)
    should run in one launch (see :mod:`acdc_core.backend`), else None."""
    if counted() or v.ndim != 2 or v.dtype != torch.float32:
        return None
    return _kernel_for(v)


def kernel_stack(kernel, v: torch.Tensor, a: torch.Tensor, d: torch.Tensor,
                 bias: torch.Tensor | None, steps: torch.Tensor, inverses: torch.Tensor,
                 relu: bool) -> torch.Tensor:
    """K fused layers on rows ``v`` (M, n) in one launch of ``kernel``: ``a``, ``d``, ``bias``
    (K, n); ``steps``, ``inverses``: (K-1, n) gathers between layers and their inverses."""
    return _KernelStack.apply(v, a, d, bias, steps, inverses, relu, kernel)


def acdc_core(v: torch.Tensor, a: torch.Tensor, d: torch.Tensor, bias: torch.Tensor | None = None):
    """The fused layer on Makhoul-ordered input ``v`` (M, G, n) or (M, n): see
    :class:`~acdc_core.core.FFTCore`.
    Inside a dispatch mode, the operator ``acdc::acdc_core``; on CUDA for supported shapes (or when
    forced, see :mod:`acdc_core.backend`), the Triton kernel; with the ``"compiled"`` backend, the
    compiled pass of :mod:`acdc_core.compiled_core`."""
    if counted():
        return core_op(v, a, d, bias)
    kernel = _kernel_for(v)
    if kernel is not None:
        return _KernelCore.apply(v, a, d, bias, kernel)
    if backend.compiling() and v.numel():
        return CompiledCore.apply(v, a, d, bias)
    return FFTCore.apply(v, a, d, bias)
