"""Issue 18's GPU check in one call: at N = 4096 and batch 8192, one ACDC layer's forward
(float32-accurate) against bf16 nn.Linear, and a 12-layer stack's forward+backward against 12 bf16
nn.Linear layers, for each way of running the core (torch.fft eager, the compiled core, the
compiled core under CUDA graphs, the Triton kernel), with the copy-bandwidth floor beside them;
then the form rule's calibration on the device and a WRN-16-4 training step (bf16 autocast,
channels_last) dense against every convolution but the first replaced, in the forms chosen.
Prints tables and writes them as JSON.

    python benchmarks/gpu_training.py [--n 4096] [--batch 8192] [--json FILE]
    python benchmarks/gpu_training.py --device cpu --n 256 --batch 64 --wrn-batch 4   # a check

A variant that fails is reported with its error and the rest goes on.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import torch
from torch import nn

from acdc_core import ACDC, StackedACDC, backend
from acdc_core.calibration import calibrate
from acdc_core.conv import replace_convolutions
from acdc_core.lab.analysis.costs import training_forms
from acdc_core.lab.bench import measure, training_step
from acdc_core.lab.models.cifar import WideResNet
from acdc_core.training.files import write_atomically

FLOAT32 = 4  # bytes


def copy_bandwidth(device: str, megabytes: int) -> float:
    """Bytes per millisecond of a device-to-device copy (read and write counted)."""
    source = torch.empty(megabytes * 2 ** 20 // FLOAT32, device=device)
    target = torch.empty_like(source)
    return 2 * source.numel() * FLOAT32 / measure({"copy": lambda: target.copy_(source)}, device, 5)["copy"]


def variants(device: str) -> dict:
    """How the core runs: name -> (backend, compile the whole call under CUDA graphs)."""
    ways = {"torch.fft": ("torch", False), "compiled": ("compiled", False)}
    if device.startswith("cuda"):
        ways["compiled + CUDA graphs"] = ("compiled", True)
        if backend.triton_available():
            ways["triton"] = ("triton", False)
    return ways


def timed_calls(args) -> tuple[dict, dict]:
    """Closures to time and the bytes each must move at the least (for the floor)."""
    device, n, batch = args.device, args.n, args.batch
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, n, generator=gen).to(device).requires_grad_()
    grad = torch.randn(batch, n, generator=gen).to(device)
    rows = batch * n * FLOAT32
    layer = ACDC(n, device=device)
    stack = StackedACDC(n, n, args.layers, form="fft", device=device)
    fns, floor = {}, {}
    for name, (path, graphs) in variants(device).items():
        def run(module, path=path, graphs=graphs):
            call = torch.compile(module, mode="reduce-overhead") if graphs else module

            def inner(t):
                with backend.use(path):
                    return call(t)
            return inner
        layer_call, stack_call = run(layer), run(stack)

        def layer_forward(call=layer_call):
            with torch.no_grad():
                call(x)

        def stack_step(call=stack_call):
            x.grad = None
            call(x).backward(grad)
        fns[f"ACDC {name} fwd"], floor[f"ACDC {name} fwd"] = layer_forward, 2 * rows
        fns[f"stack {name} fwd+bwd"] = stack_step
        floor[f"stack {name} fwd+bwd"] = (3 + 2 * args.layers) * rows
    linear = nn.Linear(n, n, device=device, dtype=torch.bfloat16)
    linears = nn.Sequential(*(nn.Linear(n, n, device=device, dtype=torch.bfloat16)
                              for _ in range(args.layers)))
    x16, grad16 = x.detach().bfloat16().requires_grad_(), grad.bfloat16()

    def linear_forward():
        with torch.no_grad():
            linear(x16)

    def linears_step():
        x16.grad = None
        linears(x16).backward(grad16)
    weights = n * n * 2
    fns["Linear bf16 fwd"], floor["Linear bf16 fwd"] = linear_forward, rows + weights
    fns["12 Linear bf16 fwd+bwd"] = linears_step
    floor["12 Linear bf16 fwd+bwd"] = args.layers * (5 * rows // 2 + 3 * weights)
    return fns, floor


def safely(fns: dict, device: str) -> tuple[dict, dict]:
    """Warm every closure up (compiling happens here); drop and report the ones that fail."""
    kept, failed = {}, {}
    for name, fn in fns.items():
        start = time.perf_counter()
        try:
            fn()
            fn()
        except Exception as error:  # a variant this device or torch cannot run
            failed[name] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
            continue
        kept[name] = fn
        print(f"  warmed {name} in {time.perf_counter() - start:.1f} s", flush=True)
    return kept, failed


def wrn_ratio(args) -> dict:
    """A WRN-16-4 training step under bf16 autocast, channels_last: dense and substituted."""
    x = torch.randn(args.wrn_batch, 3, 32, 32, device=args.device).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (args.wrn_batch,), device=args.device)
    steps, chosen = {}, {}
    for name in ("dense", "ACDC"):
        torch.manual_seed(0)
        model = WideResNet(16, 4).to(args.device).to(memory_format=torch.channels_last)
        if name == "ACDC":
            replace_convolutions(model, "all_but_first")
            with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16):
                chosen = Counter(training_forms(model, x).values())
        step = training_step(model, torch.optim.SGD(model.parameters(), lr=0.1), x, labels)

        def amp_step(step=step):
            with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16):
                step()
        steps[name] = amp_step
    ms = measure(steps, args.device, rounds=3, block_ms=200.0)
    return {**ms, "ratio": ms["ACDC"] / ms["dense"], "forms": dict(chosen)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--wrn-batch", type=int, default=128)
    parser.add_argument("--copy-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else "CPU"
    bandwidth = copy_bandwidth(args.device, args.copy_mb)
    print(f"{name}; torch {torch.__version__}; copy bandwidth {bandwidth / 1e6:.0f} GB/s; N {args.n}, "
          f"batch {args.batch}; medians of {args.rounds} interleaved rounds")
    fns, floor = timed_calls(args)
    fns, failed = safely(fns, args.device)
    times = measure(fns, args.device, args.rounds)
    print(f"\n{'call':40s} {'ms':>9s} {'floor ms':>9s} {'x floor':>8s}")
    for key, ms in times.items():
        print(f"{key:40s} {ms:9.3f} {floor[key] / bandwidth:9.3f} {ms / (floor[key] / bandwidth):8.1f}")
    for key, error in failed.items():
        print(f"{key:40s} failed: {error}")
    print("\ntargets:")
    for way in variants(args.device):
        for label, num, den in ((f"ACDC fwd ({way}) faster than Linear bf16", f"ACDC {way} fwd", "Linear bf16 fwd"),
                                (f"stack fwd+bwd ({way}) <= 12 Linear bf16", f"stack {way} fwd+bwd",
                                 "12 Linear bf16 fwd+bwd")):
            if num in times and den in times:
                ratio = times[num] / times[den]
                print(f"  {label:55s} ratio {ratio:6.3f} {'met' if ratio <= 1 else 'MISSED'}")
    calibration = calibrate(args.device)
    print(f"\nform rule calibration: {calibration}")
    wrn = wrn_ratio(args)
    print(f"WRN-16-4 step, batch {args.wrn_batch}, bf16 autocast, channels_last: dense {wrn['dense']:.1f} ms, "
          f"ACDC {wrn['ACDC']:.1f} ms, ratio {wrn['ratio']:.2f}; forms {wrn['forms']}")
    if args.json:
        payload = {"device": name, "torch": torch.__version__, "copy_bytes_per_ms": bandwidth,
                   "n": args.n, "batch": args.batch, "times_ms": times, "failed": failed,
                   "floor_ms": {k: v / bandwidth for k, v in floor.items()},
                   "calibration": {mode: vars(s) for mode, s in calibration.items()}, "wrn16_4": wrn}
        write_atomically(args.json, lambda p: p.write_text(json.dumps(payload, indent=1)))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
