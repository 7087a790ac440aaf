"""acdc_core.dct against scipy.fft (the oracle), in float64 and float32, and its gradients."""
import doctest
import importlib

import numpy as np
import pytest
import scipy.fft
import torch

from acdc_core import dct, dct_matrix, dctn, idct, idctn
from conftest import devices

TYPES = [1, 2, 3, 4]
NORMS = [None, "backward", "ortho", "forward"]
LENGTHS = list(range(1, 18)) + [19, 31, 97, 100, 1024, 4096]
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
PAIRS = [(dct, scipy.fft.dct), (idct, scipy.fft.idct)]


def relative_error(ours: torch.Tensor, reference: np.ndarray) -> float:
    ours = ours.detach().cpu().double().numpy()
    return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-300))


def random(shape, dtype=torch.float64, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)


def lengths_for(type):
    return [n for n in LENGTHS if n >= (2 if type == 1 else 1)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=["dct", "idct"])
def test_matches_scipy_every_length(pair, type, norm, dtype):
    ours, theirs = pair
    for n in lengths_for(type):
        x = random((3, n), dtype)
        reference = theirs(x.double().numpy(), type=type, norm=norm)
        y = ours(x, type=type, norm=norm)
        assert y.dtype == dtype and y.shape == x.shape
        assert relative_error(y, reference) <= TOLERANCE[dtype], f"n={n}"


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=["dct", "idct"])
def test_padding_and_truncation_like_scipy(pair, type, norm):
    ours, theirs = pair
    x = random((2, 11))
    for n in (2, 7, 11, 16, 29):
        reference = theirs(x.numpy(), type=type, n=n, norm=norm)
        y = ours(x, type=type, n=n, norm=norm)
        assert y.shape == (2, n)
        assert relative_error(y, reference) <= 1e-10, f"n={n}"


@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize("pair", PAIRS, ids=["dct", "idct"])
def test_any_dim_and_batch_shape(pair, type):
    ours, theirs = pair
    x = random((2, 3, 5, 8))
    for dim in (0, 1, 2, 3, -1, -2, -4):
        reference = theirs(x.numpy(), type=type, axis=dim, norm="ortho")
        assert relative_error(ours(x, type=type, dim=dim, norm="ortho"), reference) <= 1e-10
    one_d = random((9,))
    assert relative_error(ours(one_d, type=type), theirs(one_d.numpy(), type=type)) <= 1e-10
    empty_batch = torch.zeros(0, 6, dtype=torch.float64)
    assert ours(empty_batch, type=type).shape == (0, 6)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type", TYPES)
def test_inverse_round_trip(type, norm):
    for n in (2, 3, 8, 13, 64):
        x = random((4, n))
        torch.testing.assert_close(idct(dct(x, type=type, norm=norm), type=type, norm=norm), x)
        torch.testing.assert_close(dct(idct(x, type=type, norm=norm), type=type, norm=norm), x)


@pytest.mark.parametrize("type", TYPES)
def test_dctn_and_idctn_like_scipy(type):
    x = random((4, 5, 6))
    cases = [dict(), dict(dim=(0, 2)), dict(dim=[-1, 0]), dict(s=(3, 8)), dict(s=(7, 4, 9)),
             dict(s=[3, 5], dim=[2, 0]), dict(dim=1)]
    for kwargs in cases:
        scipy_kwargs = {("axes" if k == "dim" else k): v for k, v in kwargs.items()}
        for ours, theirs in ((dctn, scipy.fft.dctn), (idctn, scipy.fft.idctn)):
            for norm in ("ortho", None):
                reference = theirs(x.numpy(), type=type, norm=norm, **scipy_kwargs)
                assert relative_error(ours(x, type=type, norm=norm, **kwargs), reference) <= 1e-10, kwargs
    torch.testing.assert_close(idctn(dctn(x, type=type), type=type), x)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("type", TYPES)
def test_gradients_by_gradcheck(type, norm):
    for n in (2, 5, 8):
        x = random((2, n)).requires_grad_()
        assert torch.autograd.gradcheck(lambda t: dct(t, type=type, norm=norm), (x,))
        assert torch.autograd.gradcheck(lambda t: idct(t, type=type, norm=norm), (x,))
    x = random((3, 4, 6)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: dct(t, type=type, norm=norm, dim=1, n=7), (x,))
    assert torch.autograd.gradgradcheck(lambda t: dct(t, type=type, norm=norm) ** 2, (x,))
    assert torch.autograd.gradcheck(lambda t: dctn(t, type=type, norm=norm, dim=(0, 2)), (x,))


def test_backward_saves_no_tensors():
    """The transform is linear: its backward needs nothing from the forward pass."""
    saved = []
    x = random((4, 16)).requires_grad_()
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = dct(x, norm="ortho")
    assert saved == []
    grad = random((4, 16), seed=1)
    y.backward(grad)
    # the orthonormal DCT-II is orthogonal: its transpose, the backward, is its inverse
    assert relative_error(x.grad, scipy.fft.idct(grad.numpy(), norm="ortho")) <= 1e-12


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("type", TYPES)
def test_dct_matrix_matches_scipy(type, norm):
    for n in (2, 3, 8, 17):
        reference = scipy.fft.dct(np.eye(n), type=type, axis=0, norm=norm)
        m = dct_matrix(n, type=type, norm=norm, dtype=torch.float64)
        assert relative_error(m, reference) <= 1e-12
        x = random((n,))
        torch.testing.assert_close(m @ x, dct(x, type=type, norm=norm))
    assert dct_matrix(4).dtype == torch.get_default_dtype()
    x = random((4,))
    torch.testing.assert_close(dct_matrix(4, dtype=torch.float64) @ x, dct(x))  # same default norm
    ortho = dct_matrix(16, type=type, norm="ortho", dtype=torch.float64)
    if type in (2, 3, 4) or norm == "ortho":
        torch.testing.assert_close(ortho @ ortho.T, torch.eye(16, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(dtype):
    x = random((3, 64), dtype)
    y = dct(x, norm="ortho")
    assert y.dtype == dtype
    exact = torch.from_numpy(scipy.fft.dct(x.double().numpy(), norm="ortho"))
    torch.testing.assert_close(y, exact.to(dtype))  # within the rounding of the half dtype
    x.requires_grad_()
    dct(x, norm="ortho").sum().backward()
    assert x.grad.dtype == dtype


def test_output_does_not_alias_input():
    x = random((2, 8))
    for type in TYPES:
        y = dct(x, type=type)
        y.add_(1.0)
        torch.testing.assert_close(x, random((2, 8)))


@pytest.mark.parametrize("bad, error, words", [
    (lambda: dct(torch.arange(8)), TypeError, "got torch.int64"),
    (lambda: dct(torch.ones(8, dtype=torch.bool)), TypeError, "got torch.bool"),
    (lambda: dct(torch.ones(8, dtype=torch.complex64)), TypeError, "got torch.complex64"),
    (lambda: dct([1.0, 2.0]), TypeError, "torch.Tensor"),
    (lambda: dct(torch.ones(8), type=5), ValueError, "type must be one of 1, 2, 3, 4, got 5"),
    (lambda: dct(torch.ones(8), type="2"), ValueError, "type must be one of"),
    (lambda: idct(torch.ones(8), norm="orthonormal"), ValueError, "norm must be one of"),
    (lambda: dct(torch.ones(4, 8), dim=2), IndexError, "dim 2 is out of range"),
    (lambda: dct(torch.ones(4, 8), dim=-3), IndexError, "allowed: -2..1"),
    (lambda: dct(torch.tensor(1.0)), IndexError, "0 dimensions"),
    (lambda: dct(torch.ones(1), type=1), ValueError, "at least 2"),
    (lambda: idct(torch.ones(5), type=1, n=1), ValueError, "at least 2"),
    (lambda: dct(torch.ones(8), n=0), ValueError, "n must be a positive int, got 0"),
    (lambda: dctn(torch.ones(4, 4), s=(2, 2), dim=(0,)), ValueError, "same length"),
    (lambda: dctn(torch.ones(4, 4), dim=(0, -2)), ValueError, "must not repeat"),
    (lambda: dctn(torch.ones(4, 4), dim=(0, 5)), IndexError, "out of range"),
    (lambda: dct_matrix(0), ValueError, "n must be a positive int"),
    (lambda: dct_matrix(4, type=7), ValueError, "type must be one of"),
])
def test_bad_input_is_refused_clearly(bad, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        bad()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("type", TYPES)
def test_on_each_device(device, type):
    for norm in NORMS:
        for n in (2, 7, 16, 100, 4096):
            x = random((5, n), torch.float32, device)
            for ours, theirs in PAIRS:
                y = ours(x, type=type, norm=norm)
                assert y.device.type == device
                reference = theirs(x.double().cpu().numpy(), type=type, norm=norm)
                assert relative_error(y, reference) <= 1e-5, (norm, n)
    x = random((3, 9), torch.float64, device).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: dct(t, type=type, norm="ortho"), (x,))


def test_docstring_examples_hold():
    module = importlib.import_module("acdc_core.dct")  # the package's name dct is the function
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0
