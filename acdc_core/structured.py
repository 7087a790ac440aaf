"""Comparison layers for the approximation studies: AFDF, a cascade of any square layers with
shuffles, linear ShuffleNet, low-rank, and dense.

Each has ``effective_weight()`` / ``effective_bias()`` (``layer(x) == x @ W.T + b``) and
``parameter_count()``, which counts real numbers (a complex parameter counts twice).
Block-diagonal ACDC is ``ACDC(n, block_size=...)``; block-diagonal AFDF is
``AFDF(n, block_size=...)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .acdc import INITS
from .checks import (check_bool, check_choice, check_features, check_int, check_nonnegative_real,
                     check_positive_int)
from .escape import DenseEscape, parameter_count  # noqa: F401  (re-exported)
from .shuffle import SHUFFLES, shuffle_index


class AFDF(DenseEscape, nn.Module):
    r"""``y = Re(F⁻¹ (d ⊙ F (a ⊙ x))) + b`` with complex diagonals a, d and F the orthonormal DFT
    (the complex layer the ACDC paper states its theory for): 4N real parameters plus N for the bias.

    Args:
        features: N. block_size: act block-diagonally on blocks of this size (must divide N).
        init: "normal" (a, d ~ 1 + σ(u + iv)/√2, u, v ~ N(0, 1)), "identity" or "uniform" (real
            and imaginary parts U(-1, 1)). sigma: default 1e-2. bias: default True.

    Shape: ``(*, N) -> (*, N)``, real.
    """

    def __init__(self, features: int, block_size: int | None = None, init: str = "normal",
                 sigma: float = 1e-2, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_positive_int("features", features)
        check_choice("init", init, INITS)
        check_nonnegative_real("sigma", sigma)
        check_bool("bias", bias)
        block_size = features if block_size is None else block_size
        check_positive_int("block_size", block_size)
        if features % block_size:
            raise ValueError(f"block_size must divide features={features}, got {block_size}")
        real = dtype or torch.get_default_dtype()
        complex_dtype = torch.complex128 if real == torch.float64 else torch.complex64
        self.in_features = self.out_features = features
        self.block_size, self.init, self.sigma = block_size, init, sigma
        self.a = nn.Parameter(torch.empty(features, dtype=complex_dtype, device=device))
        self.d = nn.Parameter(torch.empty(features, dtype=complex_dtype, device=device))
        self.bias = nn.Parameter(torch.empty(features, dtype=real, device=device)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for diagonal in (self.a, self.d):
                if self.init == "normal":
                    diagonal.copy_(1 + self.sigma * torch.randn_like(diagonal))
                elif self.init == "identity":
                    diagonal.fill_(1)
                else:
                    diagonal.real.uniform_(-1, 1), diagonal.imag.uniform_(-1, 1)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(f"AFDF({self.in_features})", x, self.in_features)
        shape = (*x.shape[:-1], self.in_features // self.block_size, self.block_size)
        blocks = lambda t: t.reshape(*t.shape[:-1], *shape[-2:])  # noqa: E731
        z = _unitary_dft(torch.fft.fft, blocks(x) * blocks(self.a))
        y = _unitary_dft(torch.fft.ifft, z * blocks(self.d)).real.reshape(x.shape)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"features={self.in_features}, block_size={self.block_size}, init={self.init!r}, "
                f"bias={self.bias is not None}")


def _unitary_dft(transform, z: torch.Tensor) -> torch.Tensor:
    """``transform(z, norm="ortho")`` (``torch.fft.fft`` or ``ifft``) along the last dimension; no
    rows pass through unchanged (MKL and cuFFT refuse them), keeping the autograd graph."""
    return transform(z, norm="ortho") if z.numel() else z.clone()


class Cascade(DenseEscape, nn.Module):
    """Square layers applied in turn with a fixed shuffle between consecutive ones
    (``"riffle"``, a seeded ``"permutation"`` per gap, stored in the state dict, or ``"none"``)."""

    def __init__(self, layers, shuffle: str = "permutation", seed: int = 0):
        super().__init__()
        check_choice("shuffle", shuffle, SHUFFLES)
        check_int("seed", seed)
        self.layers = nn.ModuleList(layers)
        if not self.layers:
            raise ValueError("layers must hold at least one layer, got none")
        width = getattr(self.layers[0], "in_features", None)
        for i, layer in enumerate(self.layers):
            widths = (getattr(layer, "in_features", None), getattr(layer, "out_features", None))
            if width is None or widths != (width, width):
                raise ValueError(f"layers must all have in_features == out_features == layer 0's "
                                 f"in_features ({width}), got {widths} for layer {i}")
        self.in_features = self.out_features = width
        self.shuffle = shuffle
        for i in range(len(self.layers) - 1):
            self.register_buffer(f"shuffle_{i}", shuffle_index(shuffle, self.in_features, seed + i))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            if i:
                x = x[..., getattr(self, f"shuffle_{i - 1}")]
            x = layer(x)
        return x

    def extra_repr(self) -> str:
        return f"{len(self.layers)} layers, shuffle={self.shuffle!r}"


class GroupedLinear(DenseEscape, nn.Module):
    """A block-diagonal dense layer: ``groups`` independent Linear(N/groups, N/groups)."""

    def __init__(self, features: int, groups: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_positive_int("features", features)
        check_positive_int("groups", groups)
        check_bool("bias", bias)
        if features % groups:
            raise ValueError(f"groups must divide features={features}, got {groups}")
        self.in_features = self.out_features = features
        self.groups = groups
        size = features // groups
        self.weight = nn.Parameter(torch.empty(groups, size, size, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(features, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features // self.groups)  # nn.Linear's rule, per group
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(f"GroupedLinear({self.in_features})", x, self.in_features)
        blocks = x.reshape(*x.shape[:-1], self.groups, 1, self.in_features // self.groups)
        y = (blocks @ self.weight.transpose(-1, -2)).reshape(x.shape)
        return y if self.bias is None else y + self.bias


def linear_shufflenet(features: int, n_layers: int, groups: int, bias: bool = True,
                      device=None, dtype=None) -> Cascade:
    """Linear ShuffleNet: ``n_layers`` grouped linear layers with ShuffleNet's channel shuffle
    (the ``groups``-way interleave) between them."""
    check_positive_int("n_layers", n_layers)
    layers = [GroupedLinear(features, groups, bias, device, dtype) for _ in range(n_layers)]
    cascade = Cascade(layers, shuffle="none")
    index = torch.arange(features).reshape(groups, -1).T.flatten()  # channel shuffle, g groups
    for i in range(n_layers - 1):
        getattr(cascade, f"shuffle_{i}").copy_(index)
    cascade.shuffle = f"channel shuffle ({groups} groups)"
    return cascade


class LowRank(DenseEscape, nn.Module):
    """``y = U Vᵀ x + b`` with U, V of shape (N, rank): 2·N·rank parameters plus N for the bias."""

    def __init__(self, features: int, rank: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        check_positive_int("features", features)
        check_positive_int("rank", rank)
        check_bool("bias", bias)
        self.in_features = self.out_features = features
        self.rank = rank
        self.u = nn.Parameter(torch.empty(features, rank, device=device, dtype=dtype))
        self.v = nn.Parameter(torch.empty(features, rank, device=device, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(features, device=device, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():  # U Vᵀ then has entries of variance 1/N, as Glorot's dense matrix
            self.u.normal_(0, self.rank ** -0.5 * self.in_features ** -0.25)
            self.v.normal_(0, self.in_features ** -0.25)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(f"LowRank({self.in_features})", x, self.in_features)
        y = (x @ self.v) @ self.u.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"features={self.in_features}, rank={self.rank}, bias={self.bias is not None}"


class Dense(DenseEscape, nn.Linear):
    """nn.Linear(N, N) with the same escape-hatch methods as the structured layers."""

    def __init__(self, features: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        check_bool("bias", bias)
        super().__init__(features, features, bias, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(f"Dense({self.in_features})", x, self.in_features)
        return super().forward(x)
