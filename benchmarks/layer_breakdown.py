"""Where one ACDC layer's forward spends its time, part by part, against nn.Linear, in one run.

    python benchmarks/layer_breakdown.py [--sizes 4096] [--batch 128] [--malloc default]

Times each pass of the fused forward on its own (the reorder with the A scaling, the real FFT,
the three per-frequency passes, the inverse FFT, the un-reorder with the bias), the reference
pass they make up, the ``acdc::acdc_core`` operator, the whole layer, and nn.Linear; then prints
how large the layer's forward may be for a 20x ratio, against the sum of its passes.
"""
from __future__ import annotations

import torch

from acdc_core import ACDC
from acdc_core.lab.bench import benchmark_parser, measure, start_benchmark
from acdc_core.ops import reference


def candidates(n: int, batch: int) -> dict:
    """The passes, the operator, the layer and nn.Linear at width n, each a no-grad call."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, generator=gen)
    layer, linear = ACDC(n).requires_grad_(False), torch.nn.Linear(n, n).requires_grad_(False)
    a, d, bias = layer.a, layer.d, layer.bias
    pairs = reference.scale_pairs(d)
    u = reference.to_makhoul(x, a)
    spectrum = torch.fft.rfft(u)

    def per_frequency():
        rotated = reference._rotate_(spectrum.clone(), n)
        return reference._scale_and_unrotate_(rotated, pairs, n)

    return {
        "reorder (x A)": lambda: reference.to_makhoul(x, a),
        "rfft": lambda: torch.fft.rfft(u),
        "spectrum copy": spectrum.clone,
        "copy + per-frequency passes": per_frequency,
        "irfft": lambda: torch.fft.irfft(spectrum, n=n),
        "un-reorder (+ bias)": lambda: reference.from_makhoul(u, bias),
        "reference pass": lambda: reference.core_forward(x, a, pairs, bias, natural=True),
        "acdc::acdc_core": lambda: torch.ops.acdc.acdc_core(x, a, d, bias, True),
        "ACDC layer": lambda: layer(x),
        "nn.Linear": lambda: linear(x),
    }


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [4096], rounds=9, dense_max_n=4096)
    args = parser.parse_args(argv)
    start_benchmark(args)
    for n in args.sizes:
        ms = measure(candidates(n, args.batch), "cpu", args.rounds)
        print(f"\nN = {n}")
        for name, t in ms.items():
            print(f"  {name:30s} {t:8.3f} ms   nn.Linear / this {ms['nn.Linear'] / t:8.1f}")
        passes = (ms["reorder (x A)"] + ms["rfft"] + ms["copy + per-frequency passes"]
                  - ms["spectrum copy"] + ms["irfft"] + ms["un-reorder (+ bias)"])
        print(f"  sum of the six passes          {passes:8.3f} ms   nn.Linear / this "
              f"{ms['nn.Linear'] / passes:8.1f}")
        print(f"  a 20x forward needs            {ms['nn.Linear'] / 20:8.3f} ms; the two FFTs alone "
              f"take {ms['rfft'] + ms['irfft']:.3f}, the two reorders {ms['reorder (x A)'] + ms['un-reorder (+ bias)']:.3f}")


if __name__ == "__main__":
    main()
