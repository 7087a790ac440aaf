"""The real-arithmetic core for torch.compile: its one-pass step written out with complex numbers,
its passes against the eager core in float64, and the "compiled" backend end to end (compiled by
Inductor, gradcheck included)."""
import math

import pytest
import torch

from acdc_core import ACDC, StackedACDC, backend
from acdc_core import compiled_core
from acdc_core.core import FFTCore


def test_step_coefficients_are_alpha_and_beta_written_out():
    n = 10
    d = torch.randn(n, dtype=torch.float64)
    twiddle, mirror, _ = compiled_core._constants(n, torch.float64, d.device)
    p, q, r = compiled_core.step_coefficients(d, twiddle, mirror).unbind(-1)
    for k in range(n // 2 + 1):
        first, second = d[k].item(), d[(n - k) % n].item()
        alpha = (first + second) / 2
        beta = complex(math.cos(math.pi * k / n), math.sin(math.pi * k / n)) * (first - second) / 2
        # y = alpha s + beta conj(s) on (Re s, Im s) is [[alpha + Re beta, Im beta], [Im beta, alpha - Re beta]]
        assert (p[k].item(), q[k].item(), r[k].item()) == pytest.approx(
            (alpha + beta.real, beta.imag, alpha - beta.real), abs=1e-14)


@pytest.mark.parametrize("shape", [(5, 16), (4, 3, 8), (3, 15)])
def test_the_passes_equal_the_eager_core_in_float64(shape):
    torch.manual_seed(0)
    v = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    a, d, bias = (torch.randn(*shape[1:], dtype=torch.float64, requires_grad=True) for _ in range(3))
    expected = FFTCore.apply(v, a, d, bias)
    twiddle, mirror, kappa2 = compiled_core._constants(shape[-1], torch.float64, v.device)
    out = compiled_core._forward(v.detach(), a.detach(), d.detach(), bias.detach(), twiddle, mirror)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    grad = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, (v, a, d), grad)
    grads = compiled_core._backward(grad, v.detach(), a.detach(), d.detach(), twiddle, mirror, kappa2)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_the_compiled_backend_computes_the_layer_and_its_gradients():
    """Compiled by Inductor (some seconds): a float64 layer through gradcheck, and a float32
    stack's output and gradients against the torch.fft backend's."""
    torch.manual_seed(0)
    layer = ACDC(8, diagonal_bias=True).double()
    with torch.no_grad():
        for p in (layer.bias, layer.a_bias, layer.d_bias):
            p.normal_()
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    with backend.use("compiled"):
        assert torch.autograd.gradcheck(layer, (x,))
    stack = StackedACDC(64, 64, 3)
    rows = torch.randn(16, 64, requires_grad=True)
    results = []
    for name in ("torch", "compiled"):
        stack.zero_grad()
        rows.grad = None
        with backend.use(name):
            y = stack(rows)
            y.square().sum().backward()
        results.append([y.detach(), rows.grad.clone(), *(p.grad.clone() for p in stack.parameters())])
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
