"""The form a structured layer computes in, chosen per call by one cost rule.

Forms compute the same function (up to rounding) and give the same gradients. Each layer lists
its own: ``work(rows)`` of :class:`~acdc_core.ACDC`, :class:`~acdc_core.StackedACDC` and
:class:`~acdc_core.SeparableACDCConv2d` gives, per form, the :class:`Work` of one forward call;
this module prices that work and knows nothing else of the layers.

The rule. A form's :class:`Work` counts its forward multiply-adds (MA, as :mod:`acdc_core.flops`)
by kind (matrix products, dense k×k convolutions, depthwise convolutions, fused and composed ACDC
layers) and its ACDC layer calls. A form's time is that work at the device's :class:`Speed` (seconds
per MA of each kind, seconds per layer call), measured for the forward alone and for forward and
backward; a call with gradients enabled is priced at the latter. The fastest form wins. The cost
tables (:mod:`acdc_core.costs`) choose with the same rule.

Speeds are constants per device type (:data:`SPEEDS`, measured with
:func:`acdc_core.calibration.calibrate` on the machine named there) unless a calibration has
measured the device in this process (a CUDA device is, at its first use); the choice is then
deterministic wherever the constants are used (:func:`set_speed` installs others).
``python benchmarks/form_choice.py`` prints this machine's calibration and checks the rule against
measured times.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch


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


# Measured by acdc_core.calibration.calibrate() on a 2-core x86-64 VM (AVX-512, 2 threads, torch
# 2.13 CPU build): the middle of several calibrations, which scatter by up to 2x (its depthwise
# convolution by more).
SPEEDS = {
    "cpu": {"forward": Speed(matmul=3e-11, conv=1e-11, depthwise=5e-11, fused=6e-11,
                             composed=1.5e-10, calls=8e-5),
            "training": Speed(matmul=6e-11, conv=3e-11, depthwise=7e-10, fused=2e-10,
                              composed=5e-10, calls=2.2e-4)},
}
_calibrated: dict[tuple[str, bool], Speed] = {}
# Measures a CUDA device at its first use: acdc_core.calibration.calibrate, installed by the
# package (it times the layers, which import this module to price their forms).
_calibrate_new_device = []


def speed(device, training: bool) -> Speed:
    """The speed the rule uses for ``device`` forward alone or, with ``training``, forward and
    backward: its calibration in this process if any, else the constant of its type. A CUDA
    device without either is calibrated at its first use; other types take the CPU's."""
    device = torch.device(device)
    key = (str(device), training)
    if key not in _calibrated and device.type == "cuda" and device.type not in SPEEDS:
        _calibrate_new_device[0](device)
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


def set_speed(device, training: bool, measured: Speed | None) -> None:
    """Make the rule use ``measured`` for ``device`` in one mode (forward alone, or with
    ``training`` forward and backward) in this process; None: the constant again."""
    key = (str(torch.device(device)), training)
    if measured is None:
        _calibrated.pop(key, None)
    else:
        _calibrated[key] = measured


def calibrate_new_devices_with(calibrate) -> None:
    """Have :func:`speed` call ``calibrate(device)``, which installs the device's speeds, for a
    CUDA device without speeds at its first use."""
    _calibrate_new_device[:] = [calibrate]
