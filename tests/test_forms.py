"""The form rule: each form's work written out by hand, the choice it makes at given speeds, the
layers following it, every form computing the same map and gradients, and calibration."""
import math

import pytest
import torch
import torch.nn.functional as F

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC, calibration, forms
from acdc_core.forms import Speed, Work

# Only the fused layers' work costs: the rule then picks the form with the fewest such MA.
FFT_ONLY = Speed(matmul=0, conv=0, depthwise=0, fused=1e-9, composed=1e-9, calls=0)
# Only dense work costs.
DENSE_ONLY = Speed(matmul=1e-9, conv=1e-9, depthwise=1e-9, fused=0, composed=0, calls=0)


@pytest.fixture
def speed_at():
    """``speed_at(forward, training=None)``: install speeds for the CPU (the forward's for
    training too unless given) for one test, then the constants again."""
    def install(forward, training=None):
        forms.set_speed("cpu", False, forward)
        forms.set_speed("cpu", True, training or forward)
    yield install
    for mode in (False, True):
        forms.set_speed("cpu", mode, None)


def layer_row(n):
    """A fused ACDC layer's forward on one row, written out."""
    return 4 * n + 5 * n * math.log2(n)


def test_work_of_an_acdc_layer_by_hand():
    """Fused (original, DCT first) or composed (every other option), per block; dense: the
    product with the cached weight."""
    works = ACDC(16, block_size=4).work(3)
    assert works == {"fft": Work(fused=3 * 4 * layer_row(4), calls=1), "dense": Work(matmul=3 * 256)}
    assert ACDC(16, parameterisation="riffle").work(3)["fft"] == Work(composed=3 * layer_row(16), calls=1)
    assert ACDC(16, order="idct_first").work(3)["fft"].composed == 3 * layer_row(16)


def test_work_of_each_conv_form_by_hand():
    conv = SeparableACDCConv2d(16, 16, 3, padding=1, n_layers=2)  # original: fused layers
    pixels, row = 10, 2 * layer_row(16)
    works = conv.work(pixels)
    collapse = Work(fused=17 * row, calls=2)  # the identity and a zero row through the stack
    assert works["fft"] == Work(depthwise=pixels * 16 * 9, fused=pixels * row, calls=2)
    assert works["collapsed"] == collapse + Work(depthwise=pixels * 16 * 9, matmul=pixels * 16 * 16)
    assert works["full"] == collapse + Work(conv=pixels * 16 * 16 * 9)


def test_work_of_a_linear_stack_by_hand_and_its_adapters():
    stack = StackedACDC(12, 16, 3, parameterisation="riffle")  # grows 12 -> 16 by a linear map
    row = 3 * layer_row(16)
    works = stack.work(5)
    assert works["fft"] == Work(matmul=5 * 12 * 4, composed=5 * row, calls=3)
    assert works["collapsed"] == Work(matmul=13 * 12 * 4 + 5 * 12 * 16, composed=13 * row, calls=3)
    assert set(StackedACDC(16, 16, 2, relu=True).work(5)) == {"fft"}


def test_a_work_costs_its_counts_at_the_speed():
    speed = Speed(matmul=1, conv=2, depthwise=3, fused=4, composed=5, calls=6)
    assert Work(1, 1, 1, 1, 1, 1).seconds(speed) == 21
    assert Work(matmul=2) + Work(calls=1) == Work(matmul=2, calls=1)
    assert Work(1, 2, 3, 4, 5, 100).mult_adds == 15


def test_the_rule_follows_the_speeds(speed_at):
    conv = SeparableACDCConv2d(16, 16, 3, padding=1, n_layers=2)
    stack = StackedACDC(16, 16, 2)
    x, rows = torch.randn(8, 16, 6, 6), torch.randn(288, 16)
    speed_at(FFT_ONLY)  # fewest FFT MA: collapsing costs 17 rows against 288
    assert conv.chosen_form(x) in ("collapsed", "full") and stack.chosen_form(rows) == "collapsed"
    speed_at(DENSE_ONLY)  # no dense work at all in the FFT form's stack
    assert conv.chosen_form(x) == "fft" and stack.chosen_form(rows) == "fft"
    # dense work only, depthwise dear: the full form skips the depthwise convolution
    speed_at(Speed(matmul=0, conv=0, depthwise=1, fused=0, composed=0, calls=0))
    assert conv.chosen_form(x) == "full"
    # dense k×k convolutions dear, FFT layers cheap but not free: collapsed
    speed_at(Speed(matmul=0, conv=1, depthwise=0, fused=1e-3, composed=1e-3, calls=0))
    assert conv.chosen_form(x) == "collapsed"


def test_gradients_choose_the_training_speeds(speed_at):
    stack, x = StackedACDC(16, 16, 2), torch.randn(100, 16)
    speed_at(forward=FFT_ONLY, training=DENSE_ONLY)
    with torch.no_grad():
        assert stack.chosen_form(x) == "collapsed"
    assert stack.chosen_form(x) == "fft"


def test_nonlinear_stacks_stay_in_fft_form_and_refuse_the_collapsed_one(speed_at):
    speed_at(FFT_ONLY)
    x = torch.randn(300, 16)
    assert StackedACDC(16, 16, 2, relu=True).chosen_form(x) == "fft"
    batchnorm = StackedACDC(16, 16, 2, batchnorm=True)
    assert batchnorm.chosen_form(x) == "fft"  # training: BatchNorm learns from the batch
    assert batchnorm.eval().chosen_form(x) == "collapsed"
    with pytest.raises(ValueError, match="form='collapsed' needs a linear stack"):
        StackedACDC(16, 16, 2, relu=True, form="collapsed")
    with pytest.raises(ValueError, match="form must be one of"):
        StackedACDC(16, 16, 2, form="full")


def reference_conv(conv, x):
    """Depthwise then the stack's matrix as an einsum, from the layer's parameters."""
    h = F.conv2d(x, conv.depthwise.weight, None, conv.stride, conv.padding, conv.dilation,
                 groups=conv.in_channels)
    stack = conv.pointwise
    stack.form = "fft"
    eye = torch.eye(conv.in_channels, dtype=x.dtype)
    offset = stack(torch.zeros(1, conv.in_channels, dtype=x.dtype))[0]
    weight = (stack(eye) - offset).T
    return torch.einsum("oc,nchw->nohw", weight, h) + offset[:, None, None]


@pytest.mark.parametrize("options", [dict(padding=1), dict(stride=2, padding=2, dilation=2,
                                                            grow="linear", parameterisation="riffle")])
def test_every_conv_form_computes_the_same_map_and_gradients(options):
    torch.manual_seed(0)
    conv = SeparableACDCConv2d(6, 10, 3, n_layers=3, **options).double()
    x = torch.randn(2, 6, 7, 7, dtype=torch.float64, requires_grad=True)
    expected = reference_conv(conv, x.detach())
    grads = {}
    for form in ("fft", "collapsed", "full"):
        conv.form = form
        y = conv(x)
        torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
        conv.zero_grad()
        x.grad = None
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        grads[form] = [x.grad.clone()] + [p.grad.clone() for p in conv.parameters()]
    for form in ("collapsed", "full"):
        for a, b in zip(grads["fft"], grads[form]):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("form", ["collapsed", "full"])
def test_gradcheck_of_the_multiplied_out_forms(form):
    torch.manual_seed(0)
    conv = SeparableACDCConv2d(4, 6, 3, padding=1, n_layers=2, form=form).double()
    x = torch.randn(1, 4, 4, 4, dtype=torch.float64, requires_grad=True)
    params = tuple(conv.parameters())

    def call(x, *values):
        with torch.nn.utils.stateless._reparametrize_module(
                conv, dict(zip((n for n, _ in conv.named_parameters()), values))):
            return conv(x)
    assert torch.autograd.gradcheck(call, (x, *(p.detach().requires_grad_() for p in params)))


def test_the_collapsed_linear_stack_equals_its_fft_form_with_gradients():
    torch.manual_seed(0)
    stack = StackedACDC(12, 20, 4, grow="linear", shuffle="permutation").double()
    x = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    outs = {}
    for form in ("fft", "collapsed"):
        stack.form = form
        stack.zero_grad()
        x.grad = None
        y = stack(x)
        y.square().sum().backward()
        outs[form] = [y.detach(), x.grad.clone()] + [p.grad.clone() for p in stack.parameters()]
    for a, b in zip(*outs.values()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_output_size_is_nn_conv2ds():
    for options in (dict(padding=1), dict(stride=2, padding=2, dilation=2), dict(padding="same"),
                    dict(padding="valid", stride=(2, 1))):
        conv = SeparableACDCConv2d(4, 4, (3, 5), **options)
        x = torch.randn(1, 4, 11, 9)
        assert conv.output_size(x.shape[-2:]) == tuple(conv.depthwise(x).shape[-2:])


def test_calibration_measures_installs_and_is_forgotten():
    with torch.no_grad():  # calibrating measures the backward all the same
        measured = calibration.calibrate("cpu")
    try:
        for training, mode in ((False, "forward"), (True, "training")):
            assert all(0 < value < 1e-2 for value in vars(measured[mode]).values())
            assert forms.speed("cpu", training) is measured[mode]
    finally:
        for training in (False, True):
            forms.set_speed("cpu", training, None)
    assert forms.speed("cpu", True) == forms.SPEEDS["cpu"]["training"]
    # a type without a constant, other than CUDA, takes the CPU's
    assert forms.speed("meta", False) == forms.SPEEDS["cpu"]["forward"]


def test_a_cuda_device_is_calibrated_at_its_first_use_by_the_package_calibration():
    assert forms._calibrate_new_device == [calibration.calibrate]
    measured = []

    def fake(device):
        measured.append(device)
        for training in (False, True):
            forms.set_speed(device, training, FFT_ONLY)
    forms.calibrate_new_devices_with(fake)
    try:
        assert forms.speed("cuda:3", False) is FFT_ONLY and forms.speed("cuda:3", True) is FFT_ONLY
        assert measured == [torch.device("cuda:3")]  # once
    finally:
        forms.calibrate_new_devices_with(calibration.calibrate)
        for training in (False, True):
            forms.set_speed("cuda:3", training, None)
