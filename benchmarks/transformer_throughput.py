"""Training throughput of the transformer study's recipes: one AdamW step (forward, cross-entropy,
backward, step) of each per call, interleaved rounds, ratios against the dense reference and the
narrow dense of equal feed-forward parameters, measured in the same run.

    python benchmarks/transformer_throughput.py [--recipes dense monarch ...] [--text NAME --root DIR]
                                                [--threads 1] [--record cpu]

Inputs are random tokens over the text's vocabulary (a step's time does not depend on which
characters they are). ``--record PROFILE`` keeps the timings as the ``throughput`` measurement of
results/transformer/PROFILE.json, which the notebook's speed verdicts then use instead of the
throughput of the training runs, measured while other work shared the machine.
"""
from __future__ import annotations

import argparse
import sys

import torch

from acdc_core.lab import results
from acdc_core.lab.analysis.transformer import narrow_dense, reference
from acdc_core.lab.bench import measure, retain_freed_memory, training_step
from acdc_core.lab.experiments.transformer import optimiser_for
from acdc_core.lab.models.transformer import RECIPES, build
from acdc_core.training.text import load_text


def recipe_step(name: str, vocabulary: int):
    """A closure doing one training step of recipe ``name`` on a fixed batch of random tokens."""
    recipe = RECIPES[name]
    torch.manual_seed(0)
    model = build(name, vocabulary).train()
    tokens = torch.randint(0, vocabulary, (recipe.batch_size, recipe.context + 1))
    return training_step(model, optimiser_for(model, recipe), tokens[:, :-1], tokens[:, 1:].flatten())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cpu = [name for name, recipe in RECIPES.items() if recipe.profile == "cpu"]
    parser.add_argument("--recipes", nargs="+", default=cpu, choices=list(RECIPES))
    parser.add_argument("--text", default="shakespeare_excerpt", help="whose vocabulary the tokens are drawn from")
    parser.add_argument("--root", default=None, help="the data folder (default $ACDC_DATA, else ~/.cache/acdc)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--record", metavar="PROFILE", help="keep the timings in results/transformer/PROFILE.json")
    parser.add_argument("--results", default=str(results.RESULTS), help="the results folder")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    vocabulary = len(load_text(args.text, root=args.root).train.vocabulary)
    retained = retain_freed_memory()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, vocabulary {vocabulary}, "
          f"malloc keeps freed memory: {retained}; medians of {args.rounds} interleaved rounds")
    ms = measure({name: recipe_step(name, vocabulary) for name in args.recipes}, rounds=args.rounds, block_ms=500.0)
    tokens = {name: RECIPES[name].batch_size * RECIPES[name].context * 1e3 / t for name, t in ms.items()}
    timed = [{"recipe": name, **RECIPES[name].as_dict()} for name in ms]
    bases = [base and base["recipe"] for base in (reference(timed), narrow_dense(timed))]
    print(f"{'recipe':16s} {'ms/step':>9s} {'tokens/s':>9s} {'× dense':>8s} {'× narrow':>9s}")
    for name, t in ms.items():
        ratios = [f"{tokens[name] / tokens[base]:.2f}" if base else "—" for base in bases]
        print(f"{name:16s} {t:9.1f} {tokens[name]:9.0f} {ratios[0]:>8s} {ratios[1]:>9s}")
    if args.record:
        command = "python benchmarks/transformer_throughput.py " + " ".join(sys.argv[1:] if argv is None else argv)
        origin = results.provenance(command, f"random tokens over {vocabulary} characters", verified=True)
        path = results.record_measurement("transformer", args.record, "throughput", {
            "rounds": args.rounds, "threads": torch.get_num_threads(), "ms_per_step": ms,
            "tokens_per_second": tokens, "provenance": origin}, args.results)
        print(f"recorded in {path}")


if __name__ == "__main__":
    main()
