"""The fused ACDC pass and the DCT plans as PyTorch operators (``acdc::``), and all that runs them.

- :mod:`~acdc_core.ops.library`: the operators' definitions and registrations (fake tensors,
  autograd, vmap, FLOP counting);
- :mod:`~acdc_core.ops.reference`: the fused pass on torch.fft;
- :mod:`~acdc_core.ops.triton_kernels`: the fused pass as Triton kernels (the ``gpu`` extra);
- :mod:`~acdc_core.ops.backend`: which of the two runs;
- :mod:`~acdc_core.ops.plans`: the DCT plans;
- :mod:`~acdc_core.ops.onnx`: the operators' translations for ``torch.onnx.export``.
"""
from . import backend
from .library import acdc_pass, dct_plan, one_launch, stack_pass
from . import onnx  # noqa: E402  (decomposes the operators defined above)

__all__ = ["acdc_pass", "stack_pass", "one_launch", "dct_plan", "backend"]
