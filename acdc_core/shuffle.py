"""Feature shuffles between stacked layers, as gather indices: ``shuffled = x[..., index]``.

Composition of gathers: applying ``first`` then ``second`` is one gather with ``first[second]``.
"""
from __future__ import annotations

import torch

SHUFFLES = ("riffle", "unriffle", "permutation", "none")


def riffle(n: int) -> torch.Tensor:
    """ShuffleNet's two-group channel shuffle: the two halves interleaved,
    ``[x0, x_m, x1, x_{m+1}, ...]`` with ``m = ceil(n/2)`` (for odd n the first half is longer).
    For n = 8 it gathers ``[0, 4, 1, 5, 2, 6, 3, 7]``."""
    m = (n + 1) // 2
    index = torch.empty(n, dtype=torch.long)
    index[0::2] = torch.arange(m)
    index[1::2] = torch.arange(m, n)
    return index


def unriffle(n: int) -> torch.Tensor:
    """The riffle's inverse: the even features, then the odd ones, ``[x0, x2, x4, ..., x1, x3, ...]``
    (for n = 8 it gathers ``[0, 2, 4, 6, 1, 3, 5, 7]``). The log's code shuffled its linear
    stacks this way; its convolutional stacks gathered as :func:`riffle`."""
    return torch.cat([torch.arange(0, n, 2), torch.arange(1, n, 2)])


def random_permutation(n: int, seed: int) -> torch.Tensor:
    """A fixed random permutation of ``n`` features, reproducible from ``seed``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def shuffle_index(kind: str, n: int, seed: int = 0) -> torch.Tensor:
    """The gather index of a shuffle named ``kind`` ("riffle", "unriffle", "permutation" or "none")."""
    if kind == "riffle":
        return riffle(n)
    if kind == "unriffle":
        return unriffle(n)
    if kind == "permutation":
        return random_permutation(n, seed)
    if kind == "none":
        return torch.arange(n)
    raise ValueError(f"shuffle must be one of {', '.join(map(repr, SHUFFLES))}, got {kind!r}")


def inverse(index: torch.Tensor) -> torch.Tensor:
    """The gather index that undoes ``index``: ``x[..., index][..., inverse(index)] == x``."""
    result = torch.empty_like(index)
    result[index] = torch.arange(index.numel(), device=index.device)
    return result


class _Permute(torch.autograd.Function):
    """Gather along the last dimension by a permutation; the backward gathers by its inverse
    (a gather, not the scatter-add autograd would use for a general index)."""
    generate_vmap_rule = True

    @staticmethod
    def forward(x, index, undo):
        return torch.gather(x, -1, index.expand(*x.shape[:-1], index.numel()))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, grad):
        (undo,) = ctx.saved_tensors
        return torch.gather(grad, -1, undo.expand(*grad.shape[:-1], undo.numel())), None, None


def permute(x: torch.Tensor, index: torch.Tensor, undo: torch.Tensor) -> torch.Tensor:
    """``x[..., index]`` for a permutation ``index`` whose inverse is ``undo``."""
    return _Permute.apply(x, index, undo)
