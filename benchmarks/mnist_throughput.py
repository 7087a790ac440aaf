"""Training throughput of the MNIST models: one optimiser step (forward, cross-entropy, backward,
the recipe's optimiser) per call, interleaved rounds, ratios against the dense MLP of E11's depth
(E11 and the other experiments of the log: docs/experiments.md).

    python benchmarks/mnist_throughput.py [--models e11 dense_mlp ...] [--batch 64] [--device cpu]

Inputs are random tensors of MNIST's shape: the time of a step does not depend on the pixels.
"""
from __future__ import annotations

import argparse

import torch

from acdc_core.lab.experiments.mnist import optimiser_for
from acdc_core.lab.bench import check_targets, measure, retain_freed_memory, training_step
from acdc_core.lab.models import MNIST_MODELS, build

TARGET = ("E11 step time <= dense MLP's (equal depth)", "e11", "dense_mlp", 1.0)


def recipe_step(name: str, batch: int, device: str):
    """A closure doing one training step of recipe ``name`` on a fixed random batch."""
    torch.manual_seed(0)
    model = build(name).to(device).train()
    optimiser = optimiser_for(MNIST_MODELS[name], model)
    images = torch.randn(batch, 1, 28, 28, device=device)
    return training_step(model, optimiser, images, torch.randint(0, 10, (batch,), device=device))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["e11", "e11_improved", "dense_mlp", "e1_normal",
                                                        "e2", "convnet"], choices=list(MNIST_MODELS))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    retained = retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}, "
          f"batch {args.batch}, float32, malloc keeps freed memory: {retained}; "
          f"medians of {args.rounds} interleaved rounds")
    steps = {name: recipe_step(name, args.batch, args.device) for name in args.models}
    ms = measure(steps, args.device, rounds=args.rounds, block_ms=200.0)
    epoch_steps = -(-60000 // args.batch)
    print(f"{'model':14s} {'ms/step':>9s} {'samples/s':>10s} {'s/epoch (60k)':>14s}")
    for name, t in ms.items():
        print(f"{name:14s} {t:9.2f} {1e3 * args.batch / t:10.0f} {t * epoch_steps / 1e3:14.1f}")
    print("\ntargets (ratio = numerator / denominator, measured above):")
    label, num, den, limit = TARGET
    check_targets({(args.batch, name): t for name, t in ms.items()}, [(label, num, den, (args.batch,), limit)],
                  size_name="batch")


if __name__ == "__main__":
    main()
