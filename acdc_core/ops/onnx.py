"""The ``acdc::`` forward operators as ONNX can run them.

``torch.onnx.export(model, args, dynamo=True)`` decomposes every operator it has no translation
for with the decompositions in ``torch._decomp``'s table; ``torch.compile`` and ``torch.export``
do not use that table, and keep the operators whole. Registered here:

- the fused ACDC pass through ONNX's DFT: a real FFT, one real 2×2 step per frequency (ONNX has
  no complex numbers), an inverse FFT. ``benchmarks/onnx_routes.py`` set it against dense
  products with the layer's DCT matrix: the products were faster for small widths but, in
  onnxruntime's float32 matrix products, off by more than 1e-4 through a 12-layer stack, and
  their matrices take O(N²) memory per layer;
- a DCT plan as ``x @ M``, M its dense matrix.

Every constant (indices, twiddles, matrices) is built in the graph from index ranges, so no tensor
of ours is stored in the model; onnxruntime folds them once, when a session starts.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor
from torch._decomp import register_decomposition

_SHIFTS = {1: (0.0, 0.0), 2: (0.0, 0.5), 3: (0.5, 0.0), 4: (0.5, 0.5)}  # (k, j) offsets


def _ends(n: int, values, like: Tensor) -> Tensor:
    """The vector ``[first, middle, ..., middle, last]`` (n,) of ``values`` = (first, middle, last)."""
    j = torch.arange(n, device=like.device)
    first, middle, last = (float(v) for v in values)
    inner = torch.full((n,), middle, dtype=torch.float64, device=like.device)
    return torch.where(j == 0, first, torch.where(j == n - 1, last, inner))


def plan_matrix(kind: int, n: int, scales, like: Tensor) -> Tensor:
    """(n, n) M with ``x @ M`` the plan ``(kind, n, scales[:3], scales[3:])`` on rows x, in
    ``like``'s dtype: ``M[j, k] = pre_j w_j cos(π (k + s_k)(j + s_j) / L) post_k``, scipy's
    unnormalised DCT of that type (L = n − 1 for type 1, else n; w_j = 2 but at type 1's ends and
    type 3's first entry, where it is 1)."""
    shift_k, shift_j = _SHIFTS[kind]
    length = n - 1 if kind == 1 else n
    index = torch.arange(n, dtype=torch.float64, device=like.device)
    angle = math.pi * (index[None, :] + shift_k) * (index[:, None] + shift_j) / length
    ones = {1: (1.0, 2.0, 1.0), 3: (1.0, 2.0, 2.0)}.get(kind, (2.0, 2.0, 2.0))
    weight = _ends(n, ones, like) * _ends(n, scales[:3], like)
    return (weight[:, None] * torch.cos(angle) * _ends(n, scales[3:], like)[None, :]).to(like.dtype)


def makhoul_index(n: int, device) -> Tensor:
    """The gather index of Makhoul's order (feature 2i at position i of the first half, feature
    2(n−1−i)+1 in the second), from index ranges."""
    i = torch.arange(n, device=device)
    return torch.where(i < (n + 1) // 2, 2 * i, 2 * (n - 1 - i) + 1)


def step(d: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per bin k of the real FFT of Makhoul-ordered rows, the symmetric 2×2 real matrix
    ``[[p, q], [q, r]]`` that ``C⁻¹ D C`` applies to (Re, Im): with ``W = e^{−iπk/2n}``,
    ``α = (d_k + d_{n−k})/2`` and ``β = conj(W)² (d_k − d_{n−k})/2``, ``p = α + Re β``,
    ``q = Im β``, ``r = α − Re β`` (the torch.fft path's rotate, scale and rotate back, folded)."""
    n = d.shape[-1]
    k = torch.arange(n // 2 + 1, device=d.device)
    first, second = d[..., : n // 2 + 1], d[..., (n - k) % n]
    alpha, half = (first + second) / 2, (first - second) / 2
    angle = math.pi * k.to(d.dtype) / n  # conj(W)² = e^{iπk/n}
    beta_re, beta_im = torch.cos(angle) * half, torch.sin(angle) * half
    return alpha + beta_re, beta_im, alpha - beta_re


@register_decomposition(torch.ops.acdc.dct_plan.default)
def _dct_plan(x: Tensor, kind: int, scales: list[float]) -> Tensor:
    return x @ plan_matrix(kind, x.shape[-1], scales, x)


@register_decomposition(torch.ops.acdc.acdc_core.default)
def _core(v: Tensor, a: Tensor, d: Tensor, bias: Tensor | None, natural: bool) -> Tensor:
    n = v.shape[-1]
    index = makhoul_index(n, v.device)
    u = (v * a)[..., index] if natural else v * a
    s = torch.view_as_real(torch.fft.rfft(u))
    p, q, r = step(d)
    re, im = s[..., 0], s[..., 1]
    y = torch.stack([p * re + q * im, q * re + r * im], -1)
    out = torch.fft.irfft(torch.view_as_complex(y), n=n)
    if natural:
        j = torch.arange(n, device=v.device)
        out = out[..., torch.where(j % 2 == 0, j // 2, n - 1 - j // 2)]  # back to natural order
    return out if bias is None else out + bias


@register_decomposition(torch.ops.acdc.acdc_stack.default)
def _stack(v, a, d, bias, steps, inverses, relu: bool) -> Tensor:
    outputs, x = [], v
    for layer in range(a.shape[0]):
        outputs.append(_core(x, a[layer], d[layer], None if bias is None else bias[layer], False))
        if layer < a.shape[0] - 1:
            x = outputs[-1][:, steps[layer]]
            x = x.clamp_min(0) if relu else x
    return torch.stack(outputs)
