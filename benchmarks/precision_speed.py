"""ACDC layers in bfloat16 and float16 against float32: time ratios from one run.

    python benchmarks/precision_speed.py [--sizes 1024 4096] [--batch 128] [--device cpu]

Times one ACDC layer (forward, and forward+backward) and a 12-layer riffle stack (forward+backward)
four ways: float32; under bfloat16 autocast, fed the bfloat16 activations a dense layer before it
would give; with bfloat16 parameters; with float16 parameters. Every way computes in float32 (torch's
autocast policy for FFTs): a half-precision way adds a cast of the input (and of its gradient), and
with half-precision parameters one of the output too, so on its own a layer can at best tie.
Then one training step (SGD) of a network Linear(N, N) -> 12-layer stack -> Linear(N, 10) in float32
and under bfloat16 autocast (``train(..., amp=True)``), where the dense layers run in bfloat16.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from acdc_core import ACDC, StackedACDC
from acdc_core.lab.bench import benchmark_parser, check_targets, measure, start_benchmark, training_step

WAYS = {  # name: (parameter dtype, input dtype, autocast)
    "fp32": (torch.float32, torch.float32, False),
    "bf16 autocast": (torch.float32, torch.bfloat16, True),
    "bf16": (torch.bfloat16, torch.bfloat16, False),
    "fp16": (torch.float16, torch.float16, False),
}
MODELS = ("ACDC fwd", "ACDC fwd+bwd", "stack fwd+bwd")
TARGETS = [(f"{model} bf16 autocast <= fp32", f"{model} bf16 autocast", f"{model} fp32", (4096,), 1.0)
           for model in MODELS]
TARGETS += [("training step amp <= fp32", "training step amp", "training step fp32", (1024, 4096), 1.0)]
CONTEXT = [(f"{model} {way} / fp32", f"{model} {way}", f"{model} fp32")
           for model in MODELS for way in ("bf16", "fp16")]


def candidates(n: int, batch: int, device) -> dict:
    """``{"<model> <way>": call}``: each model's forward (and backward) in each way of :data:`WAYS`."""
    fns = {}
    for way, (param_dtype, input_dtype, autocast) in WAYS.items():
        torch.manual_seed(0)
        layer = ACDC(n, device=device, dtype=param_dtype)
        stack = StackedACDC(n, n, 12, form="fft", device=device, dtype=param_dtype)
        x = torch.randn(batch, n, device=device).to(input_dtype)
        context = (lambda: torch.autocast(torch.device(device).type, dtype=torch.bfloat16)) if autocast \
            else contextlib.nullcontext
        fns[f"ACDC fwd {way}"] = _forward(layer, x, context)
        fns[f"ACDC fwd+bwd {way}"] = _forward_backward(layer, x, context)
        fns[f"stack fwd+bwd {way}"] = _forward_backward(stack, x, context)
    for amp in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(n, n), StackedACDC(n, n, 12, relu=True), nn.Linear(n, 10)).to(device)
        optimiser = torch.optim.SGD(model.parameters(), lr=1e-3)
        inputs, labels = torch.randn(batch, n, device=device), torch.randint(10, (batch,), device=device)
        step = training_step(model, optimiser, inputs, labels)
        fns[f"training step {'amp' if amp else 'fp32'}"] = _autocast_step(step, device) if amp else step
    return fns


def _autocast_step(step, device):
    def run():
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            step()
    return run


def _forward(module, x, context):
    def run():
        with torch.no_grad(), context():
            return module(x)
    return run


def _forward_backward(module, x, context):
    x = x.detach().requires_grad_()

    def run():
        with context():
            y = module(x)
        y.backward(torch.ones_like(y))
    return run


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [1024, 4096], rounds=9, dense_max_n=0)
    args = parser.parse_args(argv)
    start_benchmark(args)
    table = {}
    for n in args.sizes:
        times = measure(candidates(n, args.batch, args.device), args.device, args.rounds)
        table.update({(n, name): ms for name, ms in times.items()})
    print(f"{'N':>6} {'model':14s}" + "".join(f"{way:>16s}" for way in WAYS))
    for n in args.sizes:
        for model in MODELS:
            print(f"{n:>6} {model:14s}" + "".join(f"{table[(n, f'{model} {way}')]:16.3f}" for way in WAYS))
    print(f"{'N':>6} {'training step':14s}" + "".join(f"{way:>16s}" for way in ("fp32", "amp")))
    for n in args.sizes:
        print(f"{n:>6} {'':14s}" + "".join(f"{table[(n, f'training step {way}')]:16.3f}"
                                          for way in ("fp32", "amp")))
    print("\nfor context, half-precision parameters (ratios of times measured above):")
    for label, num, den in CONTEXT:
        for n in args.sizes:
            print(f"  {label:40s} N={n:<6} {table[(n, num)] / table[(n, den)]:7.3f}")
    print("\ntargets (ratio = numerator / denominator, measured above):")
    check_targets(table, TARGETS)


if __name__ == "__main__":
    main()
