"""Mixed precision: torch's autocast policy for FFTs (compute in float32) in every structured layer.

Under autocast a layer takes any floating input and computes in float32. Outside autocast a
bfloat16 or float16 layer computes in float32 on upcast copies of its parameters and returns its
own dtype. So a half-precision layer's output is the float32 layer's output, on the same (rounded)
parameters and input, rounded once to the half dtype: within one unit roundoff u of it, elementwise
(u = 2^-8 for bfloat16, of 8 significant bits, and 2^-11 for float16, of 11). A layer computing in the half
dtype itself would round at every step of its FFTs and miss that bound by orders of magnitude.
"""
import copy
import pytest
import torch
from conftest import devices
from torch import nn

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC
from acdc_core.structured import AFDF, Dense, GroupedLinear, LowRank, linear_shufflenet

HALF = {torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11}  # unit roundoff, 2^-(significant bits)

LAYERS = {
    "ACDC": lambda: ACDC(64),
    "ACDC diagonal biases, dense form": lambda: ACDC(64, diagonal_bias=True, form="dense"),
    "ACDC riffle, blocks": lambda: ACDC(64, parameterisation="riffle", block_size=16),
    "StackedACDC BatchNorm, ReLU, adapters": lambda: StackedACDC(48, 20, 4, relu=True, batchnorm=True),
    "StackedACDC permutations, blocks": lambda: StackedACDC(64, 64, 3, shuffle="permutation", block_size=16),
    "AFDF": lambda: AFDF(64),
    "LowRank": lambda: LowRank(64, 4),
    "Dense": lambda: Dense(64),
    "GroupedLinear": lambda: GroupedLinear(64, 4),
    "linear ShuffleNet": lambda: linear_shufflenet(64, 3, 4),
}


def randomised(layer: nn.Module) -> nn.Module:
    """Diagonals away from 1 and biases away from 0, so every parameter matters."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return layer


def half_and_reference(make, dtype):
    """A layer in ``dtype`` and the float32 layer with the same (rounded) parameters."""
    half = randomised(make()).to(dtype)
    return half, copy.deepcopy(half).float()


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("make", LAYERS.values(), ids=LAYERS.keys())
def test_a_half_precision_layer_is_the_float32_layer_rounded_once(make, dtype):
    half, reference = half_and_reference(make, dtype)
    x = torch.randn(16, half.in_features).to(dtype)
    x_ref = x.float().requires_grad_()
    x.requires_grad_()
    y, y_ref = half(x), reference(x_ref)
    assert y.dtype == dtype
    assert within_one_rounding(y, y_ref, dtype)
    y.float().square().sum().backward()
    y_ref.to(dtype).float().square().sum().backward()  # the same upstream gradient
    for ours, theirs in [(x.grad, x_ref.grad)] + [(p.grad, q.grad) for p, q in
                                                   zip(half.parameters(), reference.parameters())]:
        assert ours.dtype == dtype
        assert within_one_rounding(ours, theirs, dtype)


def within_one_rounding(ours: torch.Tensor, theirs: torch.Tensor, dtype) -> bool:
    """Every entry within u of the float32 value, plus 1e-6 of the largest for float32 sums taken
    in another order, plus half the spacing of float16's subnormals (2^-25) for the tiniest."""
    slack = 1e-6 * theirs.abs().max() + torch.finfo(dtype).smallest_normal * HALF[dtype]
    return bool(torch.all((ours.float() - theirs).abs() <= HALF[dtype] * theirs.abs() + slack))


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_precision_batchnorm_statistics_follow_the_float32_ones(dtype):
    half, reference = half_and_reference(lambda: StackedACDC(16, 16, 3, batchnorm=True), dtype)
    x = torch.randn(64, 16).to(dtype)
    half(x), reference(x.float())
    for ours, theirs in zip(half.buffers(), reference.buffers()):
        if ours.is_floating_point():
            assert ours.dtype == dtype
            assert within_one_rounding(ours, theirs, dtype)


@pytest.mark.parametrize("form", ["fft", "collapsed"])
@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_a_half_precision_separable_convolution_in_either_form(form, dtype):
    """The depthwise convolution runs natively in the half dtype (its output rounded once), then
    the stack as above: two roundings, each within u, through a stack of norm near 1 (diagonals
    near 1), so within 4u in norm of the float32 layer on the same parameters."""
    half, reference = half_and_reference(lambda: SeparableACDCConv2d(8, 16, 3, padding=1, form=form), dtype)
    x = torch.randn(2, 8, 6, 6).to(dtype)
    y, y_ref = half(x), reference(x.float())
    assert y.dtype == dtype
    assert torch.linalg.norm(y.float() - y_ref) <= 4 * HALF[dtype] * torch.linalg.norm(y_ref)
    y.float().sum().backward()
    assert all(p.grad.dtype == dtype and p.grad.isfinite().all() for p in half.parameters())


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("make", [lambda: ACDC(32), lambda: StackedACDC(32, 32, 4, relu=True, batchnorm=True)],
                         ids=["ACDC", "StackedACDC"])
def test_under_autocast_a_layer_after_a_dense_one_takes_bfloat16_and_computes_in_float32(make, device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), make(), nn.Linear(32, 4)).to(device)
    seen = []
    model[1].register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    x = torch.randn(8, 16, device=device)
    with torch.autocast(device, dtype=torch.bfloat16):
        logits = model(x)
    (received, output), = seen
    assert received.dtype == torch.bfloat16 and output.dtype == torch.float32
    with torch.no_grad():  # the same layer outside autocast, on the same input in float32
        torch.testing.assert_close(output, model[1](received.float()), rtol=1e-6, atol=1e-6)
    logits.float().square().sum().backward()
    for p in model.parameters():
        assert p.dtype == torch.float32 and p.grad is not None and p.grad.isfinite().all()


@pytest.mark.parametrize("form", ["fft", "collapsed"])
def test_a_separable_convolution_under_autocast_in_either_form(form):
    torch.manual_seed(0)
    conv = SeparableACDCConv2d(8, 16, 3, padding=1, form=form)
    x = torch.randn(2, 8, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv(x)
    torch.testing.assert_close(y.float(), conv(x), rtol=0.05, atol=0.05)  # bfloat16 depthwise
    y.float().sum().backward()
    assert all(p.grad.isfinite().all() for p in conv.parameters())


def test_float64_layers_compute_in_float64_even_under_autocast():
    layer = StackedACDC(16, 16, 2, dtype=torch.float64)
    x = torch.randn(4, 16, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, x @ layer.effective_weight().T + layer.effective_bias())


def test_outside_autocast_another_input_dtype_is_refused_as_nn_linear_refuses_it():
    for layer, reference in [(ACDC(8), nn.Linear(8, 8)), (StackedACDC(8, 8, 2).to(torch.bfloat16),
                                                         nn.Linear(8, 8).to(torch.bfloat16))]:
        x = torch.zeros(2, 8)
        x = x.double() if layer.dtype == torch.float32 else x
        with pytest.raises(RuntimeError):
            reference(x)
        with pytest.raises(RuntimeError, match="does not match the layer's parameters"):
            layer(x)


def test_amp_training_with_a_dense_first_layer_feeds_acdc_bfloat16():
    from acdc_core.training.data import load
    from acdc_core.training.batches import Batches
    from acdc_core.training.train import train

    train_set, test_set = load("mnist_subset")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), ACDC(64), nn.ReLU(), nn.Linear(64, 10))
    seen = set()
    model[2].register_forward_pre_hook(lambda m, args: seen.add(args[0].dtype))
    history = train(model, Batches(train_set.first(1000), 50, shuffle=True), Batches(test_set.first(500), 250),
                    torch.optim.Adam(model.parameters(), lr=3e-3), 3, amp=True, progress=False, device="cpu")
    assert seen == {torch.bfloat16}
    assert history.final["test_accuracy"] > 0.5  # chance is 0.1


def test_the_mnist_and_cifar_recipes_train_under_autocast(tmp_path):
    from acdc_core.lab.experiments import cifar, mnist
    from acdc_core.training.data import cifar10_standin, load

    train_set, test_set = load("mnist_subset")
    run = mnist.run("e11", train_set.first(200), test_set.first(100), 1, device="cpu", progress=False,
                    amp=True, checkpoint_dir=tmp_path)
    assert run.history.final["test_accuracy"] >= 0 and "bfloat16 autocast" in run.history.name
    assert [p.name for p in tmp_path.iterdir()][0].endswith("-amp.pt")
    train_set, test_set = cifar10_standin(train=64, test=32)
    run = cifar.run("quick_teacher", train_set, test_set, epochs=1, device="cpu", progress=False, amp=True)
    assert run.history.final["train_loss"] > 0 and "bfloat16 autocast" in run.history.name


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_a_half_precision_layers_effective_weight_is_the_float32_one_rounded_once(dtype):
    half, reference = half_and_reference(lambda: StackedACDC(16, 16, 3), dtype)
    weight, bias = half.effective_weight(), half.effective_bias()
    assert weight.dtype == bias.dtype == dtype
    assert within_one_rounding(weight, reference.effective_weight(), dtype)
    assert within_one_rounding(bias, reference.effective_bias(), dtype)
