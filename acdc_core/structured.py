"""Comparison layers for the approximation studies: AFDF, a cascade of any square layers with
shuffles, linear ShuffleNet, low-rank, dense, and two families from later work: Monarch and
butterfly matrices.

Each is a :class:`~acdc_core.base.StructuredLinear`: ``effective_weight()`` /
``effective_bias()`` (``layer(x) == x @ W.T + b``), ``to_linear()`` and ``parameter_count()``,
which counts real numbers (a complex parameter counts twice).
Block-diagonal ACDC is ``ACDC(n, block_size=...)``; block-diagonal AFDF is
``AFDF(n, block_size=...)``. Dense, low-rank, Monarch and butterfly layers report their
multiply-adds as ``work(rows)`` (one form, ``"structured"``: the products they compute), which
the cost tables of :mod:`acdc_core.costs` count.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .acdc import INITS
from .base import StructuredLinear
from .checks import check_choice, check_divisor, check_int, check_nonnegative_real, check_positive_int
from .forms import Work
from .shuffle import SHUFFLES, shuffle_index


class AFDF(StructuredLinear):
    r"""``y = Re(F⁻¹ (d ⊙ F (a ⊙ x))) + b`` with complex diagonals a, d and F the orthonormal DFT
    (the complex layer the ACDC paper states its theory for): 4N real parameters plus N for the bias.
    The diagonals are stored as real (N, 2) parameters, real and imaginary parts (as
    ``torch.view_as_real``), so the layer converts to any real dtype like the others.

    Args:
        features: N. block_size: act block-diagonally on blocks of this size (must divide N).
        init: "normal" (a, d ~ 1 + σ(u + iv)/√2, u, v ~ N(0, 1)), "identity" or "uniform" (real
            and imaginary parts U(-1, 1)). sigma: default 1e-2. bias: default True.

    Shape: ``(*, N) -> (*, N)``, real.
    """

    def __init__(self, features: int, block_size: int | None = None, init: str = "normal",
                 sigma: float = 1e-2, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        check_choice("init", init, INITS)
        check_nonnegative_real("sigma", sigma)
        block_size = features if block_size is None else block_size
        check_divisor("block_size", block_size, features)
        super().__init__(features, features, bias, device, dtype)
        self.block_size, self.init, self.sigma = block_size, init, float(sigma)
        self.a = nn.Parameter(torch.empty(features, 2, dtype=dtype, device=device))
        self.d = nn.Parameter(torch.empty(features, 2, dtype=dtype, device=device))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for diagonal in (self.a, self.d):
                if self.init == "normal":  # 1 + σ(u + iv)/√2
                    diagonal.normal_(0, self.sigma / math.sqrt(2))[:, 0].add_(1)
                elif self.init == "identity":
                    diagonal[:, 0].fill_(1), diagonal[:, 1].zero_()
                else:
                    diagonal.uniform_(-1, 1)
        super().reset_parameters()

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        shape = (*x.shape[:-1], self.in_features // self.block_size, self.block_size)
        blocks = lambda t: torch.view_as_complex(t).reshape(*shape[-2:])  # noqa: E731
        z = _unitary_dft(torch.fft.fft, x.reshape(shape) * blocks(self.a))
        return _unitary_dft(torch.fft.ifft, z * blocks(self.d)).real.reshape(x.shape)

    def extra_repr(self) -> str:
        sigma = f", sigma={self.sigma:g}" if self.init == "normal" else ""
        return (f"features={self.in_features}, block_size={self.block_size}, init={self.init!r}"
                f"{sigma}, bias={self.bias is not None}")


def _unitary_dft(transform, z: torch.Tensor) -> torch.Tensor:
    """``transform(z, norm="ortho")`` (``torch.fft.fft`` or ``ifft``) along the last dimension; no
    rows pass through unchanged (MKL and cuFFT refuse them), keeping the autograd graph."""
    return transform(z, norm="ortho") if z.numel() else z.clone()


class Cascade(StructuredLinear):
    """Square layers applied in turn with a fixed shuffle between consecutive ones
    (``"riffle"``, a seeded ``"permutation"`` per gap, stored in the state dict, or ``"none"``).
    The layers keep their own biases; the cascade's output ``bias`` is None."""

    def __init__(self, layers, shuffle: str = "permutation", seed: int = 0):
        check_choice("shuffle", shuffle, SHUFFLES)
        check_int("seed", seed)
        layers = list(layers)
        width = _common_width(layers)
        super().__init__(width, width, bias=False)
        self.layers = nn.ModuleList(layers)
        self.shuffle, self.seed = shuffle, seed
        for i in range(len(self.layers) - 1):
            self.register_buffer(f"shuffle_{i}", shuffle_index(shuffle, width, seed + i))

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            if i:
                x = x[..., getattr(self, f"shuffle_{i - 1}")]
            x = layer(x)
        return x

    def extra_repr(self) -> str:
        return f"shuffle={self.shuffle!r}, seed={self.seed}"


def _common_width(layers: list) -> int:
    """The width N of square layers that all map N features to N; refuse any other list."""
    if not layers:
        raise ValueError("layers must hold at least one layer, got none")
    width = getattr(layers[0], "in_features", None)
    for i, layer in enumerate(layers):
        widths = (getattr(layer, "in_features", None), getattr(layer, "out_features", None))
        if width is None or widths != (width, width):
            raise ValueError(f"layers must all have in_features == out_features == layer 0's "
                             f"in_features ({width}), got {widths} for layer {i}")
    return width


class GroupedLinear(StructuredLinear):
    """A block-diagonal dense layer: ``groups`` independent Linear(N/groups, N/groups)."""

    def __init__(self, features: int, groups: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        check_divisor("groups", groups, features)
        super().__init__(features, features, bias, device, dtype)
        self.groups = groups
        size = features // groups
        self.weight = nn.Parameter(torch.empty(groups, size, size, device=device, dtype=dtype))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features // self.groups)  # nn.Linear's rule, per group
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        blocks = x.reshape(*x.shape[:-1], self.groups, 1, self.in_features // self.groups)
        return (blocks @ self.weight.transpose(-1, -2)).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"features={self.in_features}, groups={self.groups}, bias={self.bias is not None}"


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


class LowRank(StructuredLinear):
    """``y = U Vᵀ x + b`` with U, V of shape (N, rank): 2·N·rank parameters plus N for the bias."""

    def __init__(self, features: int, rank: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        check_positive_int("rank", rank)
        super().__init__(features, features, bias, device, dtype)
        self.rank = rank
        self.u = nn.Parameter(torch.empty(features, rank, device=device, dtype=dtype))
        self.v = nn.Parameter(torch.empty(features, rank, device=device, dtype=dtype))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():  # U Vᵀ then has entries of variance 1/N, as Glorot's dense matrix
            self.u.normal_(0, self.rank ** -0.5 * self.in_features ** -0.25)
            self.v.normal_(0, self.in_features ** -0.25)
        super().reset_parameters()

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.v) @ self.u.T

    def work(self, rows: float) -> dict[str, Work]:
        """The multiply-adds of a forward call on ``rows`` rows: ``2·N·rank`` per row."""
        return {"structured": Work(matmul=rows * 2 * self.in_features * self.rank)}

    def extra_repr(self) -> str:
        return f"features={self.in_features}, rank={self.rank}, bias={self.bias is not None}"


class Dense(StructuredLinear):
    """A dense N×N layer, ``y = W x + b``, as ``nn.Linear(N, N)`` (the same parameters, names and
    initialisation) with the structured layers' methods."""

    def __init__(self, features: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        super().__init__(features, features, bias, device, dtype)
        self.weight = nn.Parameter(torch.empty(features, features, device=device, dtype=dtype))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.Linear.reset_parameters(self)  # reads only weight, bias and in_features

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)

    def work(self, rows: float) -> dict[str, Work]:
        """The multiply-adds of a forward call on ``rows`` rows: ``N²`` per row."""
        return {"structured": Work(matmul=rows * self.in_features ** 2)}

    def extra_repr(self) -> str:
        return f"features={self.in_features}, bias={self.bias is not None}"


class Monarch(StructuredLinear):
    """A Monarch matrix (Dao et al., ICML 2022): ``y = Pᵀ L P R x + b`` with N = b·s, R
    block-diagonal with b dense s×s blocks, P the transpose of the features laid out as a b×s grid,
    and L block-diagonal with s dense b×b blocks: N·(b + s) parameters plus N for the bias
    (2·N^1.5 at b = s = √N). Each block is drawn as ``nn.Linear``'s weight of its size.

    Args: features: N. blocks: b, dividing N. bias: default True.
    Shape: ``(*, N) -> (*, N)``.
    """

    def __init__(self, features: int, blocks: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        check_divisor("blocks", blocks, features)
        super().__init__(features, features, bias, device, dtype)
        self.blocks, self.block_size = blocks, features // blocks
        b, s = self.blocks, self.block_size
        self.right = nn.Parameter(torch.empty(b, s, s, device=device, dtype=dtype))
        self.left = nn.Parameter(torch.empty(s, b, b, device=device, dtype=dtype))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for factor in (self.right, self.left):
                bound = factor.shape[-1] ** -0.5
                factor.uniform_(-bound, bound)
        super().reset_parameters()

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        grid = x.reshape(*x.shape[:-1], self.blocks, self.block_size)
        grid = torch.einsum("...bi,bji->...bj", grid, self.right)  # R: each row of the grid
        grid = torch.einsum("...bs,scb->...cs", grid, self.left)  # P, L, Pᵀ: each column
        return grid.reshape(x.shape)

    def work(self, rows: float) -> dict[str, Work]:
        """The multiply-adds of a forward call on ``rows`` rows: ``N·(b + s)`` per row."""
        return {"structured": Work(matmul=rows * self.in_features * (self.blocks + self.block_size))}

    def extra_repr(self) -> str:
        return f"features={self.in_features}, blocks={self.blocks}, bias={self.bias is not None}"


class Butterfly(StructuredLinear):
    """A butterfly matrix: the product of log₂N factors; factor k (k = 0, 1, ...) mixes each pair
    of features 2^k apart within blocks of 2^(k+1) by its own 2×2 matrix, as the stages of a
    radix-2 FFT do: 2·N·log₂N parameters plus N for the bias. Each 2×2 matrix starts as a rotation
    by a uniformly random angle, so the product starts orthogonal.

    Args: features: N, a power of two. bias: default True.
    Shape: ``(*, N) -> (*, N)``.
    """

    def __init__(self, features: int, bias: bool = True, device=None, dtype=None):
        check_positive_int("features", features)
        if features & (features - 1) or features < 2:
            raise ValueError(f"features must be a power of two of at least 2, got {features}")
        super().__init__(features, features, bias, device, dtype)
        self.stages = features.bit_length() - 1
        self.twiddles = nn.Parameter(torch.empty(self.stages, features // 2, 2, 2, device=device, dtype=dtype))
        self._place_bias_here()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            angle = torch.rand(self.twiddles.shape[:2], device=self.twiddles.device, dtype=self.twiddles.dtype)
            cos, sin = torch.cos(2 * math.pi * angle), torch.sin(2 * math.pi * angle)
            self.twiddles.copy_(torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2))
        super().reset_parameters()

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        n = self.in_features
        for k in range(self.stages):
            stride = 2 ** k
            pairs = x.reshape(*x.shape[:-1], n // (2 * stride), 2, stride)  # (..., block, which, offset)
            twiddle = self.twiddles[k].reshape(n // (2 * stride), stride, 2, 2)  # (block, offset, out, in)
            x = torch.einsum("...gjh,ghij->...gih", pairs, twiddle).reshape(x.shape)
        return x

    def work(self, rows: float) -> dict[str, Work]:
        """The multiply-adds of a forward call on ``rows`` rows: four per pair and factor,
        ``2·N·log₂N`` per row."""
        return {"structured": Work(matmul=rows * 2 * self.in_features * self.stages)}

    def extra_repr(self) -> str:
        return f"features={self.in_features}, bias={self.bias is not None}"
