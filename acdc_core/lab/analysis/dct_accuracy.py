"""How closely acdc_core.dct agrees with scipy.fft, as a table of worst relative errors."""
from __future__ import annotations

import numpy as np
import torch

from ...dct import dct, idct

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def scipy_agreement(lengths=(2, 3, 5, 8, 17, 100, 1024), types=(1, 2, 3, 4),
                    norms=(None, "ortho", "forward"), dtypes=(torch.float64, torch.float32),
                    batch: int = 4, seed: int = 0, device="cpu") -> list[dict]:
    """One row per (function, type, norm, dtype): the worst relative error against scipy.fft.

    Relative error is ``max|ours - scipy| / max|scipy|`` over a (batch, n) standard-normal input,
    worst over ``lengths``; scipy computes in float64 on the same (rounded) input. Each row also
    holds the tolerance the tests hold the transform to and whether it is met.
    """
    import scipy.fft

    gen = torch.Generator().manual_seed(seed)
    inputs = {n: torch.randn(batch, n, generator=gen, dtype=torch.float64) for n in lengths}
    rows = []
    for name, ours, theirs in (("dct", dct, scipy.fft.dct), ("idct", idct, scipy.fft.idct)):
        for type in types:
            for norm in norms:
                for dtype in dtypes:
                    worst = 0.0
                    for n, x in inputs.items():
                        if type == 1 and n < 2:
                            continue
                        x = x.to(dtype)
                        ref = theirs(x.double().numpy(), type=type, norm=norm)
                        got = ours(x.to(device), type=type, norm=norm).cpu().double().numpy()
                        worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
                    rows.append({"function": name, "type": type, "norm": str(norm),
                                 "dtype": str(dtype).replace("torch.", ""), "max_rel_error": worst,
                                 "tolerance": TOLERANCE[dtype], "ok": worst <= TOLERANCE[dtype]})
    return rows
