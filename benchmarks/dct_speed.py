"""DCT speed against scipy.fft and torch-dct 0.1.6: medians and ratios from one run.

    python benchmarks/dct_speed.py [--sizes 256 1024 4096 16384] [--batch 128] [--device cpu]

Prints a table of median milliseconds per call (float32, orthonormal type 2 and 3), then the
ratios behind the project's speed targets, each measured in this same run.
"""
from __future__ import annotations

from acdc_core.lab.analysis.speed import dct_speed
from acdc_core.lab.bench import benchmark_parser, check_targets, print_table, start_benchmark

TARGETS = [
    # (label, numerator, denominator, sizes, limit): numerator / denominator must be <= limit
    ("dct no slower than scipy", "dct", "scipy dct", (4096, 16384), 1.0),
    ("idct no slower than scipy", "idct", "scipy idct", (4096, 16384), 1.0),
    ("dct >= 2.3x faster than torch-dct", "dct", "torch-dct dct", (1024, 4096, 16384), 1 / 2.3),
    ("idct >= 2.3x faster than torch-dct", "idct", "torch-dct idct", (1024, 4096, 16384), 1 / 2.3),
    ("fwd+bwd <= 2.5x forward", "dct fwd+bwd", "dct", (4096,), 2.5),
]


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [256, 1024, 4096, 16384], rounds=21,
                              dense_max_n=4096)
    args = parser.parse_args(argv)
    start_benchmark(args)
    rows = dct_speed(args.sizes, args.batch, args.device, dense_max_n=args.dense_max_n,
                     rounds=args.rounds)
    table = print_table(rows, args.sizes)
    print("\ntargets (ratio = numerator / denominator, measured above):")
    check_targets(table, TARGETS)


if __name__ == "__main__":
    main()
