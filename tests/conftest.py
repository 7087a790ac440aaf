import pytest
import torch

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")


def devices():
    """CPU always; CUDA as a skipped case where there is none, so the report says so."""
    return ["cpu", pytest.param("cuda", marks=CUDA)]
