"""acdc_core: structured efficient linear layers (ACDC) for PyTorch, and the DCT they stand on."""
from .dct import dct, dct_matrix, dctn, idct, idctn

__all__ = ["dct", "idct", "dctn", "idctn", "dct_matrix"]
__version__ = "0.1.0"
