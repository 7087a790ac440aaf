"""StackedACDC: exactly ``n_layers`` ACDC layers with shuffles, optional ReLU/BatchNorm between them,
width adapters, and power-of-two style block grouping.

When every layer runs the fused core (original parameterisation, DCT first), the stack stays in
Makhoul's feature order from the first layer to the last: the un-reorder of one layer, the shuffle
and the reorder of the next compose into one gather, and biases, ReLU and BatchNorm act on the
reordered features directly (they are per-feature). Otherwise each layer runs on its own.

E-numbers (E1, E11) name the log's experiments, described in docs/experiments.md.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .acdc import ACDC
from .base import StructuredLinear
from .checks import check_bool, check_choice, check_int, check_positive_int
from .dct import from_makhoul
from .forms import Work, fastest
from .ops import one_launch, stack_pass
from .shuffle import SHUFFLES, inverse, permute, shuffle_index

GROW = ("linear", "repeat")
SHRINK = ("linear", "truncate", "sum")
BIAS_PLACEMENTS = ("every", "last")
FORMS = ("auto", "fft", "collapsed")


class StackedACDC(StructuredLinear):
    r"""A cascade of exactly ``n_layers`` ACDC layers mapping ``in_features`` to ``out_features``.

    Between consecutive layers: BatchNorm without affine parameters (``batchnorm``), the shuffle,
    then ReLU (``relu``) — the log's per-layer order. After the last layer, the BatchNorm and the
    shuffle only with ``shuffle_last``, the ReLU only with ``relu_last``. The layers work at width ``max(in_features, out_features)`` rounded up to a multiple of
    ``block_size``; a smaller input is grown to that width first, a larger output shrunk after.

    Args:
        in_features, out_features: sizes of each input and output sample.
        n_layers: number of ACDC layers; the stack holds exactly this many.
        shuffle: ``"riffle"`` (the two halves interleaved: ``[0, 4, 1, 5, ...]`` for 8),
            ``"unriffle"`` (its inverse, evens then odds: ``[0, 2, 4, 6, 1, ...]``, the log's
            linear stacks), ``"permutation"`` (a fixed random permutation per gap, from ``seed``,
            stored in the state dict) or ``"none"``.
        shuffle_last: BatchNorm (with ``batchnorm``) and the shuffle after the last layer too, as
            every stack of the log's code had.
        relu, batchnorm: ReLU / BatchNorm1d(affine=False) between layers.
        relu_last: ReLU after the last layer too (needs ``relu``), before any shrink: the log's
            BatchNorm stacks (E1, E6). Default False.
        bias: give the stack biases, as ``nn.Linear``'s ``bias``. Default True. The biases belong
            to the layers (``layers[i].bias``); the stack's own output ``bias`` is None.
        bias_placement: with ``bias``, ``"every"`` layer has one (default) or only the ``"last"``.
        grow: widen the input by concatenating a ``"linear"`` projection of it (bias-free, as the
            log's) or by ``"repeat"``-ing its features.
        shrink: narrow the output by dropping the extra features and adding a ``"linear"``
            residual computed from them (bias-free, as the log's), by ``"truncate"`` (keep the first
            ``out_features``), or by ``"sum"`` of consecutive groups of ``out_features``.
        block_size: run every layer block-diagonally on blocks of this size (the log grouped
            features into power-of-two blocks so every DCT had a power-of-two length), padding the
            width with zeros to a multiple of it. E1's ``groups=8`` at 784 is ``block_size=128``.
        seed: seed of the random permutations.
        form: ``"fft"`` (the layers on every row), ``"collapsed"`` (a linear stack multiplied out,
            differentiably, into one weight each call, then one matrix product) or ``"auto"``
            (default: per call, the faster of the two by the rule of :mod:`acdc_core.forms`).
        order, parameterisation, init, sigma, bias_init, diagonal_bias, transposed: passed to every
            :class:`ACDC`.

    Shape:
        Input ``(*, in_features)``, output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, n_layers: int, shuffle: str = "riffle",
                 shuffle_last: bool = False, relu: bool = False, batchnorm: bool = False,
                 relu_last: bool = False, bias: bool = True, bias_placement: str = "every", grow: str = "linear",
                 shrink: str = "linear",
                 block_size: int | None = None, seed: int = 0, form: str = "auto",
                 order: str = "dct_first",
                 parameterisation: str = "original", init: str = "normal", sigma: float = 1e-2,
                 bias_init: str = "zero", diagonal_bias: bool = False, transposed: bool = False,
                 device=None, dtype=None):
        super().__init__(in_features, out_features, bias=False, device=device, dtype=dtype)
        _check_options(in_features, out_features, n_layers, shuffle, shuffle_last, relu, batchnorm,
                       relu_last, bias, bias_placement, grow, shrink, block_size, seed)
        check_choice("form", form, FORMS)
        if form == "collapsed" and relu:
            raise ValueError("form='collapsed' needs a linear stack, but relu=True puts ReLU between "
                             "the layers; use form='fft' or 'auto'")
        width = max(in_features, out_features)
        block = block_size or width
        self.n_layers, self.width, self.padded_width, self.block_size = (
            n_layers, width, -(-width // block) * block, block)
        self.shuffle, self.shuffle_last, self.relu, self.batchnorm = shuffle, shuffle_last, relu, batchnorm
        self.relu_last = relu_last
        self.grow, self.shrink, self.seed, self.form = grow, shrink, seed, form
        self.has_bias, self.bias_placement = bias, bias_placement
        factory = {"device": device, "dtype": dtype}
        self.layers = nn.ModuleList(
            ACDC(self.padded_width, order=order, parameterisation=parameterisation, init=init,
                 sigma=sigma, bias=bias and (bias_placement == "every" or i == n_layers - 1),
                 bias_init=bias_init, diagonal_bias=diagonal_bias, block_size=block,
                 transposed=transposed, **factory)
            for i in range(n_layers))
        self.grow_linear = (nn.Linear(in_features, width - in_features, bias=False, **factory)
                            if grow == "linear" and in_features < width else None)
        self.shrink_linear = (nn.Linear(width - out_features, out_features, bias=False, **factory)
                              if shrink == "linear" and out_features < width else None)
        for i in range(n_layers if shuffle_last else n_layers - 1):
            self.register_buffer(f"shuffle_{i}",
                                 shuffle_index(shuffle, self.padded_width, seed + i).to(device))
        self.batchnorms = nn.ModuleList(PermutedBatchNorm(self.padded_width, **factory)
                                        for _ in range(len(self._shuffles()) if batchnorm else 0))
        self._derive_steps()
        self.register_load_state_dict_post_hook(StackedACDC._derive_steps)

    def reset_parameters(self) -> None:
        """Re-draw every layer and adapter; reset the BatchNorm statistics (shuffles stay)."""
        for module in [*self.layers, self.grow_linear, self.shrink_linear, *self.batchnorms]:
            if module is not None:
                module.reset_parameters()

    def _shuffles(self) -> list[torch.Tensor]:
        """The gather index of every shuffle, in order (the buffers ``shuffle_{i}``)."""
        count = self.n_layers if self.shuffle_last else self.n_layers - 1
        return [getattr(self, f"shuffle_{i}") for i in range(count)]

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        if self.chosen_form(x) == "collapsed":
            weight, offset = self._weight_and_offset()
            return F.linear(x, weight, offset)
        return self._fft_map(x)

    def _affine_map(self, x: torch.Tensor) -> torch.Tensor:
        return self._fft_map(x)  # the collapsed form is built from this, so never through it

    def chosen_form(self, x: torch.Tensor) -> str:
        """The form a call on ``x`` ``(*, in_features)`` runs in: ``form`` unless ``"auto"``, which
        takes :func:`~acdc_core.forms.fastest` of :meth:`work` on ``x``'s rows, priced forward
        and backward when gradients are enabled. Under
        ``torch.export``, whose program serves every batch size, ``"auto"`` takes ``"fft"``."""
        if self.form != "auto":
            return self.form
        if torch.compiler.is_exporting():
            return "fft"
        return fastest(self.work(x.numel() // self.in_features), x.device, torch.is_grad_enabled())

    def work(self, rows: float) -> dict[str, Work]:
        """Per form, the :class:`~acdc_core.forms.Work` of a forward call on ``rows`` rows:
        ``"fft"`` always, ``"collapsed"`` (:meth:`collapse_work`, then one product) when the
        stack is linear (:meth:`is_linear`)."""
        works = {"fft": self._fft_work(rows)}
        if self.is_linear():
            product = Work(matmul=rows * self.in_features * self.out_features)
            works["collapsed"] = self.collapse_work() + product
        return works

    def collapse_work(self) -> Work:
        """Multiplying the stack out into its weight and bias: its FFT form on the identity and
        a zero row (``in_features + 1`` rows)."""
        return self._fft_work(self.in_features + 1)

    def _fft_work(self, rows: float) -> Work:
        """The FFT form on ``rows`` rows: every layer's, and the linear width adapters'."""
        adapters = sum(m.in_features * m.out_features
                       for m in (self.grow_linear, self.shrink_linear) if m is not None)
        return sum((layer.work(rows)["fft"] for layer in self.layers), Work(matmul=rows * adapters))

    def is_linear(self) -> bool:
        """Whether the stack is a linear map in its current mode: no ReLU, and BatchNorm (if any)
        in eval mode."""
        return not self.relu and not (self.batchnorm and self.training)

    def _fft_map(self, x: torch.Tensor) -> torch.Tensor:
        """The stack's layers on every row of ``x`` (*, in_features)."""
        h = self._widen(x.reshape(-1, self.in_features))
        if all(layer.fused and layer.form == "fft" for layer in self.layers):
            h = self._fused_forward(h)
        else:
            h = self._layerwise_forward(h)
        return self._narrow(h).reshape(*x.shape[:-1], self.out_features)

    def _widen(self, x: torch.Tensor) -> torch.Tensor:
        """(M, in_features) -> (M, padded_width): grown to the working width, then zero-padded."""
        h = grow(x, self.width, self.grow, self.grow_linear)
        return F.pad(h, (0, self.padded_width - self.width)) if self.padded_width > self.width else h

    def _narrow(self, y: torch.Tensor) -> torch.Tensor:
        """(M, padded_width) -> (M, out_features): the padding dropped, then shrunk."""
        return shrink(y[:, : self.width], self.out_features, self.shrink, self.shrink_linear)

    def _layerwise_forward(self, h: torch.Tensor) -> torch.Tensor:
        """Each layer on its own, in natural feature order: (M, padded_width) -> same."""
        shuffles = self._shuffles()
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(shuffles):
                if self.batchnorm:
                    h = self.batchnorms[i](h)
                h = h[:, shuffles[i]]
            if self.relu and (i < self.n_layers - 1 or self.relu_last):
                h = F.relu(h)
        return h

    def _fused_forward(self, h: torch.Tensor) -> torch.Tensor:
        """Every layer fused, in Makhoul order throughout: (M, padded_width) -> same, in natural
        order. Without BatchNorm, on one block, untransposed, the Triton kernel takes all layers in
        one launch when the backend runs it (see :mod:`acdc_core.ops.backend`)."""
        makhoul, unmakhoul = self.layers[0]._makhoul, self.layers[0]._unmakhoul
        steps = self._gather_steps()
        v = permute(h, makhoul, unmakhoul)
        r = None
        if not self.batchnorm and self.block_size == self.padded_width and not self.layers[0].transposed:
            r = in_one_launch(self.layers, v, steps[: self.n_layers - 1], self.relu)
        if r is None:
            r = self._fused_layers(v, steps)
        if self.shuffle_last:
            if self.batchnorm:
                r = self.batchnorms[-1](r, makhoul)
            h = permute(r, *steps[-1])
        elif self.block_size == self.padded_width:
            h = from_makhoul(r)
        else:
            h = permute(r, unmakhoul, makhoul)
        return F.relu(h) if self.relu_last else h

    def _fused_layers(self, v: torch.Tensor, steps) -> torch.Tensor:
        """The layer loop on Makhoul-ordered rows ``v`` (M, padded_width): one gather, and
        BatchNorm and ReLU where asked, between layers. Returns the last layer's rows, in
        Makhoul order."""
        makhoul = self.layers[0]._makhoul
        for i, layer in enumerate(self.layers):
            r = layer.makhoul_forward(v)
            if i < self.n_layers - 1:
                if self.batchnorm:
                    r = self.batchnorms[i](r, makhoul)
                v = permute(r, *steps[i])
                v = F.relu(v) if self.relu else v  # ReLU commutes with the gather
        return r

    def _gather_steps(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """:func:`makhoul_gathers` of the shuffles: the buffers ``_step_{i}`` and ``_unstep_{i}``."""
        return [(getattr(self, f"_step_{i}"), getattr(self, f"_unstep_{i}"))
                for i in range(len(self._shuffles()))]

    def _derive_steps(self, *_) -> None:
        """(Re)build the buffers of :meth:`_gather_steps` from the shuffles: when built, and when
        a state dict brings other permutations."""
        layer = self.layers[0]
        steps = makhoul_gathers(self._shuffles(), layer._makhoul, layer._unmakhoul, self.n_layers - 1)
        for i, (step, back) in enumerate(steps):
            self.register_buffer(f"_step_{i}", step, persistent=False)
            self.register_buffer(f"_unstep_{i}", back, persistent=False)

    def _check_affine(self) -> None:
        """effective_weight() is defined only for a linear stack: no ReLU, and BatchNorm (if any)
        in eval mode."""
        if self.relu:
            raise ValueError("effective_weight() needs a linear stack, but this one has ReLU "
                             "between layers")
        if self.batchnorm and self.training:
            raise ValueError("effective_weight() needs a linear stack: BatchNorm in training mode "
                             "depends on the batch; call .eval() first")

    def extra_repr(self) -> str:
        """Constructor arguments: the sizes, depth and options between layers always; the rest
        (placement, adapters, blocks, seed, per-layer options) where they differ from the
        defaults."""
        parts = [f"in_features={self.in_features}", f"out_features={self.out_features}",
                 f"n_layers={self.n_layers}", f"shuffle={self.shuffle!r}", f"relu={self.relu}",
                 f"batchnorm={self.batchnorm}", f"bias={self.has_bias}"]
        layer = self.layers[0]
        options = {"shuffle_last": (self.shuffle_last, False), "relu_last": (self.relu_last, False),
                   "bias_placement": (self.bias_placement, "every"),
                   "grow": (self.grow, "linear"), "shrink": (self.shrink, "linear"),
                   "block_size": (self.block_size, self.width), "seed": (self.seed, 0),
                   "form": (self.form, "auto"),
                   "order": (layer.order, "dct_first"),
                   "parameterisation": (layer.parameterisation, "original"),
                   "init": (layer.init, "normal"), "sigma": (layer.sigma, 1e-2),
                   "bias_init": (self.layers[-1].bias_init, "zero"),
                   "diagonal_bias": (layer.a_bias is not None, False),
                   "transposed": (layer.transposed, False)}
        parts += [f"{name}={value!r}" for name, (value, default) in options.items()
                  if value != default]
        return ", ".join(parts)


def _check_options(in_features, out_features, n_layers, shuffle, shuffle_last, relu, batchnorm,
                   relu_last, bias, bias_placement, grow, shrink, block_size, seed) -> None:
    """Refuse a bad StackedACDC argument, naming it (the layers check their own)."""
    check_positive_int("n_layers", n_layers)
    check_choice("shuffle", shuffle, SHUFFLES)
    if isinstance(bias, str):
        raise TypeError(f"bias must be a bool (True or False), as nn.Linear's, got {bias!r}; where "
                        f"the biases go is bias_placement ('every' or 'last')")
    check_choice("bias_placement", bias_placement, BIAS_PLACEMENTS)
    check_choice("grow", grow, GROW)
    check_choice("shrink", shrink, SHRINK)
    for name, value in (("shuffle_last", shuffle_last), ("relu", relu), ("batchnorm", batchnorm),
                        ("relu_last", relu_last), ("bias", bias)):
        check_bool(name, value)
    if relu_last and not relu:
        raise ValueError("relu_last=True puts a ReLU after the last layer as after every other, "
                         "and needs relu=True")
    check_int("seed", seed)
    width = max(in_features, out_features)
    if block_size is not None:
        check_int("block_size", block_size)
        if not 1 <= block_size <= width:
            raise ValueError(f"block_size must be an int from 1 to the working width {width}, "
                             f"got {block_size!r}")
    if shrink == "sum" and in_features > out_features and in_features % out_features:
        raise ValueError(f"shrink='sum' adds groups of out_features={out_features} and needs "
                         f"in_features divisible by it, got in_features={in_features}")


# ----------------------------------------------------------------------------------------------
# Width adapters

def grow(x: torch.Tensor, width: int, how: str, linear: nn.Linear | None) -> torch.Tensor:
    """(M, n) -> (M, width), n <= width: ``x`` followed by ``linear(x)`` (``how="linear"``), or
    ``x``'s features repeated (``"repeat"``)."""
    if x.shape[-1] == width:
        return x
    if how == "linear":
        return torch.cat([x, linear(x)], -1)
    return x.repeat(1, -(-width // x.shape[-1]))[:, :width]


def shrink(y: torch.Tensor, out_features: int, how: str, linear: nn.Linear | None) -> torch.Tensor:
    """(M, width) -> (M, out_features): the first ``out_features`` plus ``linear`` of the rest
    (``how="linear"``), the sum of consecutive groups of ``out_features`` (``"sum"``), or the
    first ``out_features`` alone (``"truncate"``)."""
    if y.shape[-1] == out_features:
        return y
    kept, extra = y[:, :out_features], y[:, out_features:]
    if how == "linear":
        return kept + linear(extra)
    if how == "sum":
        return y.reshape(y.shape[0], y.shape[-1] // out_features, out_features).sum(1)
    return kept


# ----------------------------------------------------------------------------------------------
# Gathers between layers, and the whole stack in one kernel launch

def makhoul_gathers(shuffles: list[torch.Tensor], makhoul: torch.Tensor, unmakhoul: torch.Tensor,
                    inner: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per shuffle, the (index, inverse) of one gather on rows in Makhoul order (``makhoul`` and
    its inverse ``unmakhoul``): back to natural order, through the shuffle, and into Makhoul order
    again for the first ``inner`` shuffles (those between layers); into natural order for a
    shuffle after the last layer."""
    steps = [unmakhoul[s[makhoul]] for s in shuffles[:inner]]
    steps += [unmakhoul[s] for s in shuffles[inner:]]
    return [(step, inverse(step)) for step in steps]


def in_one_launch(layers, v: torch.Tensor, steps, relu: bool) -> torch.Tensor | None:
    """Fused ACDC ``layers`` (one block each) on Makhoul-ordered rows ``v`` (M, n) in one Triton
    launch, with the gathers ``steps`` (index, inverse) between them and ReLU after each when
    ``relu``; the last layer's rows, in Makhoul order. None when the backend does not run the
    kernel on ``v`` (see :mod:`acdc_core.ops.backend`)."""
    if not one_launch(v):
        return None
    biases = [layer.folded_bias() for layer in layers]
    bias = None
    if any(b is not None for b in biases):
        bias = torch.stack([(b if b is not None else torch.zeros_like(layer.a))[layer._makhoul]
                            for b, layer in zip(biases, layers)])
    empty = v.new_zeros(0, v.shape[-1], dtype=torch.long)
    gathers = torch.stack([step for step, _ in steps]) if steps else empty
    undo = torch.stack([back for _, back in steps]) if steps else empty
    return stack_pass(v, torch.stack([layer.a[layer._makhoul] for layer in layers]),
                      torch.stack([layer.d for layer in layers]), bias, gathers, undo, relu)


# ----------------------------------------------------------------------------------------------
# BatchNorm between layers

class PermutedBatchNorm(nn.Module):
    """``BatchNorm1d(features, affine=False)`` on rows (M, features) whose features may come
    permuted: ``forward(h, order)`` takes ``h``'s features in ``order`` (a gather index of the
    natural order) and keeps the running statistics in natural order either way. Momentum 0.1,
    eps 1e-5, as BatchNorm1d's defaults; no batch counter (the momentum is fixed)."""

    def __init__(self, features: int, device=None, dtype=None):
        super().__init__()
        self.momentum, self.eps = 0.1, 1e-5
        self.register_buffer("running_mean", torch.zeros(features, device=device, dtype=dtype))
        self.register_buffer("running_var", torch.ones(features, device=device, dtype=dtype))

    def reset_parameters(self) -> None:
        """Back to no statistics: mean 0, variance 1."""
        self.running_mean.zero_()
        self.running_var.fill_(1.0)

    def forward(self, h: torch.Tensor, order: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise ``h`` (M, features) in its own dtype; the statistics keep theirs."""
        index = slice(None) if order is None else order
        mean, var = (stat[index].to(h.dtype, copy=True) for stat in (self.running_mean, self.running_var))
        h = F.batch_norm(h, mean, var, training=self.training, momentum=self.momentum, eps=self.eps)
        if self.training:  # batch_norm updated the copies
            self.running_mean[index] = mean.to(self.running_mean.dtype)
            self.running_var[index] = var.to(self.running_var.dtype)
        return h

    def extra_repr(self) -> str:
        return f"{self.running_mean.numel()}"
