"""The fused ACDC core in real arithmetic, written for ``torch.compile`` (the ``"compiled"``
backend of :mod:`acdc_core.backend`).

Inductor generates no complex-number code, so everything around the FFTs works on
``view_as_real``. In Makhoul order a layer's middle ``C⁻¹ D C`` is ``irfft(y)`` with, per bin k
of ``s = rfft(u)``, ``y_k = α_k s_k + β_k conj(s_k)``, where ``α_k = (d_k + d_{n−k}) / 2`` and
``β_k = conj(W_k)² (d_k − d_{n−k}) / 2``, ``W_k = e^{−iπk/2n}``. On the pair (Re s_k, Im s_k)
that is the symmetric real matrix ``[[α + Re β, Im β], [Im β, α − Re β]]``: one elementwise pass
where the eager core (:mod:`acdc_core.core`) makes three (rotate, scale, rotate back). The
backward is the same pass on the gradient, as the middle map is symmetric, and the diagonal's
gradient comes from the two rows' rotated spectra, as in the eager core.

Compiled forward and backward are separate graphs, so the backward stays this hand-written one
(autograd's own derivative of the composed operations was 2× slower on a CPU).
"""
from __future__ import annotations

import functools

import torch
from torch.autograd.function import once_differentiable

from .core import _frequency_constants


@functools.lru_cache(maxsize=64)
def _constants(n: int, dtype: torch.dtype, device: torch.device):
    """For length n: the twiddles W_k as (n//2+1, 2) reals, the mirror index (n−k) mod n and the
    squared DCT-II scales (see :func:`acdc_core.core._frequency_constants`)."""
    twiddle, _, mirror, kappa2 = _frequency_constants(n, dtype, device)
    return torch.view_as_real(twiddle).contiguous(), mirror, kappa2


def step_coefficients(d: torch.Tensor, twiddle: torch.Tensor, mirror: torch.Tensor) -> torch.Tensor:
    """(..., n//2+1, 3): per bin k the entries ``(α + Re β, Im β, α − Re β)`` of the step's
    symmetric 2×2 matrix, from the diagonal ``d`` (..., n) in DCT-coefficient order and
    :func:`_constants`' ``twiddle`` and ``mirror``."""
    n = d.shape[-1]
    first, second = d[..., : n // 2 + 1], d[..., mirror]
    alpha, half_difference = (first + second) / 2, (first - second) / 2
    cos, sin = twiddle[:, 0], twiddle[:, 1]  # W = cos + i·sin: conj(W)² = (cos² − sin²) − 2i·cos·sin
    beta_re, beta_im = (cos * cos - sin * sin) * half_difference, -2 * cos * sin * half_difference
    return torch.stack([alpha + beta_re, beta_im, alpha - beta_re], -1)


def one_pass(u: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """``irfft(y)``, y the step of :func:`step_coefficients` applied to ``rfft(u)``: (..., n)."""
    n = u.shape[-1]
    s = torch.view_as_real(torch.fft.rfft(u))
    re, im = s[..., 0], s[..., 1]
    p, q, r = step[..., 0], step[..., 1], step[..., 2]
    y = torch.stack([p * re + q * im, q * re + r * im], -1)
    return torch.fft.irfft(torch.view_as_complex(y), n=n)


def _rotated(u: torch.Tensor, twiddle: torch.Tensor) -> torch.Tensor:
    """``W ⊙ rfft(u)`` as (..., n//2+1, 2) reals."""
    s = torch.view_as_real(torch.fft.rfft(u))
    cos, sin = twiddle[:, 0], twiddle[:, 1]
    return torch.stack([s[..., 0] * cos - s[..., 1] * sin, s[..., 0] * sin + s[..., 1] * cos], -1)


def _diagonal_grad(grad, u, twiddle, kappa2) -> torch.Tensor:
    """Σ over rows of (C grad)_k (C u)_k for every k: (G, n) or (n,)."""
    n, h = u.shape[-1], u.shape[-1] // 2
    products = (_rotated(grad, twiddle) * _rotated(u, twiddle)).sum(0)
    first = kappa2 * products[..., 0]
    second = (kappa2 * products[..., 1])[..., 1: n - h].flip(-1)
    return torch.cat([first, second], -1)


def _forward(v, a, d, bias, twiddle, mirror):
    r = one_pass(v * a, step_coefficients(d, twiddle, mirror))
    return r if bias is None else r + bias


def _backward(grad, v, a, d, twiddle, mirror, kappa2):
    """The gradients of v, a and d."""
    w = one_pass(grad, step_coefficients(d, twiddle, mirror))
    return w * a, (w * v).sum(0), _diagonal_grad(grad, v * a, twiddle, kappa2)


@functools.lru_cache(maxsize=None)
def _compiled(name: str):
    """``torch.compile`` of :func:`_forward` or :func:`_backward`, made once per process."""
    return torch.compile({"forward": _forward, "backward": _backward}[name])


class CompiledCore(torch.autograd.Function):
    """:class:`~acdc_core.core.FFTCore`'s map and gradients by the compiled real-arithmetic
    passes: v (M, G, n) or (M, n); a, d, bias (G, n) or (n,)."""

    @staticmethod
    def forward(ctx, v, a, d, bias):
        twiddle, mirror, _ = _constants(v.shape[-1], v.dtype, v.device)
        ctx.save_for_backward(v, a, d)
        ctx.has_bias = bias is not None
        return _compiled("forward")(v, a, d, bias, twiddle, mirror)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, d = ctx.saved_tensors
        constants = _constants(v.shape[-1], v.dtype, v.device)
        grad_v, grad_a, grad_d = _compiled("backward")(grad.contiguous(), v, a, d, *constants)
        return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None
