"""Argument checks shared by the layers and transforms: each error names the argument, what is
allowed, and what was given. A value of the wrong type raises TypeError; a value of the right type
out of range raises ValueError; an unknown option raises ValueError."""
from __future__ import annotations

import math
import numbers

import torch


def _given(value) -> str:
    """``value`` as an error message shows it: its repr and its type."""
    return f"{value!r} ({type(value).__name__})"


def _is_option(value, choice) -> bool:
    """``value`` is ``choice``, of the same kind: ``True`` is not ``1``, ``2.0`` not ``2``, a tensor
    holding 2 not ``2`` (its ``==`` would say so, elementwise)."""
    same_kind = isinstance(value, type(choice)) and isinstance(value, bool) == isinstance(choice, bool)
    return same_kind and value == choice


def check_choice(name: str, value, choices) -> None:
    """Refuse an unknown option value, naming the option and the allowed values."""
    if not any(_is_option(value, choice) for choice in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_int(name: str, value) -> None:
    """``value`` must be a Python int (not a bool, a float or a tensor)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_given(value)}")


def check_positive_int(name: str, value) -> None:
    """``value`` must be an int of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int, got {_given(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_divisor(name: str, value, features: int) -> None:
    """``value`` must be a positive int dividing ``features`` (a block size, a number of blocks)."""
    check_positive_int(name, value)
    if features % value:
        raise ValueError(f"{name} must divide features={features}, got {value!r}")


def check_bool(name: str, value) -> None:
    """``value`` must be True or False. Ints are refused too: a flag given 0, 1 or a string such as
    "False" is more likely a misplaced argument than a choice, and "False" would count as true."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool (True or False), got {_given(value)}")


def check_nonnegative_real(name: str, value) -> None:
    """``value`` must be a finite real number >= 0 (int or float, not a bool or a tensor)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_given(value)}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


def check_int_pair(name: str, value, minimum: int) -> None:
    """``value`` must be an int, or a pair of ints, each at least ``minimum`` (``nn.Conv2d``'s
    kernel_size, stride, padding, dilation)."""
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(isinstance(p, bool) or not isinstance(p, int) for p in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {_given(value)}")
    if any(p < minimum for p in pair):
        raise ValueError(f"{name} must be at least {minimum} (each entry), got {value!r}")


def check_float_tensor(module: str, x) -> None:
    """``x`` must be a real floating-point tensor."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{module} expects a floating-point tensor, got {got}")


def check_features(module: str, x, features: int) -> None:
    """``x`` must be a floating-point tensor of shape (*, features)."""
    check_float_tensor(module, x)
    if x.ndim == 0 or x.shape[-1] != features:
        raise ValueError(f"{module} expects input of shape (*, {features}), got {tuple(x.shape)}")
