"""Reading the CIFAR study's recorded runs: a row per run, the gaps between substituted and dense
recipes against the log's and the follow-up's, and what a run shares with the log's setting (the
recipes are :mod:`acdc_core.lab.models.cifar_recipes`', the runs :mod:`acdc_core.lab.experiments.cifar`')."""
from __future__ import annotations

from ...checks import check_choice
from ...training.data import Dataset
from ..models.cifar_recipes import CIFAR_RECIPES

CIFAR10_IMAGES = {"train": 50_000, "test": 10_000}


def log_setting(name: str, train_set: Dataset, test_set: Dataset, epochs: int) -> dict[str, tuple]:
    """What a run of recipe ``name`` for ``epochs`` epochs on these splits shares with the log's
    (whole CIFAR-10, the recipe's epochs), as :func:`~.verdicts.verdict`'s ``setting``."""
    check_choice("recipe", name, tuple(CIFAR_RECIPES))
    data = "synthetic stand-in" if train_set.synthetic else "CIFAR-10"
    return {"data": (data, "CIFAR-10"), "training images": (len(train_set), CIFAR10_IMAGES["train"]),
            "test images": (len(test_set), CIFAR10_IMAGES["test"]),
            "epochs": (epochs, CIFAR_RECIPES[name].epochs)}


def recorded_rows(recorded: dict) -> list[dict]:
    """A table row per run of a recorded results file (:mod:`acdc_core.lab.results`)."""
    return [{"recipe": r["recipe"], "seed": r["seed"], "epochs": r["epochs"],
             "test %": f"{100 * r['test_accuracy']:.2f}", "params": f"{r['parameters']:,}",
             "MA per image": f"{r['mult_adds']:.3e}", "train hours": f"{r['train_seconds'] / 3600:.2f}",
             "teacher": r.get("teacher") or "—"} for r in recorded["runs"]]


def recorded_verdicts(recorded: dict) -> list[str]:
    """For each recorded substituted run whose dense recipe is recorded too, the gap between them
    (and, with attention transfer, against the same student from scratch), then what the log and
    the follow-up work found, from the recipes' figures."""
    runs = {(r["recipe"], r["seed"]): r for r in recorded["runs"]}
    lines = []
    for (name, seed), r in runs.items():
        dense = runs.get((CIFAR_RECIPES[name].dense, seed))
        if dense is None:
            continue
        gap = 100 * (dense["test_accuracy"] - r["test_accuracy"])
        line = (f"{name} (seed {seed}): {100 * r['test_accuracy']:.2f}%, {abs(gap):.2f} points "
                f"{'below' if gap > 0 else 'above'} the dense {dense['recipe']} "
                f"({100 * dense['test_accuracy']:.2f}%), with {dense['parameters'] / r['parameters']:.1f}× "
                f"fewer parameters and {dense['mult_adds'] / r['mult_adds']:.1f}× fewer multiply-adds")
        scratch = twin(r, runs)
        if scratch is not None:
            change = 100 * (r["test_accuracy"] - scratch["test_accuracy"])
            line += f"; attention transfer: {change:+.2f} points against {scratch['recipe']} from scratch"
        lines.append(line + ".")
    return lines + [log_findings()] + verdict_lines(recorded)


def _follow_up_gap() -> float:
    """Points between the follow-up's dense WRN-28-10 and its ACDC student."""
    return 100 * (CIFAR_RECIPES["wrn28_10"].log_accuracy - CIFAR_RECIPES["wrn28_10_acdc"].log_accuracy)


def _log_transfer() -> float:
    """Points attention transfer moved the log's E23 student."""
    return 100 * (CIFAR_RECIPES["e23_distilled"].log_accuracy - CIFAR_RECIPES["e23_scratch"].log_accuracy)


def log_findings() -> str:
    """What the log and the follow-up work found, from the recipes' figures."""
    e22, wrn28, student = (CIFAR_RECIPES[n] for n in ("e22", "wrn28_10", "wrn28_10_acdc"))
    return (f"The log: E22's WRN-40-2 student with attention transfer reached "
            f"{100 * e22.log_accuracy:.1f}% after {e22.epochs} epochs (its teacher's accuracy is "
            f"not given); in E23, attention transfer moved the student {_log_transfer():+.2f} points. The "
            f"follow-up: a WRN-28-10 student {100 * student.log_accuracy:.2f}% against its dense "
            f"teacher's {100 * wrn28.log_accuracy:.1f}%, a gap of {_follow_up_gap():.1f} points, after "
            f"{student.epochs} epochs.")


def verdict_lines(recorded: dict) -> list[str]:
    """The verdict on each recorded substituted run whose dense recipe is recorded too."""
    runs = {(r["recipe"], r["seed"]): r for r in recorded["runs"]}
    return [_verdict(r, runs, _follow_up_gap(), _log_transfer()) for r in runs.values()
            if _gap(r, runs) is not None]


def answer_finding(recorded: dict | None) -> str:
    """The answer in one sentence, from a recorded profile: what the first substituted run that
    has a dense and a from-scratch twin (or else any substituted run) loses against its dense
    recipe, in points, and what attention transfer won back."""
    if recorded is None:
        return "no CIFAR-10 run is recorded (results/cifar/), so the question is not answered yet."
    runs = {(r["recipe"], r["seed"]): r for r in recorded["runs"]}
    substituted = [r for r in runs.values() if _gap(r, runs) is not None]
    if not substituted:
        return "no substituted run is recorded beside its dense recipe, so the question is not answered yet."
    run = next((r for r in substituted if twin(r, runs) is not None), substituted[0])
    scratch = twin(run, runs) or run
    dense = runs[(CIFAR_RECIPES[run["recipe"]].dense, run["seed"])]
    text = (f"On {recorded['provenance']['data']['name']}, {run['epochs']} epochs, seed {run['seed']}: "
            f"{scratch['recipe']}, with ACDC layers in place of {dense['recipe']}'s convolutions and "
            f"{dense['parameters'] / scratch['parameters']:.1f}× fewer parameters, loses {_gap(scratch, runs):.2f} "
            f"points ({100 * scratch['test_accuracy']:.2f}% against {100 * dense['test_accuracy']:.2f}%)")
    if scratch is run:
        return text + "."
    change = _gap(scratch, runs) - _gap(run, runs)
    return text + (f", and attention transfer from the dense teacher {'wins back' if change > 0 else 'loses another'} "
                   f"{abs(change):.2f} of them ({run['recipe']}: {100 * run['test_accuracy']:.2f}%).")


def twin(run: dict, runs: dict) -> dict | None:
    """For a student with attention transfer, its twin trained from scratch: the recorded run of
    the same seed whose recipe has no teacher and the same dense recipe, substitution and
    convolution options. None for a run without a teacher, or when no twin is recorded."""
    recipe = CIFAR_RECIPES[run["recipe"]]
    if not recipe.teacher:
        return None
    same = lambda other: (other.teacher is None and (other.dense, other.substitute, other.conv) ==
                          (recipe.dense, recipe.substitute, recipe.conv))
    return next((r for r in runs.values() if r["seed"] == run["seed"] and r is not run
                 and same(CIFAR_RECIPES[r["recipe"]])), None)


def _gap(run: dict, runs: dict) -> float | None:
    """Points of test accuracy by which ``run`` falls below its dense recipe's run (same seed)."""
    dense = runs.get((CIFAR_RECIPES[run["recipe"]].dense, run["seed"]))
    return None if dense is None or dense is run else 100 * (dense["test_accuracy"] - run["test_accuracy"])


def _verdict(run: dict, runs: dict, follow_up_gap: float, log_transfer: float) -> str:
    """The verdict on one substituted run: the direction and size of its gap to dense against the
    follow-up's, and for a student with attention transfer, that change against E23's."""
    gap = _gap(run, runs)
    size = "larger" if gap > follow_up_gap else "smaller"
    direction = "below dense, as in the follow-up" if gap > 0 else "above dense, unlike the follow-up"
    text = f"Verdict, {run['recipe']}: ACDC {direction}, with a {size} gap ({gap:.2f} against {follow_up_gap:.1f} points)"
    scratch = twin(run, runs)
    if scratch is not None:
        change = _gap(scratch, runs) - gap
        text += (f"; attention transfer {'helped' if change > 0 else 'did not help'} ({change:+.2f} "
                 f"points; E23: {log_transfer:+.2f})")
    return (text + f". Indicative only: {run['epochs']} epochs against the follow-up's "
            f"{CIFAR_RECIPES['wrn28_10_acdc'].epochs}, and one seed, so a point or two may be seed noise.")
