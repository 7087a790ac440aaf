"""Draw the README's figure from recorded results: full-MNIST test accuracy against parameter
count for every recipe of ``results/mnist/full.json`` (one dot per seed), ACDC networks beside
the dense ones.

    python docs/front_figure.py [OUT.png]    (default docs/mnist_accuracy_parameters.png)
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from acdc_core.lab import results  # noqa: E402
from acdc_core.training.files import write_atomically  # noqa: E402

SHOWN = ("e1_uniform", "e1_normal", "e2", "e11", "e11_improved", "dense_mlp", "convnet")
DENSE = ("dense_mlp", "convnet")  # the recipes with no ACDC layer
LIFT = {"e11_improved": 5, "e11": -11}  # label offsets (points) where two recipes share a size
OUT = Path(__file__).resolve().parent / "mnist_accuracy_parameters.png"


def draw(recorded: dict):
    """The figure: test accuracy (%) against parameters (log scale), one dot per run of the
    :data:`SHOWN` recipes."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for recipe, runs in results.by_recipe(recorded).items():
        if recipe not in SHOWN:
            continue
        dense = recipe in DENSE
        xs = [run["parameters"] for run in runs]
        ys = [100 * run["test_accuracy"] for run in runs]
        ax.scatter(xs, ys, marker="s" if dense else "o", color="tab:gray" if dense else "tab:blue",
                   s=28, zorder=3)
        ax.annotate(recipe, (xs[0], sum(ys) / len(ys)), xytext=(7, LIFT.get(recipe, -3)),
                    textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale)")
    ax.set_ylabel("test accuracy (%)")
    origin = recorded["provenance"]
    ax.set_title(f"Full MNIST, {recorded['runs'][0]['epochs']} epochs: ACDC networks (blue) "
                 f"and dense ones (grey)", fontsize=10)
    ax.grid(True, alpha=0.3)
    fig.text(0.01, 0.01, f"results/mnist/full.json ({origin['date']}, {origin['machine']})",
             fontsize=7, color="0.4")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def main(argv: list[str]) -> int:
    recorded = results.load("mnist", "full")
    if recorded is None:
        print("results/mnist/full.json is not recorded: nothing to draw", file=sys.stderr)
        return 2
    target = Path(argv[0]) if argv else OUT
    fig = draw(recorded)
    write_atomically(target, lambda path: fig.savefig(path, format="png", dpi=100))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
