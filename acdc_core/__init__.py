"""acdc_core: structured efficient linear layers (ACDC) for PyTorch, and the DCT they stand on.

"The log" in these docstrings is the 2018 research log this project rebuilds; its experiments,
E1 to E25, are described in docs/experiments.md.
"""
from .ops import backend  # also defines the acdc:: operators
from .acdc import ACDC
from .conv import SeparableACDCConv2d, replace_convolutions
from .costs import LayerCost, layer_costs, totals, use_cheaper_forms
from .dct import dct, dct_matrix, dctn, idct, idctn
from .stack import StackedACDC
from . import calibration, forms

forms.calibrate_new_devices_with(calibration.calibrate)  # the layers import forms: it cannot import them

__all__ = ["backend", "dct", "idct", "dctn", "idctn", "dct_matrix", "ACDC", "StackedACDC", "SeparableACDCConv2d",
           "replace_convolutions", "LayerCost", "layer_costs", "totals", "use_cheaper_forms"]
__version__ = "0.1.0"
