"""The fused ACDC pass as one Triton kernel: a row goes through its DFT, the per-frequency
rotate–scale–rotate-back step and the inverse DFT without leaving on-chip memory.

No FFT primitive is needed. A length-N DFT with N = N1·N2 is two small matrix products on the row
laid out as an (N1, N2) tile: ``S = ((F1 @ A) ⊙ T) @ F2`` with ``T[k1, n2] = W_N^(n2·k1)``, where
``S[k1, k2]`` is frequency ``k1 + N1·k2``; the inverse is ``A = Re(conj(F1) @ ((Y @ conj(F2)) ⊙
conj(T))) / N``. In Makhoul order the middle ``C⁻¹ D C`` is local per frequency on the whole
spectrum (see :func:`_tables`), so a layer is twelve ``tl.dot`` products of N1- and N2-sized tiles. Rows are Makhoul-ordered (as
:func:`acdc_core.ops.acdc_pass` takes them); float32 or bfloat16 in and out, float32 inside. The
constant tiles (F1, F2, T, W) are read where each product needs them, from one small table that
stays in cache, so that only the row's own tiles are held in registers.

Import this module only where Triton may run: on CUDA, or on the CPU under ``TRITON_INTERPRET=1``
(set before the import), which the tests use.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math

import torch
import triton
import triton.language as tl

from ..checks import check_choice

MIN_WIDTH, MAX_WIDTH = 256, 4096  # tl.dot needs tiles of at least 16; 64×128 tiles need 288 KiB
# of shared memory on sm_90, over the 227 KiB a program may have (benchmarks/triton_resources.py)


DTYPES = (torch.float32, torch.bfloat16)
PRECISIONS = ("ieee", "tf32x3", "tf32")


def supported(v: torch.Tensor) -> bool:
    """Whether the kernel takes rows ``v`` (M, n) or (M, G, n): float32 or bfloat16 (computed in
    float32), n a power of two in [256, 4096]."""
    n = v.shape[-1]
    return v.dtype in DTYPES and MIN_WIDTH <= n <= MAX_WIDTH and n & (n - 1) == 0


def check(v: torch.Tensor) -> None:
    """Refuse rows the kernel does not take, saying what it takes."""
    if not supported(v):
        raise ValueError(f"the Triton ACDC kernel takes float32 or bfloat16 rows of a power-of-two "
                         f"width in [{MIN_WIDTH}, {MAX_WIDTH}], got {v.dtype} rows of width {v.shape[-1]}")


@dataclasses.dataclass(frozen=True)
class Tuning:
    """How the kernels run. ``precision``: the tile products' ``tl.dot`` input precision:
    "tf32x3" (three TF32 tensor-core products, about float32's accuracy), "tf32" (one, ~1e-3
    relative error) or "ieee" (float32 on the CUDA cores: slow, and slow to compile);
    ``num_warps``: warps per program (one program per row)."""
    precision: str = "tf32x3"
    num_warps: int = 4


_tuning = [Tuning()]


@contextlib.contextmanager
def tuned(**changes):
    """Run the kernels with ``changes`` to the current :class:`Tuning` inside the ``with`` block."""
    previous = _tuning[0]
    _tuning[0] = dataclasses.replace(previous, **changes)
    check_choice("precision", _tuning[0].precision, PRECISIONS)
    try:
        yield _tuning[0]
    finally:
        _tuning[0] = previous


def _options(n: int) -> dict:
    n1, n2 = _split(n)
    t = _tuning[0]
    return dict(N1=n1, N2=n2, PRECISION=t.precision, num_warps=t.num_warps)


def _split(n: int) -> tuple[int, int]:
    n1 = 2 ** (int(math.log2(n)) // 2)
    return n1, n // n1


@functools.lru_cache(maxsize=32)
def _tables(n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The constants for width n, on ``device``: one float32 table holding the real and imaginary
    parts of F1 (N1×N1), F2 (N2×N2), T and W (N1×N2 each, in the (k1, k2) tile layout), and the
    indices of the two diagonal entries that scale each frequency's real and imaginary parts.

    Per frequency k <= n/2 the step is W_k = e^{-iπk/2n} with (d[k], d[n-k]), as the half-spectrum
    code has it; above n/2 the Hermitian partner's step, conjugated: conj(W_{n-k}) with
    (d[n-k], d[k]), so the spectrum stays Hermitian and the inverse real."""
    n1, n2 = _split(n)

    def dft(m):
        return torch.exp(-2j * math.pi * torch.outer(torch.arange(m), torch.arange(m)).double() / m)

    def tile(c):  # c[k1 + n1*k2] at [k1, k2]
        return c.reshape(n2, n1).T

    k = torch.arange(n)
    low, mirror = k <= n // 2, (n - k) % n
    w = torch.where(low, torch.exp(-1j * math.pi * k.double() / (2 * n)),
                    torch.exp(1j * math.pi * mirror.double() / (2 * n)))
    t = torch.exp(-2j * math.pi * torch.outer(torch.arange(n1), torch.arange(n2)).double() / n)
    f1, f2 = dft(n1), dft(n2)
    parts = (f1.real, f1.imag, f2.real, f2.imag, t.real, t.imag, tile(w).real, tile(w).imag)
    table = torch.cat([part.flatten() for part in parts])
    return (table.float().to(device), tile(torch.where(low, k, mirror)).contiguous().to(device),
            tile(torch.where(low, mirror, k)).contiguous().to(device))


@triton.jit
def _grid(N1: tl.constexpr, N2: tl.constexpr):
    """Offsets of an (N1, N2) tile stored row by row."""
    return tl.arange(0, N1)[:, None] * N2 + tl.arange(0, N2)[None, :]


@triton.jit
def _f1(t_ptr, part, N1: tl.constexpr, N2: tl.constexpr):
    """F1's real (part 0) or imaginary (part 1) tile from the constants table."""
    return tl.load(t_ptr + part * N1 * N1 + _grid(N1, N1))


@triton.jit
def _f2(t_ptr, part, N1: tl.constexpr, N2: tl.constexpr):
    """F2's real (part 0) or imaginary (part 1) tile."""
    return tl.load(t_ptr + 2 * N1 * N1 + part * N2 * N2 + _grid(N2, N2))


@triton.jit
def _twiddle(t_ptr, part, N1: tl.constexpr, N2: tl.constexpr):
    """T's (part 0, 1) or W's (part 2, 3) real or imaginary (N1, N2) tile."""
    return tl.load(t_ptr + 2 * N1 * N1 + 2 * N2 * N2 + part * N1 * N2 + _grid(N1, N2))


@triton.jit
def _dft(x, t_ptr, N1: tl.constexpr, N2: tl.constexpr, PRECISION: tl.constexpr):
    """The DFT of a real (N1, N2) tile: ``((F1 @ x) ⊙ T) @ F2`` as (real, imaginary) tiles."""
    pr = tl.dot(_f1(t_ptr, 0, N1, N2), x, input_precision=PRECISION)
    pi = tl.dot(_f1(t_ptr, 1, N1, N2), x, input_precision=PRECISION)
    tr, ti = _twiddle(t_ptr, 0, N1, N2), _twiddle(t_ptr, 1, N1, N2)
    qr, qi = pr * tr - pi * ti, pr * ti + pi * tr
    f2r, f2i = _f2(t_ptr, 0, N1, N2), _f2(t_ptr, 1, N1, N2)
    sr = tl.dot(qr, f2r, input_precision=PRECISION) - tl.dot(qi, f2i, input_precision=PRECISION)
    si = tl.dot(qr, f2i, input_precision=PRECISION) + tl.dot(qi, f2r, input_precision=PRECISION)
    return sr, si


@triton.jit
def _middle(x, t_ptr, p_ptr, q_ptr, N1: tl.constexpr, N2: tl.constexpr, PRECISION: tl.constexpr):
    """One layer's pass on an (N1, N2) tile already scaled by ``a``: DFT, the per-frequency step
    (rotate by W, scale real and imaginary parts by the tiles at p_ptr and q_ptr, rotate back),
    inverse DFT's real part."""
    sr, si = _dft(x, t_ptr, N1, N2, PRECISION)
    wr, wi = _twiddle(t_ptr, 2, N1, N2), _twiddle(t_ptr, 3, N1, N2)
    grid = _grid(N1, N2)
    p = tl.load(p_ptr + grid).to(tl.float32)
    q = tl.load(q_ptr + grid).to(tl.float32)
    zr, zi = (wr * sr - wi * si) * p, (wr * si + wi * sr) * q
    yr, yi = wr * zr + wi * zi, wr * zi - wi * zr
    # inverse DFT, real part: Re(conj(F1) @ ((Y @ conj(F2)) ⊙ conj(T))) / N
    f2r, f2i = _f2(t_ptr, 0, N1, N2), _f2(t_ptr, 1, N1, N2)
    rr = tl.dot(yr, f2r, input_precision=PRECISION) + tl.dot(yi, f2i, input_precision=PRECISION)
    ri = tl.dot(yi, f2r, input_precision=PRECISION) - tl.dot(yr, f2i, input_precision=PRECISION)
    tr, ti = _twiddle(t_ptr, 0, N1, N2), _twiddle(t_ptr, 1, N1, N2)
    ur, ui = rr * tr + ri * ti, ri * tr - rr * ti
    return (tl.dot(_f1(t_ptr, 0, N1, N2), ur, input_precision=PRECISION)
            + tl.dot(_f1(t_ptr, 1, N1, N2), ui, input_precision=PRECISION)) / (N1 * N2)


@triton.jit
def _gradient_kernel(g_ptr, x_ptr, a_ptr, p_ptr, q_ptr, grad_x_ptr, grad_a_ptr, t_ptr, G,
                     N1: tl.constexpr, N2: tl.constexpr, PRECISION: tl.constexpr):
    """One row of the backward: ``w`` = the layer's pass on the gradient ``g`` (without ``a``);
    writes ``w ⊙ a`` (the input's gradient) and ``w ⊙ x`` (``a``'s, once summed over rows)."""
    row = tl.program_id(0)
    group = row % G
    N: tl.constexpr = N1 * N2
    grid = _grid(N1, N2)
    g = tl.load(g_ptr + row * N + grid).to(tl.float32)
    w = _middle(g, t_ptr, p_ptr + group * N, q_ptr + group * N, N1, N2, PRECISION)
    x = tl.load(x_ptr + row * N + grid).to(tl.float32)
    a = tl.load(a_ptr + group * N + grid).to(tl.float32)
    tl.store(grad_x_ptr + row * N + grid, (w * a).to(grad_x_ptr.dtype.element_ty))
    tl.store(grad_a_ptr + row * N + grid, w * x)


@triton.jit
def _diagonal_gradient_kernel(g_ptr, x_ptr, a_ptr, grad_d_ptr, t_ptr, G, N1: tl.constexpr,
                              N2: tl.constexpr, PRECISION: tl.constexpr):
    """One row's products of the rotated spectra of ``g`` and ``a ⊙ x``, in the diagonal's order
    (``d``'s gradient once summed over rows). Frequency k (tile position [k1, k2], k = k1 + N1*k2)
    holds, after rotation, coefficient k in its real part and coefficient N-k in its imaginary
    part (k <= N/2)."""
    row = tl.program_id(0)
    group = row % G
    N: tl.constexpr = N1 * N2
    grid = _grid(N1, N2)
    x = tl.load(x_ptr + row * N + grid).to(tl.float32) * tl.load(a_ptr + group * N + grid).to(tl.float32)
    zr, zi = _dft(x, t_ptr, N1, N2, PRECISION)
    wr, wi = _twiddle(t_ptr, 2, N1, N2), _twiddle(t_ptr, 3, N1, N2)
    zr, zi = wr * zr - wi * zi, wr * zi + wi * zr
    gr, gi = _dft(tl.load(g_ptr + row * N + grid).to(tl.float32), t_ptr, N1, N2, PRECISION)
    k = tl.arange(0, N1)[:, None] + N1 * tl.arange(0, N2)[None, :]
    scale = tl.where(k == 0, 1.0 / N, 2.0 / N)
    half = N // 2
    tl.store(grad_d_ptr + row * N + k, (wr * gr - wi * gi) * zr * scale, mask=k <= half)
    tl.store(grad_d_ptr + row * N + (N - k), (wr * gi + wi * gr) * zi * scale, mask=(k >= 1) & (k < half))


@triton.jit
def _acdc_kernel(v_ptr, out_ptr, a_ptr, bias_ptr, p_ptr, q_ptr, t_ptr, G, HAS_A: tl.constexpr,
                 HAS_BIAS: tl.constexpr, N1: tl.constexpr, N2: tl.constexpr, PRECISION: tl.constexpr):
    row = tl.program_id(0)
    group = row % G
    N: tl.constexpr = N1 * N2
    grid = _grid(N1, N2)
    x = tl.load(v_ptr + row * N + grid).to(tl.float32)
    if HAS_A:
        x = x * tl.load(a_ptr + group * N + grid).to(tl.float32)
    out = _middle(x, t_ptr, p_ptr + group * N, q_ptr + group * N, N1, N2, PRECISION)
    if HAS_BIAS:
        out += tl.load(bias_ptr + group * N + grid).to(tl.float32)
    tl.store(out_ptr + row * N + grid, out.to(out_ptr.dtype.element_ty))


def _scales(d: torch.Tensor, n: int, groups: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The constants table and the diagonal ``d`` (n,), (G, n) or (K, n) laid out as the tiles
    that scale each frequency's real and imaginary parts."""
    table, p_index, q_index = _tables(n, device)
    d_rows = d.reshape(groups, n)
    return table, d_rows[:, p_index].contiguous(), d_rows[:, q_index].contiguous()


def core_pass(v: torch.Tensor, a: torch.Tensor | None, d: torch.Tensor,
              bias: torch.Tensor | None = None) -> torch.Tensor:
    """``irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + bias`` on Makhoul-ordered rows ``v`` (M, n) or
    (M, G, n), with ``a``, ``d``, ``bias`` of shape (n,) or (G, n) (``a`` None: no scaling), by
    the kernel: what :func:`acdc_core.ops.reference.core_forward` computes with torch.fft."""
    check(v)
    n = v.shape[-1]
    groups = v.shape[1] if v.ndim == 3 else 1
    rows = v.reshape(-1, n).contiguous()
    out = torch.empty_like(rows)
    table, p, q = _scales(d, n, groups, v.device)
    _acdc_kernel[(rows.shape[0],)](
        rows, out, a.reshape(groups, n).contiguous() if a is not None else rows,
        bias.reshape(groups, n).contiguous() if bias is not None else rows, p, q, table, groups,
        HAS_A=a is not None, HAS_BIAS=bias is not None, **_options(n))
    return out.reshape(v.shape)


@triton.jit
def _stack_kernel(v_ptr, saved_ptr, steps_ptr, a_ptr, bias_ptr, p_ptr, q_ptr, t_ptr, M, K,
                  RELU: tl.constexpr, HAS_BIAS: tl.constexpr, N1: tl.constexpr, N2: tl.constexpr,
                  PRECISION: tl.constexpr):
    """K layers on one row in one launch. Layer l's output goes to ``saved[l]`` (what backward
    needs); layer l+1 reads it back through the composed gather ``steps[l]`` (+ ReLU)."""
    row = tl.program_id(0)
    N: tl.constexpr = N1 * N2
    grid = _grid(N1, N2)
    x = tl.load(v_ptr + row * N + grid).to(tl.float32)
    for layer in range(K):
        if layer > 0:
            tl.debug_barrier()  # the previous layer's row is in global memory: all of it
            step = tl.load(steps_ptr + (layer - 1) * N + grid)
            x = tl.load(saved_ptr + ((layer - 1) * M + row) * N + step)
            if RELU:
                x = tl.maximum(x, 0.0)
        x = x * tl.load(a_ptr + layer * N + grid)
        out = _middle(x, t_ptr, p_ptr + layer * N, q_ptr + layer * N, N1, N2, PRECISION)
        if HAS_BIAS:
            out += tl.load(bias_ptr + layer * N + grid)
        tl.store(saved_ptr + (layer * M + row) * N + grid, out)


def stack_pass(v: torch.Tensor, a: torch.Tensor, d: torch.Tensor, bias: torch.Tensor | None,
               steps: torch.Tensor, relu: bool) -> torch.Tensor:
    """K fused layers on Makhoul-ordered float32 rows ``v`` (M, n) in one launch: ``a``, ``d``,
    ``bias`` (K, n) (``a`` and ``bias`` in Makhoul order), ``steps`` (K-1, n) the gathers between
    layers, ReLU after each gather when ``relu``. Returns every layer's output (K, M, n); the
    last is the stack's (in Makhoul order)."""
    n, layers = v.shape[-1], a.shape[0]
    if not supported(v) or v.dtype != torch.float32 or v.ndim != 2:
        raise ValueError(f"the Triton stack kernel takes float32 rows (M, n) of a power-of-two width "
                         f"in [{MIN_WIDTH}, {MAX_WIDTH}], got {v.dtype} {tuple(v.shape)}")
    rows = v.contiguous()
    saved = torch.empty(layers, rows.shape[0], n, device=v.device, dtype=v.dtype)
    table, p, q = _scales(d, n, layers, v.device)
    steps = steps.to(torch.int32).contiguous() if layers > 1 else rows.new_zeros(1, n, dtype=torch.int32)
    _stack_kernel[(rows.shape[0],)](
        rows, saved, steps, a.contiguous(), bias.contiguous() if bias is not None else rows, p, q,
        table, rows.shape[0], layers, RELU=relu, HAS_BIAS=bias is not None, **_options(n))
    return saved


def core_backward(grad: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
                  d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`core_pass` (with ``a``) for the rows' gradient ``grad``: of ``v``,
    ``a`` and ``d`` (the bias's is ``grad`` summed over rows), in two launches (one kernel doing
    both needed 112 KiB of shared memory at N = 4096, so one program per multiprocessor)."""
    n = v.shape[-1]
    groups = v.shape[1] if v.ndim == 3 else 1
    rows, x = grad.reshape(-1, n).contiguous(), v.reshape(-1, n).contiguous()
    grad_x = torch.empty_like(rows)
    per_row_a = torch.empty(rows.shape, device=v.device, dtype=torch.float32)
    per_row_d = torch.empty_like(per_row_a)
    table, p, q = _scales(d, n, groups, v.device)
    a_rows = a.reshape(groups, n).contiguous()
    _gradient_kernel[(rows.shape[0],)](rows, x, a_rows, p, q, grad_x, per_row_a, table, groups, **_options(n))
    _diagonal_gradient_kernel[(rows.shape[0],)](rows, x, a_rows, per_row_d, table, groups, **_options(n))
    per_group = (-1, groups, n) if v.ndim == 3 else (-1, n)
    return (grad_x.reshape(v.shape), per_row_a.reshape(per_group).sum(0).to(a.dtype).reshape(a.shape),
            per_row_d.reshape(per_group).sum(0).to(d.dtype).reshape(d.shape))
