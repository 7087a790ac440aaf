"""The ACDC layer, ``y = C⁻¹ D C A x + b``, as a module.

A and D are diagonal, C is the orthonormal DCT-II and C⁻¹ its inverse. In the original
parameterisation, DCT first, the layer runs as the fused core (the operator ``acdc::acdc_core``, :func:`acdc_core.ops.acdc_pass`)
on its features reordered into Makhoul's order; every other option runs as the plain sequence of
fast transforms.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import StructuredLinear
from .checks import check_bool, check_choice, check_divisor, check_nonnegative_real, check_positive_int
from .dct import dct, idct, makhoul_order
from .flops import acdc_mult_adds
from .forms import Work
from .ops import acdc_pass
from .shuffle import inverse, unriffle

ORDERS = ("dct_first", "idct_first")
PARAMETERISATIONS = ("original", "riffle")
INITS = ("normal", "identity", "uniform")
BIAS_INITS = ("zero", "uniform")
FORMS = ("fft", "dense")


class ACDC(StructuredLinear):
    r"""Structured linear layer :math:`y = C^{-1} D C A x + b` with A, D diagonal and C the
    orthonormal DCT-II: 2N parameters (plus N for the bias) and O(N log N) work.

    Args:
        features: size N of each input and output sample.
        order: ``"dct_first"`` (default, as the authors' code: ``y = idct(d ⊙ dct(a ⊙ x))``) or
            ``"idct_first"`` (``y = dct(d ⊙ idct(a ⊙ x))``).
        parameterisation: ``"original"`` or ``"riffle"``: the log's variant with a shuffle inside,
            ``y = C⁻¹ D P C A x``, where P gathers the DCT's even coefficients, then its odd ones
            (:func:`~acdc_core.shuffle.unriffle`, within each block), before D scales them. This is
            the log's linear layer; its FFT layer applied D before P, which is the same map with
            D's entries relabelled (``d_here = d_there[unriffle]``).
        init: ``"normal"`` (diagonals ~ N(1, sigma²), the paper's recommendation), ``"identity"``
            (A = D = 1) or ``"uniform"`` (U(-1, 1), the log's first trial).
        sigma: standard deviation of the ``"normal"`` initialisation, finite and >= 0. Default 1e-2.
        bias: add a learnable bias after the inverse DCT (the output bias). Default True.
        bias_init: the output bias starts at ``"zero"`` (default) or ``"uniform"``, U(±1/√N) as
            ``nn.Linear``'s does (the log's code).
        diagonal_bias: the authors' additive biases on A and D (``a ⊙ x + b_a``, ``d ⊙ c + b_d``,
            initialised to 0). Default False.
        block_size: apply the layer block-diagonally on consecutive blocks of this many features
            (each block its own DCT); must divide ``features``. Default: one block.
        form: ``"fft"`` (default) or ``"dense"``: multiply by :meth:`effective_weight`, cached
            between parameter changes when no gradient is needed (cheaper for small N at inference).
        transposed: compute the transpose of the map above instead, ``y = A C⁻¹ Pᵀ D C x`` (A on
            the output side; Pᵀ gathers as :func:`~acdc_core.shuffle.riffle`): the log's
            convolutional layer, which used the linear layer's matrix without transposing it.
            Default False.

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
                 bias_init: str = "zero", diagonal_bias: bool = False,
                 block_size: int | None = None, form: str = "fft", transposed: bool = False,
                 device=None, dtype=None):
        check_positive_int("features", features)
        check_choice("order", order, ORDERS)
        check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
        check_choice("init", init, INITS)
        check_choice("bias_init", bias_init, BIAS_INITS)
        check_choice("form", form, FORMS)
        check_nonnegative_real("sigma", sigma)
        check_bool("diagonal_bias", diagonal_bias)
        check_bool("transposed", transposed)
        if transposed and diagonal_bias:
            raise ValueError("transposed=True takes no diagonal biases (diagonal_bias=True): the "
                             "transpose of an affine map has no offset of its own")
        block_size = features if block_size is None else block_size
        check_divisor("block_size", block_size, features)
        super().__init__(features, features, bias, device, dtype)
        self.features, self.order, self.parameterisation = features, order, parameterisation
        self.init, self.sigma, self.block_size, self.form = init, float(sigma), block_size, form
        self.bias_init, self.transposed = bias_init, transposed
        factory = {"device": device, "dtype": dtype}
        self.a = nn.Parameter(torch.empty(features, **factory))
        self.d = nn.Parameter(torch.empty(features, **factory))
        self._place_bias_here()
        self.a_bias = nn.Parameter(torch.empty(features, **factory)) if diagonal_bias else None
        self.d_bias = nn.Parameter(torch.empty(features, **factory)) if diagonal_bias else None
        blocks = torch.arange(0, features, block_size).repeat_interleave(block_size)
        order_index = blocks + makhoul_order(block_size).repeat(features // block_size)
        self.register_buffer("_makhoul", order_index.to(device), persistent=False)
        self.register_buffer("_unmakhoul", inverse(order_index).to(device), persistent=False)
        inner = unriffle(block_size)
        self.register_buffer("_inner", (inverse(inner) if transposed else inner).to(device),
                             persistent=False)
        self._dense_cache = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the diagonals from the chosen initialisation; zero the diagonal biases and the
        output bias, or draw the output bias from U(±1/√N) (``bias_init="uniform"``)."""
        with torch.no_grad():
            for diagonal in (self.a, self.d):
                if self.init == "normal":
                    diagonal.normal_(1.0, self.sigma)
                elif self.init == "identity":
                    diagonal.fill_(1.0)
                else:
                    diagonal.uniform_(-1.0, 1.0)
            for b in (self.a_bias, self.d_bias):
                if b is not None:
                    b.zero_()
        super().reset_parameters()
        if self.bias is not None and self.bias_init == "uniform":
            with torch.no_grad():
                self.bias.uniform_(-self.features ** -0.5, self.features ** -0.5)
        self._dense_cache = None

    @property
    def fused(self) -> bool:
        """Whether the forward runs as the fused core (original parameterisation, DCT first)."""
        return self.order == "dct_first" and self.parameterisation == "original"

    def work(self, rows: float) -> dict[str, Work]:
        """Per form, the :class:`~acdc_core.forms.Work` of a forward call on ``rows`` rows:
        ``"fft"``, every block's DCTs and diagonals (fused or composed); ``"dense"``, the product
        with the cached weight (not its making)."""
        blocks = self.features // self.block_size
        layer = rows * blocks * acdc_mult_adds(self.block_size)
        fft = Work(fused=layer, calls=1) if self.fused else Work(composed=layer, calls=1)
        return {"fft": fft, "dense": Work(matmul=rows * self.features * self.features)}

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "dense":
            weight, offset = self._dense_weight()
            return F.linear(x, weight, offset)
        return self._fft_map(x)

    def _affine_map(self, x: torch.Tensor) -> torch.Tensor:
        return self._fft_map(x)  # the dense form is built from this, so never through it

    def _biased_map(self, x: torch.Tensor) -> torch.Tensor:
        if self.form == "fft" and self.fused:  # the fused core adds every bias in its last pass
            return self._fft_map(x, self.folded_bias())
        return super()._biased_map(x)

    def _blocks(self, t: torch.Tensor) -> torch.Tensor:
        """(*, features) -> (*, blocks, block_size); no extra dimension for a single block."""
        if self.block_size == self.features:
            return t
        return t.reshape(*t.shape[:-1], self.features // self.block_size, self.block_size)

    def _fft_map(self, x: torch.Tensor, offset: torch.Tensor | None = None) -> torch.Tensor:
        """The layer without its output bias, by fast transforms; the fused core adds ``offset``
        (features,) instead of the diagonal biases' offset when given (it includes them)."""
        if not self.fused:
            return self._composed_map(x)
        rows = self._blocks(x.reshape(-1, self.features))
        bias = self._diagonal_offset() if offset is None else offset
        r = self._core(rows, self.a, bias, natural=True)
        return r.reshape(x.shape)

    def makhoul_forward(self, v: torch.Tensor) -> torch.Tensor:
        """The whole fused layer, every bias included, on rows ``v`` (M, features) already in
        Makhoul order (within each block, as ``x[:, layer._makhoul]``); returns the output rows
        in the same order."""
        return self._makhoul_pass(v, self.folded_bias())

    def _makhoul_pass(self, v: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """The fused core on Makhoul-ordered rows ``v`` (M, features), adding ``bias`` (features,
        natural order) or nothing."""
        a = self.a[self._makhoul]
        bias = None if bias is None else bias[self._makhoul]
        return self._core(self._blocks(v), a, bias, natural=False).reshape(v.shape)

    def _core(self, rows: torch.Tensor, a: torch.Tensor, bias: torch.Tensor | None,
              natural: bool) -> torch.Tensor:
        """:func:`~acdc_core.ops.acdc_pass` on rows (M, G, block) or (M, features) with the
        diagonal ``a`` and ``bias`` (features,) in the rows' order; transposed, A comes last."""
        a, bias = self._blocks(a), None if bias is None else self._blocks(bias)
        if not self.transposed:
            return acdc_pass(rows, a, self._blocks(self.d), bias, natural)
        r = acdc_pass(rows, torch.ones_like(a), self._blocks(self.d), None, natural) * a
        return r if bias is None else r + bias

    def folded_bias(self) -> torch.Tensor | None:
        """The one output bias equal to all of the layer's biases: ``b + C⁻¹ b_d + C⁻¹ D C b_a``
        (for the original parameterisation, DCT first); None when it has none."""
        offset = self._diagonal_offset()
        if offset is None:
            return self.bias
        return offset if self.bias is None else offset + self.bias

    def _diagonal_offset(self) -> torch.Tensor | None:
        """The diagonal biases as one offset after the inverse DCT, ``C⁻¹ b_d + C⁻¹ D C b_a``
        (features,), or None without them."""
        if self.a_bias is None:
            return None
        d, a_bias, d_bias = self._blocks(self.d), self._blocks(self.a_bias), self._blocks(self.d_bias)
        return idct(d * dct(a_bias, norm="ortho") + d_bias, norm="ortho").reshape(-1)

    def _composed_map(self, x: torch.Tensor) -> torch.Tensor:
        """Every option without the output bias, as the plain sequence of fast transforms
        (differentiated by autograd)."""
        if self.transposed:
            return self._transposed_map(x)
        first, second = (dct, idct) if self.order == "dct_first" else (idct, dct)
        z = self._blocks(x) * self._blocks(self.a)
        if self.a_bias is not None:
            z = z + self._blocks(self.a_bias)
        c = first(z, norm="ortho")
        if self.parameterisation == "riffle":
            c = c[..., self._inner]
        c = c * self._blocks(self.d)
        if self.d_bias is not None:
            c = c + self._blocks(self.d_bias)
        return second(c, norm="ortho").reshape(x.shape)

    def _transposed_map(self, x: torch.Tensor) -> torch.Tensor:
        """The transpose of the untransposed map (no diagonal biases): the same steps in reverse,
        each transposed (the orthonormal DCT's transpose is its inverse)."""
        first, second = (dct, idct) if self.order == "dct_first" else (idct, dct)
        c = first(self._blocks(x), norm="ortho") * self._blocks(self.d)
        if self.parameterisation == "riffle":
            c = c[..., self._inner]
        return (second(c, norm="ortho") * self._blocks(self.a)).reshape(x.shape)

    def _dense_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, c) for dense mode, c the diagonal biases' offset: recomputed (differentiably) when
        gradients are wanted, the parameters are passing casts (see
        :meth:`~acdc_core.base.StructuredLinear.computing_in`) or the call is being compiled or
        exported, else cached until a parameter
        changes (tracked by its version counter and storage)."""
        params = list(self.parameters())
        if torch.is_grad_enabled() and any(p.requires_grad for p in params) or \
                not all(isinstance(p, nn.Parameter) for p in params) or torch.compiler.is_compiling():
            return self._weight_and_offset()
        key = tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in params)
        if self._dense_cache is None or self._dense_cache[0] != key:
            with torch.no_grad():
                self._dense_cache = (key, *self._weight_and_offset())
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
        if self.bias is not None and self.bias_init != "zero":
            parts.append(f"bias_init={self.bias_init!r}")
        if self.block_size != self.features:
            parts.append(f"block_size={self.block_size}")
        parts.append(f"form={self.form!r}")
        if self.transposed:
            parts.append("transposed=True")
        return ", ".join(parts)
