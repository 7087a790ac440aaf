"""ACDC layers against nn.Linear and plain-autograd ACDC: speed and memory ratios from one run.

    python benchmarks/acdc_speed.py [--sizes 1024 4096 16384] [--batch 128] [--device cpu]

Times one ACDC layer and a 12-layer riffle stack (forward, and forward+backward) against
nn.Linear(N, N) and against the same layers written with plain autograd over torch.fft, then
measures the peak memory of one forward+backward of each model in a fresh process.
"""
from __future__ import annotations

import argparse

import torch

from acdc_core.analysis.speed import acdc_speed
from acdc_core.bench import MODELS, check_targets, peak_memory, print_table, retain_freed_memory

TARGETS = [
    # (label, numerator, denominator, sizes, limit): numerator / denominator must be <= limit
    ("ACDC fwd >= 25x faster than nn.Linear", "ACDC fwd", "nn.Linear fwd", (4096,), 1 / 25),
    ("ACDC fwd+bwd >= 25x faster than nn.Linear", "ACDC fwd+bwd", "nn.Linear fwd+bwd", (4096,), 1 / 25),
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--dense-max-n", type=int, default=16384)
    parser.add_argument("--memory-n", type=int, default=4096, help="N of the memory probes")
    parser.add_argument("--malloc", choices=["retain", "default"], default="retain",
                        help="keep freed memory for reuse (see acdc_core.bench.retain_freed_memory)")
    args = parser.parse_args(argv)
    retained = args.malloc == "retain" and retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"batch {args.batch}, float32, malloc keeps freed memory: {retained}; "
          f"medians of {args.rounds} interleaved rounds (ms per call)")
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
