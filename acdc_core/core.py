"""The fused ACDC core on torch.fft: ``r = C⁻¹ D C (a ⊙ v) + b`` on rows in Makhoul's order.

In Makhoul's ordering of the features (see :func:`acdc_core.dct.makhoul_order`) the middle
``C⁻¹ D C`` is one real FFT, one elementwise step per frequency and one inverse real FFT: the
orthonormal scalings cancel and the DCT's twiddles fold into the step. :class:`FFTCore` runs that
as one autograd function whose backward is the same kind of pass, saving one features-wide tensor.
Which implementation runs the core (this one, the ``acdc::`` operators or the Triton kernel) is
decided in :mod:`acdc_core.fused`.
"""
from __future__ import annotations

import functools
import math

import torch
from torch.autograd.function import once_differentiable

_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@functools.lru_cache(maxsize=64)
def _frequency_constants(n: int, dtype: torch.dtype, device: torch.device):
    """For length n, per bin k of the real FFT: the twiddle W = e^{-iπk/2n}, its conjugate, the
    mirror index (n-k) mod n, and the squared DCT-II scale (1/n at k = 0, 2/n elsewhere)."""
    k = torch.arange(n // 2 + 1)
    twiddle = torch.exp(-1j * math.pi * k.double() / (2 * n)).to(_COMPLEX[dtype]).to(device)
    kappa2 = torch.full((k.numel(),), 2.0 / n, dtype=torch.float64)
    kappa2[0] = 1.0 / n
    return twiddle, twiddle.conj().resolve_conj(), ((n - k) % n).to(device), \
        kappa2.to(dtype=dtype, device=device)


def _rotate_(spectrum: torch.Tensor, n: int) -> torch.Tensor:
    """``W ⊙ V``, in place: its real parts are the DCT-II coefficients ``c[k]`` and its imaginary
    parts ``-c[n-k]``, each up to the scale κ_k = sqrt(kappa2[k]). (In place, as every pass
    writing fresh memory pays for its pages where freed memory goes back to the system.)"""
    twiddle, _, _, _ = _frequency_constants(n, spectrum.real.dtype, spectrum.device)
    return spectrum.mul_(twiddle)


def scale_pairs(d: torch.Tensor) -> torch.Tensor:
    """(..., n//2+1, 2): per bin k, the entries ``d[k]`` and ``d[n-k]`` that scale its real and
    imaginary parts (the DCT coefficients k and n-k)."""
    n = d.shape[-1]
    _, _, mirror, _ = _frequency_constants(n, d.dtype, d.device)
    return torch.stack([d[..., : n // 2 + 1], d[..., mirror]], -1)


def _scale_and_unrotate_(rotated: torch.Tensor, pairs: torch.Tensor, n: int) -> torch.Tensor:
    """``conj(W) ⊙ (d[k] Re + i d[n-k] Im)`` of a rotated spectrum, in place: the spectrum of
    ``C⁻¹ diag(d) C`` applied to the rows (the orthonormal scales cancel into irfft's 1/n)."""
    _, unrotate, _, _ = _frequency_constants(n, pairs.dtype, pairs.device)
    torch.view_as_real(rotated).mul_(pairs)
    return rotated.mul_(unrotate)


def _diagonal_grad(rotated_grad: torch.Tensor, rotated: torch.Tensor, n: int) -> torch.Tensor:
    """Σ over rows of (C g)_k (C z)_k for every k, from the rows' rotated spectra: (G, n)."""
    _, _, _, kappa2 = _frequency_constants(n, rotated.real.dtype, rotated.device)
    h = n // 2
    products = (torch.view_as_real(rotated_grad) * torch.view_as_real(rotated)).sum(0)
    grad = products.new_empty(*products.shape[:-2], n)
    grad[..., : h + 1] = kappa2 * products[..., 0]
    grad[..., h + 1:] = (kappa2 * products[..., 1])[..., 1: n - h].flip(-1)
    return grad


def _rfft(x: torch.Tensor) -> torch.Tensor:
    """``torch.fft.rfft`` along the last dimension, also of no rows (MKL and cuFFT refuse those):
    (..., n) -> (..., n//2+1) complex."""
    if x.numel() == 0:
        zeros = x.new_zeros(*x.shape[:-1], x.shape[-1] // 2 + 1)
        return torch.complex(zeros, zeros)
    return torch.fft.rfft(x)


def _irfft(z: torch.Tensor, n: int) -> torch.Tensor:
    """``torch.fft.irfft(z, n)`` along the last dimension, also of no rows: (..., n//2+1) -> (..., n)."""
    if z.numel() == 0:
        return z.real.new_zeros(*z.shape[:-1], n)
    return torch.fft.irfft(z, n=n)


def core_forward(v, a, pairs, bias):
    """``irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + bias`` (see :class:`FFTCore` for the shapes);
    ``pairs`` is :func:`scale_pairs` of the diagonal d."""
    n = v.shape[-1]
    rotated = _rotate_(_rfft(v * a), n)
    r = _irfft(_scale_and_unrotate_(rotated, pairs, n), n)
    return r.add_(bias) if bias is not None else r


def core_backward(grad, v, a, pairs, need_d: bool):
    """``(w, grad_d)``: the same pass on the gradient (before the ``a`` scaling) and, when asked,
    the diagonal's gradient from the gradient's spectrum and the forward's, recomputed from v."""
    n = v.shape[-1]
    rotated_grad = _rotate_(_rfft(grad), n)
    grad_d = _diagonal_grad(rotated_grad, _rotate_(_rfft(v * a), n), n) if need_d else None
    w = _irfft(_scale_and_unrotate_(rotated_grad, pairs, n), n)
    return w, grad_d


class FFTCore(torch.autograd.Function):
    """``r = irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + b`` on Makhoul-ordered rows.

    v: (M, G, n) or (M, n); a, b: (G, n) or (n,) in Makhoul order; d: same shape, in
    DCT-coefficient order.
    Saves one features-wide tensor, v; the backward is the same pass on the gradient (the middle
    ``C⁻¹ D C`` is symmetric), plus the diagonal's gradient from the gradient's spectrum and the
    forward's, recomputed from v (half the memory of keeping it).
    """

    @staticmethod
    def forward(ctx, v, a, d, bias):
        pairs = scale_pairs(d)
        ctx.save_for_backward(v, a, pairs)
        ctx.has_bias = bias is not None
        return core_forward(v, a, pairs, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, pairs = ctx.saved_tensors
        need_v, need_a, need_d, need_bias = ctx.needs_input_grad
        w, grad_d = core_backward(grad, v, a, pairs, need_d)
        return (w * a if need_v else None,
                (w * v).sum(0) if need_a else None,
                grad_d,
                grad.sum(0) if ctx.has_bias and need_bias else None)
