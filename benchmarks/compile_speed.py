"""Eager mode against ``torch.compile(model)`` (Inductor): one ACDC layer, a 12-layer stack, the
E11 training step and a WRN-16-4 training step with separable ACDC convolutions, as ratios from
one run (E11 and the WRN substitution, E22: docs/experiments.md).

    python benchmarks/compile_speed.py [--sizes 1024 4096] [--batch 128] [--device cpu]

The ACDC operators are opaque to the compiler: what it can fuse is the work around them (the
gathers between layers, biases, ReLU, BatchNorm, the optimiser's elementwise steps). Each compiled
model is warmed up (compiled) before the timed rounds.
"""
from __future__ import annotations

import torch

from acdc_core import ACDC, StackedACDC, replace_convolutions
from acdc_core.lab.experiments.mnist import optimiser_for
from acdc_core.lab.bench import benchmark_parser, check_targets, measure, start_benchmark, training_step
from acdc_core.lab.models import MNIST_MODELS, build
from acdc_core.lab.models.cifar import WideResNet


def _layer_calls(model, x, backward: bool):
    grad = torch.randn(x.shape[0], model.out_features if hasattr(model, "out_features") else x.shape[1])

    def call():
        if backward:
            model(x).backward(grad)
        else:
            with torch.no_grad():
                model(x)
    return call


def _e11_step(model, batch: int):
    images, labels = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    return training_step(model, optimiser_for(MNIST_MODELS["e11"], model), images, labels)


def _wrn_step(model, batch: int):
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    return training_step(model, optimiser, torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,)))


def cases(sizes, batch: int):
    """name -> (eager step, compiled step), each on its own copy of the model."""
    out = {}
    for n in sizes:
        x = torch.randn(batch, n, requires_grad=True)
        for label, make, backward in ((f"ACDC({n}) fwd", lambda: ACDC(n), False),
                                      (f"ACDC({n}) fwd+bwd", lambda: ACDC(n), True),
                                      (f"12-layer stack({n}) fwd+bwd",
                                       lambda: StackedACDC(n, n, 12, relu=True), True)):
            torch.manual_seed(0)
            eager, other = make(), make()
            out[label] = (_layer_calls(eager, x, backward), _layer_calls(torch.compile(other), x, backward))
    torch.manual_seed(0)
    out["E11 training step"] = tuple(_e11_step(m, batch) for m in
                                     (build("e11"), torch.compile(build("e11"))))
    wrns = []
    for _ in range(2):
        torch.manual_seed(0)
        wrn = WideResNet(16, 4)
        replace_convolutions(wrn, "all_but_first", n_layers=12, parameterisation="riffle")
        wrns.append(wrn)
    out["WRN-16-4 training step"] = (_wrn_step(wrns[0], 32), _wrn_step(torch.compile(wrns[1]), 32))
    return out


def main(argv=None) -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], [1024, 4096], rounds=7, dense_max_n=0)
    args = parser.parse_args(argv)
    start_benchmark(args)
    print("(the WRN-16-4 step uses batch 32)")
    table, targets = {}, []
    for name, (eager, compiled) in cases(args.sizes, args.batch).items():
        compiled()  # compile outside the timed rounds
        times = measure({"eager": eager, "compiled": compiled}, args.device, rounds=args.rounds,
                        block_ms=100.0)
        table[(name, "eager")], table[(name, "compiled")] = times["eager"], times["compiled"]
        print(f"  {name:32s} eager {times['eager']:9.3f}  compiled {times['compiled']:9.3f}  "
              f"compiled/eager {times['compiled'] / times['eager']:6.3f}")
        targets.append((f"{name}: compiled no slower", "compiled", "eager", (name,), 1.0))
    print("\ntargets (ratio = numerator / denominator, measured above):")
    check_targets(table, targets, size_name="case")


if __name__ == "__main__":
    main()
