"""The form a structured layer computes in, chosen per call by one cost rule.

Forms compute the same function (up to rounding) and give the same gradients:
- a linear :class:`~acdc_core.StackedACDC`: ``"fft"`` runs its ACDC layers on every row;
  ``"collapsed"`` multiplies the stack out, differentiably, into its (out, in) weight (the stack
  run on ``in_features + 1`` rows: the identity and a zero row), then does one matrix product;
- a :class:`~acdc_core.SeparableACDCConv2d`: ``"fft"`` (depthwise k×k, then the stack on every
  pixel), ``"collapsed"`` (depthwise k×k, then one 1×1 convolution with the collapsed weight) and
  ``"full"`` (pointwise ∘ depthwise multiplied out into one dense k×k weight, then one convolution).

The rule. Each form's :class:`Work` counts its forward multiply-adds (MA, as :mod:`acdc_core.flops`)
by kind (matrix products, dense k×k convolutions, depthwise convolutions, fused and composed ACDC
layers) and its ACDC layer calls. A form's time is that work at the device's :class:`Speed` (seconds
per MA of each kind, seconds per layer call), measured for the forward alone and for forward and
backward; a call with gradients enabled is priced at the latter. The fastest form wins. The lab's
cost tables choose with the same rule.

Speeds are constants per device type (:data:`SPEEDS`, measured with :func:`calibrate` on the
machine named there) unless :func:`calibrate` has measured the device in this process (a CUDA
device is, at its first use); the choice is then deterministic wherever the constants are used
(:func:`set_speed` installs others). ``python benchmarks/form_choice.py``
prints this machine's calibration and checks the rule against measured times.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from .flops import acdc_mult_adds


@dataclass(frozen=True)
class Work:
    """What one forward call of a form does: MA of each kind, and ACDC layer calls."""
    matmul: float = 0.0
    conv: float = 0.0
    depthwise: float = 0.0
    fused: float = 0.0
    composed: float = 0.0
    calls: float = 0.0

    def __add__(self, other: "Work") -> "Work":
        return Work(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def mult_adds(self) -> float:
        """All MA together (the calls are not work)."""
        return self.matmul + self.conv + self.depthwise + self.fused + self.composed

    def seconds(self, speed: "Speed") -> float:
        """The predicted time of this work at ``speed``."""
        return sum(getattr(self, f.name) * getattr(speed, f.name) for f in fields(self))


@dataclass(frozen=True)
class Speed:
    """Seconds per forward MA of each kind of :class:`Work`, and per ACDC layer call (launches
    and per-operation overhead), of a device in one mode: forward alone, or forward and backward
    (a training step's time per forward MA: the backward's own cost relative to the forward's
    differs by kind, which is why the modes are measured apart)."""
    matmul: float
    conv: float
    depthwise: float
    fused: float
    composed: float
    calls: float


# Measured by calibrate() on a 2-core x86-64 VM (AVX-512, 2 threads, torch 2.13 CPU build): the
# middle of several calibrations, which scatter by up to 2x (its depthwise convolution by more).
SPEEDS = {
    "cpu": {"forward": Speed(matmul=3e-11, conv=1e-11, depthwise=5e-11, fused=6e-11,
                             composed=1.5e-10, calls=8e-5),
            "training": Speed(matmul=6e-11, conv=3e-11, depthwise=7e-10, fused=2e-10,
                              composed=5e-10, calls=2.2e-4)},
}
_calibrated: dict[tuple[str, bool], Speed] = {}


def speed(device, training: bool) -> Speed:
    """The speed the rule uses for ``device`` forward alone or, with ``training``, forward and
    backward: its calibration in this process if any, else the constant of its type. A CUDA
    device without either is calibrated at its first use; other types take the CPU's."""
    device = torch.device(device)
    key = (str(device), training)
    if key not in _calibrated and device.type == "cuda" and device.type not in SPEEDS:
        calibrate(device)
    mode = "training" if training else "forward"
    return _calibrated.get(key) or SPEEDS.get(device.type, SPEEDS["cpu"])[mode]


def fastest(works: dict[str, Work], device, training: bool) -> str:
    """The form of ``works`` (form -> :class:`Work`) with the least predicted time on ``device``,
    forward alone or with ``training`` forward and backward; the first listed on a tie."""
    at = speed(device, training)
    best = None
    for form, work in works.items():  # a loop, not min(key=...), which torch.compile cannot trace
        if best is None or work.seconds(at) < works[best].seconds(at):
            best = form
    return best


# ----------------------------------------------------------------------------------------------
# The work of each form

def stack_work(stack, rows: float) -> Work:
    """A :class:`~acdc_core.StackedACDC` in its FFT form on ``rows`` rows: every layer on every
    block of its padded width, and its linear width adapters."""
    blocks = stack.padded_width // stack.block_size
    layers = rows * blocks * acdc_mult_adds(stack.block_size, stack.n_layers)
    fused = all(layer.fused for layer in stack.layers)
    adapters = sum(m.in_features * m.out_features
                   for m in (stack.grow_linear, stack.shrink_linear) if m is not None)
    return Work(matmul=rows * adapters, fused=layers if fused else 0,
                composed=0 if fused else layers, calls=stack.n_layers)


def collapse_work(stack) -> Work:
    """Multiplying ``stack`` out into its weight and bias: the stack on the identity and a zero
    row."""
    return stack_work(stack, stack.in_features + 1)


def linear_forms(stack, rows: float) -> dict[str, Work]:
    """The forms of a :class:`~acdc_core.StackedACDC` on ``rows`` rows: ``"fft"`` always,
    ``"collapsed"`` when the stack is linear (no ReLU, and no BatchNorm learning from the batch)."""
    works = {"fft": stack_work(stack, rows)}
    if stack.is_linear():
        product = rows * stack.in_features * stack.out_features
        works["collapsed"] = collapse_work(stack) + Work(matmul=product)
    return works


def conv_forms(conv, pixels: float) -> dict[str, Work]:
    """The forms of a :class:`~acdc_core.SeparableACDCConv2d` producing ``pixels`` output pixels
    (batch × height × width) per call."""
    kernel = math.prod(conv.kernel_size)
    depthwise = Work(depthwise=pixels * conv.in_channels * kernel)
    dense = pixels * conv.in_channels * conv.out_channels
    collapse = collapse_work(conv.pointwise)
    return {"fft": depthwise + stack_work(conv.pointwise, pixels),
            "collapsed": depthwise + collapse + Work(matmul=dense),
            "full": collapse + Work(conv=dense * kernel)}


# ----------------------------------------------------------------------------------------------
# Calibration

def _seconds(step, device: torch.device, repeats: int = 7) -> float:
    """The least seconds of ``step()`` over ``repeats`` calls, after three warm-up calls (the
    least, as noise only adds; the first calls of a kernel pay for setting it up)."""
    def timed() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start
    for _ in range(3):
        timed()
    return min(timed() for _ in range(repeats))


def _step(fn, training: bool):
    """A call of ``fn()``; with ``training`` backpropagating a fixed random gradient (a real
    tensor: the expanded gradient of a sum takes slower paths in some backward kernels)."""
    grad = []

    def step():
        if not training:
            with torch.no_grad():
                return fn()
        out = fn()
        if not grad:
            grad.append(torch.randn_like(out))
        out.backward(grad[0])
    return step


def calibrate(device="cpu", install: bool = True) -> dict[str, Speed]:
    """Measure ``device``'s :class:`Speed` forward (``"forward"``) and forward and backward
    (``"training"``) on mid-sized shapes: 64 channels of 16×16 pixels, batch 64; 12-layer stacks
    of width 128 on 8,192 rows; 12 layers on 2 rows for the calls. About a second on a CPU. With
    ``install`` the rule uses them for this device from now on in this process."""
    device = torch.device(device)
    with torch.enable_grad(), torch.autocast(device.type, enabled=False):
        measured = {mode: _calibrate(device, mode == "training") for mode in ("forward", "training")}
    if install:
        for mode, found in measured.items():
            set_speed(device, mode == "training", found)
    return measured


def _calibrate(device: torch.device, training: bool) -> Speed:
    from .stack import StackedACDC  # the layers import this module

    channels, pixels = 64, 64 * 16 * 16
    x = torch.randn(64, channels, 16, 16, device=device, requires_grad=True)
    full = torch.randn(channels, channels, 3, 3, device=device, requires_grad=True)
    dw = torch.randn(channels, 1, 3, 3, device=device, requires_grad=True)
    rows = torch.randn(pixels, channels, device=device, requires_grad=True)
    square = torch.randn(channels, channels, device=device, requires_grad=True)
    product = pixels * channels * channels

    def per_call(fn):
        return _seconds(_step(fn, training), device)
    per_ma = {"matmul": per_call(lambda: rows @ square) / product,
              "conv": per_call(lambda: F.conv2d(x, full, padding=1)) / (9 * product),
              "depthwise": per_call(lambda: F.conv2d(x, dw, padding=1, groups=channels))
              / (9 * pixels * channels)}
    wide = torch.randn(8192, 128, device=device, requires_grad=True)
    for kind, parameterisation in (("fused", "original"), ("composed", "riffle")):
        stack = StackedACDC(128, 128, 12, parameterisation=parameterisation, form="fft",
                            device=device)
        per_ma[kind] = per_call(lambda: stack(wide)) / stack_work(stack, 8192).mult_adds
    tiny = StackedACDC(channels, channels, 12, form="fft", device=device)
    calls = per_call(lambda: tiny(rows[:2])) / tiny.n_layers
    return Speed(**per_ma, calls=calls)


def set_speed(device, training: bool, measured: Speed | None) -> None:
    """Make the rule use ``measured`` for ``device`` in one mode (forward alone, or with
    ``training`` forward and backward) in this process; None: the constant again."""
    key = (str(torch.device(device)), training)
    if measured is None:
        _calibrated.pop(key, None)
    else:
        _calibrated[key] = measured
