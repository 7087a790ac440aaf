"""Argument checks shared by the layers: each error names the argument, what is allowed, and
what was given."""
from __future__ import annotations

import torch


def check_choice(name: str, value, choices) -> None:
    """Refuse an unknown option value, naming the option and the allowed values."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_features(module: str, x, features: int) -> None:
    """``x`` must be a floating-point tensor of shape (*, features)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{module} expects a floating-point tensor, got {got}")
    if x.ndim == 0 or x.shape[-1] != features:
        raise ValueError(f"{module} expects input of shape (*, {features}), got {tuple(x.shape)}")
