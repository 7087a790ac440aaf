"""Comparison layers against explicit dense products, honest parameter counts, and optimisers."""
import math

import numpy as np
import pytest
import scipy.optimize
import torch

from acdc_core import ACDC, StackedACDC
from acdc_core.training.optimise import ScipyBridge, fit_scipy, fit_torch, mse
from acdc_core.base import parameter_count
from acdc_core.structured import AFDF, Butterfly, Cascade, Dense, GroupedLinear, LowRank, Monarch, linear_shufflenet
from conftest import gather_matrix, randomise

F64 = torch.float64


def dft_matrix(n):
    """Orthonormal DFT as an explicit complex matrix."""
    k = torch.arange(n, dtype=F64)
    return torch.exp(-2j * math.pi * torch.outer(k, k) / n) / math.sqrt(n)


@pytest.mark.parametrize("n, block", [(1, None), (5, None), (8, None), (8, 4), (12, 3)])
def test_afdf_matches_dense_product(n, block):
    layer = randomise(AFDF(n, block_size=block, dtype=F64))
    size = block or n
    F = dft_matrix(size)
    blocks = []
    for start in range(0, n, size):
        part = slice(start, start + size)
        a, d = torch.view_as_complex(layer.a)[part], torch.view_as_complex(layer.d)[part]
        blocks.append(F.conj().T @ torch.diag(d) @ F @ torch.diag(a))
    M = torch.block_diag(*blocks)
    x = torch.randn(4, n, dtype=F64)
    expected = (x.to(M.dtype) @ M.T).real + layer.bias
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.effective_weight(), M.real)
    assert parameter_count(layer) == 5 * n  # a and d complex (2N each) and a real bias


def test_afdf_identity_init_is_identity():
    x = torch.randn(3, 6, dtype=F64)
    torch.testing.assert_close(AFDF(6, init="identity", dtype=F64)(x), x)


def test_cascade_and_linear_shufflenet_match_dense_products():
    layers = [randomise(ACDC(6, dtype=F64), i) for i in range(3)]
    cascade = Cascade(layers, shuffle="permutation", seed=4)
    M, c = torch.eye(6, dtype=F64), torch.zeros(6, dtype=F64)
    for i, layer in enumerate(layers):
        if i:
            S = gather_matrix(getattr(cascade, f"shuffle_{i - 1}"))
            M, c = S @ M, S @ c
        W, b = layer.effective_weight(), layer.effective_bias()
        M, c = W @ M, W @ c + b
    x = torch.randn(5, 6, dtype=F64)
    torch.testing.assert_close(cascade(x), x @ M.T + c)
    torch.testing.assert_close(cascade.effective_weight(), M)

    net = randomise(linear_shufflenet(8, 3, groups=2, dtype=F64))
    assert parameter_count(net) == 3 * (2 * 4 * 4 + 8)
    first = net.layers[0]
    torch.testing.assert_close(first.effective_weight(), torch.block_diag(*first.weight))
    assert torch.equal(net.shuffle_0, torch.tensor([0, 4, 1, 5, 2, 6, 3, 7]))
    x = torch.randn(2, 8, dtype=F64)
    torch.testing.assert_close(net(x), x @ net.effective_weight().T + net.effective_bias())


def test_low_rank_and_dense():
    low = randomise(LowRank(7, 2, dtype=F64))
    torch.testing.assert_close(low.effective_weight(), low.u @ low.v.T)
    assert parameter_count(low) == 2 * 7 * 2 + 7
    assert torch.linalg.matrix_rank(low.effective_weight()) == 2
    dense = Dense(5, dtype=F64)
    torch.testing.assert_close(dense.effective_weight(), dense.weight)
    assert parameter_count(dense) == 30
    assert abs(LowRank(400, 400).effective_weight().std().item() - 400 ** -0.5) < 5e-3


@pytest.mark.parametrize("make, words", [
    (lambda: AFDF(6, block_size=4), "block_size must divide features=6, got 4"),
    (lambda: AFDF(6, init="zeros"), "init must be one of"),
    (lambda: GroupedLinear(6, 4), "groups must divide features=6, got 4"),
    (lambda: LowRank(6, 0), "rank must be a positive int"),
    (lambda: Monarch(6, 4), "blocks must divide features=6, got 4"),
    (lambda: Butterfly(12), "features must be a power of two of at least 2, got 12"),
    (lambda: fit_torch(Dense(2), lambda m: m.weight.sum(), optimiser="rmsprop"), "optimiser must be one of"),
])
def test_bad_options_are_refused(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_scipy_bridge_reaches_the_least_squares_minimum():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 4, generator=gen, dtype=F64)
    y = x @ torch.randn(4, 4, generator=gen, dtype=F64) + 0.1 * torch.randn(60, 4, generator=gen, dtype=F64)
    model = Dense(4, dtype=F64)
    losses, result = fit_scipy(model, mse(x, y), method="BFGS", maxiter=200)
    ones = torch.cat([x, torch.ones(60, 1, dtype=F64)], 1)
    solution = torch.linalg.lstsq(ones, y).solution
    best = torch.mean((ones @ solution - y) ** 2).item()
    assert result.success and abs(losses[-1] - best) <= 1e-6 * best
    torch.testing.assert_close(model.weight.T, solution[:4], atol=1e-4, rtol=1e-4)
    assert losses[0] > losses[-1]


def test_scipy_bridge_gradient_matches_finite_differences():
    x, y = torch.randn(20, 8, dtype=F64), torch.randn(20, 8, dtype=F64)
    for model in (StackedACDC(8, 8, 3, shuffle="permutation", relu=True, dtype=F64),
                  AFDF(8, dtype=F64)):
        randomise(model)
        bridge = ScipyBridge(model, mse(x, y))
        error = scipy.optimize.check_grad(lambda v: bridge(v)[0], lambda v: bridge(v)[1], bridge.x0)
        assert error < 1e-6 * max(1.0, np.linalg.norm(bridge(bridge.x0)[1]))
    with pytest.raises(TypeError, match="float64"):
        ScipyBridge(Dense(3), mse(x[:, :3], y[:, :3]))


def test_torch_optimisers_reduce_the_loss():
    x, y = torch.randn(64, 6), torch.randn(64, 6)
    for optimiser, lr in (("sgd", 0.1), ("adam", 1e-2)):
        model = StackedACDC(6, 6, 4)
        losses = fit_torch(model, mse(x, y), optimiser, lr=lr, momentum=0.9, steps=50)
        assert len(losses) == 51 and losses[-1] < losses[0]


@pytest.mark.parametrize("n, blocks", [(16, 4), (12, 3), (8, 1), (6, 6)])
def test_monarch_matches_its_dense_product(n, blocks):
    layer = randomise(Monarch(n, blocks, dtype=F64))
    s = n // blocks
    P = gather_matrix(torch.arange(n).reshape(blocks, s).T.flatten())  # the b×s grid, transposed
    M = P.T @ torch.block_diag(*layer.left) @ P @ torch.block_diag(*layer.right)
    x = torch.randn(5, n, dtype=F64)
    torch.testing.assert_close(layer(x), x @ M.T + layer.bias)
    torch.testing.assert_close(layer.effective_weight(), M)
    assert parameter_count(layer) == n * (blocks + s) + n
    assert torch.autograd.gradcheck(layer, torch.randn(2, n, dtype=F64, requires_grad=True))


def butterfly_factor(twiddles, n, k):
    """Factor k of a butterfly as an explicit matrix, entry by entry."""
    stride = 2 ** k
    t = twiddles[k].reshape(n // (2 * stride), stride, 2, 2)
    B = torch.zeros(n, n, dtype=F64)
    for g in range(n // (2 * stride)):
        for h in range(stride):
            pair = (g * 2 * stride + h, g * 2 * stride + h + stride)
            for out in range(2):
                for into in range(2):
                    B[pair[out], pair[into]] = t[g, h, out, into]
    return B


@pytest.mark.parametrize("n", [2, 8, 16])
def test_butterfly_matches_its_dense_product(n):
    layer = randomise(Butterfly(n, dtype=F64))
    M = torch.eye(n, dtype=F64)
    for k in range(layer.stages):
        M = butterfly_factor(layer.twiddles.detach(), n, k) @ M
    x = torch.randn(5, n, dtype=F64)
    torch.testing.assert_close(layer(x), x @ M.T + layer.bias)
    assert parameter_count(layer) == 2 * n * int(math.log2(n)) + n
    assert torch.autograd.gradcheck(layer, torch.randn(2, n, dtype=F64, requires_grad=True))


def test_a_butterfly_starts_orthogonal():
    W = Butterfly(64, dtype=F64).effective_weight()
    torch.testing.assert_close(W @ W.T, torch.eye(64, dtype=F64))
