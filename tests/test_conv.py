"""Separable ACDC convolution: both forms against a depthwise F.conv2d followed by the stack's
matrix (float64), channel changes, gradients, checkpointing, the form switch, bad input."""
import pytest
import torch
import torch.nn.functional as F

from acdc_core.conv import SeparableACDCConv2d


def layer(cin, cout, **kwargs):
    torch.manual_seed(0)
    conv = SeparableACDCConv2d(cin, cout, dtype=torch.float64, **kwargs)
    with torch.no_grad():  # move every parameter away from its initial value
        for p in conv.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return conv


def reference(conv, x):
    """The layer's map built from its parts: the depthwise convolution by F.conv2d with one group
    per channel, then the stack's matrix and bias applied to every pixel's channel vector."""
    h = F.conv2d(x, conv.depthwise.weight, None, conv.stride, conv.padding, conv.dilation,
                 groups=conv.in_channels)
    weight, bias = conv.pointwise.effective_weight(), conv.pointwise.effective_bias()
    return torch.einsum("oc,nchw->nohw", weight, h) + bias[:, None, None]


@pytest.mark.parametrize("cin, cout, kwargs", [
    (8, 8, dict(kernel_size=3, padding=1)),
    (8, 16, dict(kernel_size=3, stride=2, padding=1, grow="repeat")),
    (6, 16, dict(kernel_size=3, padding=2, dilation=2, grow="linear")),
    (16, 8, dict(kernel_size=1, shrink="sum")),
    (12, 5, dict(kernel_size=(3, 1), padding=(1, 0), shrink="linear", bias=False)),
    (8, 8, dict(kernel_size=3, padding=1, shuffle="permutation", parameterisation="riffle")),
])
@pytest.mark.parametrize("form", ["fft", "collapsed", "full"])
def test_every_form_and_the_full_weight_equal_depthwise_then_the_stack_matrix(cin, cout, kwargs, form):
    conv = layer(cin, cout, form=form, n_layers=3, **kwargs)
    x = torch.randn(2, cin, 7, 9, dtype=torch.float64)
    expected = reference(conv, x)
    torch.testing.assert_close(conv(x), expected, rtol=1e-10, atol=1e-10)
    _, bias = conv.collapsed_weight()
    dense = F.conv2d(x, conv.full_weight(), bias, conv.stride, conv.padding, conv.dilation)
    torch.testing.assert_close(dense, expected, rtol=1e-10, atol=1e-10)


def test_fft_form_is_channels_last_and_needs_no_copy_of_the_stack_output():
    conv = layer(8, 8, kernel_size=3, padding=1, form="fft", n_layers=2)
    y = conv(torch.randn(2, 8, 5, 5, dtype=torch.float64))
    assert y.is_contiguous(memory_format=torch.channels_last)


def test_gradients_and_checkpointing():
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64, requires_grad=True)
    conv = layer(4, 8, kernel_size=3, padding=1, form="fft", n_layers=2)
    assert torch.autograd.gradcheck(conv, (x,))
    grads = []
    for checkpointed in (False, True):
        conv.checkpoint = checkpointed
        conv.zero_grad()
        conv(x).square().sum().backward()
        grads.append([p.grad.clone() for p in conv.parameters()])
    assert all(torch.allclose(a, b) for a, b in zip(*grads))


def test_auto_form_computes_the_same_map_in_whichever_form_it_takes():
    """Which form auto picks is checked against the rule in test_forms.py and the cost table in
    test_costs.py."""
    conv = layer(16, 16, kernel_size=3, padding=1, n_layers=2).eval()
    chosen = set()
    with torch.no_grad():
        for side in (1, 8, 32):
            x = torch.randn(1, 16, side, side, dtype=torch.float64)
            chosen.add(conv.chosen_form(x))
            torch.testing.assert_close(conv(x), reference(conv, x), rtol=1e-10, atol=1e-10)
    assert len(chosen) > 1


def test_bad_input_and_options():
    conv = SeparableACDCConv2d(4, 4, 3)
    with pytest.raises(ValueError, match=r"expects input \(N, 4, H, W\), got \(2, 3, 5, 5\)"):
        conv(torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match="form must be one of"):
        SeparableACDCConv2d(4, 4, 3, form="dense")
    with pytest.raises(ValueError, match="shrink='sum'"):
        SeparableACDCConv2d(12, 5, 1, shrink="sum")
    assert "kernel_size=(3, 3)" in repr(conv) and "n_layers=12," in repr(conv)


class Tiny(torch.nn.Module):
    """A stem, a residual block with a projection shortcut, and a grouped convolution."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.block = torch.nn.ModuleDict({
            "conv1": torch.nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
            "conv2": torch.nn.Conv2d(16, 16, 3, padding=1),
            "shortcut": torch.nn.Conv2d(8, 16, 1, stride=2, bias=False)})
        self.grouped = torch.nn.Conv2d(16, 16, 3, padding=1, groups=4)

    def forward(self, x):
        x = self.stem(x)
        b = self.block
        return self.grouped(b["conv2"](F.relu(b["conv1"](x))) + b["shortcut"](x))


@pytest.mark.parametrize("which, replaced", [
    ("shortcuts", ["block.shortcut"]),
    ("all_but_first", None),  # refused: the grouped convolution cannot be replaced
    (lambda name, conv: name.startswith("block.conv"), ["block.conv1", "block.conv2"]),
])
def test_surgery_keeps_shapes_and_reports_what_it_replaced(which, replaced):
    from acdc_core.conv import replace_convolutions

    torch.manual_seed(0)
    model = Tiny()
    x = torch.randn(2, 3, 8, 8)
    shape = model(x).shape
    if replaced is None:
        with pytest.raises(ValueError, match="grouped.*groups=4"):
            replace_convolutions(model, which)
        assert not any(isinstance(m, SeparableACDCConv2d) for m in model.modules())  # untouched
        return
    report = replace_convolutions(model, which, n_layers=2)
    assert [r["name"] for r in report] == replaced
    assert model(x).shape == shape
    for r in report:
        new = model.get_submodule(r["name"])
        assert isinstance(new, SeparableACDCConv2d) and new.pointwise.n_layers == 2
        assert r["params_after"] == sum(p.numel() for p in new.parameters())
    conv1 = [r for r in report if r["name"] == "block.conv1"]
    if conv1:  # 8 -> 16, 3x3, no bias: 8*9 depthwise + 2 layers * 2 * 16 diagonals, no bias
        assert (conv1[0]["params_before"], conv1[0]["params_after"]) == (16 * 8 * 9, 8 * 9 + 2 * 2 * 16)


def test_surgery_refuses_an_unknown_choice():
    from acdc_core.conv import replace_convolutions

    with pytest.raises(ValueError, match="which must be one of 'shortcuts', 'all_but_first'"):
        replace_convolutions(Tiny(), "everything")
