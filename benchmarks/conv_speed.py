"""Separable ACDC convolution: its forms against each other (and a dense 1×1 convolution) at the
log's E16 shape and at 64/256/640 channels; training steps of whole networks with every
convolution but the first replaced, in the forms the layers choose, against the dense network:
WRN-16-4 at batch 64 (target: at most 1.3× the dense step) and the E22 and E23 recipes' WRN-40-2 at
their batch of 128 (target: at most 1.5×). Ratios from one run. E16, E22 and E23 are described
in docs/experiments.md.

    python benchmarks/conv_speed.py [--channels 64 256 640] [--device cpu] [--rounds 7]
"""
from __future__ import annotations

import argparse

import torch

from collections import Counter

from acdc_core.lab.bench import measure, retain_freed_memory, training_step
from acdc_core.conv import SeparableACDCConv2d, replace_convolutions
from acdc_core.lab.models.cifar_recipes import CIFAR_RECIPES
from acdc_core.lab.analysis.costs import training_forms
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
    ms = measure({"fft": form("fft"), "collapsed": form("collapsed"), "full": form("full"),
                  "dense 1x1": dense_call}, device, rounds=rounds)
    conv.form = "auto"
    with torch.no_grad():
        picked = conv.chosen_form(x)
    return [{"shape": f"({batch}, {channels}, {size}, {size})", **ms, "auto picks": picked}]


# (label, network, surgery, conv options, batch, limit on the step's ratio to the dense step)
NETWORKS = [("WRN-16-4", (16, 4), "all_but_first", {}, 64, 1.3),
            ("e22: WRN-40-2", (40, 2), CIFAR_RECIPES["e22"].substitute, CIFAR_RECIPES["e22"].conv, 128, 1.5),
            ("e23: WRN-40-2", (40, 2), CIFAR_RECIPES["e23_scratch"].substitute,
             CIFAR_RECIPES["e23_scratch"].conv, 128, 1.5)]


def network_steps(network, which, options, batch: int, device: str):
    """Training-step closures of the dense network and the substituted one (default forms), and
    how many replaced convolutions trained in each form."""
    steps, forms = {}, Counter()
    x = torch.randn(batch, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    for name in ("dense", "ACDC"):
        torch.manual_seed(0)
        model = WideResNet(*network).to(device)
        if name == "ACDC":
            replace_convolutions(model, which, **options)
            forms = Counter(training_forms(model, x).values())
        optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        steps[name] = training_step(model, optimiser, x, labels)
    return steps, forms


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 256, 640])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    retained = retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, float32, "
          f"malloc keeps freed memory: {retained}; medians of {args.rounds} interleaved rounds (ms)")
    rows = pointwise_rows(256, 100, 4, args.device, args.rounds)  # the log's E16
    rows += [r for c in args.channels for r in pointwise_rows(c, 32, 16, args.device, args.rounds)]
    print(f"\n12-layer 1x1 separable ACDC conv, inference\n{'input':>22} {'fft':>9} {'collapsed':>10} "
          f"{'full':>9} {'dense 1x1':>10} {'collapsed/fft':>14} {'auto picks':>11}")
    for r in rows:
        print(f"{r['shape']:>22} {r['fft']:9.3f} {r['collapsed']:10.3f} {r['full']:9.3f} "
              f"{r['dense 1x1']:10.3f} {r['collapsed'] / r['fft']:14.2f} {r['auto picks']:>11}")
    print("\nTraining steps, every replaced convolution in the form it chooses (ms)")
    for label, network, which, options, batch, limit in NETWORKS:
        steps, forms = network_steps(network, which, options, batch, args.device)
        ms = measure(steps, args.device, rounds=max(3, args.rounds // 2), block_ms=500.0)
        ratio = ms["ACDC"] / ms["dense"]
        print(f"  {label:15s} batch {batch:3d}: dense {ms['dense']:7.1f}, ACDC {ms['ACDC']:7.1f}, "
              f"ratio {ratio:.2f} (target <= {limit}: {'met' if ratio <= limit else 'MISSED'}); "
              f"forms: {dict(forms)}")


if __name__ == "__main__":
    main()
