"""Measuring a device's :class:`~acdc_core.forms.Speed`: the seconds per multiply-add of each kind
of :class:`~acdc_core.forms.Work`, and per ACDC layer call, that the form rule prices work at.

It times the layers themselves (stacks of each parameterisation), so it sits above them; the
package has :mod:`acdc_core.forms` call :func:`calibrate` for a CUDA device at its first use.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from . import forms
from .forms import Speed
from .stack import StackedACDC


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
            forms.set_speed(device, mode == "training", found)
    return measured


def _calibrate(device: torch.device, training: bool) -> Speed:
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
        per_ma[kind] = per_call(lambda: stack(wide)) / stack.work(8192)["fft"].mult_adds
    tiny = StackedACDC(channels, channels, 12, form="fft", device=device)
    calls = per_call(lambda: tiny(rows[:2])) / tiny.n_layers
    return Speed(**per_ma, calls=calls)
