"""Separable ACDC convolution: the collapsed form against the stacked FFT form (and a dense 1×1
convolution), at the log's E16 shape and at 64/256/640 channels; one training step of WRN-40-2,
dense against every convolution but the first replaced. Ratios from one run. E16 is described in
docs/experiments.md.

    python benchmarks/conv_speed.py [--channels 64 256 640] [--device cpu] [--wrn-batch 32]
"""
from __future__ import annotations

import argparse

import torch

from acdc_core.lab.bench import measure, retain_freed_memory, training_step
from acdc_core.conv import SeparableACDCConv2d, replace_convolutions
from acdc_core.lab.models.cifar import WideResNet


def pointwise_rows(channels: int, batch: int, size: int, device: str, rounds: int) -> list[dict]:
    """Inference of a 12-layer 1×1 separable ACDC conv in both forms and a dense 1×1 conv."""
    torch.manual_seed(0)
    x = torch.randn(batch, channels, size, size, device=device)
    conv = SeparableACDCConv2d(channels, channels, 1, n_layers=12, device=device).eval()
    dense = torch.nn.Conv2d(channels, channels, 1, device=device).eval()

    def form(name):
        def call():
            conv.form = name
            with torch.no_grad():
                conv(x)
        return call

    def dense_call():
        with torch.no_grad():
            dense(x)
    ms = measure({"fft": form("fft"), "collapsed": form("collapsed"), "dense 1x1": dense_call},
                 device, rounds=rounds)
    conv.form = "auto"
    with torch.no_grad():
        picked = conv.chosen_form(x)
    return [{"shape": f"({batch}, {channels}, {size}, {size})", **ms, "auto picks": picked}]


def wrn_step(substituted: bool, batch: int, device: str):
    torch.manual_seed(0)
    model = WideResNet(40, 2).to(device)
    if substituted:
        replace_convolutions(model, "all_but_first")
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(batch, 3, 32, 32, device=device)
    return training_step(model, optimiser, x, torch.randint(0, 10, (batch,), device=device))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 256, 640])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--wrn-batch", type=int, default=32)
    args = parser.parse_args(argv)
    retained = retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, float32, "
          f"malloc keeps freed memory: {retained}; medians of {args.rounds} interleaved rounds (ms)")
    rows = pointwise_rows(256, 100, 4, args.device, args.rounds)  # the log's E16
    rows += [r for c in args.channels for r in pointwise_rows(c, 32, 16, args.device, args.rounds)]
    print(f"\n12-layer 1x1 separable ACDC conv, inference\n{'input':>22} {'fft':>9} {'collapsed':>10} "
          f"{'dense 1x1':>10} {'collapsed/fft':>14} {'auto picks':>11}")
    for r in rows:
        print(f"{r['shape']:>22} {r['fft']:9.3f} {r['collapsed']:10.3f} {r['dense 1x1']:10.3f} "
              f"{r['collapsed'] / r['fft']:14.2f} {r['auto picks']:>11}")
    steps = {name: wrn_step(name == "ACDC", args.wrn_batch, args.device) for name in ("dense", "ACDC")}
    ms = measure(steps, args.device, rounds=max(3, args.rounds // 2), block_ms=500.0)
    print(f"\nWRN-40-2 training step, batch {args.wrn_batch}: dense {ms['dense']:.1f} ms, every conv but "
          f"the first as 12-layer separable ACDC {ms['ACDC']:.1f} ms, ACDC/dense {ms['ACDC'] / ms['dense']:.2f}")


if __name__ == "__main__":
    main()
