"""The base of the structured linear layers: the dense escape hatch against explicit matrices, the
equivalent nn.Linear, honest parameter counts, the bias registered as None, one dtype refusal for
every layer, and state that keeps its meaning (parameter order, old BatchNorm keys)."""
import re

import pytest
import torch
from torch import nn

from acdc_core import ACDC, StackedACDC, dct_matrix
from acdc_core.base import StructuredLinear, parameter_count
from acdc_core.structured import AFDF, Cascade, Dense, GroupedLinear, LowRank, linear_shufflenet
from conftest import randomise

F64 = torch.float64

LAYERS = {
    "ACDC": lambda dtype: ACDC(6, dtype=dtype),
    "ACDC diagonal biases, riffle": lambda dtype: ACDC(6, diagonal_bias=True, parameterisation="riffle",
                                                       dtype=dtype),
    "ACDC dense": lambda dtype: ACDC(6, form="dense", diagonal_bias=True, dtype=dtype),
    "StackedACDC": lambda dtype: StackedACDC(5, 7, 3, shuffle="permutation", dtype=dtype),
    "StackedACDC BatchNorm": lambda dtype: StackedACDC(7, 3, 3, batchnorm=True, dtype=dtype),
    "AFDF": lambda dtype: AFDF(6, block_size=3, dtype=dtype),
    "LowRank": lambda dtype: LowRank(6, 2, dtype=dtype),
    "GroupedLinear": lambda dtype: GroupedLinear(6, 3, dtype=dtype),
    "Cascade": lambda dtype: Cascade([ACDC(6, dtype=dtype), LowRank(6, 2, dtype=dtype)], seed=2),
    "linear ShuffleNet": lambda dtype: linear_shufflenet(6, 2, 2, dtype=dtype),
    "Dense": lambda dtype: Dense(6, dtype=dtype),
}


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_every_layer_derives_from_the_base(make):
    assert isinstance(make(None), StructuredLinear)


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_to_linear_computes_the_same_map_in_float64(make):
    layer = randomise(make(F64)).eval()  # BatchNorm in eval mode is affine
    for bn in getattr(layer, "batchnorms", []):
        bn.running_var.uniform_(0.5, 2.0)
    linear = layer.to_linear()
    assert type(linear) is nn.Linear and linear.weight.dtype == F64
    assert (linear.in_features, linear.out_features) == (layer.in_features, layer.out_features)
    x = torch.randn(4, 2, layer.in_features, dtype=F64)
    torch.testing.assert_close(linear(x), layer(x), rtol=1e-12, atol=1e-12)


def test_effective_weight_and_bias_against_an_explicit_dense_product():
    """ACDC with every bias: W = C⁻¹ D C A, and the offset gathers all three biases."""
    layer = randomise(ACDC(5, diagonal_bias=True, dtype=F64))
    C = dct_matrix(5, norm="ortho", dtype=F64)
    W = C.T @ torch.diag(layer.d) @ C @ torch.diag(layer.a)
    offset = C.T @ (torch.diag(layer.d) @ C @ layer.a_bias + layer.d_bias) + layer.bias
    torch.testing.assert_close(layer.effective_weight(), W, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.effective_bias(), offset, rtol=1e-12, atol=1e-12)
    linear = layer.to_linear()
    torch.testing.assert_close(linear.weight, W, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(linear.bias, offset, rtol=1e-12, atol=1e-12)


def test_to_linear_keeps_the_device_and_refuses_a_nonlinear_stack():
    assert ACDC(4).to_linear().weight.dtype == torch.float32
    with pytest.raises(ValueError, match="ReLU"):
        StackedACDC(4, 4, 2, relu=True).to_linear()
    with pytest.raises(ValueError, match="call .eval"):
        StackedACDC(4, 4, 2, batchnorm=True).to_linear()


@pytest.mark.parametrize("layer, count", [
    (ACDC(8), 3 * 8), (ACDC(8, bias=False, diagonal_bias=True), 4 * 8),
    (AFDF(8), 2 * 2 * 8 + 8),  # complex diagonals count twice
    (AFDF(8, bias=False), 2 * 2 * 8),
    (LowRank(8, 3), 2 * 8 * 3 + 8), (GroupedLinear(8, 2, bias=False), 2 * 4 * 4), (Dense(8), 8 * 8 + 8),
    (StackedACDC(8, 8, 4, bias_placement="last"), 4 * 2 * 8 + 8),
    (StackedACDC(8, 5, 2, bias=False, batchnorm=True), 2 * 2 * 8 + 3 * 5),  # statistics are buffers; the shrink has no bias
    (Cascade([Dense(4), LowRank(4, 1)]), 20 + 8 + 4),
])
def test_parameter_count_counts_real_numbers(layer, count):
    assert layer.parameter_count() == parameter_count(layer) == count


@pytest.mark.parametrize("make", [lambda: ACDC(4, bias=False), lambda: AFDF(4, bias=False),
                                  lambda: LowRank(4, 1, bias=False), lambda: GroupedLinear(4, 2, bias=False),
                                  lambda: Dense(4, bias=False), lambda: StackedACDC(4, 4, 2),
                                  lambda: Cascade([Dense(4)])])
def test_no_bias_is_registered_as_none_as_nn_linear_does(make):
    layer = make()
    reference = nn.Linear(4, 4, bias=False)
    assert layer.bias is None and reference.bias is None
    assert "bias" in layer._parameters and "bias" in reference._parameters  # registered, as None
    assert "bias" not in layer.state_dict() and "bias" not in dict(layer.named_parameters())
    x = torch.randn(3, 4)
    torch.testing.assert_close(layer(x), x @ layer.effective_weight().T + layer.effective_bias())


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_an_input_of_another_dtype_is_refused_naming_both(make):
    layer = make(torch.float32)
    x = torch.zeros(2, layer.in_features, dtype=F64)
    words = (f"input dtype torch.float64 does not match the layer's parameters (torch.float32); "
             f"convert one of them with .to(), or run under torch.autocast")
    with pytest.raises(RuntimeError, match=re.escape(f"{type(layer).__name__}(") + r"[\d, ]+\): " + re.escape(words)):
        layer(x)


def test_a_layer_without_a_map_says_so():
    class Unfinished(StructuredLinear):
        pass

    layer = Unfinished(3, 2)
    assert layer.bias.shape == (2,)
    with pytest.raises(NotImplementedError, match="Unfinished must define structured_map"):
        layer(torch.zeros(1, 3))


@pytest.mark.parametrize("make, names", [
    (lambda: ACDC(4, diagonal_bias=True), ["a", "d", "bias", "a_bias", "d_bias"]),
    (lambda: AFDF(4), ["a", "d", "bias"]),
    (lambda: LowRank(4, 1), ["u", "v", "bias"]),
    (lambda: GroupedLinear(4, 2), ["weight", "bias"]),
    (lambda: Dense(4), ["weight", "bias"]),
])
def test_parameters_keep_their_order(make, names):
    """Optimisers' state (and so a checkpoint's) is matched to parameters by position."""
    assert [name for name, _ in make().named_parameters()] == names


def test_dense_draws_as_nn_linear():
    torch.manual_seed(3)
    dense = Dense(5)
    torch.manual_seed(3)
    linear = nn.Linear(5, 5)
    assert torch.equal(dense.weight, linear.weight) and torch.equal(dense.bias, linear.bias)


def test_afdf_converts_like_a_real_layer_and_keeps_its_imaginary_parts():
    layer = AFDF(4)
    with torch.no_grad():
        torch.view_as_complex(layer.a).imag.fill_(0.5)
    layer.double()
    assert layer.a.dtype == layer.d.dtype == layer.bias.dtype == F64
    assert layer(torch.randn(2, 4, dtype=F64)).dtype == F64
    layer.to(torch.bfloat16)
    assert torch.all(torch.view_as_complex(layer.a.float()).imag == 0.5)
    assert layer(torch.randn(2, 4, dtype=torch.bfloat16)).dtype == torch.bfloat16


@pytest.mark.parametrize("make", [
    lambda: ACDC(16, init="uniform", block_size=4), lambda: ACDC(16, sigma=0.5, diagonal_bias=True),
    lambda: StackedACDC(12, 6, 3, relu=True, batchnorm=True, block_size=8, seed=2, shrink="sum"),
    lambda: StackedACDC(8, 8, 2, shuffle="permutation", bias=False, init="identity"),
    lambda: AFDF(8, block_size=4), lambda: LowRank(8, 2, bias=False), lambda: Dense(8),
    lambda: GroupedLinear(8, 2)])
def test_repr_shows_constructor_arguments_that_rebuild_the_layer(make):
    import acdc_core.structured

    layer = make()
    head = repr(layer).split("\n")[0].rstrip("(")
    rebuilt = eval(f"{type(layer).__name__}({layer.extra_repr()})", vars(acdc_core.structured) | globals())
    assert repr(rebuilt).split("\n")[0].rstrip("(") == head
    assert "padded_width" not in repr(layer) and "exactly" not in repr(layer)
