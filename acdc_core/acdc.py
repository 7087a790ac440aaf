"""The ACDC layer, ``y = C⁻¹ D C A x + b``, and the fused core that runs it.

A and D are diagonal, C is the orthonormal DCT-II and C⁻¹ its inverse. In Makhoul's ordering of
the features (see :func:`acdc_core.dct.makhoul_order`) the whole middle ``C⁻¹ D C`` is one real
FFT, one elementwise step per frequency and one inverse real FFT: the orthonormal scalings cancel
and the DCT's twiddles fold into the step. :class:`_Core` runs that as one autograd function whose
backward is the same kind of pass, saving one features-wide tensor.
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from . import backend
from .checks import check_bool, check_choice, check_features, check_nonnegative_real, check_positive_int
from .dct import counted, dct, from_makhoul, idct, makhoul_order
from .escape import DenseEscape
from .shuffle import inverse, permute, riffle

ORDERS = ("dct_first", "idct_first")
PARAMETERISATIONS = ("original", "riffle")
INITS = ("normal", "identity", "uniform")
IMPLS = ("fft", "dense")
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


@functools.lru_cache(maxsize=64)
def _frequency_constants(n: int, dtype: torch.dtype, device: torch.device):
    """For length n, per bin k of the real FFT: the twiddle W = e^{-iπk/2n}, its conjugate, the
    mirror index (n-k) mod n, and the squared DCT-II scale (1/n at k = 0, 2/n elsewhere)."""
    k = torch.arange(n // 2 + 1)
    twiddle = torch.exp(-1j * math.pi * k.double() / (2 * n)).to(_COMPLEX[dtype]).to(device)
    kappa2 = torch.full((k.numel(),), 2.0 / n, dtype=torch.float64)
    kappa2[0] = 1.0 / n
    return twiddle, twiddle.conj().resolve_conj(), ((n - k) % n).to(device), \
        kappa2.to(dtype=dtype, device=device)


def _rotate(spectrum: torch.Tensor, n: int) -> torch.Tensor:
    """``W ⊙ V``: its real parts are the DCT-II coefficients ``c[k]`` and its imaginary parts
    ``-c[n-k]``, each up to the scale κ_k = sqrt(kappa2[k])."""
    twiddle, _, _, _ = _frequency_constants(n, spectrum.real.dtype, spectrum.device)
    return spectrum * twiddle


def _scale_pairs(d: torch.Tensor) -> torch.Tensor:
    """(..., n//2+1, 2): per bin k, the entries ``d[k]`` and ``d[n-k]`` that scale its real and
    imaginary parts (the DCT coefficients k and n-k)."""
    n = d.shape[-1]
    _, _, mirror, _ = _frequency_constants(n, d.dtype, d.device)
    return torch.stack([d[..., : n // 2 + 1], d[..., mirror]], -1)


def _scale_and_unrotate(rotated: torch.Tensor, pairs: torch.Tensor, n: int) -> torch.Tensor:
    """``conj(W) ⊙ (d[k] Re + i d[n-k] Im)`` of a rotated spectrum: the spectrum of
    ``C⁻¹ diag(d) C`` applied to the rows (the orthonormal scales cancel into irfft's 1/n)."""
    _, unrotate, _, _ = _frequency_constants(n, pairs.dtype, pairs.device)
    scaled = torch.view_as_complex(torch.view_as_real(rotated) * pairs)
    return scaled.mul_(unrotate)


def _diagonal_grad(rotated_grad: torch.Tensor, rotated: torch.Tensor, n: int) -> torch.Tensor:
    """Σ over rows of (C g)_k (C z)_k for every k, from the rows' rotated spectra: (G, n)."""
    _, _, _, kappa2 = _frequency_constants(n, rotated.real.dtype, rotated.device)
    h = n // 2
    products = (torch.view_as_real(rotated_grad) * torch.view_as_real(rotated)).sum(0)
    grad = products.new_empty(*products.shape[:-2], n)
    grad[..., : h + 1] = kappa2 * products[..., 0]
    grad[..., h + 1:] = (kappa2 * products[..., 1])[..., 1: n - h].flip(-1)
    return grad


def _rfft(x: torch.Tensor) -> torch.Tensor:
    """``torch.fft.rfft`` along the last dimension, also of no rows (MKL and cuFFT refuse those):
    (..., n) -> (..., n//2+1) complex."""
    if x.numel() == 0:
        zeros = x.new_zeros(*x.shape[:-1], x.shape[-1] // 2 + 1)
        return torch.complex(zeros, zeros)
    return torch.fft.rfft(x)


def _irfft(z: torch.Tensor, n: int) -> torch.Tensor:
    """``torch.fft.irfft(z, n)`` along the last dimension, also of no rows: (..., n//2+1) -> (..., n)."""
    if z.numel() == 0:
        return z.real.new_zeros(*z.shape[:-1], n)
    return torch.fft.irfft(z, n=n)


def _core_forward(v, a, pairs, bias):
    """``irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + bias`` (see :class:`_Core`)."""
    n = v.shape[-1]
    rotated = _rotate(_rfft(v * a), n)
    r = _irfft(_scale_and_unrotate(rotated, pairs, n), n)
    return r.add_(bias) if bias is not None else r


def _core_backward(grad, v, a, pairs, need_d: bool):
    """``(w, grad_d)``: the same pass on the gradient (before the ``a`` scaling) and, when asked,
    the diagonal's gradient from the gradient's spectrum and the forward's, recomputed from v."""
    n = v.shape[-1]
    rotated_grad = _rotate(_rfft(grad), n)
    w = _irfft(_scale_and_unrotate(rotated_grad, pairs, n), n)
    grad_d = _diagonal_grad(rotated_grad, _rotate(_rfft(v * a), n), n) if need_d else None
    return w, grad_d


class _Core(torch.autograd.Function):
    """``r = irfft(conj(W) ⊙ D(W ⊙ rfft(a ⊙ v))) + b`` on Makhoul-ordered rows.

    v: (M, G, n) or (M, n); a, b: (G, n) or (n,) in Makhoul order; d: same shape, in
    DCT-coefficient order.
    Saves one features-wide tensor, v; the backward is the same pass on the gradient (the middle
    ``C⁻¹ D C`` is symmetric), plus the diagonal's gradient from the gradient's spectrum and the
    forward's, recomputed from v (half the memory of keeping it).
    """

    @staticmethod
    def forward(ctx, v, a, d, bias):
        pairs = _scale_pairs(d)
        ctx.save_for_backward(v, a, pairs)
        ctx.has_bias = bias is not None
        return _core_forward(v, a, pairs, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, pairs = ctx.saved_tensors
        need_v, need_a, need_d, need_bias = ctx.needs_input_grad
        w, grad_d = _core_backward(grad, v, a, pairs, need_d)
        return (w * a if need_v else None,
                (w * v).sum(0) if need_a else None,
                grad_d,
                grad.sum(0) if ctx.has_bias and need_bias else None)


# The same pass as custom operators, for dispatch modes (FlopCounterMode counts them by the
# formulas in acdc_core.flops): forward, and a backward returning every gradient but the bias's.
@torch.library.custom_op("acdc::acdc_core", mutates_args=())
def core_op(v: torch.Tensor, a: torch.Tensor, d: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return _core_forward(v, a, _scale_pairs(d), bias)


@torch.library.custom_op("acdc::acdc_core_backward", mutates_args=())
def core_backward_op(grad: torch.Tensor, v: torch.Tensor, a: torch.Tensor,
                     d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    w, grad_d = _core_backward(grad, v, a, _scale_pairs(d), True)
    return w * a, (w * v).sum(0), grad_d


@core_op.register_fake
def _(v, a, d, bias):
    return torch.empty_like(v)


@core_backward_op.register_fake
def _(grad, v, a, d):
    return torch.empty_like(v), torch.empty_like(a), torch.empty_like(d)


def _core_op_context(ctx, inputs, output):
    v, a, d, bias = inputs
    ctx.save_for_backward(v, a, d)
    ctx.has_bias = bias is not None


def _core_op_backward(ctx, grad):
    v, a, d = ctx.saved_tensors
    grad_v, grad_a, grad_d = core_backward_op(grad, v, a, d)
    return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None


core_op.register_autograd(_core_op_backward, setup_context=_core_op_context)


class _KernelCore(torch.autograd.Function):
    """:class:`_Core` with the Triton kernels of ``acdc_core.triton_core`` for forward and backward."""

    @staticmethod
    def forward(ctx, v, a, d, bias, kernel):
        ctx.save_for_backward(v, a, d)
        ctx.has_bias, ctx.kernel = bias is not None, kernel
        return kernel.core_pass(v, a, d, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, d = ctx.saved_tensors
        grad_v, grad_a, grad_d = ctx.kernel.core_backward(grad, v, a, d)
        return grad_v, grad_a, grad_d, grad.sum(0) if ctx.has_bias else None, None


class _KernelStack(torch.autograd.Function):
    """K fused layers in one Triton launch (``triton_core.stack_pass``); the backward runs the
    backward kernel layer by layer, from the outputs the forward kept."""

    @staticmethod
    def forward(ctx, v, a, d, bias, steps, inverses, relu, kernel):
        outputs = kernel.stack_pass(v, a, d, bias, steps, relu)
        ctx.save_for_backward(v, a, d, outputs, steps, inverses)
        ctx.relu, ctx.kernel, ctx.has_bias = relu, kernel, bias is not None
        return outputs[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        v, a, d, outputs, steps, inverses = ctx.saved_tensors
        grad_a, grad_d, grad_bias = torch.empty_like(a), torch.empty_like(d), torch.empty_like(a)
        g = grad
        for layer in reversed(range(a.shape[0])):
            x = v if layer == 0 else outputs[layer - 1][:, steps[layer - 1]]
            if layer > 0 and ctx.relu:
                x = F.relu(x)
            grad_bias[layer] = g.sum(0)
            g, grad_a[layer], grad_d[layer] = ctx.kernel.core_backward(g, x, a[layer], d[layer])
            if layer > 0:
                g = (g * (x > 0) if ctx.relu else g)[:, inverses[layer - 1]]
        return g, grad_a, grad_d, grad_bias if ctx.has_bias else None, None, None, None, None


def _kernel_for(v: torch.Tensor):
    """The Triton kernel module for rows ``v`` (see :mod:`acdc_core.backend`), else None; None for
    no rows, which the torch.fft path passes through."""
    return backend.kernel_for(v) if v.numel() else None


def stack_kernel_for(v: torch.Tensor):
    """The Triton kernel module when a whole stack on Makhoul-ordered float32 rows ``v`` (M, n)
    should run in one launch (see :mod:`acdc_core.backend`), else None."""
    if counted() or v.ndim != 2 or v.dtype != torch.float32:
        return None
    return _kernel_for(v)


def kernel_stack(kernel, v: torch.Tensor, a: torch.Tensor, d: torch.Tensor,
                 bias: torch.Tensor | None, steps: torch.Tensor, inverses: torch.Tensor,
                 relu: bool) -> torch.Tensor:
    """K fused layers on rows ``v`` (M, n) in one launch of ``kernel``: ``a``, ``d``, ``bias``
    (K, n); ``steps``, ``inverses``: (K-1, n) gathers between layers and their inverses."""
    return _KernelStack.apply(v, a, d, bias, steps, inverses, relu, kernel)


def acdc_core(v: torch.Tensor, a: torch.Tensor, d: torch.Tensor, bias: torch.Tensor | None = None):
    """The fused layer on Makhoul-ordered input ``v`` (M, G, n) or (M, n): see :class:`_Core`.
    Inside a dispatch mode, the operator ``acdc::acdc_core``; on CUDA for supported shapes (or when
    forced, see :mod:`acdc_core.backend`), the Triton kernel."""
    if counted():
        return core_op(v, a, d, bias)
    kernel = _kernel_for(v)
    if kernel is not None:
        return _KernelCore.apply(v, a, d, bias, kernel)
    return _Core.apply(v, a, d, bias)


class ACDC(DenseEscape, nn.Module):
    r"""Structured linear layer :math:`y = C^{-1} D C A x + b` with A, D diagonal and C the
    orthonormal DCT-II: 2N parameters (plus N for the bias) and O(N log N) work.

    Args:
        features: size N of each input and output sample.
        order: ``"dct_first"`` (default, as the authors' code: ``y = idct(d ⊙ dct(a ⊙ x))``) or
            ``"idct_first"`` (``y = dct(d ⊙ idct(a ⊙ x))``).
        parameterisation: ``"original"`` (A C D C⁻¹) or ``"riffle"`` (the log's variant with a
            riffle shuffle between D and C⁻¹: ``y = C⁻¹ R D C A x``).
        init: ``"normal"`` (diagonals ~ N(1, sigma²), the paper's recommendation), ``"identity"``
            (A = D = 1) or ``"uniform"`` (U(-1, 1), the log's first trial).
        sigma: standard deviation of the ``"normal"`` initialisation, finite and >= 0. Default 1e-2.
        bias: add a learnable bias after the inverse DCT. Default True.
        diagonal_bias: the authors' additive biases on A and D (``a ⊙ x + b_a``, ``d ⊙ c + b_d``,
            initialised to 0). Default False.
        block_size: apply the layer block-diagonally on consecutive blocks of this many features
            (each block its own DCT); must divide ``features``. Default: one block.
        impl: ``"fft"`` (default) or ``"dense"``: multiply by :meth:`effective_weight`, cached
            between parameter changes when no gradient is needed (cheaper for small N at inference).

    Shape:
        Input ``(*, N)``, output ``(*, N)``.

    Attributes:
        a, d: the diagonals, shape (N,). bias: (N,) or None. a_bias, d_bias: (N,) or None.

    Examples::

        >>> layer = ACDC(4096)
        >>> layer(torch.randn(128, 4096)).shape
        torch.Size([128, 4096])
    """

    def __init__(self, features: int, order: str = "dct_first", parameterisation: str = "original",
                 init: str = "normal", sigma: float = 1e-2, bias: bool = True,
                 diagonal_bias: bool = False, block_size: int | None = None, impl: str = "fft",
                 device=None, dtype=None):
        super().__init__()
        check_positive_int("features", features)
        check_choice("order", order, ORDERS)
        check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
        check_choice("init", init, INITS)
        check_choice("impl", impl, IMPLS)
        check_nonnegative_real("sigma", sigma)
        check_bool("bias", bias)
        check_bool("diagonal_bias", diagonal_bias)
        block_size = features if block_size is None else block_size
        check_positive_int("block_size", block_size)
        if features % block_size:
            raise ValueError(f"block_size must be a positive int dividing features={features}, "
                             f"got {block_size!r}")
        self.features, self.order, self.parameterisation = features, order, parameterisation
        self.in_features = self.out_features = features  # nn.Linear's names, for generic code
        self.init, self.sigma, self.block_size, self.impl = init, float(sigma), block_size, impl
        factory = {"device": device, "dtype": dtype}
        self.a = nn.Parameter(torch.empty(features, **factory))
        self.d = nn.Parameter(torch.empty(features, **factory))
        self.bias = nn.Parameter(torch.empty(features, **factory)) if bias else None
        self.a_bias = nn.Parameter(torch.empty(features, **factory)) if diagonal_bias else None
        self.d_bias = nn.Parameter(torch.empty(features, **factory)) if diagonal_bias else None
        blocks = torch.arange(0, features, block_size).repeat_interleave(block_size)
        order_index = blocks + makhoul_order(block_size).repeat(features // block_size)
        self.register_buffer("_makhoul", order_index.to(device), persistent=False)
        self.register_buffer("_unmakhoul", inverse(order_index).to(device), persistent=False)
        self.register_buffer("_riffle", riffle(block_size).to(device), persistent=False)
        self._dense_cache = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the diagonals from the chosen initialisation; zero every bias."""
        with torch.no_grad():
            for diagonal in (self.a, self.d):
                if self.init == "normal":
                    diagonal.normal_(1.0, self.sigma)
                elif self.init == "identity":
                    diagonal.fill_(1.0)
                else:
                    diagonal.uniform_(-1.0, 1.0)
            for b in (self.bias, self.a_bias, self.d_bias):
                if b is not None:
                    b.zero_()
        self._dense_cache = None

    @property
    def fused(self) -> bool:
        """Whether the forward runs as the fused core (original parameterisation, DCT first)."""
        return self.order == "dct_first" and self.parameterisation == "original"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        if self.impl == "dense":
            weight, bias = self._dense_weight()
            return F.linear(x, weight, bias)
        return self._fft_forward(x)

    def _check_input(self, x) -> None:
        check_features(f"ACDC({self.features})", x, self.features)
        if x.dtype != self.a.dtype:
            raise TypeError(f"input dtype {x.dtype} does not match the layer's parameters "
                            f"({self.a.dtype}); convert one of them with .to()")

    def _blocks(self, t: torch.Tensor) -> torch.Tensor:
        """(*, features) -> (*, blocks, block_size); no extra dimension for a single block."""
        if self.block_size == self.features:
            return t
        return t.reshape(*t.shape[:-1], self.features // self.block_size, self.block_size)

    def _fft_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return self._composed_forward(x)
        v = permute(x.reshape(-1, self.features), self._makhoul, self._unmakhoul)
        r = self.makhoul_forward(v)
        y = from_makhoul(r) if self.block_size == self.features else \
            permute(r, self._unmakhoul, self._makhoul)
        return y.reshape(x.shape)

    def makhoul_forward(self, v: torch.Tensor) -> torch.Tensor:
        """The fused layer on rows ``v`` (M, features) already in Makhoul order (within each
        block, as ``x[:, layer._makhoul]``); returns the output rows in the same order."""
        bias = self.folded_bias()
        r = acdc_core(self._blocks(v), self._blocks(self.a[self._makhoul]), self._blocks(self.d),
                      None if bias is None else self._blocks(bias[self._makhoul]))
        return r.reshape(v.shape)

    def folded_bias(self) -> torch.Tensor | None:
        """The one output bias equal to all of the layer's biases: ``b + C⁻¹ b_d + C⁻¹ D C b_a``
        (for the original parameterisation, DCT first)."""
        if self.a_bias is None:
            return self.bias
        d, a_bias, d_bias = self._blocks(self.d), self._blocks(self.a_bias), self._blocks(self.d_bias)
        folded = idct(d * dct(a_bias, norm="ortho") + d_bias, norm="ortho").reshape(-1)
        return folded if self.bias is None else folded + self.bias

    def _composed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every option, as the plain sequence of fast transforms (differentiated by autograd)."""
        first, second = (dct, idct) if self.order == "dct_first" else (idct, dct)
        z = self._blocks(x) * self._blocks(self.a)
        if self.a_bias is not None:
            z = z + self._blocks(self.a_bias)
        c = first(z, norm="ortho") * self._blocks(self.d)
        if self.d_bias is not None:
            c = c + self._blocks(self.d_bias)
        if self.parameterisation == "riffle":
            c = c[..., self._riffle]
        y = second(c, norm="ortho").reshape(x.shape)
        return y if self.bias is None else y + self.bias

    def _linear_map(self, x: torch.Tensor) -> torch.Tensor:
        return self._fft_forward(x)  # the dense mode is built from this, so never through it

    def _dense_weight(self):
        """(W, b) for dense mode: recomputed (differentiably) when gradients are wanted, else cached
        until a parameter changes (tracked by its version counter and storage)."""
        params = list(self.parameters())
        if torch.is_grad_enabled() and any(p.requires_grad for p in params):
            return self.effective_weight(), self.effective_bias()
        key = tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in params)
        if self._dense_cache is None or self._dense_cache[0] != key:
            with torch.no_grad():
                self._dense_cache = (key, self.effective_weight(), self.effective_bias())
        return self._dense_cache[1], self._dense_cache[2]

    def _apply(self, fn, recurse=True):
        self._dense_cache = None  # .to() / .cuda() / .double() move the parameters
        return super()._apply(fn, recurse)

    def extra_repr(self) -> str:
        parts = [f"features={self.features}", f"order={self.order!r}",
                 f"parameterisation={self.parameterisation!r}", f"init={self.init!r}"]
        if self.init == "normal":
            parts.append(f"sigma={self.sigma:g}")
        parts += [f"bias={self.bias is not None}", f"diagonal_bias={self.a_bias is not None}"]
        if self.block_size != self.features:
            parts.append(f"block_size={self.block_size}")
        parts.append(f"impl={self.impl!r}")
        return ", ".join(parts)
