"""The transformer study: the recipes of :mod:`acdc_core.lab.models.transformer` trained one per
(recipe, seed) on a text by :mod:`.runner`; ``python -m acdc_core.lab.experiments.transformer``
from the command line.

Training: AdamW (betas 0.9, 0.99, as nanoGPT's character-level example) at the recipe's rate,
weight decay on every parameter of two or more dimensions (dense weights, embeddings, Monarch
blocks, low-rank factors, butterfly factors) and none on vectors (biases, LayerNorm, ACDC
diagonals, which decay would pull from their identity start); a linear warmup, then a cosine from
the rate to a tenth of it at the last step. An epoch is ``steps`` batches of random windows,
after which the fixed validation windows are scored; checkpoints are written every epoch and every
``checkpoint_every`` batches, so a stopped run resumes where it stopped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ...base import parameter_count
from ...checks import check_choice
from ...training.text import TextBatches, TextSplit, ValidationWindows, load_text
from ..analysis.costs import training_forms
from ..command import count
from ..models.transformer import RECIPES, TextRecipe, build, counts
from .runner import Plan, Run, Study, fit, main as run_main, run_record as base_record

VALIDATION_BATCH = 64


@dataclass
class TextRun(Run):
    """A trained recipe, with the batches per epoch it trained with."""
    steps: int = 0


def optimiser_for(model: torch.nn.Module, recipe: TextRecipe) -> torch.optim.AdamW:
    """AdamW with ``weight_decay`` on the parameters of two or more dimensions, none on the rest."""
    matrices = [p for p in model.parameters() if p.ndim >= 2]
    vectors = [p for p in model.parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": recipe.weight_decay},
                              {"params": vectors, "weight_decay": 0.0}], lr=recipe.lr, betas=(0.9, 0.99))


def schedule_factor(recipe: TextRecipe, total: int) -> Callable[[int], float]:
    """The rate's multiplier after ``step`` batches (for ``LambdaLR``) of a run of ``total``:
    1. linear warmup from 1/warmup to 1 over the first ``warmup`` steps; 2. cosine from 1 to 0.1
    at ``total``; 3. 0.1 after it."""
    warmup = min(recipe.warmup, max(total - 1, 0))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))
    return factor


def plan(name: str, train_split: TextSplit, validation_split: TextSplit, epochs: int, seed: int,
         steps: int) -> Plan:
    """Recipe ``name``'s model drawn from seed ``seed``, its batches, AdamW and schedule."""
    recipe = RECIPES[name]
    torch.manual_seed(seed)
    model = build(name, len(train_split.vocabulary))
    train_batches = TextBatches(train_split, recipe.batch_size, recipe.context, seed, steps)
    validation = ValidationWindows(validation_split, recipe.context, recipe.windows, VALIDATION_BATCH)
    optimiser = optimiser_for(model, recipe)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule_factor(recipe, epochs * steps))
    return Plan(model, train_batches, validation, optimiser, scheduler,
                {"checkpoint_every": recipe.checkpoint_every})


def run(name: str, train_set: TextSplit, test_set: TextSplit, epochs: int | None = None, seed: int = 0,
        device=None, checkpoint_dir: str | Path | None = None, progress: bool | Callable = True,
        amp: bool = False, steps: int | None = None) -> TextRun:
    """Train recipe ``name`` on ``train_set`` for ``epochs`` epochs of ``steps`` batches (default
    the recipe's), scoring ``test_set``'s validation windows after each; checkpointed in
    ``checkpoint_dir`` (a run of other than the recipe's steps in a file of its own) and resumed
    from it."""
    check_choice("recipe", name, tuple(RECIPES))
    recipe = RECIPES[name]
    epochs, steps = epochs or recipe.epochs, steps or recipe.steps
    trained = plan(name, train_set, test_set, epochs, seed, steps)
    title = name if steps == recipe.steps else f"{name} {steps} steps"
    history = fit(title, trained, train_set, epochs, seed, device, checkpoint_dir, progress, amp)
    return TextRun(name, seed, parameter_count(trained.model), history, trained.model, steps=steps)


def curves(result: TextRun) -> list[dict]:
    """Per epoch: steps trained, training seconds so far, train loss (mean over the epoch's
    batches), validation loss and accuracy, and the rate the epoch started at."""
    rows, seconds = [], 0.0
    for record in result.history.records:
        seconds += record["train_seconds"]
        rows.append({"step": record["epoch"] * result.steps, "train_seconds": seconds,
                     "train_loss": record["train_loss"], "validation_loss": record["test_loss"],
                     "validation_accuracy": record["test_accuracy"], "learning_rate": record["learning_rate"]})
    return rows


def run_record(result: TextRun, data: str, provenance: dict) -> dict:
    """A trained run as :func:`acdc_core.lab.results.record` keeps it: recipe, structure and knob,
    what it was matched on, its sizes and training, parameters and multiply-adds per token (whole
    model and feed-forward, :func:`~acdc_core.lab.models.transformer.counts`), the forms its ACDC
    stacks train in, final validation loss, throughput, curves and ``provenance``."""
    recipe, config = RECIPES[result.recipe], result.model.config
    figures = counts(config)
    example = torch.zeros(recipe.batch_size, recipe.context, dtype=torch.int64,
                          device=next(result.model.parameters()).device)
    steps = result.history.final["epoch"] * result.steps
    seconds = sum(result.history.column("train_seconds"))
    record = base_record(
        result, data, provenance, structure=recipe.structure,
        knob=config.hidden if recipe.structure == "dense" else recipe.knob, matched=recipe.matched,
        steps=steps, steps_per_epoch=result.steps, batch_size=recipe.batch_size, context=recipe.context,
        width=recipe.width, layers=recipe.layers, heads=recipe.heads, lr=recipe.lr,
        feed_forward_parameters=figures["feed_forward_parameters"], mult_adds=figures["mult_adds"],
        feed_forward_mult_adds=figures["feed_forward_mult_adds"],
        training_forms=training_forms(result.model, example),
        validation_loss=result.history.final["test_loss"],
        tokens_per_second=steps * recipe.batch_size * recipe.context / seconds)
    record["curves"] = curves(result)
    return record


def report(result: TextRun, data: TextSplit) -> str:
    """One line on a finished run: data, validation loss, steps, parameters, throughput."""
    final = result.history.final
    return (f"{result.recipe} seed {result.seed} on {data.name}: validation loss "
            f"{final['test_loss']:.4f} after {final['epoch'] * result.steps:,} steps, "
            f"{result.parameters:,} parameters, {final['samples_per_second']:.0f} tokens/s")


def flags(parser) -> None:
    """The study's own flags: which text, and the batches per epoch."""
    parser.add_argument("--text", default="shakespeare_excerpt",
                        help="shakespeare_excerpt (embedded, the default), shakespeare_plays (in "
                             "ROOT/shakespeare/), tiny_shakespeare (downloaded into ROOT when "
                             "missing) or the path of a UTF-8 text file")
    parser.add_argument("--steps", type=count(1), default=None,
                        help="batches per epoch (default: each recipe's); the validation windows "
                             "are scored after every epoch")


def data(args) -> tuple[TextSplit, TextSplit]:
    """The ``--text`` (from ``--root``): its train and validation splits."""
    text = load_text(args.text, root=args.root)
    return text.train, text.validation


def options(args, name: str) -> dict:
    return {"steps": args.steps}


STUDY = Study("transformer", RECIPES, (), None, run, run_record, data, flags, options, report)


def main(argv=None) -> None:
    """Train transformer recipes into a checkpoint folder (resumed from it when stopped), and with
    ``--record PROFILE`` record each finished run in results/transformer/PROFILE.json."""
    run_main(STUDY, argv, "Train character-level transformer recipes into a checkpoint folder")


if __name__ == "__main__":
    main()
