"""Timing and memory harness: interleaved rounds, medians, CUDA synchronisation, peak memory.

Machines here are shared and noisy, so candidates are timed in alternating rounds and compared as
ratios from one run; never as absolute thresholds in tests.

Peak memory: :func:`added_memory` measures what one call adds; the speed study runs it for each
model in a fresh process (:func:`acdc_core.lab.analysis.speed.peak_memory`).
"""
from __future__ import annotations

import argparse
import ctypes
import math
import statistics
import sys
import time
from typing import Callable

import torch


def _synchronizer(device) -> Callable[[], None]:
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def measure(fns: dict[str, Callable[[], object]], device="cpu", rounds: int = 15,
            block_ms: float = 20.0) -> dict[str, float]:
    """Median time of one call of each function, in milliseconds.

    Each function is warmed up, then called in ``rounds`` alternating rounds (every function once
    per round, so a slow spell of the machine hits all of them), each round timing a block of
    repeated calls lasting about ``block_ms``. On CUDA every block is synchronised on both ends.
    """
    sync = _synchronizer(device)
    reps = {}
    for name, fn in fns.items():
        fn()
        sync()
        start = time.perf_counter()
        fn()
        sync()
        once = max(time.perf_counter() - start, 1e-7) * 1e3
        reps[name] = max(1, math.ceil(block_ms / once))
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            for _ in range(reps[name]):
                fn()
            sync()
            samples[name].append((time.perf_counter() - start) * 1e3 / reps[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the system.

    Every fresh page costs a fault, and on virtual machines like ours a forward+backward at
    N = 4096 took about 2000 of them (a third of its time) with the default settings. This is a
    process-wide setting (like ``MALLOC_TRIM_THRESHOLD_``) that benefits every candidate alike;
    benchmarks print whether it is on. Returns False where it is not available.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))


def benchmark_parser(description: str, sizes, rounds: int, dense_max_n: int) -> argparse.ArgumentParser:
    """The options every benchmark script shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(sizes))
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--dense-max-n", type=int, default=dense_max_n)
    parser.add_argument("--malloc", choices=["retain", "default"], default="retain",
                        help="keep freed memory for reuse (see retain_freed_memory)")
    return parser


def start_benchmark(args) -> None:
    """Apply the malloc choice and print what the numbers below were measured under."""
    retained = args.malloc == "retain" and retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"batch {args.batch}, float32, malloc keeps freed memory: {retained}; "
          f"medians of {args.rounds} interleaved rounds (ms per call)")


def print_table(rows: list[dict], sizes) -> dict:
    """Print rows ``{"n", "name", "ms"}`` as one line per size; return ``{(n, name): ms}``."""
    table = {(r["n"], r["name"]): r["ms"] for r in rows}
    names = list(dict.fromkeys(r["name"] for r in rows))
    width = max(12, *(len(name) for name in names))
    print(f"{'N':>6} " + " ".join(f"{name:>{width}}" for name in names))
    for n in sizes:
        cells = [f"{table[(n, name)]:{width}.3f}" if (n, name) in table else f"{'-':>{width}}"
                 for name in names]
        print(f"{n:>6} " + " ".join(cells))
    return table


def check_targets(table: dict, targets, size_name: str = "N") -> None:
    """Print each target ``(label, numerator, denominator, sizes, limit)``: the ratio of two
    measured times (or other values) keyed ``(size, name)`` and whether it is within its limit."""
    for label, num, den, sizes, limit in targets:
        for n in sizes:
            missing = [k for k in (num, den) if (n, k) not in table]
            if missing:
                print(f"  {label:40s} {size_name}={n:<6} skipped ({missing[0]} not measured)")
                continue
            ratio = table[(n, num)] / table[(n, den)]
            verdict = "met" if ratio <= limit else "MISSED"
            print(f"  {label:40s} {size_name}={n:<6} ratio {ratio:7.3f} (limit {limit:.3f}) {verdict}")


def training_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer, inputs: torch.Tensor,
                  labels: torch.Tensor) -> Callable[[], None]:
    """A closure doing one training step (cross-entropy forward, backward, optimiser step) of
    ``model`` on the fixed batch ``(inputs, labels)``: what training throughput benchmarks time."""
    def step():
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return step


def _reset_peak_resident() -> None:
    """Restart the kernel's peak-resident-memory count (VmHWM) from the current size. Where the
    kernel refuses, the peak counts from the process start and the probe can only overstate."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        print("warning: could not reset the peak resident size; the figure may be high",
              file=sys.stderr)


def _resident(field: str) -> int:
    """VmRSS or VmHWM of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def added_memory(run: Callable[[], object], device: str = "cpu") -> float:
    """MiB that one call of ``run`` adds at its peak: on CPU the peak resident size (VmHWM, reset
    just before) over the resident size before; on CUDA the peak allocation over the allocation
    before. Meaningful in a fresh process, after a warm-up call."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    _reset_peak_resident()
    base = _resident("VmRSS")
    run()
    return (_resident("VmHWM") - base) / 2**20
