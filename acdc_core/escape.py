"""The dense escape hatch every linear structured layer shares: its matrix and bias, found by
passing the identity and zero through it (``layer(x) == x @ W.T + b``)."""
from __future__ import annotations

import torch


def parameter_count(module: torch.nn.Module) -> int:
    """Real numbers in the module's parameters (complex ones count twice)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


class DenseEscape:
    """Mixin for an ``nn.Module`` with ``in_features``: ``effective_weight()`` (out, in),
    ``effective_bias()`` (out,), ``parameter_count()``. Subclasses may override ``_linear_map``
    (the map to pass inputs through; default the forward) and ``_check_linear``."""

    @property
    def dtype(self) -> torch.dtype:
        """The real dtype of the layer's numbers."""
        return next(self.parameters()).real.dtype

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _linear_map(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def _check_linear(self) -> None:
        """Raise when the layer is not an affine map (nothing to check by default)."""

    def effective_bias(self) -> torch.Tensor:
        """The output for a zero input, shape (out_features,)."""
        self._check_linear()
        return self._linear_map(torch.zeros(1, self.in_features, dtype=self.dtype, device=self.device))[0]

    def effective_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix W with ``self(x) == x @ W.T + effective_bias()``."""
        self._check_linear()
        eye = torch.eye(self.in_features, dtype=self.dtype, device=self.device)
        return (self._linear_map(eye) - self.effective_bias()).T

    def parameter_count(self) -> int:
        return parameter_count(self)
