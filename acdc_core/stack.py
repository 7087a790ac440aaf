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

from .acdc import ACDC, kernel_stack, stack_kernel_for
from .checks import check_bool, check_choice, check_features, check_int, check_positive_int
from .escape import DenseEscape
from .dct import from_makhoul
from .shuffle import SHUFFLES, inverse, permute, shuffle_index

GROW = ("linear", "repeat")
SHRINK = ("linear", "truncate", "sum")
BIAS = ("every", "last", "none")


class StackedACDC(DenseEscape, nn.Module):
    r"""A cascade of exactly ``n_layers`` ACDC layers mapping ``in_features`` to ``out_features``.

    Between consecutive layers (never after the last, unless ``shuffle_last``): BatchNorm without
    affine parameters (``batchnorm``), the shuffle, then ReLU (``relu``) — the log's per-layer
    order. The layers work at width ``max(in_features, out_features)`` rounded up to a multiple of
    ``block_size``; a smaller input is grown to that width first, a larger output shrunk after.

    Args:
        in_features, out_features: sizes of each input and output sample.
        n_layers: number of ACDC layers; the stack holds exactly this many.
        shuffle: ``"riffle"`` (two-group interleave), ``"permutation"`` (a fixed random
            permutation per gap, from ``seed``, stored in the state dict) or ``"none"``.
        shuffle_last: shuffle after the last layer too (the code behind the log's E11 did).
        relu, batchnorm: ReLU / BatchNorm1d(affine=False) between layers.
        bias: ``"every"`` layer has a bias, only the ``"last"``, or ``"none"``.
        grow: widen the input by concatenating a ``"linear"`` projection of it (the log) or by
            ``"repeat"``-ing its features.
        shrink: narrow the output by dropping the extra features and adding a ``"linear"``
            residual computed from them (the log), by ``"truncate"`` (keep the first
            ``out_features``), or by ``"sum"`` of consecutive groups of ``out_features``.
        block_size: run every layer block-diagonally on blocks of this size (the log grouped
            features into power-of-two blocks so every DCT had a power-of-two length), padding the
            width with zeros to a multiple of it. E1's ``groups=8`` at 784 is ``block_size=128``.
        seed: seed of the random permutations.
        order, parameterisation, init, sigma, diagonal_bias: passed to every :class:`ACDC`.

    Shape:
        Input ``(*, in_features)``, output ``(*, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, n_layers: int, shuffle: str = "riffle",
                 shuffle_last: bool = False, relu: bool = False, batchnorm: bool = False,
                 bias: str = "every", grow: str = "linear", shrink: str = "linear",
                 block_size: int | None = None, seed: int = 0, order: str = "dct_first",
                 parameterisation: str = "original", init: str = "normal", sigma: float = 1e-2,
                 diagonal_bias: bool = False, device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features),
                            ("n_layers", n_layers)):
            check_positive_int(name, value)
        check_choice("shuffle", shuffle, SHUFFLES)
        check_choice("bias", bias, BIAS)
        check_choice("grow", grow, GROW)
        check_choice("shrink", shrink, SHRINK)
        for name, value in (("shuffle_last", shuffle_last), ("relu", relu), ("batchnorm", batchnorm)):
            check_bool(name, value)
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
        block = block_size or width
        self.in_features, self.out_features, self.n_layers = in_features, out_features, n_layers
        self.width, self.padded_width, self.block_size = width, -(-width // block) * block, block
        self.shuffle, self.shuffle_last, self.relu, self.batchnorm = shuffle, shuffle_last, relu, batchnorm
        self.grow, self.shrink, self.bias_placement = grow, shrink, bias
        factory = {"device": device, "dtype": dtype}
        self.layers = nn.ModuleList(
            ACDC(self.padded_width, order=order, parameterisation=parameterisation, init=init,
                 sigma=sigma, bias=bias == "every" or (bias == "last" and i == n_layers - 1),
                 diagonal_bias=diagonal_bias, block_size=block, **factory)
            for i in range(n_layers))
        self.grow_linear = (nn.Linear(in_features, width - in_features, **factory)
                            if grow == "linear" and in_features < width else None)
        self.shrink_linear = (nn.Linear(width - out_features, out_features, **factory)
                              if shrink == "linear" and out_features < width else None)
        n_shuffles = n_layers if shuffle_last else n_layers - 1
        for i in range(n_shuffles):
            self.register_buffer(f"shuffle_{i}",
                                 shuffle_index(shuffle, self.padded_width, seed + i).to(device))
        for i in range(n_layers - 1 if batchnorm else 0):
            self.register_buffer(f"running_mean_{i}", torch.zeros(self.padded_width, **factory))
            self.register_buffer(f"running_var_{i}", torch.ones(self.padded_width, **factory))
        self.momentum, self.eps = 0.1, 1e-5
        self._steps, self._steps_key = [], None

    def reset_parameters(self) -> None:
        """Re-draw every layer and adapter; reset the BatchNorm statistics (shuffles stay)."""
        for module in [*self.layers, self.grow_linear, self.shrink_linear]:
            if module is not None:
                module.reset_parameters()
        for i in range(self.n_layers - 1 if self.batchnorm else 0):
            getattr(self, f"running_mean_{i}").zero_()
            getattr(self, f"running_var_{i}").fill_(1.0)

    def _shuffle(self, i: int) -> torch.Tensor | None:
        return getattr(self, f"shuffle_{i}", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(f"StackedACDC({self.in_features}, {self.out_features})", x, self.in_features)
        batch_shape = x.shape[:-1]
        h = self._widen(x.reshape(-1, self.in_features))
        if all(layer.fused and layer.impl == "fft" for layer in self.layers):
            h = self._fused_forward(h)
        else:
            h = self._layerwise_forward(h)
        return self._narrow(h).reshape(*batch_shape, self.out_features)

    def _widen(self, x: torch.Tensor) -> torch.Tensor:
        """(M, in_features) -> (M, padded_width)."""
        if self.in_features < self.width:
            if self.grow == "linear":
                x = torch.cat([x, self.grow_linear(x)], -1)
            else:
                x = x.repeat(1, -(-self.width // self.in_features))[:, : self.width]
        return F.pad(x, (0, self.padded_width - self.width)) if self.padded_width > self.width else x

    def _narrow(self, y: torch.Tensor) -> torch.Tensor:
        """(M, padded_width) -> (M, out_features)."""
        y = y[:, : self.width]
        if self.out_features == self.width:
            return y
        kept, extra = y[:, : self.out_features], y[:, self.out_features:]
        if self.shrink == "linear":
            return kept + self.shrink_linear(extra)
        if self.shrink == "sum":
            return y.reshape(y.shape[0], self.width // self.out_features, self.out_features).sum(1)
        return kept

    def _layerwise_forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < self.n_layers - 1:
                if self.batchnorm:
                    h = self._batchnorm(h, i, None)
                h = h[:, self._shuffle(i)]
                h = F.relu(h) if self.relu else h
            elif self.shuffle_last:
                h = h[:, self._shuffle(i)]
        return h

    def _fused_forward(self, h: torch.Tensor) -> torch.Tensor:
        """Every layer fused, in Makhoul order throughout; one gather between layers. Without
        BatchNorm, on one block, the Triton kernel takes all layers in one launch when the backend
        runs it (see :mod:`acdc_core.backend`)."""
        makhoul, unmakhoul = self.layers[0]._makhoul, self.layers[0]._unmakhoul
        steps = self._gather_steps()
        v = permute(h, makhoul, unmakhoul)
        r = None
        if not self.batchnorm and self.block_size == self.padded_width:
            r = self._kernel_forward(v, steps)
        for i, layer in enumerate(self.layers if r is None else []):
            r = layer.makhoul_forward(v)
            if i < self.n_layers - 1:
                if self.batchnorm:
                    r = self._batchnorm(r, i, makhoul)
                v = permute(r, *steps[i])
                v = F.relu(v) if self.relu else v  # ReLU commutes with the gather
        if self.shuffle_last:
            return permute(r, *steps[-1])
        if self.block_size == self.padded_width:
            return from_makhoul(r)
        return permute(r, unmakhoul, makhoul)

    def _kernel_forward(self, v: torch.Tensor, steps) -> torch.Tensor | None:
        """All layers in one Triton launch (None when the backend does not run the kernel)."""
        kernel = stack_kernel_for(v)
        if kernel is None:
            return None
        layers = self.layers
        biases = [layer.folded_bias() for layer in layers]
        bias = None
        if any(b is not None for b in biases):
            bias = torch.stack([(b if b is not None else torch.zeros_like(layer.a))[layer._makhoul]
                                for b, layer in zip(biases, layers)])
        inner = steps[: self.n_layers - 1]
        empty = v.new_zeros(0, v.shape[-1], dtype=torch.long)
        gathers = torch.stack([step for step, _ in inner]) if inner else empty
        undo = torch.stack([back for _, back in inner]) if inner else empty
        return kernel_stack(kernel, v, torch.stack([layer.a[layer._makhoul] for layer in layers]),
                            torch.stack([layer.d for layer in layers]), bias, gathers, undo, self.relu)

    def _gather_steps(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per shuffle, the (index, inverse) of one gather from Makhoul order through the shuffle
        back to Makhoul order (after the last layer: to natural order). Cached until a shuffle
        buffer changes (loading a state dict, moving devices)."""
        count = self.n_layers if self.shuffle_last else self.n_layers - 1
        shuffles = [self._shuffle(i) for i in range(count)]
        key = tuple((s.data_ptr(), s._version) for s in shuffles)
        if self._steps_key != key:
            makhoul, unmakhoul = self.layers[0]._makhoul, self.layers[0]._unmakhoul
            steps = [unmakhoul[s[makhoul]] for s in shuffles[: self.n_layers - 1]]
            if self.shuffle_last:
                steps.append(unmakhoul[shuffles[-1]])
            self._steps, self._steps_key = [(step, inverse(step)) for step in steps], key
        return self._steps

    def _batchnorm(self, h: torch.Tensor, i: int, order: torch.Tensor | None) -> torch.Tensor:
        """BatchNorm(affine=False) after layer i on features in ``order`` (None: natural order);
        its running statistics are kept in natural order either way."""
        mean, var = getattr(self, f"running_mean_{i}"), getattr(self, f"running_var_{i}")
        if order is None:
            return F.batch_norm(h, mean, var, training=self.training, momentum=self.momentum,
                                eps=self.eps)
        mean_p, var_p = mean[order], var[order]
        h = F.batch_norm(h, mean_p, var_p, training=self.training, momentum=self.momentum,
                         eps=self.eps)
        if self.training:
            mean[order], var[order] = mean_p, var_p
        return h

    def _check_linear(self) -> None:
        """effective_weight() is defined only for a linear stack: no ReLU, and BatchNorm (if any)
        in eval mode."""
        if self.relu:
            raise ValueError("effective_weight() needs a linear stack, but this one has ReLU "
                             "between layers")
        if self.batchnorm and self.training:
            raise ValueError("effective_weight() needs a linear stack: BatchNorm in training mode "
                             "depends on the batch; call .eval() first")

    def extra_repr(self) -> str:
        parts = [f"in_features={self.in_features}", f"out_features={self.out_features}",
                 f"n_layers={self.n_layers} (exactly)", f"shuffle={self.shuffle!r}"]
        if self.shuffle_last:
            parts.append("shuffle_last=True")
        parts += [f"relu={self.relu}", f"batchnorm={self.batchnorm}", f"bias={self.bias_placement!r}"]
        if self.in_features < self.width:
            parts.append(f"grow={self.grow!r}")
        if self.out_features < self.width:
            parts.append(f"shrink={self.shrink!r}")
        if self.block_size != self.width:
            parts.append(f"block_size={self.block_size}, padded_width={self.padded_width}")
        return ", ".join(parts)
