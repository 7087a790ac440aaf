"""Bad and edge-case input to the layers: an empty batch through every layer and its backward,
every malformed constructor argument and forward input, each refused with an error that names it,
and convolution surgery that refuses before it changes anything."""
import re

import pytest
import torch
from torch import nn

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC, replace_convolutions
from acdc_core.structured import AFDF, Cascade, Dense, GroupedLinear, LowRank, linear_shufflenet

F64 = torch.float64

# ----------------------------------------------------------------------------------------------
# An empty batch: empty outputs, and zero gradients of the right shapes for the input and every
# parameter (the gradient of a sum over no rows).

LAYERS = {
    "ACDC": lambda: ACDC(8),
    "ACDC idct_first": lambda: ACDC(8, order="idct_first"),
    "ACDC riffle": lambda: ACDC(8, parameterisation="riffle"),
    "ACDC idct_first riffle": lambda: ACDC(8, order="idct_first", parameterisation="riffle"),
    "ACDC blocks, diagonal biases": lambda: ACDC(8, block_size=4, diagonal_bias=True),
    "ACDC no bias": lambda: ACDC(8, bias=False),
    "ACDC dense": lambda: ACDC(8, form="dense"),
    "StackedACDC": lambda: StackedACDC(8, 8, 3),
    "StackedACDC permutation, ReLU": lambda: StackedACDC(8, 8, 3, shuffle="permutation", relu=True),
    "StackedACDC no shuffle, shuffle last": lambda: StackedACDC(8, 8, 3, shuffle="none", shuffle_last=True),
    "StackedACDC BatchNorm": lambda: StackedACDC(8, 8, 3, batchnorm=True),
    "StackedACDC BatchNorm, eval": lambda: StackedACDC(8, 8, 3, batchnorm=True).eval(),
    "StackedACDC BatchNorm, riffle, layer by layer": lambda: StackedACDC(8, 8, 3, batchnorm=True,
                                                                         parameterisation="riffle"),
    "StackedACDC grow linear, blocks": lambda: StackedACDC(5, 8, 2, block_size=4),
    "StackedACDC grow repeat": lambda: StackedACDC(3, 8, 2, grow="repeat"),
    "StackedACDC shrink linear": lambda: StackedACDC(8, 3, 2),
    "StackedACDC shrink sum": lambda: StackedACDC(8, 4, 2, shrink="sum"),
    "StackedACDC shrink truncate": lambda: StackedACDC(8, 3, 2, shrink="truncate"),
    "AFDF": lambda: AFDF(8),
    "AFDF blocks": lambda: AFDF(8, block_size=4, bias=False),
    "Cascade of ACDC": lambda: Cascade([ACDC(8), ACDC(8)]),
    "linear ShuffleNet": lambda: linear_shufflenet(8, 2, 2),
    "LowRank": lambda: LowRank(8, 2),
    "Dense": lambda: Dense(8),
}
CONVOLUTIONS = {
    "fft": lambda: SeparableACDCConv2d(4, 8, 3, padding=1, n_layers=2, form="fft"),
    "collapsed": lambda: SeparableACDCConv2d(4, 8, 3, padding=1, n_layers=2, form="collapsed"),
    "auto": lambda: SeparableACDCConv2d(4, 8, 3, padding=1, n_layers=2),
    "fft, checkpointed": lambda: SeparableACDCConv2d(4, 8, 3, padding=1, n_layers=2, form="fft",
                                                     checkpoint=True),
    "fft, 8 -> 4 by sum": lambda: SeparableACDCConv2d(8, 4, 3, n_layers=2, form="fft"),
}


def assert_empty_pass(module: nn.Module, x: torch.Tensor, out_shape: tuple) -> None:
    """``module(x)`` has ``out_shape``; its sum's backward gives zero gradients of the right shapes."""
    x.requires_grad_()
    y = module(x)
    assert y.shape == out_shape and y.dtype == x.dtype
    y.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.equal(p.grad, torch.zeros_like(p)), name


@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
@pytest.mark.parametrize("batch", [(0,), (3, 0), (0, 2)])
def test_an_empty_batch_passes_every_layer_and_its_backward(make, batch):
    torch.manual_seed(0)
    layer = make().double()
    assert_empty_pass(layer, torch.zeros(*batch, layer.in_features, dtype=F64),
                      (*batch, layer.out_features))


@pytest.mark.parametrize("make", CONVOLUTIONS.values(), ids=CONVOLUTIONS.keys())
@pytest.mark.parametrize("grad", [True, False])
def test_an_empty_batch_passes_the_convolution_in_each_form(make, grad):
    torch.manual_seed(0)
    conv = make().double().train(grad)
    x = torch.zeros(0, conv.in_channels, 5, 6, dtype=F64)
    if grad:
        assert_empty_pass(conv, x, (0, conv.out_channels, 5, 6) if conv.padding == (1, 1)
                          else (0, conv.out_channels, 3, 4))
    else:
        with torch.no_grad():
            assert conv(x).shape[:2] == (0, conv.out_channels)


def test_an_empty_batch_leaves_the_batchnorm_statistics_alone():
    torch.manual_seed(0)
    stack = StackedACDC(8, 8, 3, batchnorm=True).train()
    stack(torch.randn(5, 8))
    before = {k: v.clone() for k, v in stack.state_dict().items()}
    stack(torch.zeros(0, 8))
    for k, v in stack.state_dict().items():
        assert torch.equal(v, before[k]), k  # not NaN from the mean of no rows


def test_the_fused_core_gives_empty_results_of_the_right_shapes():
    """The guard sits at the FFT calls of the fused core, whatever the block layout."""
    from acdc_core.ops import acdc_pass

    for v_shape, per in [((0, 8), (8,)), ((0, 2, 4), (2, 4))]:
        v = torch.zeros(v_shape, dtype=F64, requires_grad=True)
        a, d, b = (torch.ones(per, dtype=F64, requires_grad=True) for _ in range(3))
        r = acdc_pass(v, a, d, b)
        assert r.shape == v_shape
        r.sum().backward()
        for t in (v, a, d, b):
            assert torch.equal(t.grad, torch.zeros_like(t))


# ----------------------------------------------------------------------------------------------
# Construction: (make, error type, words the message must hold).

ACDC_CASES = [
    (lambda: ACDC(0), ValueError, "features must be a positive int, got 0"),
    (lambda: ACDC(-4), ValueError, "features must be a positive int, got -4"),
    (lambda: ACDC(8.0), TypeError, "features must be a positive int, got 8.0 (float)"),
    (lambda: ACDC(True), TypeError, "features must be a positive int, got True (bool)"),
    (lambda: ACDC("8"), TypeError, "features must be a positive int, got '8' (str)"),
    (lambda: ACDC(8, sigma=float("nan")), ValueError, "sigma must be finite and >= 0, got nan"),
    (lambda: ACDC(8, sigma=float("inf")), ValueError, "sigma must be finite and >= 0, got inf"),
    (lambda: ACDC(8, sigma=-0.1), ValueError, "sigma must be finite and >= 0, got -0.1"),
    (lambda: ACDC(8, sigma="0.01"), TypeError, "sigma must be a real number, got '0.01' (str)"),
    (lambda: ACDC(8, sigma=None), TypeError, "sigma must be a real number, got None (NoneType)"),
    (lambda: ACDC(8, sigma=torch.tensor(0.1)), TypeError, "sigma must be a real number, got tensor(0.1000) (Tensor)"),
    (lambda: ACDC(8, bias="False"), TypeError, "bias must be a bool (True or False), got 'False' (str)"),
    (lambda: ACDC(8, bias=0), TypeError, "bias must be a bool (True or False), got 0 (int)"),
    (lambda: ACDC(8, bias=1), TypeError, "bias must be a bool (True or False), got 1 (int)"),
    (lambda: ACDC(8, bias=None), TypeError, "bias must be a bool (True or False), got None (NoneType)"),
    (lambda: ACDC(8, diagonal_bias="yes"), TypeError, "diagonal_bias must be a bool (True or False), got 'yes' (str)"),
    (lambda: ACDC(8, block_size=0), ValueError, "block_size must be a positive int, got 0"),
    (lambda: ACDC(8, block_size=4.0), TypeError, "block_size must be a positive int, got 4.0 (float)"),
    (lambda: ACDC(8, block_size=3), ValueError, "block_size must divide features=8, got 3"),
    (lambda: ACDC(8, order="inverse"), ValueError, "order must be one of 'dct_first', 'idct_first', got 'inverse'"),
    (lambda: ACDC(8, order=None), ValueError, "order must be one of 'dct_first', 'idct_first', got None"),
    (lambda: ACDC(8, parameterisation="shuffled"), ValueError, "parameterisation must be one of 'original', 'riffle', got 'shuffled'"),
    (lambda: ACDC(8, init="zeros"), ValueError, "init must be one of 'normal', 'identity', 'uniform', got 'zeros'"),
    (lambda: ACDC(8, form="sparse"), ValueError, "form must be one of 'fft', 'dense', got 'sparse'"),
]
STACK_CASES = [
    (lambda: StackedACDC(0, 8, 2), ValueError, "in_features must be a positive int, got 0"),
    (lambda: StackedACDC(8, -1, 2), ValueError, "out_features must be a positive int, got -1"),
    (lambda: StackedACDC(8, 8, 0), ValueError, "n_layers must be a positive int, got 0"),
    (lambda: StackedACDC(8, 8, 2.5), TypeError, "n_layers must be a positive int, got 2.5 (float)"),
    (lambda: StackedACDC(8, 8, True), TypeError, "n_layers must be a positive int, got True (bool)"),
    (lambda: StackedACDC(8, 8, 2, seed=1.5), TypeError, "seed must be an int, got 1.5 (float)"),
    (lambda: StackedACDC(8, 8, 2, seed=True), TypeError, "seed must be an int, got True (bool)"),
    (lambda: StackedACDC(8, 8, 2, seed="0"), TypeError, "seed must be an int, got '0' (str)"),
    (lambda: StackedACDC(8, 8, 2, seed=None), TypeError, "seed must be an int, got None (NoneType)"),
    (lambda: StackedACDC(8, 8, 2, sigma=float("nan")), ValueError, "sigma must be finite and >= 0, got nan"),
    (lambda: StackedACDC(8, 8, 2, bias="last"), TypeError, "bias must be a bool (True or False), as nn.Linear's, got 'last'; where the biases go is bias_placement ('every' or 'last')"),
    (lambda: StackedACDC(8, 8, 2, bias=1), TypeError, "bias must be a bool (True or False), got 1 (int)"),
    (lambda: StackedACDC(8, 8, 2, bias_placement="first"), ValueError, "bias_placement must be one of 'every', 'last', got 'first'"),
    (lambda: StackedACDC(8, 8, 2, relu=1), TypeError, "relu must be a bool (True or False), got 1 (int)"),
    (lambda: StackedACDC(8, 8, 2, batchnorm="True"), TypeError, "batchnorm must be a bool (True or False), got 'True' (str)"),
    (lambda: StackedACDC(8, 8, 2, shuffle_last=None), TypeError, "shuffle_last must be a bool (True or False), got None"),
    (lambda: StackedACDC(8, 8, 2, diagonal_bias=0), TypeError, "diagonal_bias must be a bool (True or False), got 0 (int)"),
    (lambda: StackedACDC(8, 8, 2, block_size=16), ValueError, "block_size must be an int from 1 to the working width 8, got 16"),
    (lambda: StackedACDC(8, 8, 2, block_size=0), ValueError, "block_size must be an int from 1 to the working width 8, got 0"),
    (lambda: StackedACDC(8, 8, 2, block_size=4.0), TypeError, "block_size must be an int, got 4.0 (float)"),
    (lambda: StackedACDC(8, 8, 2, shuffle="random"), ValueError, "shuffle must be one of 'riffle', 'unriffle', 'permutation', 'none', got 'random'"),
    (lambda: StackedACDC(4, 8, 2, grow="pad"), ValueError, "grow must be one of 'linear', 'repeat', got 'pad'"),
    (lambda: StackedACDC(8, 4, 2, shrink="max"), ValueError, "shrink must be one of 'linear', 'truncate', 'sum', got 'max'"),
    (lambda: StackedACDC(10, 4, 2, shrink="sum"), ValueError, "shrink='sum' adds groups of out_features=4 and needs in_features divisible by it, got in_features=10"),
    (lambda: StackedACDC(8, 8, 2, order="backwards"), ValueError, "order must be one of"),
]
CONV_CASES = [
    (lambda: SeparableACDCConv2d(0, 4, 3), ValueError, "in_channels must be a positive int, got 0"),
    (lambda: SeparableACDCConv2d(4, 4.0, 3), TypeError, "out_channels must be a positive int, got 4.0 (float)"),
    (lambda: SeparableACDCConv2d(4, 4, 0), ValueError, "kernel_size must be at least 1 (each entry), got 0"),
    (lambda: SeparableACDCConv2d(4, 4, -1), ValueError, "kernel_size must be at least 1 (each entry), got -1"),
    (lambda: SeparableACDCConv2d(4, 4, (3, 0)), ValueError, "kernel_size must be at least 1 (each entry), got (3, 0)"),
    (lambda: SeparableACDCConv2d(4, 4, 2.5), TypeError, "kernel_size must be an int or a pair of ints, got 2.5 (float)"),
    (lambda: SeparableACDCConv2d(4, 4, True), TypeError, "kernel_size must be an int or a pair of ints, got True (bool)"),
    (lambda: SeparableACDCConv2d(4, 4, (3,)), TypeError, "kernel_size must be an int or a pair of ints, got (3,) (tuple)"),
    (lambda: SeparableACDCConv2d(4, 4, (3, 3, 3)), TypeError, "kernel_size must be an int or a pair of ints, got (3, 3, 3) (tuple)"),
    (lambda: SeparableACDCConv2d(4, 4, "3"), TypeError, "kernel_size must be an int or a pair of ints, got '3' (str)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, stride=0), ValueError, "stride must be at least 1 (each entry), got 0"),
    (lambda: SeparableACDCConv2d(4, 4, 3, stride=(1, 0.5)), TypeError, "stride must be an int or a pair of ints, got (1, 0.5) (tuple)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, padding=-1), ValueError, "padding must be at least 0 (each entry), got -1"),
    (lambda: SeparableACDCConv2d(4, 4, 3, padding="full"), ValueError, "Invalid padding string 'full'"),
    (lambda: SeparableACDCConv2d(4, 4, 3, padding="same", stride=2), ValueError, "padding='same' is not supported for strided convolutions"),
    (lambda: SeparableACDCConv2d(4, 4, 3, dilation=0), ValueError, "dilation must be at least 1 (each entry), got 0"),
    (lambda: SeparableACDCConv2d(4, 4, 3, bias="False"), TypeError, "bias must be a bool (True or False), got 'False' (str)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, bias=0), TypeError, "bias must be a bool (True or False), got 0 (int)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, checkpoint=1), TypeError, "checkpoint must be a bool (True or False), got 1 (int)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, seed=0.5), TypeError, "seed must be an int, got 0.5 (float)"),
    (lambda: SeparableACDCConv2d(4, 4, 3, sigma=float("-inf")), ValueError, "sigma must be finite and >= 0, got -inf"),
    (lambda: SeparableACDCConv2d(4, 4, 3, n_layers=0), ValueError, "n_layers must be a positive int, got 0"),
    (lambda: SeparableACDCConv2d(4, 4, 3, form="dense"), ValueError, "form must be one of 'auto', 'fft', 'collapsed', 'full', got 'dense'"),
]
STRUCTURED_CASES = [
    (lambda: AFDF(0), ValueError, "features must be a positive int, got 0"),
    (lambda: AFDF(6, block_size=4), ValueError, "block_size must divide features=6, got 4"),
    (lambda: AFDF(6, block_size=2.0), TypeError, "block_size must be a positive int, got 2.0 (float)"),
    (lambda: AFDF(6, sigma=float("nan")), ValueError, "sigma must be finite and >= 0, got nan"),
    (lambda: AFDF(6, bias="no"), TypeError, "bias must be a bool (True or False), got 'no' (str)"),
    (lambda: AFDF(6, init="zeros"), ValueError, "init must be one of 'normal', 'identity', 'uniform', got 'zeros'"),
    (lambda: Cascade([]), ValueError, "layers must hold at least one layer, got none"),
    (lambda: Cascade([Dense(4), nn.Linear(4, 3)]), ValueError, "layers must all have in_features == out_features == layer 0's in_features (4), got (4, 3) for layer 1"),
    (lambda: Cascade([Dense(4), nn.ReLU()]), ValueError, "got (None, None) for layer 1"),
    (lambda: Cascade([nn.ReLU(), Dense(4)]), ValueError, "layer 0's in_features (None), got (None, None) for layer 0"),
    (lambda: Cascade([Dense(4)], seed=1.5), TypeError, "seed must be an int, got 1.5 (float)"),
    (lambda: Cascade([Dense(4)], shuffle="random"), ValueError, "shuffle must be one of 'riffle', 'unriffle', 'permutation', 'none', got 'random'"),
    (lambda: GroupedLinear(6, 0), ValueError, "groups must be a positive int, got 0"),
    (lambda: GroupedLinear(6, 2.0), TypeError, "groups must be a positive int, got 2.0 (float)"),
    (lambda: GroupedLinear(6, 4), ValueError, "groups must divide features=6, got 4"),
    (lambda: GroupedLinear(6, 2, bias=1), TypeError, "bias must be a bool (True or False), got 1 (int)"),
    (lambda: linear_shufflenet(8, 0, 2), ValueError, "n_layers must be a positive int, got 0"),
    (lambda: linear_shufflenet(8, 2, -2), ValueError, "groups must be a positive int, got -2"),
    (lambda: LowRank(6, 0), ValueError, "rank must be a positive int, got 0"),
    (lambda: LowRank(6, 1.5), TypeError, "rank must be a positive int, got 1.5 (float)"),
    (lambda: LowRank(6, 2, bias="x"), TypeError, "bias must be a bool (True or False), got 'x' (str)"),
    (lambda: Dense(0), ValueError, "features must be a positive int, got 0"),
    (lambda: Dense(2.5), TypeError, "features must be a positive int, got 2.5 (float)"),
    (lambda: Dense(4, bias=None), TypeError, "bias must be a bool (True or False), got None (NoneType)"),
]
CONSTRUCTION_CASES = ACDC_CASES + STACK_CASES + CONV_CASES + STRUCTURED_CASES


@pytest.mark.parametrize("make, error, words", CONSTRUCTION_CASES,
                         ids=[words for _, _, words in CONSTRUCTION_CASES])
def test_a_bad_constructor_argument_is_refused_naming_it(make, error, words):
    with pytest.raises(error, match=re.escape(words)):
        make()


def test_the_allowed_edge_values_construct():
    """The checks refuse no more than they should: sigma 0, an even kernel, "same" padding, pairs."""
    assert torch.equal(ACDC(4, sigma=0).a.detach(), torch.ones(4))
    conv = SeparableACDCConv2d(4, 4, 2, stride=(1, 2), padding=(0, 1), n_layers=1)
    assert conv(torch.zeros(1, 4, 5, 5)).shape == (1, 4, 4, 3)
    assert SeparableACDCConv2d(4, 4, 3, padding="same", n_layers=1)(torch.zeros(1, 4, 5, 5)).shape == (1, 4, 5, 5)
    assert StackedACDC(8, 8, 2, seed=-1, shuffle="permutation").shuffle_0.sort().values.equal(torch.arange(8))


# ----------------------------------------------------------------------------------------------
# Forward input: (make, input, error type, words).

FORWARD_CASES = [
    (lambda: ACDC(8), torch.zeros(2, 7), ValueError, "ACDC(8) expects input of shape (*, 8), got (2, 7)"),
    (lambda: ACDC(8), torch.tensor(1.0), ValueError, "ACDC(8) expects input of shape (*, 8), got ()"),
    (lambda: ACDC(8), [[0.0] * 8], TypeError, "ACDC(8) expects a floating-point tensor, got list"),
    (lambda: ACDC(8), torch.zeros(2, 8, dtype=torch.long), TypeError, "ACDC(8) expects a floating-point tensor, got torch.int64"),
    (lambda: ACDC(8), torch.zeros(2, 8, dtype=torch.bool), TypeError, "got torch.bool"),
    (lambda: ACDC(8), torch.zeros(2, 8, dtype=torch.complex64), TypeError, "got torch.complex64"),
    (lambda: ACDC(8), torch.zeros(2, 8, dtype=F64), RuntimeError, "input dtype torch.float64 does not match the layer's parameters (torch.float32)"),
    (lambda: StackedACDC(8, 4, 2), torch.zeros(3, 4), ValueError, "StackedACDC(8, 4) expects input of shape (*, 8), got (3, 4)"),
    (lambda: StackedACDC(8, 4, 2), torch.zeros(3, 8, dtype=torch.int32), TypeError, "StackedACDC(8, 4) expects a floating-point tensor, got torch.int32"),
    (lambda: SeparableACDCConv2d(4, 8, 3), torch.zeros(2, 3, 5, 5), ValueError, "SeparableACDCConv2d(4, 8) expects input (N, 4, H, W), got (2, 3, 5, 5)"),
    (lambda: SeparableACDCConv2d(4, 8, 3), torch.zeros(4, 5, 5), ValueError, "expects input (N, 4, H, W), got (4, 5, 5)"),
    (lambda: SeparableACDCConv2d(4, 8, 3), torch.zeros(2, 4, 5, 5, dtype=torch.uint8), TypeError, "SeparableACDCConv2d(4, 8) expects a floating-point tensor, got torch.uint8"),
    (lambda: SeparableACDCConv2d(4, 8, 3), "image", TypeError, "SeparableACDCConv2d(4, 8) expects a floating-point tensor, got str"),
    (lambda: AFDF(6), torch.zeros(2, 5), ValueError, "AFDF(6) expects input of shape (*, 6), got (2, 5)"),
    (lambda: LowRank(6, 2), torch.zeros(2, 6, dtype=torch.long), TypeError, "LowRank(6) expects a floating-point tensor, got torch.int64"),
    (lambda: GroupedLinear(6, 2), torch.zeros(6, 2), ValueError, "GroupedLinear(6) expects input of shape (*, 6), got (6, 2)"),
    (lambda: Dense(6), torch.zeros(2, 5), ValueError, "Dense(6) expects input of shape (*, 6), got (2, 5)"),
    (lambda: Cascade([Dense(6), Dense(6)]), torch.zeros(2, 5), ValueError, "Cascade(6) expects input of shape (*, 6), got (2, 5)"),
]


@pytest.mark.parametrize("make, x, error, words", FORWARD_CASES, ids=[words for *_, words in FORWARD_CASES])
def test_a_bad_forward_input_is_refused_naming_it(make, x, error, words):
    module = make()
    with pytest.raises(error, match=re.escape(words)):
        module(x)


# ----------------------------------------------------------------------------------------------
# Convolution surgery: every chosen convolution is checked before any is replaced.

class Net(nn.Module):
    """conv 3->8, a block (8->8, 8->4), a 1x1 shortcut 8->4, and ``odd`` last, given by the test."""

    def __init__(self, odd: nn.Module | None = None):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU(),
                                   nn.Conv2d(8, 4, 3, padding=1))
        self.shortcut = nn.Conv2d(8, 4, 1)
        self.odd = odd if odd is not None else nn.Identity()


def snapshot(model: nn.Module):
    """Every module by name (identity), and a copy of the state dict."""
    return ([(name, id(m)) for name, m in model.named_modules(remove_duplicate=False)],
            {k: v.clone() for k, v in model.state_dict().items()})


SURGERY_CASES = [
    (Net(nn.Conv2d(4, 4, 3, groups=2)), "all", {}, ValueError,
     "odd: only ungrouped, zero-padded convolutions can be replaced (groups=2, padding_mode='zeros')"),
    (Net(nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")), "all_but_first", {}, ValueError,
     "odd: only ungrouped, zero-padded convolutions can be replaced (groups=1, padding_mode='reflect')"),
    (Net(nn.Conv2d(4, 3, 3)), "all", {}, ValueError,  # the default shrink='sum' cannot take 4 -> 3
     "odd: shrink='sum' adds groups of out_features=3 and needs in_features divisible by it, got in_features=4"),
    (Net(), "all", {"shrink": "linear", "grow": "sideways"}, ValueError,
     "stem: grow must be one of 'linear', 'repeat', got 'sideways'"),
    (Net(), "all", {"n_layers": 0}, ValueError, "stem: n_layers must be a positive int, got 0"),
    (Net(), "all", {"layers": 2}, TypeError, "stem: SeparableACDCConv2d.__init__() got an unexpected keyword argument 'layers'"),
    (Net(), "everything", {}, ValueError, "which must be one of 'shortcuts', 'all_but_first', 'all', got 'everything'"),
    (nn.Conv2d(3, 8, 3), "all", {}, ValueError, "model is itself an nn.Conv2d, which cannot be replaced in place"),
    ([nn.Conv2d(3, 8, 3)], "all", {}, TypeError, "model must be an nn.Module, got list"),
]


@pytest.mark.parametrize("model, which, options, error, words", SURGERY_CASES,
                         ids=[words for *_, words in SURGERY_CASES])
def test_surgery_refuses_before_it_changes_anything(model, which, options, error, words):
    before = snapshot(model) if isinstance(model, nn.Module) else None
    with pytest.raises(error, match=re.escape(words)):
        replace_convolutions(model, which, **options)
    if before is not None:
        names, state = snapshot(model)
        assert names == before[0]
        assert state.keys() == before[1].keys()
        assert all(torch.equal(state[k], before[1][k]) for k in state)


def test_surgery_replaces_a_shared_convolution_in_every_place():
    shared = nn.Conv2d(4, 4, 3, padding=1)
    model = Net(nn.Sequential(shared, nn.ReLU(), shared))
    report = replace_convolutions(model, lambda name, conv: conv is shared, n_layers=1)
    assert [r["name"] for r in report] == ["odd.0"]
    assert model.odd[0] is model.odd[2] and isinstance(model.odd[0], SeparableACDCConv2d)
