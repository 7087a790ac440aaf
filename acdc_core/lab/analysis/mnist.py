"""Reading the MNIST study's runs against the log's: one row per recipe, seeds summarised as
mean ± std (the verdicts are :mod:`.verdicts`'; the runs are :mod:`acdc_core.lab.experiments.mnist`')."""
from __future__ import annotations

import statistics

from ..models.mnist import E1_READINGS, MNIST_MODELS
from .verdicts import ACCURACY, qualified, verdict

LOG_EPOCHS = 10  # the PyTorch MNIST example's, which the log kept
IMPROVED_GOAL = 0.985  # the improved E11's goal: mean test accuracy over 3 seeds, full MNIST, 10 epochs


def summary(runs: list) -> dict:
    """Final test accuracy over the runs (:class:`~acdc_core.lab.experiments.runner.Run`) of one
    recipe: mean, std (0 for one run), best epoch."""
    finals = [r.history.final["test_accuracy"] for r in runs]
    peaks = [max(r.history.column("test_accuracy")) for r in runs]
    return {"mean": statistics.fmean(finals), "std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "peak": statistics.fmean(peaks), "seeds": len(runs)}


def result_row(name: str, finals: list[float], parameters: int, setting: dict[str, tuple]) -> dict:
    """A table row for recipe ``name`` from its runs' final test accuracies: the log's figure (or
    the improved recipe's goal), ours as mean ± std over seeds, and the verdict under ``setting``
    (:func:`log_setting`)."""
    recipe = MNIST_MODELS[name]
    mean = statistics.fmean(finals)
    std = statistics.stdev(finals) if len(finals) > 1 else 0.0
    if recipe.log_accuracy is not None:
        log_text = f"{100 * recipe.log_accuracy:.2f}"
        word = verdict(mean, recipe.log_accuracy, ACCURACY, ours_spread=std, setting=setting)
    elif name == "e11_improved":
        log_text = f"(goal ≥ {100 * IMPROVED_GOAL:.1f})"
        word = qualified("meets the goal" if mean >= IMPROVED_GOAL else "misses the goal", setting)
    else:
        log_text, word = "—", recipe.change
    return {"model": name, "params": f"{parameters:,}", "seeds": len(finals), "log %": log_text,
            "ours %": f"{100 * mean:.2f} ± {100 * std:.2f}", "verdict": word}


def recorded_rows(recorded: dict) -> list[dict]:
    """:func:`result_row` of every recipe in a recorded results file (:mod:`acdc_core.lab.results`),
    in the order of :data:`MNIST_MODELS`, with the seeds' accuracies."""
    rows = []
    for name in MNIST_MODELS:
        runs = [r for r in recorded["runs"] if r["recipe"] == name]
        if not runs:
            continue
        setting = log_setting(runs[0]["provenance"]["data"]["name"].lower(), runs[0]["epochs"])
        row = result_row(name, [r["test_accuracy"] for r in runs], runs[0]["parameters"], setting)
        rows.append({**row, "per seed %": ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in runs)})
    return rows


def beside_full(rows: list[dict], recorded: dict | None) -> list[dict]:
    """Rows of :func:`result_row` with the recorded full profile's accuracy and verdict for the same
    recipe beside each ("—" where it is not recorded)."""
    full = {row["model"]: row for row in recorded_rows(recorded)} if recorded else {}
    missing = {"ours %": "—", "verdict": "—"}
    return [{**row, "full %": full.get(row["model"], missing)["ours %"],
             "full verdict": full.get(row["model"], missing)["verdict"]} for row in rows]


def e1_readings(recorded: dict) -> list[dict]:
    """E1's readings (:data:`~acdc_core.lab.models.mnist.E1_READINGS`) side by side from a recorded
    results file: per reading, each initialisation's accuracy against the log's and the largest
    distance from it (points); the closest reading first."""
    finals = {r["recipe"]: r["test_accuracy"] for r in recorded["runs"] if r["seed"] == 0}
    rows = []
    for reading in E1_READINGS:
        names = {init: f"e1_{init}" + ("" if reading == E1_READINGS[0] else f"_{reading}")
                 for init in ("uniform", "normal")}
        if not all(name in finals for name in names.values()):
            continue
        gaps = [100 * abs(finals[n] - MNIST_MODELS[n].log_accuracy) for n in names.values()]
        rows.append({"reading": reading, **{f"{init} %": f"{100 * finals[n]:.2f} (log {100 * MNIST_MODELS[n].log_accuracy:.2f})"
                                            for init, n in names.items()},
                     "largest distance (points)": round(max(gaps), 2)})
    return sorted(rows, key=lambda row: row["largest distance (points)"])


def log_setting(dataset: str, epochs: int) -> dict[str, tuple]:
    """What a run on ``dataset`` for ``epochs`` epochs shares with the log's (full MNIST, 10
    epochs), as :func:`~.verdicts.verdict`'s ``setting``."""
    return {"data": (dataset, "mnist"), "epochs": (epochs, LOG_EPOCHS)}


LOG_RECIPES = ("e1_uniform", "e1_normal", "e2", "e11")  # the log's networks, as its code built them


def answer_findings(recorded: dict | None) -> list[str]:
    """From a recorded full profile: whether the log's networks reach its test accuracies and the
    improved E11 its goal (one sentence: the answer), then the baselines beside E11."""
    if recorded is None:
        return ["no full profile is recorded (`acdc-suite run mnist --profile full` records one), so the "
                "question is not answered yet"]
    rows = {row["model"]: row for row in recorded_rows(recorded)}
    epochs = max(r["epochs"] for r in recorded["runs"])
    parts = [f"{name} {rows[name]['ours %']}% against the log's {rows[name]['log %']}% ({rows[name]['verdict']})"
             for name in LOG_RECIPES if name in rows]
    if "e11_improved" in rows:
        improved = rows["e11_improved"]
        parts.append(f"32 ACDC layers with no dense layer, trained better (e11_improved), reach "
                     f"{improved['ours %']}%: {improved['verdict']} of {100 * IMPROVED_GOAL:.1f}%")
    findings = [f"On {recorded['provenance']['data']['name']}, {epochs} epochs (the recorded full profile): "
                + "; ".join(parts) + "."]
    baselines = [f"{name} ({rows[name]['params']} parameters) {rows[name]['ours %']}%"
                 for name in ("dense_mlp", "convnet") if name in rows]
    if baselines:
        findings.append("baselines the log did not run, same data and epochs: " + ", ".join(baselines) + ".")
    return findings
