"""ACDC layers against nn.Linear and plain-autograd ACDC: speed and memory ratios from one run.

    python benchmarks/acdc_speed.py [--sizes 1024 4096 16384] [--batch 128] [--device cpu]

Times one ACDC layer and a 12-layer riffle stack (forward, and forward+backward) against
nn.Linear(N, N) and against the same layers written with plain autograd over torch.fft, then
measures the peak memory of one forward+backward of each model in a fresh process.
"""
from __future__ import annotations

from acdc_core.lab.analysis.speed import MODELS, acdc_speed, peak_memory
from acdc_core.lab.bench import benchmark_parser, check_targets, print_table, start_benchmark

TARGETS = [
    # (label, numerator, denominator, sizes, limit): numerator / denominator must be <= limit
    ("ACDC fwd >= 20x faster than nn.Linear", "ACDC fwd", "nn.Linear fwd", (4096,), 1 / 20),
    ("ACDC fwd+bwd >= 28x faster than nn.Linear", "ACDC fwd+bwd", "nn.Linear fwd+bwd", (4096,), 1 / 28),
    ("12-layer stack fwd+bwd <= 0.5x nn.Linear", "12-layer stack fwd+bwd", "nn.Linear fwd+bwd", (4096,), 0.5),
    ("12-layer stack peak memory <= nn.Linear's", "12-layer stack MiB", "nn.Linear MiB", (4096,), 1.0),
]
CONTEXT = [
    ("plain ACDC fwd / nn.Linear fwd", "plain ACDC fwd", "nn.Linear fwd"),
    ("plain ACDC fwd+bwd / nn.Linear fwd+bwd", "plain ACDC fwd+bwd", "nn.Linear fwd+bwd"),
    ("plain stack fwd+bwd / nn.Linear fwd+bwd", "plain 12-layer stack fwd+bwd", "nn.Linear fwd+bwd"),
    ("ACDC fwd+bwd / plain ACDC fwd+bwd", "ACDC fwd+bwd", "plain ACDC fwd+bwd"),
    ("stack fwd+bwd / plain stack fwd+bwd", "12-layer stack fwd+bwd", "plain 12-layer stack fwd+bwd"),
]
MEMORY_NAMES = {"linear": "nn.Linear MiB", "acdc": "ACDC MiB", "plain_acdc": "plain ACDC MiB",
                "stack12": "12-layer stack MiB", "plain_stack12": "plain 12-layer stack MiB"}


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [1024, 4096, 16384], rounds=9,
                              dense_max_n=16384)
    parser.add_argument("--memory-n", type=int, default=4096, help="N of the memory probes")
    args = parser.parse_args(argv)
    start_benchmark(args)
    rows = acdc_speed(args.sizes, args.batch, args.device, dense_max_n=args.dense_max_n,
                      rounds=args.rounds)
    memory = {MEMORY_NAMES[m]: peak_memory(m, args.memory_n, args.batch, args.device) for m in MODELS}
    table = print_table(rows, args.sizes)
    print(f"\npeak memory added by one forward+backward, N={args.memory_n}, a fresh process each (MiB):")
    for name, mib in memory.items():
        print(f"  {name:32s} {mib:8.1f}")
        table[(args.memory_n, name)] = mib
    print("\nfor context (ratios of times measured above):")
    for label, num, den in CONTEXT:
        for n in args.sizes:
            if (n, num) in table and (n, den) in table:
                print(f"  {label:44s} N={n:<6} {table[(n, num)] / table[(n, den)]:7.3f}")
    print("\ntargets (ratio = numerator / denominator, measured above):")
    check_targets(table, TARGETS)


if __name__ == "__main__":
    main()
