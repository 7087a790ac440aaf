"""The log's networks against the log's structure, written here as explicit float64 matrices.

Each reference below follows the log's code step by step: its LinearACDC builds the layer's matrix
from diagonals and DCT matrices, ``riffle(A·dct) @ (D·idct)``, and multiplies by it; its FFT layer
packs features into groups, transforms and unpacks; its 2-D riffle reshapes ``(n, d) -> (n, d/2,
2)`` and swaps the last two axes; its BatchNorm normalises by the batch's mean and biased variance.
The DCT matrices come from scipy. Our model's parameters are read into the reference, so both
are functions of the same tensors: outputs must agree to 1e-12 relative to their largest entry,
every gradient to 1e-12 relative to the largest entry of all gradients.
"""
import math

import numpy as np
import pytest
import scipy.fft
import torch
import torch.nn.functional as F

from acdc_core import ACDC, SeparableACDCConv2d
from acdc_core.lab.analysis.approximation import acdc_stack
from acdc_core.lab.models import build

F64 = torch.float64


def dct_rows(n):
    """(dct, idct): the log's ``dct(eye(n))`` and ``idct(eye(n))``, row i the transform of e_i."""
    eye = np.eye(n)
    return (torch.tensor(scipy.fft.dct(eye, norm="ortho", axis=-1)),
            torch.tensor(scipy.fft.idct(eye, norm="ortho", axis=-1)))


def riffle_2d(x):
    """The log's Riffle on (n, d): evens, then odds."""
    n, d = x.shape
    return x.reshape(n, d // 2, 2).permute(0, 2, 1).reshape(n, d)


def riffle_4d(x):
    """The log's Riffle on (N, C, H, W): the two halves of the channels interleaved."""
    n, c, h, w = x.shape
    return x.reshape(n, 2, c // 2, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)


def batchnorm(x):
    """BatchNorm1d(affine=False) in training mode."""
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)


def kernel_matrix(a, d, riffle):
    """The log's LinearACDC/ConvACDC matrix ``riffle(A·dct) @ (D·idct)`` (or without the riffle)."""
    dct, idct = dct_rows(a.numel())
    ac, dc = a[:, None] * dct, d[:, None] * idct
    return (riffle_2d(ac) if riffle else ac) @ dc


def linear_acdc(x, layer, riffle=False):
    """The log's LinearACDC: ``x @ kernel_matrix`` plus its bias."""
    y = x @ kernel_matrix(layer.a, layer.d, riffle)
    return y if layer.bias is None else y + layer.bias


def fft_acdc(x, layer, groups):
    """The log's FFT ACDC layer in ``groups`` consecutive blocks: A, DCT, D, inverse DCT, bias."""
    n, width = x.shape
    dct, idct = dct_rows(width // groups)
    h = (layer.a * x).reshape(n * groups, -1) @ dct
    h = (layer.d * h.reshape(n, width)).reshape(n * groups, -1) @ idct
    return h.reshape(n, width) + layer.bias


def log_widths(in_features, out_features, n_layers, groups):
    """The log's StackedACDC widths: blocks of the power of two above in/groups, their count moved
    evenly from the input's to the output's over n_layers + 1 steps."""
    size = 2 ** math.ceil(math.log(in_features // groups, 2))
    first, last = math.ceil(in_features / size), math.ceil(out_features / size)
    return [size * (first + round((last - first) * i / (n_layers + 1))) for i in range(1, n_layers + 1)]


def resize(x, d_to, linear, residual=True):
    """The log's PadLinearTo (concatenate a bias-free projection) or DropLinearTo (keep the first
    features, plus the residual of the dropped ones when it was active)."""
    if d_to > x.shape[1]:
        return torch.cat([x, x @ linear.weight.T], 1)
    if d_to == x.shape[1]:
        return x
    kept = x[:, :d_to]
    return kept + x[:, d_to:] @ linear.weight.T if residual else kept


def log_narrowing_stack(x, stack, out_features, n_layers, residual):
    """The log's StackedACDC(784, out, n_layers, groups=8) as it ran E1 and E2: per layer a
    resize, the FFT layer, BatchNorm, the riffle and ReLU; then the last resize."""
    widths = log_widths(784, out_features, n_layers, 8)
    assert [layer.features for layer in stack.layers] == widths
    for resizer, layer, d_to in zip(stack.resizes, stack.layers, widths):
        x = resize(x, d_to, getattr(resizer, "linear", None), residual)
        x = F.relu(riffle_2d(batchnorm(fft_acdc(x, layer, 8))))
    return resize(x, out_features, getattr(stack.last, "linear", None), residual)


def log_e1(x, model):
    """E1's Net: the stack 784 → 64, ReLU, fc2."""
    h = F.relu(log_narrowing_stack(x.flatten(1), model[1], 64, 12, residual=True))
    return h @ model[3].weight.T + model[3].bias


def log_e2(x, model):
    """E2: the same stack, 32 layers to 10 outputs, the dropping layers' residuals off."""
    return log_narrowing_stack(x.flatten(1), model[1], 10, 32, residual=False)


def log_linear_stack(x, stack, shuffle, relu_between=True):
    """The log's StackedLinearACDC of E10 and E11: per layer LinearACDC, the shuffle, ReLU; the
    last ReLU removed (the last shuffle stays)."""
    for i, layer in enumerate(stack.layers):
        x = shuffle(i, linear_acdc(x, layer))
        if relu_between and i < len(stack.layers) - 1:
            x = F.relu(x)
    return x


def log_e6(x, stack):
    """E6: the log's StackedACDC(32, 32, 32) of 5 October: every layer the FFT layer, BatchNorm,
    the riffle and ReLU, the last included."""
    for layer in stack.layers:
        x = F.relu(riffle_2d(batchnorm(fft_acdc(x, layer, 1))))
    return x


def permutation_of(stack):
    """The log's Permute layers, with the permutations our stack drew."""
    return lambda i, x: x[:, getattr(stack, f"shuffle_{i}")]


def riffle_of(stack):
    return lambda i, x: riffle_2d(x)


def double(module):
    torch.manual_seed(0)
    module = module.double()
    with torch.no_grad():  # biases and diagonals far from their starts, so nothing cancels
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module


def assert_agree(ours, reference, module, x):
    """Outputs, and the gradients of one random projection of them with respect to every
    parameter and the input, agree to 1e-12 relative to the largest entry."""
    x = x.clone().requires_grad_(True)
    leaves = [x, *module.parameters()]
    y, y_ref = ours(x), reference(x)
    assert y.shape == y_ref.shape
    projection = torch.randn_like(y)
    grads = torch.autograd.grad((y * projection).sum(), leaves)
    grads_ref = torch.autograd.grad((y_ref * projection).sum(), leaves)
    assert (y - y_ref).abs().max() <= 1e-12 * y_ref.abs().max()
    # per gradient against the largest of them all: a bias just before a BatchNorm has a gradient
    # that is zero but for rounding
    scale = max(g.abs().max() for g in grads_ref)
    for got, want in zip(grads, grads_ref):
        assert (got - want).abs().max() <= 1e-12 * scale


@pytest.mark.parametrize("name", ["e1_uniform", "e1_normal"])
def test_e1_is_the_logs_network(name):
    model = double(build(name)).train()
    assert_agree(model, lambda x: log_e1(x, model), model, torch.randn(16, 1, 28, 28, dtype=F64))


def test_e2_is_the_logs_network():
    model = double(build("e2")).train()
    assert [layer.features for layer in model[1].layers][:4] == [896, 896, 768, 768]
    assert_agree(model, lambda x: log_e2(x, model), model, torch.randn(16, 1, 28, 28, dtype=F64))


def test_e6_is_the_logs_stack():
    stack = double(acdc_stack(32, 32, "relu+bn", "unriffle")).train()
    assert_agree(stack, lambda x: log_e6(x, stack), stack, torch.rand(64, 32, dtype=F64))


@pytest.mark.parametrize("shuffle", ["permutation", "unriffle"])
def test_e10_is_the_logs_stack(shuffle):
    stack = double(acdc_stack(32, 32, "relu", shuffle))
    order = permutation_of(stack) if shuffle == "permutation" else riffle_of(stack)
    assert_agree(stack, lambda x: log_linear_stack(x, stack, order), stack,
                 torch.rand(64, 32, dtype=F64))


def test_e11_is_the_logs_network():
    model = double(build("e11"))
    stack = model[1]
    assert_agree(model, lambda x: log_linear_stack(x.flatten(1), stack, riffle_of(stack))[:, :10],
                 model, torch.randn(8, 1, 28, 28, dtype=F64))


@pytest.mark.parametrize("features", [2, 8, 64])
def test_the_riffle_parameterisation_is_the_logs_linear_layer(features):
    layer = double(ACDC(features, parameterisation="riffle"))
    assert_agree(layer, lambda x: linear_acdc(x, layer, riffle=True), layer,
                 torch.randn(5, features, dtype=F64))


def test_the_riffle_parameterisation_is_the_logs_fft_layer_with_d_relabelled():
    """The log's FFT layer riffled after D: ``C⁻¹ P D C A``; ours riffles before, so its D is the
    log's gathered by the riffle."""
    layer = double(ACDC(8, parameterisation="riffle"))
    d_log = layer.d.detach()[torch.tensor([0, 4, 1, 5, 2, 6, 3, 7])]  # d_ours = d_log[evens, odds]
    dct, idct = dct_rows(8)
    x = torch.randn(5, 8, dtype=F64)
    log = riffle_2d((layer.a * x) @ dct * d_log) @ idct + layer.bias
    torch.testing.assert_close(layer(x), log, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("parameterisation", ["riffle", "original"])
def test_the_convolutions_pointwise_stack_is_the_logs_conv_layers(parameterisation):
    """The log's ConvACDC took the kernel matrix as its 1×1 weight untransposed; between layers its
    4-D riffle. Ours: the depthwise convolution, then those layers with our riffle between."""
    conv = double(SeparableACDCConv2d(8, 8, 3, padding=1, n_layers=3, bias=False, form="fft",
                                      parameterisation=parameterisation))

    def log_conv(x):
        h = F.conv2d(x, conv.depthwise.weight, padding=1, groups=8)
        for i, layer in enumerate(conv.pointwise.layers):
            weight = kernel_matrix(layer.a, layer.d, parameterisation == "riffle")
            h = F.conv2d(h, weight[:, :, None, None])
            h = riffle_4d(h) if i < len(conv.pointwise.layers) - 1 else h
        return h

    assert_agree(conv, log_conv, conv, torch.randn(2, 8, 5, 5, dtype=F64))
