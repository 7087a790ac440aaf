"""Bad and edge-case input to the DCT functions: empty batches and empty dimensions (against what
scipy.fft does), and every malformed argument, each refused with an error that names it."""
import re

import numpy as np
import pytest
import scipy.fft
import torch

from acdc_core.dct import dct, dct_matrix, dctn, idct, idctn, makhoul_order

TYPES = (1, 2, 3, 4)
NORMS = (None, "backward", "ortho", "forward")
X = torch.ones(4, 8, dtype=torch.float64)


def literal(words: str) -> str:
    """``words`` as a pattern that matches them literally."""
    return re.escape(words)


# ----------------------------------------------------------------------------------------------
# Empty input: an empty batch passes (as in scipy); an empty transformed dimension is refused.

@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize("shape, dim", [((0, 6), -1), ((2, 0, 6), -1), ((6, 0), 0)])
def test_an_empty_batch_gives_scipys_empty_result_and_an_empty_gradient(type, shape, dim):
    for ours, theirs in ((dct, scipy.fft.dct), (idct, scipy.fft.idct)):
        for norm in NORMS:
            x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
            y = ours(x, type=type, dim=dim, norm=norm, n=7)
            assert y.shape == theirs(np.zeros(shape), type=type, axis=dim, norm=norm, n=7).shape
            y.sum().backward()
            assert x.grad.shape == x.shape


@pytest.mark.parametrize("transform", [dctn, idctn])
def test_an_empty_batch_passes_dctn_when_not_transformed(transform):
    x = torch.zeros(0, 3, 4, dtype=torch.float64)
    assert transform(x, dim=(1, 2), s=(5, -1)).shape == scipy.fft.dctn(np.zeros((0, 3, 4)), axes=(1, 2),
                                                                      s=(5, -1)).shape


@pytest.mark.parametrize("type", TYPES)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("transform", [dct, idct])
def test_an_empty_transformed_dimension_is_refused_as_scipy_does(transform, type, norm):
    with pytest.raises(ValueError, match="invalid number of data points"):
        scipy.fft.dct(np.zeros((3, 0)), type=type, norm=norm)
    with pytest.raises(ValueError, match=literal(f"at least {2 if type == 1 else 1} along dim 1, "
                                                 "got x.shape[1]=0 and n=None")):
        transform(torch.zeros(3, 0), type=type, norm=norm)


@pytest.mark.parametrize("transform", [dctn, idctn])
def test_dctn_over_an_empty_batch_dimension_is_refused_as_scipy_does(transform):
    with pytest.raises(ValueError, match="invalid number of data points"):
        scipy.fft.dctn(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=literal("along dim 0, got x.shape[0]=0")):
        transform(torch.zeros(0, 4))


@pytest.mark.parametrize("norm", NORMS)
def test_type_1_of_one_point_is_refused_as_scipy_does(norm):
    with pytest.raises(RuntimeError, match="zero-length"):
        scipy.fft.dct(np.zeros(1), type=1, norm=norm)
    with pytest.raises(ValueError, match=literal("type 1 DCT needs a length of at least 2 along dim 0, "
                                                 "got x.shape[0]=1")):
        dct(torch.zeros(1), type=1, norm=norm)
    with pytest.raises(ValueError, match=literal("got n=1")):
        idct(torch.zeros(5), type=1, norm=norm, n=1)


# ----------------------------------------------------------------------------------------------
# s and dim of dctn: an int stands for a one-entry sequence and -1 keeps a length, as scipy's
# documented s ("int or array_like of ints") and axes.

@pytest.mark.parametrize("s, dim", [(5, None), (5, 0), (-1, 1), ((3, -1), None), ((-1, 2), (1, 0))])
@pytest.mark.parametrize("type", TYPES)
def test_dctn_takes_scipys_forms_of_s_and_dim(s, dim, type):
    x = torch.randn(4, 6, dtype=torch.float64)
    for ours, theirs in ((dctn, scipy.fft.dctn), (idctn, scipy.fft.idctn)):
        expected = theirs(x.numpy(), type=type, s=s, axes=dim, norm="ortho")
        np.testing.assert_allclose(ours(x, type=type, s=s, dim=dim, norm="ortho").numpy(), expected,
                                   rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Malformed arguments: (call, error type, words the message must hold).

X_CASES = [
    (lambda: dct(torch.arange(8)), TypeError, "x must be a real floating tensor (float16, bfloat16, float32 or float64), got torch.int64"),
    (lambda: dct(torch.ones(8, dtype=torch.int32)), TypeError, "got torch.int32"),
    (lambda: dct(torch.ones(8, dtype=torch.bool)), TypeError, "got torch.bool"),
    (lambda: idct(torch.ones(8, dtype=torch.complex128)), TypeError, "got torch.complex128"),
    (lambda: dctn(torch.ones(2, 2, dtype=torch.complex64)), TypeError, "got torch.complex64"),
    (lambda: dct([1.0, 2.0]), TypeError, "x must be a torch.Tensor, got list"),
    (lambda: dct(np.ones(8)), TypeError, "x must be a torch.Tensor, got ndarray"),
    (lambda: dct(torch.tensor(1.0)), IndexError, "dim -1 is out of range for a tensor with 0 dimensions"),
]
TYPE_CASES = [
    (lambda: dct(X, type=torch.tensor(2)), ValueError, "type must be one of 1, 2, 3, 4, got tensor(2)"),
    (lambda: dct(X, type=2.0), ValueError, "type must be one of 1, 2, 3, 4, got 2.0"),
    (lambda: dct(X, type=True), ValueError, "type must be one of 1, 2, 3, 4, got True"),
    (lambda: dct(X, type=0), ValueError, "type must be one of 1, 2, 3, 4, got 0"),
    (lambda: idct(X, type=5), ValueError, "type must be one of 1, 2, 3, 4, got 5"),
    (lambda: dct(X, type="2"), ValueError, "type must be one of 1, 2, 3, 4, got '2'"),
    (lambda: dct(X, type=None), ValueError, "type must be one of 1, 2, 3, 4, got None"),
    (lambda: dctn(X, type=torch.tensor(2), dim=()), ValueError, "type must be one of 1, 2, 3, 4, got tensor(2)"),
]
NORM_CASES = [
    (lambda: dct(X, norm="orthonormal"), ValueError, "norm must be one of None, 'backward', 'ortho', 'forward', got 'orthonormal'"),
    (lambda: idct(X, norm="ORTHO"), ValueError, "got 'ORTHO'"),
    (lambda: dct(X, norm=True), ValueError, "norm must be one of None, 'backward', 'ortho', 'forward', got True"),
    (lambda: idctn(X, norm="bad", s=()), ValueError, "norm must be one of"),
]
N_CASES = [
    (lambda: dct(X, n=0), ValueError, "n must be a positive int, got 0"),
    (lambda: idct(X, n=-3), ValueError, "n must be a positive int, got -3"),
    (lambda: dct(X, n=4.0), TypeError, "n must be a positive int, got 4.0 (float)"),
    (lambda: dct(X, n=True), TypeError, "n must be a positive int, got True (bool)"),
    (lambda: dct(X, n=torch.tensor(4)), TypeError, "n must be a positive int, got tensor(4) (Tensor)"),
    (lambda: dct(X, n="4"), TypeError, "n must be a positive int, got '4' (str)"),
]
DIM_CASES = [
    (lambda: dct(X, dim=2), IndexError, "dim 2 is out of range for a tensor with 2 dimensions (allowed: -2..1)"),
    (lambda: idct(X, dim=-3), IndexError, "allowed: -2..1"),
    (lambda: dct(X, dim=1.0), TypeError, "dim must be an int, got 1.0 (float)"),
    (lambda: dct(X, dim=True), TypeError, "dim must be an int, got True (bool)"),
    (lambda: dct(X, dim=None), TypeError, "dim must be an int, got None (NoneType)"),
    (lambda: dct(X, dim=(0,)), TypeError, "dim must be an int, got (0,) (tuple)"),
]
DCTN_CASES = [
    (lambda: dctn(X, s=0), ValueError, "s[0] must be a positive int, got 0"),
    (lambda: dctn(X, s=(4, -2)), ValueError, "s[1] must be a positive int, got -2"),
    (lambda: dctn(X, s=(4, 2.5)), TypeError, "s[1] must be a positive int, got 2.5 (float)"),
    (lambda: dctn(X, s=(None, 4)), TypeError, "s[0] must be a positive int, got None (NoneType)"),
    (lambda: dctn(X, s=2.5), TypeError, "s must be an int or a sequence of ints, got 2.5 (float)"),
    (lambda: dctn(X, s=True), TypeError, "s must be an int or a sequence of ints, got True (bool)"),
    (lambda: dctn(X, s=torch.tensor([4, 4])), TypeError, "s must be an int or a sequence of ints, got tensor([4, 4]) (Tensor)"),
    (lambda: dctn(X, s=(2, 2, 2)), ValueError, "s gives 3 lengths but x has 2 dimensions, got s=[2, 2, 2]"),
    (lambda: idctn(X, s=(2, 2), dim=(0,)), ValueError, "s and dim must have the same length, got s=[2, 2] and dim=[0]"),
    (lambda: dctn(X, s=5, dim=(0, 1)), ValueError, "s and dim must have the same length, got s=[5] and dim=[0, 1]"),
    (lambda: dctn(X, dim=(0, -2)), ValueError, "dim must not repeat a dimension, got [0, -2]"),
    (lambda: dctn(X, dim=(0, 5)), IndexError, "dim 5 is out of range for a tensor with 2 dimensions"),
    (lambda: dctn(X, dim=1.5), TypeError, "dim must be an int or a sequence of ints, got 1.5 (float)"),
    (lambda: dctn(X, dim={0, 1}), TypeError, "dim must be an int or a sequence of ints, got {0, 1} (set)"),
    (lambda: idctn(X, dim=(0, 1.0)), TypeError, "dim must be an int, got 1.0 (float)"),
]
MATRIX_CASES = [
    (lambda: dct_matrix(0), ValueError, "n must be a positive int, got 0"),
    (lambda: dct_matrix(-2), ValueError, "n must be a positive int, got -2"),
    (lambda: dct_matrix(4.0), TypeError, "n must be a positive int, got 4.0 (float)"),
    (lambda: dct_matrix(True), TypeError, "n must be a positive int, got True (bool)"),
    (lambda: dct_matrix(4, dtype=torch.int64), TypeError, "dtype must be a real floating torch.dtype such as torch.float64 (an integer, bool or complex one would not hold the matrix), got torch.int64"),
    (lambda: dct_matrix(4, dtype=torch.uint8), TypeError, "got torch.uint8"),
    (lambda: dct_matrix(4, dtype=torch.bool), TypeError, "got torch.bool"),
    (lambda: dct_matrix(4, dtype=torch.complex128), TypeError, "got torch.complex128"),
    (lambda: dct_matrix(4, dtype="float32"), TypeError, "dtype must be a real floating torch.dtype such as torch.float64 (an integer, bool or complex one would not hold the matrix), got 'float32'"),
    (lambda: dct_matrix(4, dtype=np.float64), TypeError, "dtype must be a real floating torch.dtype"),
    (lambda: dct_matrix(4, type=7), ValueError, "type must be one of 1, 2, 3, 4, got 7"),
    (lambda: dct_matrix(4, type=torch.tensor(2)), ValueError, "got tensor(2)"),
    (lambda: dct_matrix(4, norm="unit"), ValueError, "norm must be one of None, 'backward', 'ortho', 'forward', got 'unit'"),
    (lambda: dct_matrix(1, type=1), ValueError, "type 1 DCT needs a length of at least 2 along dim 0, got x.shape[0]=1"),
]
HELPER_CASES = [
    (lambda: makhoul_order(0), ValueError, "n must be a positive int, got 0"),
    (lambda: makhoul_order(4.0), TypeError, "n must be a positive int, got 4.0 (float)"),
]
CASES = X_CASES + TYPE_CASES + NORM_CASES + N_CASES + DIM_CASES + DCTN_CASES + MATRIX_CASES + HELPER_CASES


@pytest.mark.parametrize("call, error, words", CASES, ids=[words for _, _, words in CASES])
def test_bad_argument_is_refused_naming_it(call, error, words):
    with pytest.raises(error, match=literal(words)):
        call()


def test_the_old_silent_truncation_of_dct_matrix_is_gone():
    """The integer cast rounded every orthonormal entry (all below 1) to 0; a floating dtype keeps
    scipy's numbers."""
    expected = scipy.fft.dct(np.eye(6), type=2, axis=0, norm="ortho")
    assert np.abs(expected).max() < 1
    np.testing.assert_allclose(dct_matrix(6, norm="ortho", dtype=torch.float16).double().numpy(), expected, atol=1e-3)
