"""Per-layer cost tables: a hand count of a small network, the form rule against the separable
layer's own choice, totals against the parameters and against FlopCounterMode, and switching a
model to the cheaper forms without changing its output. The rule runs at fixed speeds here (the
CPU's of a past calibration), so the forms chosen do not move with the constants."""
import math

import pytest
import scipy.optimize
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC, forms, layer_costs, totals, use_cheaper_forms
from acdc_core.lab.analysis.costs import crossover_width, training_forms
from acdc_core.lab.models.cifar_recipes import build
from acdc_core.lab.log_figures import figure


@pytest.fixture(autouse=True)
def fixed_speed():
    forms.set_speed("cpu", False, forms.Speed(matmul=3e-11, conv=1e-11, depthwise=5e-11,
                                              fused=6e-11, composed=1.5e-10, calls=8e-5))
    yield
    forms.set_speed("cpu", False, None)


def small_network():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        SeparableACDCConv2d(8, 16, 3, padding=1, stride=2, n_layers=2, bias=False),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 32), nn.ReLU(), StackedACDC(32, 32, 4), nn.Linear(32, 10)
    ).double()


def test_a_small_network_by_hand():
    costs = layer_costs(small_network(), torch.randn(1, 3, 4, 4, dtype=torch.float64))
    by_name = {c.name: c for c in costs}
    # conv 3->8, 3x3, 4x4 output: 16 pixels x 8 out x 27
    assert by_name["0"].mult_adds == 16 * 8 * 27 and by_name["0"].parameters == 8 * 27
    # separable 8->16, stride 2: 2x2 output pixels; depthwise 8 x 9 per pixel; the stack at width
    # 16 costs 2 x (4 x 16 + 5 x 16 x 4) per row, and multiplying it out runs 8 + 1 rows through
    # it; its dense form is the collapsed one (depthwise, then a 1x1 convolution), not the full 3x3
    sep, stack_row = by_name["3"], 2 * (4 * 16 + 5 * 16 * 4)
    assert sep.fft == 4 * (8 * 9 + stack_row)
    assert sep.dense == 4 * (8 * 9 + 8 * 16) + 9 * stack_row and sep.form == "fft"
    assert sep.parameters == 8 * 9 + 2 * 2 * 16
    assert by_name["5"].mult_adds == 64 * 32 and by_name["8"].mult_adds == 32 * 10
    stack = by_name["7"]
    assert stack.fft == 4 * (4 * 32 + 5 * 32 * 5) and stack.dense == 32 * 32
    assert by_name["other"].parameters == 16  # BatchNorm's weight and bias
    assert [c.name for c in costs] == ["0", "3", "5", "7", "8", "other"]  # nothing inside a unit twice


# 1 to 128 pixels
INPUTS = [(1, 1, 1), (1, 2, 5), (1, 1, 11), (1, 3, 6), (1, 4, 5), (1, 5, 5), (1, 6, 6), (2, 4, 4),
          (2, 8, 8)]
GRID = [dict(cin=16, cout=16), dict(cin=8, cout=16, grow="linear"), dict(cin=16, cout=8, shrink="linear"),
        dict(cin=12, cout=12)]


def grid_conv(shape: dict) -> SeparableACDCConv2d:
    """The layer of one GRID entry, seeded, in float64 and eval mode."""
    torch.manual_seed(0)
    options = dict(shape)
    cin, cout = options.pop("cin"), options.pop("cout")
    return SeparableACDCConv2d(cin, cout, 3, padding=1, n_layers=2, **options).double().eval()


def counted_mult_adds(conv, x, form):
    """MA of ``conv``'s call on ``x`` in ``form``, as FlopCounterMode counts it (FLOPs / 2)."""
    conv.form = form
    with torch.no_grad(), FlopCounterMode(display=False) as mode:
        conv(x)
    return mode.get_total_flops() / 2


@pytest.mark.parametrize("shape", GRID, ids=str)
def test_the_table_counts_each_form_as_flop_counter_mode_and_picks_the_fewest_at_even_speeds(shape):
    """At one speed for every kind of work and free layer calls the rule must pick the form with
    the fewest multiply-adds: FlopCounterMode counts each form's call, the table and the layer's
    own choice must agree with that count; across the sizes more than one form is chosen."""
    forms.set_speed("cpu", False, forms.Speed(matmul=1e-9, conv=1e-9, depthwise=1e-9, fused=1e-9,
                                              composed=1e-9, calls=0))
    conv = grid_conv(shape)
    cin = conv.in_channels
    chosen_forms = set()
    for batch, height, width in INPUTS:
        x = torch.randn(batch, cin, height, width, dtype=torch.float64)
        counted = {form: counted_mult_adds(conv, x, form) for form in ("fft", "collapsed", "full")}
        conv.form = "auto"
        cost = layer_costs(conv, x)[0]
        fewest = min(counted, key=counted.get)
        # the counter rounds each operator call to whole FLOPs: at most 6 ACDC calls here
        assert cost.fft == pytest.approx(counted["fft"], abs=3), x.shape
        assert cost.dense == pytest.approx(min(counted["collapsed"], counted["full"]), abs=3), x.shape
        with torch.no_grad():
            assert counted[cost.form] <= counted[fewest] + 3 and conv.chosen_form(x) == cost.form, x.shape
        chosen_forms.add(cost.form)
    assert len(chosen_forms) > 1


@pytest.mark.parametrize("shape", GRID, ids=str)
def test_flop_counter_mode_counts_the_tables_form_in_the_layers_own_call(shape):
    """At the CPU's speeds, the FLOPs of the call the layer makes with ``form="auto"`` are twice
    the table's MA."""
    conv = grid_conv(shape)
    cin = conv.in_channels
    for batch, height, width in INPUTS:
        x = torch.randn(batch, cin, height, width, dtype=torch.float64)
        cost = layer_costs(conv, x)[0]
        assert counted_mult_adds(conv, x, "auto") == pytest.approx(cost.mult_adds, abs=3), x.shape


@pytest.mark.parametrize("name", ["e23_scratch", "e15", "quick_scratch"])
def test_totals_hold_every_parameter_and_match_flop_counter_mode(name):
    built = build(name)
    model, x = built.model.eval(), torch.randn(2, 3, 32, 32)
    costs = layer_costs(model, x, form="fft")
    total = totals(costs)
    assert total["parameters"] == sum(p.numel() for p in model.parameters()) == built.parameters
    for m in model.modules():
        if isinstance(m, SeparableACDCConv2d):
            m.form = "fft"
    with FlopCounterMode(display=False) as mode, torch.no_grad():
        model(x)
    assert mode.get_total_flops() == pytest.approx(2 * total["MA all fft"], rel=1e-9)
    assert total["MA"] == total["MA all fft"] and total["FLOPs"] == 2 * total["MA"]


def test_switching_to_the_cheaper_forms_keeps_the_output_and_the_counted_cost():
    model = small_network().eval()
    x = torch.randn(16, 3, 4, 4, dtype=torch.float64)  # 64 pixels at the separable conv: collapsed
    before = model(x)
    chosen = totals(layer_costs(model, x))
    stack = model[7]
    jacobian = torch.autograd.functional.jacobian(stack, torch.zeros(32, dtype=torch.float64))
    offset = stack(torch.zeros(1, 32, dtype=torch.float64))[0].detach()
    records = use_cheaper_forms(model, x)
    assert {r["layer"]: r["form"] for r in records} == {"3": "collapsed", "7": "dense"}
    assert model[3].form == "collapsed" and type(model[7]) is nn.Linear
    torch.testing.assert_close(model[7].weight, jacobian, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(model[7].bias, offset, rtol=1e-12, atol=1e-12)
    assert torch.allclose(model(x), before)
    with FlopCounterMode(display=False) as mode, torch.no_grad():
        model(x)
    assert mode.get_total_flops() == pytest.approx(2 * chosen["MA"], rel=1e-12)


def test_a_batchnorm_stack_is_linear_at_inference_and_switches_to_its_linear_map():
    """The table runs the model in eval mode, where BatchNorm is a fixed affine map: the stack has
    a dense form there, as its own is_linear() says, even when the model is training."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), StackedACDC(32, 32, 4, batchnorm=True)).double()
    model(torch.randn(64, 8, dtype=torch.float64))  # statistics of its own
    x = torch.randn(64, 8, dtype=torch.float64)
    stack = layer_costs(model, x)[1]
    assert stack.kind == "StackedACDC, 4 layers" and stack.dense == 64 * 32 * 32
    assert stack.form == "dense" and model.training
    expected = model.eval()(x)
    assert use_cheaper_forms(model.train(), x) == [{"layer": "1", "form": "dense"}]
    assert type(model[1]) is nn.Linear
    torch.testing.assert_close(model(x), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n_layers", [1, 4, 12, 32])
def test_crossover_width_against_scipy_root_finding(n_layers):
    stack_minus_dense = lambda n: n_layers * (4 * n + 5 * n * math.log2(n)) - n * n
    expected = scipy.optimize.brentq(stack_minus_dense, 4, 1e6, xtol=1e-12, rtol=1e-15)
    assert crossover_width(n_layers) == pytest.approx(expected, rel=1e-12)


def test_crossover_width_of_one_layer_by_hand():
    """One layer: at N = 28, 4 + 5·log2(28) = 28.04 > 28, at N = 28.1 it is 28.06 < 28.1."""
    assert 28 < crossover_width(1) < 28.1
    with pytest.raises(ValueError, match="n_layers must be a positive int, got 0"):
        crossover_width(0)


def test_acdc_layers_switch_their_form_and_bad_options_are_refused():
    model = nn.Sequential(ACDC(16), nn.ReLU(), ACDC(1024)).double()
    x = torch.randn(2, 1024, dtype=torch.float64)
    with pytest.raises(ValueError, match="ACDC\\(16\\) expects"):
        layer_costs(model, x)
    model = nn.Sequential(ACDC(16), nn.ReLU(), nn.Linear(16, 16)).double()
    x = torch.randn(2, 16, dtype=torch.float64)
    before = model(x)
    assert use_cheaper_forms(model, x) == [{"layer": "0", "form": "dense"}]
    assert model[0].form == "dense" and torch.allclose(model(x), before)
    with pytest.raises(ValueError, match="form must be one of 'auto', 'fft', 'dense', got 'collapsed'"):
        layer_costs(model, x, form="collapsed")


def test_the_logs_dense_totals_are_reproduced_under_its_counting_convention():
    """The log's counter added one operation per ReLU-module output and per Linear bias entry; its
    WRN used ReLU modules, its ResNet18 F.relu (not seen)."""
    from acdc_core.lab.analysis.costs import log_convention_extras
    from acdc_core.lab.models.cifar import ResNet18, WideResNet

    x = torch.zeros(1, 3, 32, 32)
    wrn = WideResNet(40, 2)
    ma, params = (figure("E18", "WRN-40-2, dense", unit).text for unit in ("multiply-adds", "parameters"))
    total, extras = totals(layer_costs(wrn, x)), log_convention_extras(wrn, x)
    assert f"{total['MA'] + extras['relu'] + extras['bias']:.5E}" == ma  # 3.28304E+08
    assert f"{total['parameters']:.5E}" == params
    resnet = ResNet18()
    ma, params = (figure("E18", "ResNet18, dense", unit).text for unit in ("multiply-adds", "parameters"))
    total, extras = totals(layer_costs(resnet, x)), log_convention_extras(resnet, x)
    assert f"{total['MA'] + extras['bias']:.5E}" == ma  # 5.55423E+08
    assert f"{total['parameters']:.5E}" == params


def test_training_forms_are_the_layers_choice_with_gradients_and_change_no_statistics():
    model = small_network()
    x = torch.randn(64, 3, 4, 4, dtype=torch.float64)  # 64 rows at the stack, more than its 33
    before = {k: v.clone() for k, v in model.state_dict().items()}
    forms.set_speed("cpu", True, forms.Speed(matmul=0, conv=1, depthwise=1, fused=0, composed=0, calls=0))
    try:
        assert training_forms(model, x) == {"3": "fft", "7": "fft"}  # dense work dear: FFT forms
        forms.set_speed("cpu", True, forms.Speed(matmul=0, conv=0, depthwise=1, fused=1, composed=1, calls=0))
        assert training_forms(model, x) == {"3": "full", "7": "collapsed"}
    finally:
        forms.set_speed("cpu", True, None)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
