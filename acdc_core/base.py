"""The base every structured linear layer derives from: ``y = structured_map(x) + bias``.

It holds ``in_features``, ``out_features`` and the output bias (a parameter, or registered as
None as ``nn.Linear`` does), checks the input once for every layer, decides the dtype the map
runs in, and gives the dense escape hatch: the layer's matrix and offset, found by passing the
identity and zero through its map, and an equivalent ``nn.Linear``.
"""
from __future__ import annotations

import torch
from torch import nn

from .checks import check_bool, check_features, check_positive_int


def parameter_count(module: nn.Module) -> int:
    """Real numbers in the module's parameters (a complex one counts twice)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


class StructuredLinear(nn.Module):
    """A linear (or affine) layer ``(*, in_features) -> (*, out_features)``.

    Subclasses create their own parameters (then call :meth:`_place_bias_here`), call
    :meth:`reset_parameters`, and define :meth:`structured_map`: the layer without its output
    bias (it may hold biases of its own inside, as ACDC's diagonal biases).
    :meth:`effective_bias` is the whole affine offset, theirs and the output bias together.

    Args:
        in_features, out_features: sizes of each input and output sample.
        bias: give the layer an output bias ``bias`` of shape (out_features,); else ``bias`` is
            None.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        check_bool("bias", bias)
        self.in_features, self.out_features = in_features, out_features
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def _place_bias_here(self) -> None:
        """Move the bias after the parameters registered so far. Subclasses call this after
        creating their weights, so that their parameters keep the order they had before this
        base existed (weights, then bias): optimisers' state, in checkpoints, follows that order."""
        self.register_parameter("bias", self._parameters.pop("bias"))

    def reset_parameters(self) -> None:
        """Zero the output bias. Subclasses draw their own parameters, then call this (or draw
        the bias their own way)."""
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def structured_map(self, x: torch.Tensor) -> torch.Tensor:
        """The layer without its output bias: ``(*, in_features)`` in the compute dtype ->
        ``(*, out_features)``."""
        raise NotImplementedError(f"{type(self).__name__} must define structured_map(x)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(self.label, x, self.in_features)
        y = self.structured_map(x.to(self.compute_dtype(x)))
        return y if self.bias is None else y + self.bias.to(y.dtype)

    def compute_dtype(self, x: torch.Tensor) -> torch.dtype:
        """The dtype :meth:`structured_map` runs in for input ``x``: the parameters' own. An input
        of another dtype is refused, as ``nn.Linear`` refuses it; a mixed-precision policy
        (half-precision parameters computed in float32, say) would be decided here."""
        if x.dtype != self.dtype:
            raise TypeError(f"{self.label}: input dtype {x.dtype} does not match the layer's "
                            f"parameters ({self.dtype}); convert one of them with .to()")
        return self.dtype

    def _apply(self, fn, recurse=True):
        """Conversions reach a complex parameter through its real view, so that ``.double()``
        gives AFDF's diagonals complex128 (Module's converts floating tensors only, which would
        leave a layer of two precisions) and ``.to(dtype)`` keeps their imaginary parts."""
        def convert(t):
            return torch.view_as_complex(fn(torch.view_as_real(t))) if t.is_complex() else fn(t)
        return super()._apply(convert, recurse)

    @property
    def label(self) -> str:
        """The layer as its errors name it: ``Name(in_features)`` when square, else
        ``Name(in_features, out_features)``."""
        sizes = (self.in_features,) if self.in_features == self.out_features else \
            (self.in_features, self.out_features)
        return f"{type(self).__name__}({', '.join(map(str, sizes))})"

    @property
    def dtype(self) -> torch.dtype:
        """The real dtype of the layer's numbers (of its first parameter)."""
        return next(self.parameters()).real.dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # The dense escape hatch ------------------------------------------------------------------

    def _affine_map(self, x: torch.Tensor) -> torch.Tensor:
        """The map the dense weight is read from (without the output bias): by default
        :meth:`structured_map`. A layer whose map can itself use the dense weight points this at
        the map that weight is built from."""
        return self.structured_map(x)

    def _check_affine(self) -> None:
        """Raise when the layer is not an affine map (nothing to check by default)."""

    def _weight_and_offset(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, c) with ``structured_map(x) == x @ W.T + c``, from one pass of the identity and
        zero: (out_features, in_features) and (out_features,)."""
        self._check_affine()
        rows = torch.eye(self.in_features + 1, self.in_features, dtype=self.dtype,
                         device=self.device)  # the identity, then a row of zeros
        images = self._affine_map(rows)
        return (images[:-1] - images[-1]).T, images[-1]

    def effective_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix W with ``self(x) == x @ W.T + effective_bias()``."""
        return self._weight_and_offset()[0]

    def effective_bias(self) -> torch.Tensor:
        """The output for a zero input, shape (out_features,): the layer's whole affine offset."""
        self._check_affine()
        zero = torch.zeros(1, self.in_features, dtype=self.dtype, device=self.device)
        offset = self._affine_map(zero)[0]
        return offset if self.bias is None else offset + self.bias

    def to_linear(self) -> nn.Linear:
        """An ``nn.Linear(in_features, out_features)`` computing the same map, with the effective
        weight and bias, in the layer's dtype and on its device (a copy: no gradient links it)."""
        with torch.no_grad():
            weight = self.effective_weight()
            linear = nn.Linear(self.in_features, self.out_features, device=weight.device,
                               dtype=weight.dtype)
            linear.weight.copy_(weight)
            linear.bias.copy_(self.effective_bias())
        return linear

    def parameter_count(self) -> int:
        """Real numbers in the layer's parameters (a complex one counts twice)."""
        return parameter_count(self)
