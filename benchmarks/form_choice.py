"""Does the form rule (acdc_core.forms) pick the fastest form? Every form of a separable ACDC
convolution and of a linear StackedACDC timed on a grid of shapes, training (forward+backward)
and inference (forward), beside the form the rule picks with the device's constant speeds and
with this run's calibration. "regret" is the picked form's time over the fastest's (1.00 when it
picks the fastest).

    python benchmarks/form_choice.py [--device cpu] [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse

import torch

from acdc_core import forms
from acdc_core.calibration import calibrate
from acdc_core.conv import SeparableACDCConv2d
from acdc_core.lab.bench import measure
from acdc_core.stack import StackedACDC

# (channels, image side) as WideResNets meet them at batch 64, and wider layers at small maps
CONV_SHAPES = [(16, 32), (32, 32), (64, 32), (64, 16), (128, 16), (128, 8), (256, 8), (512, 8),
               (640, 8), (1024, 4)]
LINEAR_SHAPES = [(64, 4096), (256, 256), (256, 4096), (1024, 128), (1024, 4096), (2048, 256)]


def conv_case(channels: int, side: int, batch: int, parameterisation: str, device):
    """The layer, its input, and a call for each form and mode."""
    torch.manual_seed(0)
    conv = SeparableACDCConv2d(channels, channels, 3, padding=1, n_layers=12,
                               parameterisation=parameterisation, device=device)
    x = torch.randn(batch, channels, side, side, device=device, requires_grad=True)
    return conv, x, ("fft", "collapsed", "full")


def linear_case(width: int, rows: int, device):
    torch.manual_seed(0)
    stack = StackedACDC(width, width, 12, device=device)
    return stack, torch.randn(rows, width, device=device, requires_grad=True), ("fft", "collapsed")


def calls(module, x, names, training: bool) -> dict:
    """A call of ``module`` on ``x`` in each form of ``names``; with ``training``, backward from
    a fixed random gradient too."""
    grad = torch.randn_like(module(x))

    def call(name):
        def run():
            module.form = name
            if training:
                module(x).backward(grad)
            else:
                with torch.no_grad():
                    module(x)
        return run
    return {name: call(name) for name in names}


def picks(module, x, training: bool, calibrated: dict) -> tuple[str, str]:
    """The rule's pick with the constant speeds, then with this run's ``calibrated`` ones."""
    module.form = "auto"
    chosen = []
    for speeds in (None, calibrated):
        forms.set_speed(x.device, training, speeds and speeds["training" if training else "forward"])
        with torch.set_grad_enabled(training):
            chosen.append(module.chosen_form(x))
    forms.set_speed(x.device, training, None)
    return tuple(chosen)


def row(label: str, module, x, names, training: bool, calibrated, rounds: int, device) -> dict:
    ms = measure(calls(module, x, names, training), device, rounds=rounds, block_ms=5.0)
    constant, measured = picks(module, x, training, calibrated)
    best = min(ms, key=ms.get)
    return {"shape": label, "mode": "train" if training else "infer", **ms, "fastest": best,
            "rule": constant, "regret": ms[constant] / ms[best], "calibrated": measured,
            "regret cal.": ms[measured] / ms[best]}


def print_rows(title: str, rows: list[dict], names) -> None:
    print(f"\n{title}\n")
    head = ["shape", "mode", *(f"{n} ms" for n in names), "fastest", "rule", "regret",
            "calibrated", "regret cal."]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["shape"], r["mode"], *(f"{r[n]:.1f}" for n in names), r["fastest"], r["rule"],
                 f"{r['regret']:.2f}", r["calibrated"], f"{r['regret cal.']:.2f}"]
        print("| " + " | ".join(cells) + " |")
    wrong = [r for r in rows if r["rule"] != r["fastest"]]
    worst = max(rows, key=lambda r: r["regret"])
    print(f"\nrule (constants) picks the fastest in {len(rows) - len(wrong)} of {len(rows)}; "
          f"worst regret {worst['regret']:.2f} ({worst['shape']}, {worst['mode']})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="a few shapes only (a smoke test)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    conv_shapes = CONV_SHAPES[::4] if args.quick else CONV_SHAPES
    linear_shapes = LINEAR_SHAPES[::3] if args.quick else LINEAR_SHAPES
    calibrated = calibrate(device, install=False)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}; medians "
          f"of {args.rounds} interleaved rounds")
    for training in (False, True):
        mode = "training" if training else "forward"
        print(f"{mode} speeds, constant: {forms.speed(device, training)}")
        print(f"{mode} speeds, this run: {calibrated[mode]}")
    conv_rows = []
    for parameterisation in ("riffle", "original"):
        for channels, side in conv_shapes:
            conv, x, names = conv_case(channels, side, args.batch, parameterisation, device)
            label = f"{channels} ch, {side}x{side}, {parameterisation}"
            for training in (True, False):
                conv_rows.append(row(label, conv, x, names, training, calibrated, args.rounds, device))
                print(f"  {label} {'train' if training else 'infer'} done", flush=True)
    print_rows(f"Separable ACDC 3x3 convolution, 12 layers, batch {args.batch}", conv_rows,
               ("fft", "collapsed", "full"))
    linear_rows = []
    for width, rows in linear_shapes:
        stack, x, names = linear_case(width, rows, device)
        for training in (True, False):
            linear_rows.append(row(f"N {width}, {rows} rows", stack, x, names, training, calibrated,
                                   args.rounds, device))
    print_rows("Linear StackedACDC, 12 layers", linear_rows, ("fft", "collapsed"))


if __name__ == "__main__":
    main()
