"""The long grids of the approximation studies, fitted in the background and recorded run by run in
``results/<notebook>/<profile>.json`` (:mod:`acdc_core.lab.results`), so a stopped grid resumes
where it was:

- ``e25`` (structure_comparison): ACDC stacks of K = 1, 2, 4, ..., 32 layers, both
  parameterisations, a permutation, the log's riffle or no shuffle between layers; E25's problem
  (M = 32, 100 samples), CG for at most 1000 iterations, 10 replicates;
- ``families`` (structure_comparison): Monarch (2, 4, 8 blocks) and butterfly matrices (K = 1, 2)
  on E25's problem and budget;
- ``e24`` (structure_comparison): linear stacks with a permutation between layers on 10,000
  samples, BFGS for at most 100 iterations, K = 2 … 32, 3 replicates;
- ``linear_approximation``: the 18 configurations of E6 and E10 (architecture × shuffle ×
  optimiser), 32 layers, 10,000 rows, 1000 steps; its full profile is replicate 0, further
  replicates draw the problem and the stack from their own seed.

Each recorded run holds ``recipe``, ``seed`` (the replicate), ``data`` (the problem), ``settings``,
``mse`` (final training MSE), ``best_mse``, ``iterations``, ``parameters``, ``train_seconds``,
``curves`` (the MSE at log-spaced steps) and ``provenance``.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ...base import parameter_count
from ...stack import StackedACDC
from .. import results
from .approximation import acdc_stack, families, fit, fit_exact, problem

E25_DEPTHS = (1, 2, 4, 8, 16, 32)
E25_SHUFFLES = ("permutation", "unriffle", "none")
E24_DEPTHS = (2, 4, 8, 16, 32)
ARCHITECTURES = ("relu+bn", "relu", "linear")
APPROXIMATION_SHUFFLES = ("permutation", "unriffle")
APPROXIMATION_OPTIMISERS = ("SGD", "Adam", "L-BFGS")


@dataclass(frozen=True)
class GridRun:
    """One fit of a grid: where it is recorded, its label, replicate, settings and the fit itself
    (``fit()`` -> (MSE after each step, model parameters))."""
    notebook: str
    recipe: str
    seed: int
    data: str
    settings: dict
    fit: Callable[[], tuple[list[float], int]]


def stack_label(parameterisation: str, shuffle: str, k: int) -> str:
    return f"ACDC {parameterisation}, {shuffle}, K={k}"


def _acdc(k: int, parameterisation: str, shuffle: str) -> Callable[[int], StackedACDC]:
    """The structure comparison's K-layer stack without biases at M = 32: seed -> model."""
    return families(32, [k], [], [], [])[f"ACDC {parameterisation}, {shuffle}"][f"K={k}"]


def e25_runs(replicates: int = 10, maxiter: int = 1000) -> list[GridRun]:
    settings = {"M": 32, "samples": 100, "method": "CG", "maxiter": maxiter}
    return [GridRun("structure_comparison", "E25 " + stack_label(p, shuffle, k), r,
                    f"E25 problem: random 32×32 W, 100 samples, replicate {r}", settings,
                    lambda k=k, p=p, shuffle=shuffle, r=r: fit_exact(_acdc(k, p, shuffle), 32, 100, r, "CG", maxiter))
            for p in ("original", "riffle") for shuffle in E25_SHUFFLES for k in E25_DEPTHS
            for r in range(replicates)]


def e24_runs(replicates: int = 3, maxiter: int = 100) -> list[GridRun]:
    settings = {"M": 32, "samples": 10_000, "method": "BFGS", "maxiter": maxiter}
    return [GridRun("structure_comparison", "E24 " + stack_label("original", "permutation", k), r,
                    f"E24 problem: random 32×32 W, 10,000 samples, replicate {r}", settings,
                    lambda k=k, r=r: fit_exact(
                        _acdc(k, "original", "permutation"), 32, 10_000, r, "BFGS", maxiter))
            for k in E24_DEPTHS for r in range(replicates)]


def approximation_configs() -> list[list[str]]:
    """The linear approximation's full grid: [architecture, shuffle, optimiser]."""
    return [list(c) for c in itertools.product(ARCHITECTURES, APPROXIMATION_SHUFFLES, APPROXIMATION_OPTIMISERS)]


def _approximation_fit(architecture: str, shuffle: str, optimiser: str, rows: int, steps: int, seed: int):
    x, y, _ = problem(32, rows, 1e-4, seed=seed)
    model = acdc_stack(32, 32, architecture, shuffle, seed=seed)
    return fit(model, x, y, optimiser, steps), parameter_count(model)


def approximation_runs(replicates: int = 1, rows: int = 10_000, steps: int = 1000) -> list[GridRun]:
    """The linear approximation's full profile is replicate 0 (problem and stack from seed 0)."""
    settings = {"n": 32, "n_layers": 32, "rows": rows, "steps": steps, "noise_variance": 1e-4}
    return [GridRun("linear_approximation", ", ".join(config), r,
                    f"random Linear(32, 32) + N(0, 1e-4) noise, {rows:,} rows", settings,
                    lambda config=config, r=r: _approximation_fit(*config, rows, steps, r))
            for config in approximation_configs() for r in range(replicates)]


def family_runs(replicates: int = 10, maxiter: int = 1000) -> list[GridRun]:
    """Monarch and butterfly matrices on E25's problem and budget (structure_comparison)."""
    settings = {"M": 32, "samples": 100, "method": "CG", "maxiter": maxiter}
    builders = families(32, [], [2, 4, 8], [], [])
    return [GridRun("structure_comparison", f"E25 {family}, {config}", r,
                    f"E25 problem: random 32×32 W, 100 samples, replicate {r}", settings,
                    lambda build=build, r=r: fit_exact(build, 32, 100, r, "CG", maxiter))
            for family in ("Monarch", "butterfly") for config, build in builders[family].items()
            for r in range(replicates)]


GRIDS = {"e25": e25_runs, "families": family_runs, "e24": e24_runs, "linear_approximation": approximation_runs}


def log_spaced(losses: list[float]) -> list[dict]:
    """The MSE at steps 0, 1, 2, 5, 10, 20, 50, ... and the last: a curve small enough to keep."""
    last = len(losses) - 1
    steps = sorted({s for s in (m * 10 ** e for e in range(7) for m in (1, 2, 5)) if s < last} | {0, last})
    return [{"step": s, "mse": losses[s]} for s in steps]


def record_run(run: GridRun, origin: dict, profile: str, folder) -> dict:
    """Fit ``run`` and record it; the recorded run."""
    start = time.perf_counter()
    losses, parameters = run.fit()
    recorded = {"recipe": run.recipe, "seed": run.seed, "data": run.data, "settings": run.settings,
                "mse": losses[-1], "best_mse": min(losses), "iterations": len(losses) - 1,
                "parameters": parameters, "train_seconds": time.perf_counter() - start,
                "curves": log_spaced(losses), "provenance": origin}
    results.record(run.notebook, profile, recorded, folder)
    return recorded


def pending(runs: list[GridRun], profile: str, folder) -> list[GridRun]:
    """The runs not yet recorded with the same settings."""
    done = set()
    for notebook in {run.notebook for run in runs}:
        for r in (results.load(notebook, profile, folder) or {"runs": []})["runs"]:
            done.add((notebook, r["recipe"], r["seed"], repr(r.get("settings"))))
    return [run for run in runs if (run.notebook, run.recipe, run.seed, repr(run.settings)) not in done]


def shard_spec(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), with 0 ≤ I < N."""
    try:
        index, shards = (int(part) for part in text.split("/"))
    except ValueError:
        index, shards = -1, 0
    if not 0 <= index < shards:
        raise argparse.ArgumentTypeError(f"expected I/N with 0 <= I < N (e.g. 0/2), got {text!r}")
    return index, shards


def main(argv=None) -> None:
    """Fit grids in the background, recording each run as it ends; a rerun fits only what is not
    recorded yet."""
    from ..command import count

    parser = argparse.ArgumentParser(description=main.__doc__.split(";")[0])
    parser.add_argument("grids", nargs="+", choices=tuple(GRIDS))
    parser.add_argument("--record", required=True, metavar="PROFILE", help="e.g. full")
    parser.add_argument("--results", default=str(results.RESULTS), help="the results folder")
    parser.add_argument("--replicates", type=count(1), default=None, help="default: each grid's own")
    parser.add_argument("--threads", type=count(1), default=None, help="torch CPU threads")
    parser.add_argument("--shard", type=shard_spec, default=(0, 1), metavar="I/N",
                        help="fit only every N-th pending run from the I-th (0 ≤ I < N): N processes "
                             "with I = 0 … N-1 share the grids")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    command = "python -m acdc_core.lab.analysis.grids " + " ".join(sys.argv[1:] if argv is None else argv)
    origin = results.provenance(command, "generated (seeded random problems)", verified=True)
    runs = [run for name in args.grids for run in
            (GRIDS[name](args.replicates) if args.replicates else GRIDS[name]())]
    todo = pending(runs, args.record, args.results)
    print(f"{len(runs) - len(todo)} of {len(runs)} runs already recorded", flush=True)
    index, shards = args.shard
    todo = todo[index::shards]
    for i, run in enumerate(todo, 1):
        recorded = record_run(run, origin, args.record, args.results)
        print(f"[{i}/{len(todo)}] {run.recipe} replicate {run.seed}: MSE {recorded['mse']:.5g} "
              f"in {recorded['train_seconds']:.0f} s", flush=True)



def summary_rows(recorded: dict, prefix: str = "") -> list[dict]:
    """One row per recorded recipe starting with ``prefix`` (dropped from its name): parameters,
    replicates, and the final MSE's mean and sample standard deviation over them."""
    rows = []
    for recipe, runs in results.by_recipe(recorded).items():
        if recipe.startswith(prefix):
            values = torch.tensor([r["mse"] for r in runs], dtype=torch.float64)
            rows.append({"recipe": recipe[len(prefix):], "params": runs[0]["parameters"], "replicates": len(runs),
                         "mse": values.mean().item(), "std": values.std().item() if len(runs) > 1 else 0.0})
    return rows


def against_acdc(rows: list[dict], family: str, acdc: str = "ACDC original, permutation") -> str:
    """One sentence on ``family``'s configurations (rows of :func:`summary_rows`, recipes
    "FAMILY, CONFIG"): each one's mean MSE against the ACDC stack with the nearest parameter count."""
    stacks = [r for r in rows if r["recipe"].startswith(acdc + ",")]
    parts = []
    for row in (r for r in rows if r["recipe"].startswith(family + ",")):
        if stacks:
            near = min(stacks, key=lambda s: abs(s["params"] - row["params"]))
            word = "below" if row["mse"] < near["mse"] else "above"
            parts.append(f"{row['recipe'][len(family) + 2:]} ({row['params']} parameters) {row['mse']:.4f}, {word} "
                         f"the {near['recipe'][len(acdc) + 2:]} stack's {near['mse']:.4f} ({near['params']})")
    return f"{family}: " + ("; ".join(parts) if parts else "not recorded") + "."


if __name__ == "__main__":
    main()
