"""The fused ACDC pass on torch.fft, the reference implementation of the ``acdc::`` operators:
``r = C⁻¹ D C (a ⊙ v) + b`` on rows in Makhoul's order.

In Makhoul's ordering of the features (see :func:`acdc_core.dct.makhoul_order`) the middle
``C⁻¹ D C`` is one real FFT, one elementwise step per frequency and one inverse real FFT: the
orthonormal scalings cancel and the DCT's twiddles fold into the step. The backward is the same
kind of pass on the gradient (the middle map is symmetric), needing only the forward's input.
"""
from __future__ import annotations

import functools
import math

import torch

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


def to_makhoul(x, scale=None):
    """``x``'s features in Makhoul's order (evens ascending, then odds descending), times
    ``scale`` (natural order, broadcast over the rows) in the same pass: (..., n) -> (..., n)."""
    n = x.shape[-1]
    evens = n - n // 2
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    odds = x[..., 1::2].flip(-1)
    if scale is None:
        out[..., :evens] = x[..., 0::2]
        out[..., evens:] = odds
    else:
        torch.mul(x[..., 0::2], scale[..., 0::2], out=out[..., :evens])
        torch.mul(odds, scale[..., 1::2].flip(-1), out=out[..., evens:])
    return out


def from_makhoul(r, bias=None, scale=None):
    """Makhoul-ordered rows ``r`` back in natural order, times ``scale`` or plus ``bias`` (natural
    order) in the same pass: (..., n) -> (..., n)."""
    n = r.shape[-1]
    evens = n - n // 2
    out = torch.empty(r.shape, dtype=r.dtype, device=r.device)
    pieces = (r[..., :evens], r[..., evens:].flip(-1))
    for piece, place, start in zip(pieces, (out[..., 0::2], out[..., 1::2]), (0, 1)):
        if bias is not None:
            torch.add(piece, bias[..., start::2], out=place)
        elif scale is not None:
            torch.mul(piece, scale[..., start::2], out=place)
        else:
            place.copy_(piece)
    return out


def _middle(u, pairs):
    """``C⁻¹ D C`` of Makhoul-ordered rows ``u`` (``pairs``: :func:`scale_pairs` of D), and the
    rows' rotated spectrum."""
    n = u.shape[-1]
    rotated = _rotate_(_rfft(u), n)
    return _irfft(_scale_and_unrotate_(rotated, pairs, n), n)


def core_forward(v, a, pairs, bias, natural: bool = False):
    """``irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + bias`` on Makhoul-ordered rows v (M, G, n) or
    (M, n); a, bias (G, n) or (n,) in Makhoul order; ``pairs`` is :func:`scale_pairs` of the
    diagonal d (same shape as a, in DCT-coefficient order). With ``natural``, v, a, bias and the
    result are in natural order, reordered inside the first and last passes."""
    if natural:
        return from_makhoul(_middle(to_makhoul(v, a), pairs), bias)
    r = _middle(v * a, pairs)
    return r.add_(bias) if bias is not None else r


def core_backward(grad, v, a, d, natural: bool = False):
    """``(grad_v, grad_a, grad_d)`` of :func:`core_forward` (without the bias's, ``grad`` summed
    over rows): the same pass on the gradient, and the diagonal's gradient from the gradient's
    spectrum and the forward's, recomputed from v (half the memory of keeping it)."""
    n = v.shape[-1]
    rotated_grad = _rotate_(_rfft(to_makhoul(grad) if natural else grad), n)
    u = to_makhoul(v, a) if natural else v * a
    grad_d = _diagonal_grad(rotated_grad, _rotate_(_rfft(u), n), n)
    w = _irfft(_scale_and_unrotate_(rotated_grad, scale_pairs(d), n), n)
    if natural:
        w = from_makhoul(w)
    return w * a, (w * v).sum(0), grad_d


def stack_forward(v, a, d, bias, steps, relu: bool):
    """K fused layers on Makhoul-ordered rows ``v`` (M, n): ``a``, ``d``, ``bias`` (K, n);
    ``steps`` (K-1, n) the gathers between layers, ReLU after each gather when ``relu``. Every
    layer's output, (K, M, n)."""
    outputs, x = [], v
    for layer in range(a.shape[0]):
        outputs.append(core_forward(x, a[layer], scale_pairs(d[layer]),
                                    None if bias is None else bias[layer]))
        if layer < a.shape[0] - 1:
            x = outputs[-1][:, steps[layer]]
            x = x.clamp_min(0) if relu else x
    return torch.stack(outputs)
