"""The base every structured linear layer derives from: ``y = structured_map(x) + bias``.

It holds ``in_features``, ``out_features`` and the output bias (a parameter, or registered as
None as ``nn.Linear`` does), checks the input once for every layer, decides the dtype the map
runs in, and gives the dense escape hatch: the layer's matrix and offset, found by passing the
identity and zero through its map, and an equivalent ``nn.Linear``.

Precision follows torch's autocast policy for FFTs, which run in float32: under autocast a layer
takes any floating input and computes in float32 (float64 for float64 parameters), returning
float32. Outside autocast the input must have the parameters' dtype, as ``nn.Linear`` requires;
float32 and float64 layers compute in their own dtype, and bfloat16 and float16 layers compute in
float32 on upcast copies of their parameters and return their own dtype.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from .checks import check_bool, check_features, check_positive_int


def parameter_count(module: nn.Module) -> int:
    """Real numbers in the module's parameters (a complex one counts twice)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


def widened(dtype: torch.dtype) -> torch.dtype:
    """The dtype a layer with parameters of ``dtype`` computes in: float64 stays, the rest float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def autocasting(device: torch.device) -> bool:
    """Whether autocast is on for ``device``'s type (never for devices autocast does not know,
    such as ``meta``)."""
    return device.type in ("cpu", "cuda", "xpu", "mps") and torch.is_autocast_enabled(device.type)


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
        creating their weights, so that the bias comes last, as ``nn.Linear``'s does: optimisers'
        state, in checkpoints, is stored in parameter order."""
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
        own, compute = self.dtype, self.compute_dtype(x)
        with self.computing_in(compute, x.device):
            y = self._biased_map(x.to(compute))
        return y if autocasting(x.device) else y.to(own)

    def _biased_map(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`structured_map` plus the output bias. A layer that can add the bias inside its
        map (saving a pass) overrides this."""
        y = self.structured_map(x)
        return y if self.bias is None else y + self.bias

    def compute_dtype(self, x: torch.Tensor) -> torch.dtype:
        """The dtype :meth:`structured_map` runs in for input ``x``: float64 for float64
        parameters, else float32. Outside autocast an input of another dtype than the parameters'
        is refused (RuntimeError, as ``nn.Linear`` refuses it)."""
        if x.dtype != self.dtype and not autocasting(x.device):
            raise RuntimeError(f"{self.label}: input dtype {x.dtype} does not match the layer's "
                               f"parameters ({self.dtype}); convert one of them with .to(), or "
                               f"run under torch.autocast")
        return widened(self.dtype)

    @contextlib.contextmanager
    def computing_in(self, dtype: torch.dtype, device: torch.device):
        """Within: autocast off on ``device``, and every floating parameter of the layer (and of
        its submodules) of another dtype replaced by its differentiable cast to ``dtype``, so the
        map runs in ``dtype`` and gradients reach the parameters in their own dtype."""
        swapped = []
        if self.dtype != dtype:
            swapped = [(module, name, p) for module in self.modules()
                       for name, p in module._parameters.items()
                       if p is not None and p.is_floating_point() and p.dtype != dtype]
            # one cast of them all (a few operations however many parameters there are)
            flat = torch.cat([p.reshape(-1) for _, _, p in swapped]).to(dtype)
            pieces = flat.split([p.numel() for _, _, p in swapped])
            for (module, name, p), piece in zip(swapped, pieces):
                module._parameters[name] = piece.view(p.shape)
        try:
            with torch.autocast(device.type, enabled=False) if autocasting(device) else \
                    contextlib.nullcontext():
                yield
        finally:
            for module, name, p in swapped:
                module._parameters[name] = p

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

    def _images(self, identity: bool) -> torch.Tensor:
        """:meth:`_affine_map` of the identity then a zero row ((in_features + 1, out_features)),
        or of the zero row alone ((1, out_features)), computed as :meth:`forward` computes and
        left in its compute dtype."""
        self._check_affine()
        device, n = self.device, self.in_features
        compute = widened(self.dtype)
        with self.computing_in(compute, device):
            rows = torch.eye(n + 1, n, dtype=compute, device=device) if identity else \
                torch.zeros(1, n, dtype=compute, device=device)
            return self._affine_map(rows)

    def _weight_and_offset(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, c) with ``structured_map(x) == x @ W.T + c``: (out_features, in_features) and
        (out_features,), in the parameters' dtype."""
        images = self._images(identity=True)
        return (images[:-1] - images[-1]).T.to(self.dtype), images[-1].to(self.dtype)

    def effective_weight(self) -> torch.Tensor:
        """The ``(out_features, in_features)`` matrix W with ``self(x) == x @ W.T + effective_bias()``."""
        return self._weight_and_offset()[0]

    def effective_bias(self) -> torch.Tensor:
        """The output for a zero input, shape (out_features,): the layer's whole affine offset."""
        offset = self._images(identity=False)[0]
        return (offset if self.bias is None else offset + self.bias).to(self.dtype)

    def weight_and_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(effective_weight(), effective_bias())`` from one pass of the map."""
        weight, offset = self._weight_and_offset()
        return weight, offset if self.bias is None else offset + self.bias.to(offset.dtype)

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
