"""Which implementation runs the fused ACDC pass: ``"auto"`` (the Triton kernel on CUDA for the
shapes it supports and where it was measured faster, torch.fft otherwise), ``"torch"`` or
``"triton"`` (forced; on the CPU only under ``TRITON_INTERPRET=1``), or ``"compiled"`` (the
real-arithmetic pass of :mod:`acdc_core.compiled_core` compiled by ``torch.compile``; opt-in, as on
a CPU it was not faster than torch.fft's eager pass once the backward is counted, see
``benchmarks/compile_core.py``). The default is ``$ACDC_BACKEND`` when set, else ``"auto"``.
Triton is optional (the ``gpu`` extra)."""
from __future__ import annotations

import contextlib
import importlib.util
import os

import torch

from .checks import check_choice

BACKENDS = ("auto", "torch", "triton", "compiled")

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


def compiling() -> bool:
    """Whether the ``"compiled"`` backend is chosen."""
    return _current[0] == "compiled"


def kernel_for(v: torch.Tensor):
    """The Triton kernel module when it should run on rows ``v``, else None (torch.fft or the
    compiled pass)."""
    name = _current[0]
    if name in ("torch", "compiled") or (name == "auto" and not (v.is_cuda and triton_available()
                                                   and v.numel() <= AUTO_MAX_ELEMENTS)):
        return None
    if not triton_available():
        raise RuntimeError("backend 'triton' needs the triton package: pip install -e .[gpu]")
    from . import triton_core

    if name == "triton":
        triton_core.check(v)
    return triton_core if triton_core.supported(v) else None
