"""Which implementation runs the fused ACDC pass: ``"auto"`` (the Triton kernel on CUDA for the
shapes it supports and where it was measured faster, torch.fft otherwise), ``"torch"`` or
``"triton"`` (forced; on the CPU only under ``TRITON_INTERPRET=1``). The default is
``$ACDC_BACKEND`` when set, else ``"auto"``. The operators of :mod:`acdc_core.ops.library` ask
here each time they run, so the choice holds in eager mode and under ``torch.compile`` alike.
Triton is optional (the ``gpu`` extra)."""
from __future__ import annotations

import contextlib
import importlib.util
import os

import torch

from ..checks import check_choice

BACKENDS = ("auto", "torch", "triton")

# "auto" runs the kernel on at most this many elements per call: on an H200 (benchmarks/results/
# gpu-acdc-h200.md) it beat torch.fft in every row at 1024 × 1024 and 1024 × 4096, came out even
# at 8192 × 1024 and lost at 8192 × 4096, where its tile products, not memory traffic, set its time.
AUTO_MAX_ELEMENTS = 1024 * 4096


def _default() -> str:
    name = os.environ.get("ACDC_BACKEND", "auto")
    check_choice("ACDC_BACKEND", name, BACKENDS)
    return name


_current = [_default()]


@contextlib.contextmanager
def use(name: str):
    """Run the ACDC pass with backend ``name`` inside the ``with`` block."""
    check_choice("backend", name, BACKENDS)
    previous, _current[0] = _current[0], name
    try:
        yield
    finally:
        _current[0] = previous


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def kernel_for(v: torch.Tensor):
    """The Triton kernel module when it should run on rows ``v``, else None (torch.fft); None
    for no rows, which torch.fft's path passes through."""
    name = _current[0]
    if not v.numel() or name == "torch" or (name == "auto" and not (v.is_cuda and triton_available()
                                                   and v.numel() <= AUTO_MAX_ELEMENTS)):
        return None
    if not triton_available():
        raise RuntimeError("backend 'triton' needs the triton package: pip install -e .[gpu]")
    from . import triton_kernels

    if name == "triton":
        triton_kernels.check(v)
    return triton_kernels if triton_kernels.supported(v) else None
