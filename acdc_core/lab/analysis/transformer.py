"""Reading the transformer study's runs: the comparison's configurations and counts, a row per
recorded run, the groups matched at equal feed-forward parameters and at equal multiply-adds, and
each structure's verdict against the dense reference and the narrow dense of equal parameters,
set beside what the Monarch and "Compute Better Spent" papers (and the latter's follow-up) report.

A record is a dict with ``runs`` (and, recorded, ``provenance``), each run as
:func:`acdc_core.lab.experiments.transformer.run_record` writes it: ``recipe``, ``seed``,
``structure``, ``knob``, ``matched`` (``"reference"``, ``"parameters"`` or ``"mult_adds"``),
``steps``, ``batch_size``, ``context``, ``width``, ``layers``, ``validation_loss`` (nats per
character), ``feed_forward_parameters``, ``feed_forward_mult_adds`` (per token, all blocks),
``parameters``, ``tokens_per_second``, ``train_seconds`` and ``curves``.
"""
from __future__ import annotations

import statistics

from ..models.transformer import RECIPES, counts
from ..results import by_recipe

LOSS_TOLERANCE = 0.02  # nats per character: differences within it are "about equal" (spread_finding checks
# how far a recipe's seeds lie apart against it)
MATCH_TOLERANCE = 0.15  # a run is at the budget when its count lies within 15% of the Monarch run's
GROUPS = {"parameters": "feed_forward_parameters", "mult_adds": "feed_forward_mult_adds"}
# What the papers report, per structure (docs/experiments.md, "After the log: structured layers in transformers").
PAPERS = {
    "monarch": "Dao et al. (ICML 2022) trained GPT-2 and ViT with Monarch in place of their dense "
               "layers and report about 2× faster training on GPUs at comparable quality; Qiu et al. "
               "(ICML 2024) find block tensor-train, a family that contains Monarch, more efficient than "
               "dense per unit of compute in small GPT-2s, once initialisation and learning rates are "
               "scaled for the structure",
    "lowrank": "Qiu et al. (ICML 2024) compare low rank with dense at equal compute in GPT-2 and ViT, and "
               "their follow-up (Potapczynski et al., NeurIPS 2024) finds that full-rank structures holding "
               "many parameters per unit of compute scale best, which low rank is not",
    "butterfly": "none of these papers trains butterfly layers in a transformer; Dao et al. present Monarch "
                 "as a generalisation of butterfly matrices that runs faster on GPUs",
    "acdc": "none of these papers trains ACDC layers",
    "dense": "the papers' baseline",
}


def label(run: dict) -> str:
    """A run's name in figures and tables: recipe, structure and what it was matched on."""
    return f"{run['recipe']} ({run['structure']}, {run['matched'].replace('_', '-')})"


def config_rows(names, vocabulary: int) -> list[dict]:
    """A table row per recipe of ``names``: structure, knob, what it is matched on, feed-forward
    parameters and multiply-adds per token (all blocks) and the whole model's parameters, for a
    text of ``vocabulary`` characters (:func:`~acdc_core.lab.models.transformer.counts`)."""
    rows = []
    for name in names:
        recipe = RECIPES[name]
        config = recipe.config(vocabulary)
        figures = counts(config)
        rows.append({"recipe": name, "structure": recipe.structure,
                     "knob": config.hidden if recipe.structure == "dense" else recipe.knob,
                     "matched on": recipe.matched.replace("_", "-"),
                     "FF params": f"{figures['feed_forward_parameters']:,}",
                     "FF MA/token": f"{figures['feed_forward_mult_adds']:,.0f}",
                     "model params": f"{figures['parameters']:,}"})
    return rows


def recorded_rows(recorded: dict) -> list[dict]:
    """A table row per run, a recipe's seeds together: recipe, seed, steps, validation loss,
    counts, throughput and hours."""
    return [{"recipe": r["recipe"], "seed": r["seed"], "steps": f"{r['steps']:,}",
             "val loss": f"{r['validation_loss']:.4f}", "FF params": f"{r['feed_forward_parameters']:,}",
             "FF MA/token": f"{r['feed_forward_mult_adds']:,.0f}", "params": f"{r['parameters']:,}",
             "train tokens/s": f"{r['tokens_per_second']:,.0f}", "train hours": f"{r['train_seconds'] / 3600:.2f}"}
            for runs in by_recipe(recorded).values() for r in runs]


def seed_rows(recorded: dict) -> list[dict]:
    """For each recipe recorded with two or more seeds: the seeds, the lowest and highest final
    validation loss and their difference (nats per character), how far one seed's verdict may move."""
    rows = []
    for recipe, runs in by_recipe(recorded).items():
        if len(runs) > 1:
            losses = [r["validation_loss"] for r in runs]
            rows.append({"recipe": recipe, "seeds": ", ".join(str(r["seed"]) for r in runs),
                         "lowest": f"{min(losses):.4f}", "highest": f"{max(losses):.4f}",
                         "spread": f"{max(losses) - min(losses):.4f}"})
    return rows


def spread_finding(recorded: dict) -> str | None:
    """One sentence: the widest spread of :func:`seed_rows` against :data:`LOSS_TOLERANCE`; None
    when no recipe ran with more than one seed."""
    rows = seed_rows(recorded)
    if not rows:
        return None
    widest = max(rows, key=lambda row: float(row["spread"]))
    spread = (f"Of the recipes run with more than one seed, {widest['recipe']}'s final validation losses spread "
              f"widest, {widest['spread']} nats per character")
    if float(widest["spread"]) <= LOSS_TOLERANCE:
        return f"{spread}: within the {LOSS_TOLERANCE} that counts as about equal."
    return (f"{spread}: more than the {LOSS_TOLERANCE} that counts as about equal, so a single seed's verdict "
            f"may not hold for another.")


def recipe_means(recorded: dict) -> list[dict]:
    """A run per recipe, in the order first recorded: its first seed's record with
    ``validation_loss`` and ``tokens_per_second`` the means over the recipe's recorded seeds and
    ``seeds`` the list of them."""
    return [{**runs[0], "seeds": [r["seed"] for r in runs],
             "validation_loss": statistics.fmean(r["validation_loss"] for r in runs),
             "tokens_per_second": statistics.fmean(r["tokens_per_second"] for r in runs)}
            for runs in by_recipe(recorded).values()]


def _of_seeds(run: dict) -> str:
    """" (mean of 3 seeds)" for a run of :func:`recipe_means` over several seeds, else nothing."""
    return f" (mean of {len(run['seeds'])} seeds)" if len(run["seeds"]) > 1 else ""


def reference(runs: list[dict]) -> dict | None:
    """The dense reference among ``runs`` (matched ``"reference"``), or None."""
    return next((r for r in runs if r["matched"] == "reference"), None)


def narrow_dense(runs: list[dict]) -> dict | None:
    """The dense feed-forward matched at equal parameters among ``runs``, or None."""
    return next((r for r in runs if r["structure"] == "dense" and r["matched"] == "parameters"), None)


def matched_group(runs: list[dict], by: str) -> list[dict]:
    """The runs at the study's budget of ``by`` (``"parameters"`` or ``"mult_adds"``): those matched
    on it, and those whose feed-forward count of it lies within :data:`MATCH_TOLERANCE` of the
    Monarch run's (the budget's own structure: several structures meet both budgets at once)."""
    key = GROUPS[by]
    monarch = next((r for r in runs if r["structure"] == "monarch" and r["matched"] != "reference"), None)
    at_budget = lambda r: monarch is not None and abs(r[key] - monarch[key]) <= MATCH_TOLERANCE * monarch[key]  # noqa: E731
    return [r for r in runs if r["matched"] != "reference" and (r["matched"] == by or at_budget(r))]


def _benchmarked(recorded: dict) -> dict | None:
    """The recorded ``throughput`` measurement when it timed every recorded recipe."""
    measured = recorded.get("measurements", {}).get("throughput")
    timed = measured["tokens_per_second"] if measured else {}
    return measured if all(r["recipe"] in timed for r in recorded["runs"]) else None


def speeds(recorded: dict) -> dict[str, float]:
    """Recipe -> training tokens per second: the recorded ``throughput`` measurement's
    (benchmarks/transformer_throughput.py, every recipe timed in one run) when it timed all of
    them, else the mean of each recipe's training runs' own."""
    measured = _benchmarked(recorded)
    return {r["recipe"]: measured["tokens_per_second"][r["recipe"]] if measured else r["tokens_per_second"]
            for r in recipe_means(recorded)}


def speed_source(recorded: dict) -> str:
    """Where :func:`speeds` takes its figures from, in words."""
    measured = _benchmarked(recorded)
    if measured is None:
        return "each training run's own throughput, measured while other work may have shared the machine"
    origin = measured["provenance"]
    return (f"training steps of every recipe timed in one benchmark of {measured['rounds']} interleaved "
            f"rounds ({origin['machine']}, {origin['date']})")


def compared(loss: float, against: float, tolerance: float = LOSS_TOLERANCE) -> str:
    """``"lower"``, ``"about equal"`` or ``"higher"``: a validation loss against another."""
    difference = loss - against
    return "about equal" if abs(difference) <= tolerance else ("lower" if difference < 0 else "higher")


def verdict_rows(recorded: dict) -> list[dict]:
    """For each recipe but the dense reference: its seeds, its validation loss (mean over them,
    :func:`recipe_means`) minus the reference's and minus the narrow dense's (nats per character;
    negative is better), its training throughput as a multiple of theirs (:func:`speeds`), and the
    word of :func:`compared` against the reference."""
    runs, speed = recipe_means(recorded), speeds(recorded)
    dense, narrow = reference(runs), narrow_dense(runs)
    rows = []
    for r in runs:
        if r is dense or dense is None:
            continue
        row = {"recipe": r["recipe"], "structure": r["structure"], "matched on": r["matched"].replace("_", "-"),
               "seeds": len(r["seeds"]), "val loss": f"{r['validation_loss']:.4f}",
               "Δ vs dense": f"{r['validation_loss'] - dense['validation_loss']:+.4f}",
               "speed × dense": f"{speed[r['recipe']] / speed[dense['recipe']]:.2f}"}
        if narrow is not None and r is not narrow:
            row["Δ vs narrow"] = f"{r['validation_loss'] - narrow['validation_loss']:+.4f}"
            row["speed × narrow"] = f"{speed[r['recipe']] / speed[narrow['recipe']]:.2f}"
        else:
            row["Δ vs narrow"] = row["speed × narrow"] = "—"
        row["against dense"] = compared(r["validation_loss"], dense["validation_loss"])
        rows.append(row)
    return rows


def scale(recorded: dict) -> str:
    """The scale the runs ran at, in words, e.g. "4 layers, width 128, context 64, 4,000 steps of
    12 windows, seed 0" (or "1 to 3 seeds a recipe")."""
    r = recorded["runs"][0]
    counts_of_seeds = sorted({len(runs) for runs in by_recipe(recorded).values()})
    if len({run["seed"] for run in recorded["runs"]}) == 1:
        seeds = f"seed {r['seed']}"
    elif len(counts_of_seeds) == 1:
        seeds = f"{counts_of_seeds[0]} seeds a recipe"
    else:
        seeds = f"{counts_of_seeds[0]} to {counts_of_seeds[-1]} seeds a recipe"
    return (f"{r['layers']} layers, width {r['width']}, context {r['context']}, {r['steps']:,} steps of "
            f"{r['batch_size']} windows, {seeds}")


def best(runs: list[dict], by: str) -> dict | None:
    """The run of lowest validation loss among those at the budget of ``by``; None when none is."""
    group = matched_group(runs, by)
    return min(group, key=lambda r: r["validation_loss"]) if group else None


def answer_finding(recorded: dict, where: str) -> str:
    """One sentence: the lowest validation loss (mean over a recipe's seeds) at equal feed-forward
    parameters and at equal multiply-adds, each with its throughput against the dense reference's
    (:func:`speeds`); ``where`` says which runs these are (data, profile, machine)."""
    runs, speed = recipe_means(recorded), speeds(recorded)
    dense = reference(runs)
    parts = []
    for by, words in (("parameters", "feed-forward parameters"), ("mult_adds", "multiply-adds")):
        winner = best(runs, by)
        if winner is None:
            parts.append(f"at equal {words} no run is recorded")
            continue
        ratio = "" if dense is None else (f", {speed[winner['recipe']] / speed[dense['recipe']]:.2f}× "
                                          f"the dense reference's training throughput")
        parts.append(f"at equal {words} {winner['structure']} ({winner['recipe']}) has the lowest validation "
                     f"loss, {winner['validation_loss']:.3f} nats per character{_of_seeds(winner)}{ratio}")
    reference_part = "" if dense is None else (f"; the dense reference at the same width reaches "
                                               f"{dense['validation_loss']:.3f}{_of_seeds(dense)}")
    return f"{where} ({scale(recorded)}): " + "; ".join(parts) + reference_part + "."


def paper_lines(recorded: dict) -> list[str]:
    """Per recipe but the dense ones: how its validation loss (mean over its seeds) and throughput
    compare with the dense reference's here, then what the papers report for its structure."""
    words = {"lower": "a lower validation loss than dense", "about equal": "about dense's validation loss",
             "higher": "a higher validation loss than dense"}
    return [f"{row['recipe']} ({row['structure']}): {words[row['against dense']]} here ({row['Δ vs dense']} nats "
            f"per character) at {row['speed × dense']}× its training throughput; {PAPERS[row['structure']]}."
            for row in verdict_rows(recorded) if row["structure"] != "dense"]
