"""What our transforms cost, in multiply-adds: the formulas :mod:`acdc_core.ops.library` registers
with ``torch.utils.flop_counter.FlopCounterMode`` for the ``acdc::`` operators, so the standard
counter counts ACDC layers instead of reporting 0 for their FFTs.

Units. A *multiply-add* (MA) is the log's and the follow-up work's unit; ``FlopCounterMode``
counts FLOPs = 2 × MA, as it does for a matrix product. For FFTs we keep the follow-up work's
convention: a real FFT of length L costs ``2.5·L·log2(L)`` MA, a complex one ``5·L·log2(L)``
(these are the textbook radix-2 *operation* counts, each multiplication or addition counted once,
so by a strict pairing of multiplications with additions they are about twice the truth;
``tests/test_flops.py`` checks them against an explicit count). Elementwise steps fused into our
operators cost one MA per real entry touched, as the follow-up counted its diagonals.

Per length-n vector (log = log2):
- DCT (``acdc::dct_plan``, any norm, forward or inverse): its FFT plus ``2n`` for the two
  elementwise passes every plan makes (a twiddle or modulation pass and a scaling pass):
  type 2 or 3: one real FFT of n, ``2.5 n log n + 2n``; type 1: a real FFT of the symmetric
  extension, length 2(n−1), ``5 (n−1) log(2(n−1)) + 2n``; type 4: a complex FFT of length 2n,
  ``10 n log(2n) + 2n``. An unfused ACDC layer (the riffle parameterisation, the IDCT-first
  order) is two such transforms, the same ``4n + 5 n log n`` as the fused pass below.
- ACDC layer forward (``acdc::acdc_core``): the diagonal A, a real FFT, the twiddle rotation,
  the diagonal D with the inverse rotation, an inverse real FFT: ``4n + 5 n log n`` (the
  follow-up's per-layer figure).
- ACDC layer backward (``acdc::acdc_core_backward``): the same pass on the gradient
  (``3n + 5 n log n``, A applied after), the forward spectrum recomputed (``2n + 2.5 n log n``),
  the gradient of D (``n``), of A and of the input (``2n``): ``8n + 7.5 n log n``.

Shuffles, gathers and the bias are data movement or single additions and are not counted, as
``FlopCounterMode`` counts no elementwise operation anywhere (nor BatchNorm, nor ReLU).

These counts, weighted by a device's measured speeds, choose the form each structured layer
computes in (:mod:`acdc_core.forms`).
"""
from __future__ import annotations

import math


def _log2(n: float) -> float:
    return math.log2(n) if n > 1 else 0.0


def real_fft_mult_adds(length: int) -> float:
    """MA of one real FFT (or inverse) of ``length`` points: 2.5·L·log2(L)."""
    return 2.5 * length * _log2(length)


def dct_mult_adds(n: int, kind: int = 2) -> float:
    """MA of one DCT (or inverse) of type ``kind`` on one length-``n`` vector."""
    if kind in (2, 3):
        return real_fft_mult_adds(n) + 2 * n
    if kind == 1:
        return real_fft_mult_adds(2 * (n - 1)) + 2 * n
    if kind == 4:
        return 2 * real_fft_mult_adds(2 * n) + 2 * n
    raise ValueError(f"kind must be one of 1, 2, 3, 4, got {kind!r}")


def acdc_mult_adds(n: int, n_layers: int = 1) -> float:
    """MA of ``n_layers`` ACDC layers' forward pass on one width-``n`` vector:
    ``n_layers · (4n + 5 n log2 n)``."""
    return n_layers * (4 * n + 2 * real_fft_mult_adds(n))


def acdc_backward_mult_adds(n: int) -> float:
    """MA of one ACDC layer's backward pass on one width-``n`` vector: ``8n + 7.5 n log2 n``."""
    return 8 * n + 3 * real_fft_mult_adds(n)
