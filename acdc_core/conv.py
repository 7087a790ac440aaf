"""Separable ACDC convolution: a full-rank depthwise k×k convolution, then a linear stack of ACDC
layers over channels acting as the 1×1 convolution. Its layers are the log's convolutional ones,
the transpose of its linear layer (``ACDC(..., transposed=True)``: ``y = A C⁻¹ Pᵀ D C x``, A on the
output side).

Three forms compute the same map: ``"fft"`` runs the stack on every pixel's channel vector (the
depthwise output is made channels-last, so the channel vectors are rows without another copy);
``"collapsed"`` multiplies the stack out into one ``(out, in)`` weight and runs one 1×1
convolution after the depthwise one; ``"full"`` multiplies the whole layer out into one dense
k×k weight and runs one convolution. The weights are multiplied out differentiably on every call,
so all three train. ``"auto"`` takes, per call, the fastest for the input at hand by the rule of
:mod:`acdc_core.forms`, priced forward and backward when gradients are enabled.

Under autocast the depthwise convolution runs in bfloat16 as any ``nn.Conv2d`` does; the FFT form's
stack then computes in float32 and returns float32 (the FFT policy of
:class:`~acdc_core.base.StructuredLinear`), while the collapsed and full forms' convolutions follow
the convolution policy and return bfloat16. Outside autocast both return the parameters' dtype.

E-numbers (E12, E15, ...) name the log's experiments, described in docs/experiments.md.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as activation_checkpoint

from .checks import check_bool, check_choice, check_float_tensor, check_int_pair, check_positive_int
from .base import parameter_count
from .forms import Work, fastest
from .stack import StackedACDC

FORMS = ("auto", "fft", "collapsed", "full")


class SeparableACDCConv2d(nn.Module):
    r"""Depthwise ``kernel_size`` convolution (one full-rank k×k filter per input channel), then a
    :class:`StackedACDC` over channels as the pointwise (1×1) convolution.

    Args:
        in_channels, out_channels: channels of input and output.
        kernel_size, stride, padding, dilation: of the depthwise convolution (``nn.Conv2d``'s
            meaning; ints or pairs).
        n_layers: ACDC layers in the pointwise stack (exactly this many).
        bias: a bias on the output (the stack's last layer carries it; the ``"linear"`` width
            adapters have their own either way).
        form: ``"auto"``, ``"fft"``, ``"collapsed"`` or ``"full"`` (see the module docstring).
        checkpoint: recompute the stack in backward instead of keeping its activations
            (``torch.utils.checkpoint``), for memory; not under ``torch.func`` transforms, which
            do not take it.
        shuffle, parameterisation, init, sigma, seed: passed to :class:`StackedACDC`.
        grow: widen ``in_channels`` to ``out_channels`` by ``"repeat"`` (the later conv code) or
            ``"linear"`` (the log).
        shrink: narrow to ``out_channels`` by ``"sum"`` of channel groups (the later conv code),
            ``"linear"`` or ``"truncate"``.

    Shape:
        Input ``(N, in_channels, H, W)``, output ``(N, out_channels, H', W')`` as ``nn.Conv2d``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, n_layers: int = 12, bias: bool = True, form: str = "auto",
                 checkpoint: bool = False, shuffle: str = "riffle", parameterisation: str = "original",
                 init: str = "normal", sigma: float = 1e-2, seed: int = 0, grow: str = "repeat",
                 shrink: str = "sum", device=None, dtype=None):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        check_choice("form", form, FORMS)
        check_int_pair("kernel_size", kernel_size, 1)
        check_int_pair("stride", stride, 1)
        if not isinstance(padding, str):  # nn.Conv2d checks "same" and "valid"
            check_int_pair("padding", padding, 0)
        check_int_pair("dilation", dilation, 1)
        check_bool("bias", bias)
        check_bool("checkpoint", checkpoint)
        self.in_channels, self.out_channels, self.form, self.checkpoint = (
            in_channels, out_channels, form, checkpoint)
        factory = {"device": device, "dtype": dtype}
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, dilation,
                                   groups=in_channels, bias=False, **factory)
        self.pointwise = StackedACDC(in_channels, out_channels, n_layers, shuffle=shuffle,
                                     bias=bias, bias_placement="last", grow=grow, shrink=shrink,
                                     parameterisation=parameterisation, init=init, sigma=sigma,
                                     seed=seed, form="fft", transposed=True, **factory)

    @property
    def kernel_size(self) -> tuple[int, int]:
        return self.depthwise.kernel_size

    @property
    def stride(self) -> tuple[int, int]:
        return self.depthwise.stride

    @property
    def padding(self):
        return self.depthwise.padding

    @property
    def dilation(self) -> tuple[int, int]:
        return self.depthwise.dilation

    def reset_parameters(self) -> None:
        self.depthwise.reset_parameters()
        self.pointwise.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_float_tensor(f"SeparableACDCConv2d({self.in_channels}, {self.out_channels})", x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"SeparableACDCConv2d({self.in_channels}, {self.out_channels}) expects "
                             f"input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        form = self.chosen_form(x)
        if form == "fft":
            return self._fft_form(self.depthwise(x))
        weight, bias = self.collapsed_weight()
        if form == "full":
            return F.conv2d(x, self._multiplied_out(weight), bias, self.stride, self.padding,
                            self.dilation)
        return F.conv2d(self.depthwise(x), weight[:, :, None, None], bias)

    def _fft_form(self, h: torch.Tensor) -> torch.Tensor:
        """The stack on every pixel of the depthwise output ``h`` (N, in_channels, H', W'): the
        stack reads the channels-last view's pixels as rows in one copy (none when ``h`` is
        channels-last already)."""
        rows = h.permute(0, 2, 3, 1)
        if self.checkpoint and torch.is_grad_enabled() and not torch._C._are_functorch_transforms_active():
            out = activation_checkpoint(self.pointwise, rows, use_reentrant=False)
        else:
            out = self.pointwise(rows)
        return out.permute(0, 3, 1, 2)

    def chosen_form(self, x: torch.Tensor) -> str:
        """The form a call on ``x`` (N, in_channels, H, W) runs in: ``form`` unless ``"auto"``,
        which takes :func:`~acdc_core.forms.fastest` of :meth:`work` for the call's output
        pixels, priced forward and backward when gradients are enabled. Under
        ``torch.export``, whose program serves every batch size, ``"auto"`` takes ``"fft"``."""
        if self.form != "auto":
            return self.form
        if torch.compiler.is_exporting():
            return "fft"
        height, width = self.output_size(x.shape[-2:])
        return fastest(self.work(x.shape[0] * height * width), x.device, torch.is_grad_enabled())

    def work(self, pixels: float) -> dict[str, Work]:
        """Per form, the :class:`~acdc_core.forms.Work` of a forward call producing ``pixels``
        output pixels (batch × height × width): ``"fft"``, ``"collapsed"`` and ``"full"``, the
        last two multiplying the stack out on every call."""
        kernel = math.prod(self.kernel_size)
        depthwise = Work(depthwise=pixels * self.in_channels * kernel)
        dense = pixels * self.in_channels * self.out_channels
        collapse = self.pointwise.collapse_work()
        return {"fft": depthwise + self.pointwise.work(pixels)["fft"],
                "collapsed": depthwise + collapse + Work(matmul=dense),
                "full": collapse + Work(conv=dense * kernel)}

    def output_size(self, size) -> tuple[int, int]:
        """The output's (H', W') for an input of spatial size ``size`` (H, W)."""
        padding = self.padding
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            return tuple(size)
        return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1 for s, p, d, k, st in
                     zip(size, padding, self.dilation, self.kernel_size, self.stride))

    def collapsed_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The stack as one pointwise map: weight ``(out_channels, in_channels)`` and bias
        ``(out_channels,)`` (zero without ``bias`` unless a linear adapter brings its own), from
        one pass of the stack."""
        return self.pointwise.weight_and_bias()

    def full_weight(self) -> torch.Tensor:
        """The equivalent dense convolution weight ``(out_channels, in_channels, kh, kw)``:
        pointwise ∘ depthwise as one ``nn.Conv2d`` (same stride, padding, dilation; bias
        :meth:`collapsed_weight`'s)."""
        return self._multiplied_out(self.collapsed_weight()[0])

    def _multiplied_out(self, weight: torch.Tensor) -> torch.Tensor:
        """The pointwise ``weight`` (out, in) after the depthwise filters: (out, in, kh, kw)."""
        return weight[:, :, None, None] * self.depthwise.weight[:, 0][None]

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"form={self.form!r}, checkpoint={self.checkpoint}")


SURGERY = ("shortcuts", "all_but_first", "all")


def replace_convolutions(model: nn.Module, which="all_but_first", **options) -> list[dict]:
    """Replace ``model``'s ``nn.Conv2d`` layers in place by :class:`SeparableACDCConv2d` with the same
    channels, kernel, stride, padding, dilation and bias presence, so every output shape is kept.

    Every chosen convolution is checked, and its replacement built, before any is put in place: on
    an error the model is unchanged. A convolution held in several places is replaced by the same
    new layer in each.

    Args:
        which: ``"shortcuts"`` (the 1×1 convolutions only: a ResNet's projection shortcuts, the
            log's E12), ``"all_but_first"`` (every convolution except the first in module order,
            E15, E22), ``"all"`` (the first too, E23), or a predicate ``(name, conv) -> bool``.
        options: passed to every :class:`SeparableACDCConv2d` (``n_layers``, ``shuffle``, ...).

    Returns:
        one record per replaced layer: ``name``, ``kernel``, ``in``, ``out``, ``params_before``,
        ``params_after``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not callable(which):
        check_choice("which", which, SURGERY)
    replacements = [(name, conv, _replacement(name, conv, options))
                    for name, conv in _chosen_convolutions(model, which)]
    places = _places(model)
    report = []
    for name, conv, new in replacements:
        for place in places[id(conv)]:
            parent_name, _, child = place.rpartition(".")
            setattr(model.get_submodule(parent_name), child, new)
        report.append({"name": name, "kernel": conv.kernel_size, "in": conv.in_channels,
                       "out": conv.out_channels, "params_before": parameter_count(conv),
                       "params_after": parameter_count(new)})
    return report


def _chosen_convolutions(model: nn.Module, which) -> list[tuple[str, nn.Conv2d]]:
    """(name, conv) of the plain ``nn.Conv2d`` layers ``which`` picks, in module order."""
    convs = [(name, m) for name, m in model.named_modules() if type(m) is nn.Conv2d]
    if which == "shortcuts":
        return [(n, m) for n, m in convs if m.kernel_size == (1, 1)]
    if which == "all_but_first":
        return convs[1:]
    if which == "all":
        return convs
    return [(n, m) for n, m in convs if which(n, m)]


def _places(model: nn.Module) -> dict[int, list[str]]:
    """Every name each convolution is held under, by ``id``."""
    places = {}
    for name, m in model.named_modules(remove_duplicate=False):
        places.setdefault(id(m), []).append(name)
    return places


def _replacement(name: str, conv: nn.Conv2d, options: dict) -> SeparableACDCConv2d:
    """The separable layer that stands in for ``conv``; errors start with its ``name``."""
    if not name:
        raise ValueError("model is itself an nn.Conv2d, which cannot be replaced in place: build a "
                         "SeparableACDCConv2d from it directly")
    if conv.groups != 1 or conv.padding_mode != "zeros":
        raise ValueError(f"{name}: only ungrouped, zero-padded convolutions can be replaced "
                         f"(groups={conv.groups}, padding_mode={conv.padding_mode!r})")
    try:
        return SeparableACDCConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                   conv.padding, conv.dilation, bias=conv.bias is not None,
                                   device=conv.weight.device, dtype=conv.weight.dtype, **options)
    except (TypeError, ValueError) as error:
        error.args = (f"{name}: {error}", *error.args[1:])
        raise
