"""The GPU benchmark of issue 9: DCT and IDCT, one ACDC layer and a 12-layer stack (torch.fft path
and Triton kernel), forward and forward+backward, against nn.Linear(N, N) in float32 with TF32 off
and on and in bfloat16, and against the memory-bandwidth floor: the bytes the call must move at
the copy bandwidth measured in the same run. Synchronised, interleaved timing; a table per batch
size, the targets, and everything as JSON.

    python benchmarks/gpu_acdc.py [--batches 1024 8192] [--sizes 1024 4096 16384] [--json FILE]

On a CPU (``--device cpu``, with TRITON_INTERPRET=1 for the kernel) it only checks the script.
"""
from __future__ import annotations

import argparse
import json

import torch

from acdc_core import ACDC, StackedACDC, backend, dct, idct
from acdc_core.lab.bench import measure
from acdc_core.training.files import write_atomically

FLOAT32 = 4  # bytes


def copy_bandwidth(device: str, megabytes: int, rounds: int) -> float:
    """Bytes per millisecond of a device-to-device copy (read + write counted)."""
    source = torch.empty(megabytes * 2 ** 20 // FLOAT32, device=device)
    target = torch.empty_like(source)
    ms = measure({"copy": lambda: target.copy_(source)}, device, rounds)["copy"]
    return 2 * source.numel() * FLOAT32 / ms


def candidates(n: int, batch: int, device: str, n_layers: int) -> tuple[dict, dict]:
    """Functions to time, and the bytes each must move at the least (for the floor)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, generator=gen).to(device).requires_grad_()
    grad = torch.randn(batch, n, generator=gen).to(device)
    layer, stack = ACDC(n, device=device), StackedACDC(n, n, n_layers, form="fft", device=device)
    linear = torch.nn.Linear(n, n, device=device)
    linear16 = torch.nn.Linear(n, n, device=device, dtype=torch.bfloat16)
    x16, grad16 = x.detach().bfloat16().requires_grad_(), grad.bfloat16()
    rows = batch * n * FLOAT32
    fns, floor = {}, {}

    def add(name, call, inputs, upstream, reads_writes):
        def forward():
            with torch.no_grad():
                call(inputs)

        def forward_backward():
            inputs.grad = None
            call(inputs).backward(upstream)
        fns[f"{name} fwd"], fns[f"{name} fwd+bwd"] = forward, forward_backward
        floor[f"{name} fwd"], floor[f"{name} fwd+bwd"] = reads_writes

    add("dct", lambda t: dct(t, norm="ortho"), x, grad, (2 * rows, 5 * rows))
    add("idct", lambda t: idct(t, norm="ortho"), x, grad, (2 * rows, 5 * rows))
    for name, path in (("torch.fft", "torch"), ("triton", "triton")):
        if path == "triton" and not _forced_ok(x):
            continue

        def run(module, path=path):
            def call(t):
                with backend.use(path):
                    return module(t)
            return call
        add(f"ACDC {name}", run(layer), x, grad, (2 * rows, 5 * rows))
        add(f"{n_layers}-layer stack {name}", run(stack), x, grad, (2 * rows, (3 + 2 * n_layers) * rows))
    weights = n * n * FLOAT32
    for label, tf32 in (("Linear fp32 TF32 off", False), ("Linear fp32 TF32 on", True)):
        def call(t, tf32=tf32):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            return linear(t)
        add(label, call, x, grad, (2 * rows + weights, 5 * rows + 3 * weights))
    add("Linear bf16", linear16, x16, grad16, (rows + weights // 2, 5 * rows // 2 + 3 * weights // 2))
    return fns, floor


def _forced_ok(x: torch.Tensor) -> bool:
    try:
        with backend.use("triton"):
            return backend.kernel_for(x) is not None
    except (RuntimeError, ValueError):
        return False


def targets(n_layers: int) -> list[tuple]:
    """Issue 9's targets: (label, numerator, denominator, limit) over times (ms) or floors."""
    stack = f"{n_layers}-layer stack"
    return [("ACDC fwd vs Linear TF32 off, <= 0.1", "ACDC triton fwd", "Linear fp32 TF32 off fwd", 0.1),
            ("ACDC fwd vs its bandwidth floor, <= 2", "ACDC triton fwd", "floor: ACDC triton fwd", 2.0),
            ("stack fwd+bwd vs torch.fft stack, <= 1/3", f"{stack} triton fwd+bwd",
             f"{stack} torch.fft fwd+bwd", 1 / 3),
            ("stack fwd+bwd vs Linear bf16, < 1", f"{stack} triton fwd+bwd", "Linear bf16 fwd+bwd", 1.0)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", type=int, nargs="+", default=[1024, 8192])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--copy-mb", type=int, default=1024, help="size of the bandwidth probe")
    parser.add_argument("--json", default=None, help="write every measurement here")
    parser.add_argument("--precision", default="tf32x3", help="the kernels' tile-product precision")
    parser.add_argument("--num-warps", type=int, default=4, help="warps per kernel program")
    args = parser.parse_args(argv)
    tuning = {"precision": args.precision, "num_warps": args.num_warps}
    if backend.triton_available():
        from acdc_core.ops import triton_kernels

        with triton_kernels.tuned(**tuning):
            return _run(args, tuning)
    return _run(args, None)


def _run(args, tuning) -> None:
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    bandwidth = copy_bandwidth(args.device, args.copy_mb, args.rounds)
    print(f"{name}; torch {torch.__version__}; copy bandwidth {bandwidth / 1e6:.0f} GB/s; "
          f"medians of {args.rounds} interleaved rounds, ms per call; kernel tuning {tuning}")
    results = []
    for batch in args.batches:
        for n in args.sizes:
            fns, floor = candidates(n, batch, args.device, args.layers)
            times = measure(fns, args.device, args.rounds)
            row = {"batch": batch, "n": n, **times, **{f"floor: {k}": v / bandwidth for k, v in floor.items()}}
            results.append(row)
            print(f"\nbatch {batch}, N {n}")
            for key, ms in times.items():
                print(f"  {key:36s} {ms:9.3f} ms   floor {floor[key] / bandwidth:8.3f} ms   "
                      f"x{ms / (floor[key] / bandwidth):6.1f} of floor")
            for label, num, den, limit in targets(args.layers):
                if num in row and den in row:
                    ratio = row[num] / row[den]
                    print(f"  target {label}: {ratio:.3f} {'met' if ratio <= limit else 'MISSED'}")
            if args.json:  # after every shape, so a run cut short keeps what it measured
                payload = {"device": name, "torch": torch.__version__, "copy_bytes_per_ms": bandwidth,
                           "rounds": args.rounds, "tuning": tuning, "results": results}
                write_atomically(args.json, lambda p: p.write_text(json.dumps(payload, indent=1)))
    if args.json:
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
