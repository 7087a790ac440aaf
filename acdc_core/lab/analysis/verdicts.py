"""One rule for setting a result of ours beside the log's, used by every notebook.

A result is **reproduced** when it lies within the tolerance of the log's: the larger of the
metric's floor (an absolute amount, or a fraction of the log's value) and two standard deviations
of the difference, ``2·sqrt(ours_spread² + log_spread²)``, from whichever spreads are known.
Outside it, the result is **better** or **worse** according to the metric's direction (accuracy:
higher is better; an error or MSE: lower is). The word is marked **indicative** when the run
differs from the log's in length, size or data; :func:`differences` says how, once per table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """How one kind of result is compared: ``floor`` is the smallest tolerance, in the metric's
    units, or as a fraction of the log's value when ``relative``."""
    name: str
    higher_is_better: bool
    floor: float
    relative: bool = False


ACCURACY = Metric("accuracy", higher_is_better=True, floor=0.005)  # half a percentage point
MSE = Metric("MSE", higher_is_better=False, floor=0.25, relative=True)  # a quarter of the log's


def tolerance(metric: Metric, log: float, ours_spread: float = 0.0, log_spread: float = 0.0) -> float:
    """How far from the log's value ``log`` a result still counts as reproduced."""
    floor = metric.floor * abs(log) if metric.relative else metric.floor
    return max(floor, 2 * math.hypot(ours_spread, log_spread))


def differences(setting: dict[str, tuple]) -> str:
    """The entries of ``setting`` (name -> (ours, the log's)) that differ, as text; "" if none."""
    return ", ".join(f"{name} {ours} (the log: {theirs})"
                     for name, (ours, theirs) in setting.items() if ours != theirs)


def qualified(word: str, setting: dict[str, tuple] | None = None) -> str:
    """``word``, marked "(indicative)" when the run's ``setting`` differs from the log's."""
    return f"{word} (indicative)" if differences(setting or {}) else word


def verdict(ours: float | None, log: float | None, metric: Metric, ours_spread: float = 0.0,
            log_spread: float = 0.0, setting: dict[str, tuple] | None = None) -> str:
    """"reproduced", "better" or "worse" for our result ``ours`` against the log's ``log`` (see the
    module docstring), marked indicative when ``setting`` differs; "no log result" or "not run"
    when either is missing.

    Args:
        ours, log: the two results, in the metric's units.
        ours_spread, log_spread: their standard deviations over seeds or replicates (0: unknown).
        setting: what the runs are made of, name -> (ours, the log's): epochs, steps, rows, data.
    """
    if log is None:
        return "no log result"
    if ours is None:
        return "not run"
    if abs(ours - log) <= tolerance(metric, log, ours_spread, log_spread):
        word = "reproduced"
    else:
        word = "better" if (ours > log) == metric.higher_is_better else "worse"
    return qualified(word, setting)


def describe(metric: Metric) -> str:
    """The rule for ``metric`` in one sentence, for a notebook to print above its comparison."""
    floor = f"{metric.floor:.0%} of the log's value" if metric.relative else f"{metric.floor:g}"
    direction = "higher" if metric.higher_is_better else "lower"
    return (f"{metric.name}: reproduced within the larger of {floor} and two standard deviations "
            f"of the difference (ours and the log's where known); otherwise better ({direction}) "
            f"or worse; indicative when the run differs from the log's in length, size or data.")
