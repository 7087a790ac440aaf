"""Recorded results: every run of a profile other than quick, kept as data in
``results/<notebook>/<profile>.json`` (committed), so notebooks render them and prose never types
a number.

A file holds ``notebook``, ``profile``, ``provenance`` (of its latest recording: ``commit``,
``date``, ``command``, ``machine``, ``data`` with its ``name`` and whether it was ``verified``) and
``runs``: one object per run with ``recipe``, ``seed``, ``data``, ``epochs``, ``test_accuracy``,
``parameters``, ``mult_adds`` (where it applies), ``train_seconds``, ``curves`` (one record per
epoch) and the run's own ``provenance``. Recording a run again (same recipe and seed) replaces it.
A file may also hold ``measurements``: named measurements of the profile's recipes made apart from
their training (a benchmark's timings), each with its own ``provenance``.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

import torch

from ..training.files import write_atomically


def _default_folder() -> Path:
    """acdc_core/lab/recorded in a wheel install; the repository's results/ in a checkout."""
    lab = Path(__file__).resolve().parent
    packaged = lab / "recorded"
    return packaged if packaged.is_dir() else lab.parents[1] / "results"


RESULTS = _default_folder()


def results_file(notebook: str, profile: str, folder: str | os.PathLike = RESULTS) -> Path:
    return Path(folder) / notebook / f"{profile}.json"


def load(notebook: str, profile: str, folder: str | os.PathLike = RESULTS) -> dict | None:
    """The recorded results of ``notebook``'s ``profile``, or None when none are recorded."""
    path = results_file(notebook, profile, folder)
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def recorded_profiles(notebook: str, folder: str | os.PathLike = RESULTS) -> dict[str, dict]:
    """Profile name -> recorded results of ``notebook``, for every profile it has results of."""
    files = sorted(Path(folder, notebook).glob("*.json"))
    return {path.stem: load(notebook, path.stem, folder) for path in files}


def by_recipe(recorded: dict) -> dict[str, list[dict]]:
    """Recipe -> its recorded runs (one per seed), in the order first recorded."""
    grouped: dict[str, list[dict]] = {}
    for run in recorded["runs"]:
        grouped.setdefault(run["recipe"], []).append(run)
    return grouped


def mean_and_spread(values: list[float], digits: int) -> str:
    """``mean ± sample standard deviation`` (the mean alone for one value), to ``digits`` places."""
    spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.{digits}f}{spread}"


def headline(recorded: dict) -> list[dict]:
    """One row per recipe of a recorded results file: its seeds, epochs (or iterations), mean test
    accuracy (%; or final MSE) ± the seeds' standard deviation, parameters and total hours."""
    rows = []
    for recipe, runs in by_recipe(recorded).items():
        seconds = [r.get("train_seconds") for r in runs]
        if "mse" in runs[0]:
            figures = {"iterations": max(r["iterations"] for r in runs),
                       "final MSE": mean_and_spread([r["mse"] for r in runs], 5)}
        else:
            figures = {"epochs": runs[0]["epochs"],
                       "test accuracy %": mean_and_spread([100 * r["test_accuracy"] for r in runs], 2)}
        rows.append({"recipe": recipe, "seeds": len(runs), **figures, "parameters": f"{runs[0]['parameters']:,}",
                     "hours": f"{sum(seconds) / 3600:.2f}" if None not in seconds else "—"})
    return rows


def record(notebook: str, profile: str, run: dict, folder: str | os.PathLike = RESULTS) -> Path:
    """Add ``run`` (a dict with at least ``recipe``, ``seed`` and ``provenance``) to the recorded
    results, replacing a run of the same recipe and seed; the file's provenance becomes the run's.
    Written atomically, under a lock on the folder (made if needed), so processes recording into
    one file at once lose none of each other's runs."""
    missing = {"recipe", "seed", "provenance"} - set(run)
    if missing:
        raise ValueError(f"a recorded run needs {sorted(missing)}; got keys {sorted(run)}")

    def add(recorded: dict) -> None:
        runs = [r for r in recorded["runs"] if (r["recipe"], r["seed"]) != (run["recipe"], run["seed"])]
        recorded.update(provenance=run["provenance"], runs=runs + [run])
    return _update(notebook, profile, add, folder)


def record_measurement(notebook: str, profile: str, name: str, measured: dict,
                       folder: str | os.PathLike = RESULTS) -> Path:
    """Keep ``measured`` (a dict with its own ``provenance``, e.g. a benchmark's timings of the
    profile's recipes) as ``measurements[name]`` of the recorded results, replacing one of that
    name; the runs and their provenance are left as they are. Written as :func:`record` writes."""
    if "provenance" not in measured:
        raise ValueError(f"a recorded measurement needs its provenance; got keys {sorted(measured)}")

    def add(recorded: dict) -> None:
        recorded.setdefault("measurements", {})[name] = measured
    return _update(notebook, profile, add, folder)


def _update(notebook: str, profile: str, change, folder) -> Path:
    """Apply ``change`` (a function altering the dict in place) to the recorded results (a new
    file's dict has no runs yet) and write them atomically, under a lock on the folder."""
    path = results_file(notebook, profile, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = load(notebook, profile, folder) or {"notebook": notebook, "profile": profile, "runs": []}
        change(recorded)
        text = json.dumps(recorded, indent=1, ensure_ascii=False) + "\n"
        return write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))
    finally:
        os.close(lock)  # releases the lock


def provenance(command: str, data_name: str, verified: bool) -> dict:
    """Where a run comes from: this checkout's commit (with "+ changes" when the tree differs from
    it; "unknown" outside a git checkout), today's date, ``command`` (:func:`portable`), this
    machine and the data. Take it when the run starts: the checkout may change while it trains."""
    return {"commit": _commit(), "date": datetime.date.today().isoformat(),
            "command": portable(command), "machine": machine(),
            "data": {"name": data_name, "verified": verified}}


def portable(command: str, here: str | os.PathLike | None = None) -> str:
    """``command`` naming no absolute path of this machine: a path inside ``here`` (default the
    current folder) becomes relative to it, any other absolute path ``.../its-last-part``."""
    here = Path(here or os.getcwd()).resolve()

    def word(token: str) -> str:
        option, equals, value = token.rpartition("=") if token.startswith("--") else ("", "", token)
        if not value.startswith("/"):
            return token
        path = Path(value)
        value = os.path.relpath(path, here) if path.is_relative_to(here) else f".../{path.name}"
        return f"{option}{equals}{value}"

    return " ".join(word(token) for token in command.split(" "))


def machine() -> str:
    """The device in words: the GPU's name, or the CPU's model and cores; torch and its threads."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name()
    else:
        device = f"{_cpu_model()}, {os.cpu_count()} cores"
    threads = torch.get_num_threads()
    return f"{device}, torch {torch.__version__}, {threads} torch thread{'s' if threads > 1 else ''}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} + changes" if changed else commit
