"""Reference implementations that the fast paths are measured against (never used by the layers).

``plain_dct`` / ``plain_idct`` are the usual recipe for an orthonormal DCT-II/III in PyTorch:
Makhoul's reordering, a complex FFT, a twiddle, each step a separate autograd-tracked tensor
operation. ``PlainACDC`` is an ACDC layer built on them with plain autograd (the speed study's
"plain autograd over torch.fft" baseline), and ``plain_stack`` a riffle stack of those.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ...shuffle import riffle


def _twiddle(n: int, sign: float, like: torch.Tensor) -> torch.Tensor:
    k = torch.arange(n, device=like.device, dtype=like.dtype)
    return torch.exp(torch.complex(torch.zeros_like(k), sign * math.pi * k / (2 * n)))


def plain_dct(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal DCT-II along the last dimension (even length), the usual recipe."""
    n = x.shape[-1]
    v = torch.cat([x[..., ::2], x[..., 1::2].flip(-1)], -1)
    y = 2 * (torch.fft.fft(v) * _twiddle(n, -1.0, x)).real
    scale = torch.full((n,), math.sqrt(1 / (2 * n)), dtype=x.dtype, device=x.device)
    scale[0] = math.sqrt(1 / (4 * n))
    return y * scale


def plain_idct(y: torch.Tensor) -> torch.Tensor:
    """Orthonormal DCT-III along the last dimension (even length): the inverse of plain_dct."""
    n = y.shape[-1]
    scale = torch.full((n,), math.sqrt(2 * n), dtype=y.dtype, device=y.device)
    scale[0] = math.sqrt(4 * n)
    c = y * scale / 2
    mirrored = torch.cat([torch.zeros_like(c[..., :1]), c.flip(-1)[..., :-1]], -1)
    v = torch.fft.ifft(torch.complex(c, -mirrored) * _twiddle(n, 1.0, y)).real
    x = torch.empty_like(v)
    x[..., ::2], x[..., 1::2] = v[..., : n // 2], v[..., n // 2:].flip(-1)
    return x


class PlainACDC(nn.Module):
    """``y = idct(d ⊙ dct(a ⊙ x)) + b`` through plain_dct/plain_idct and plain autograd."""

    def __init__(self, features: int, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.a = nn.Parameter(torch.empty(features, **factory).normal_(1.0, 1e-2))
        self.d = nn.Parameter(torch.empty(features, **factory).normal_(1.0, 1e-2))
        self.bias = nn.Parameter(torch.zeros(features, **factory))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return plain_idct(self.d * plain_dct(self.a * x)) + self.bias


class PlainStack(nn.Module):
    """``n_layers`` PlainACDC layers with a riffle shuffle (plain indexing) between them."""

    def __init__(self, features: int, n_layers: int, device=None, dtype=None):
        super().__init__()
        self.layers = nn.ModuleList(PlainACDC(features, device, dtype) for _ in range(n_layers))
        self.register_buffer("shuffle", riffle(features).to(device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x if i == 0 else x[..., self.shuffle])
        return x
