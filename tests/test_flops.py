"""FLOP formulas: the FFT convention against an explicit operation count, the custom operators'
counts under FlopCounterMode (forward and backward), and the operators computing what the fast
path computes."""
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from acdc_core import ACDC, SeparableACDCConv2d, StackedACDC, dct, flops, idct
from acdc_core.ops import acdc_pass, dct_plan
from acdc_core.ops.plans import Plan


class Counted:
    """A complex number that counts the real operations done on it."""
    ops = 0

    def __init__(self, z):
        self.z = complex(z)

    def __add__(self, other):
        Counted.ops += 2
        return Counted(self.z + other.z)

    def __sub__(self, other):
        Counted.ops += 2
        return Counted(self.z - other.z)

    def __mul__(self, other):  # (a+bi)(c+di): 4 multiplications, 2 additions
        Counted.ops += 6
        return Counted(self.z * other.z)


def radix2_fft(x):
    """The textbook decimation-in-time FFT; every twiddle multiplication done in full."""
    n = len(x)
    if n == 1:
        return x
    even, odd = radix2_fft(x[0::2]), radix2_fft(x[1::2])
    out = [None] * n
    for k in range(n // 2):
        t = Counted(complex(math.cos(-2 * math.pi * k / n), math.sin(-2 * math.pi * k / n))) * odd[k]
        out[k], out[k + n // 2] = even[k] + t, even[k] - t
    return out


@pytest.mark.parametrize("n", [2, 4, 8, 16, 32, 64])
def test_fft_convention_against_an_explicit_operation_count(n):
    """A complex FFT of n points takes exactly 5 n log2 n real operations done this way; a real
    FFT of n points is counted at half that, 2.5 n log2 n 'multiply-adds' (the follow-up's
    convention: it counts operations, not multiply-add pairs)."""
    Counted.ops = 0
    x = [Counted(v) for v in torch.randn(n, dtype=torch.float64).tolist()]
    y = radix2_fft(x)
    as_tensor = lambda values: torch.tensor([v.z for v in values], dtype=torch.complex128)
    assert torch.allclose(as_tensor(y), torch.fft.fft(as_tensor(x)))
    assert Counted.ops == 5 * n * math.log2(n) == 2 * flops.real_fft_mult_adds(n)


def counts(fn):
    with FlopCounterMode(display=False) as mode:
        fn()
    return {str(op).split(".")[-1]: c for op, c in mode.get_flop_counts()["Global"].items()}


# MA of one DCT of 16 points by type, written out: the real FFT 2.5 L log2 L and two passes of 16
DCT_16 = {1: 2.5 * 30 * math.log2(30) + 32, 2: 2.5 * 16 * 4 + 32, 3: 2.5 * 16 * 4 + 32,
          4: 2 * 2.5 * 32 * 5 + 32}


@pytest.mark.parametrize("kind", [1, 2, 3, 4])
def test_dct_forward_and_backward_are_counted_by_formula(kind):
    x = torch.randn(3, 5, 16, requires_grad=True)
    got = counts(lambda: idct(dct(x, type=kind, norm="ortho"), type=kind, norm="ortho").sum().backward())
    inverse_kind = {2: 3, 3: 2}.get(kind, kind)
    # four transforms of 15 rows (dct and idct forward, their transposes in backward), each call
    # counted in whole FLOPs
    expected = 2 * round(2 * 15 * DCT_16[kind]) + 2 * round(2 * 15 * DCT_16[inverse_kind])
    assert got == {"dct_plan": expected}


def test_an_acdc_layer_is_counted_forward_and_backward():
    n, rows = 64, 10
    layer = ACDC(n)
    got = counts(lambda: layer(torch.randn(rows, n, requires_grad=True)).sum().backward())
    assert got == {"acdc_core": 2 * rows * (4 * n + 5 * n * 6),
                   "acdc_core_backward": 2 * rows * (8 * n + 7.5 * n * 6)}


def test_a_stack_counts_every_layer_and_blocks_count_as_short_rows():
    got = counts(lambda: StackedACDC(32, 32, 12)(torch.randn(3, 32)))
    assert got == {"acdc_core": 2 * 3 * 12 * (4 * 32 + 5 * 32 * 5)}
    blocked = counts(lambda: ACDC(64, block_size=16)(torch.randn(3, 64)))
    assert blocked == {"acdc_core": 2 * 3 * 4 * (4 * 16 + 5 * 16 * 4)}


def test_a_separable_conv_is_counted_once_per_pixel_in_fft_form():
    """The log's first FLOP table counted the stack once per layer instead of once per pixel."""
    conv = SeparableACDCConv2d(32, 32, 3, padding=1, n_layers=12, form="fft")
    got = counts(lambda: conv(torch.randn(2, 32, 8, 8)))
    pixels = 2 * 8 * 8
    assert got["acdc_core"] == 2 * pixels * 12 * (4 * 32 + 5 * 32 * 5)
    assert got["convolution"] == 2 * pixels * 32 * 9  # the depthwise 3×3


def test_operator_registrations_pass_opcheck_and_gradcheck():
    """The operators' fake implementations, schemas and vmap rules (opcheck), and the gradients
    of the autograd functions the layers call them through (gradcheck)."""
    v = torch.randn(5, 16, dtype=torch.float64)
    a, d, b = (torch.randn(16, dtype=torch.float64) for _ in range(3))
    for natural in (False, True):
        torch.library.opcheck(torch.ops.acdc.acdc_core, (v, a, d, b, natural))
        torch.library.opcheck(torch.ops.acdc.acdc_core_backward,
                              (torch.randn(5, 16, dtype=torch.float64), v, a, d, natural))
    torch.library.opcheck(torch.ops.acdc.dct_plan, (v, 2, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]))
    steps = torch.stack([torch.randperm(16) for _ in range(2)])
    torch.library.opcheck(torch.ops.acdc.acdc_stack, (v, torch.randn(3, 16, dtype=torch.float64),
                                                 torch.randn(3, 16, dtype=torch.float64), None,
                                                 steps, steps.argsort(-1), True))
    leaves = [t.clone().requires_grad_() for t in (v, a, d, b)]
    for natural in (False, True):
        assert torch.autograd.gradcheck(lambda *t: acdc_pass(*t, natural=natural), leaves)
    plan = Plan(3, 16, (2.0, 1.0, 1.0), (1.0, 1.0, 1.0))
    assert torch.autograd.gradcheck(lambda x: dct_plan(x, plan), (leaves[0],))
