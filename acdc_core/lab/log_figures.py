"""The figures the 2018 research log and the follow-up paper (arXiv:1906.00859) reported, kept once.

Each :class:`Figure` holds the number at the precision the log printed it, its experiment (E1–E25 of
docs/experiments.md, or ``"follow-up"``), the setting it belongs to, its unit and its source.
Recipes, notebooks and tests read them through :func:`figure`, :func:`value` and :func:`accuracy`;
tests/test_log_figures.py checks that docs/experiments.md prints each one as :attr:`Figure.text`.
"""
import re
from dataclasses import dataclass

SECONDS = "seconds per 100 calls"
ACCURACY, ERROR = "% test accuracy", "% top-1 error"
MA = "multiply-adds"  # per 32×32 image; the log's columns say "FLOPS", its text mult-adds
FOUR = "#.4g"  # four significant figures, trailing zeros kept: how the doc prints full-precision floats


@dataclass(frozen=True)
class Figure:
    """One reported figure: ``value`` (± ``spread``, a standard deviation, where given) in ``unit``;
    ``style`` is the format spec docs/experiments.md prints it with; ``source`` is ``"log"`` or
    ``"follow-up"``."""
    experiment: str
    setting: str
    value: float
    unit: str
    style: str
    spread: float | None = None
    source: str = "log"

    @property
    def text(self) -> str:
        """The figure as the doc prints it, e.g. ``"0.009839 ± 0.001569"``; a lower-case exponent
        drops its ``+0`` (``"3.65e7"``), an upper-case one keeps the log's form (``"1.83065E+07"``)."""
        def show(x: float) -> str:
            return re.sub(r"e\+0?", "e", format(x, self.style))
        return show(self.value) + ("" if self.spread is None else f" ± {show(self.spread)}")


def _table(experiment: str, unit: str, style: str, values: dict) -> list[Figure]:
    """One figure per ``setting: value`` of ``values``; a value may be a ``(value, spread)`` pair."""
    pairs = {setting: v if isinstance(v, tuple) else (v, None) for setting, v in values.items()}
    return [Figure(experiment, setting, v, unit, style, spread) for setting, (v, spread) in pairs.items()]


def _e18(network: str, rows: dict) -> list[Figure]:
    """E18's (multiply-adds, parameters) pairs of one network, keyed by its table's row."""
    return [Figure("E18", f"{network}, {row}", number, unit, ".5E")
            for row, pair in rows.items() for number, unit in zip(pair, (MA, "parameters"))]


_E25 = {  # the log's 6 November table: K -> (mean, std) of the final MSE over 10 replicates
    "permutation": {
        1: (0.039945361018180844, 0.005887363463677418), 2: (0.02196877747774124, 0.0013313392086725547),
        4: (0.016572200693190098, 0.0012870614529237553), 8: (0.012996809277683496, 0.0012446588624042596),
        16: (0.011954690515995025, 0.0024686511387117167), 32: (0.009839443862438202, 0.0015687459345148055),
    },
    "riffle": {
        1: (0.03738211020827294, 0.0022882278375070462), 2: (0.022296894714236258, 0.0009171796806360699),
        4: (0.01644732430577278, 0.0011384906728047184), 8: (0.015047317650169135, 0.002108139076455881),
        16: (0.014236731920391321, 0.0014999212816127136), 32: (0.01347635304555297, 0.00204254258469781),
    },
    "none": {
        1: (0.042672832310199735, 0.003499810547424213), 2: (0.021928032301366328, 0.0008551766909467213),
        4: (0.016392393223941325, 0.0006724853495840596), 8: (0.016679145488888027, 0.001682481027513029),
        16: (0.019225401058793067, 0.001956640781136026), 32: (0.021551229804754258, 0.0015830259807328492),
    },
}

_E9 = {  # N -> (std, mean) of a 16-layer linear stack's effective weight entries
    4: (1.0834022760391235, 0.03615774214267731), 8: (0.6777600646018982, 0.20750541985034943),
    16: (0.6487581133842468, 0.08766232430934906), 32: (0.429548442363739, -0.01238858513534069),
    64: (0.3179543614387512, 0.044064365327358246), 128: (0.22509363293647766, 0.005937715992331505),
    256: (0.1555483341217041, 0.0009372985805384815),
}

FIGURES = (
    # 4 October: MNIST (E1, E2) and speed (E3, E4; the TensorFlow side check has no number)
    Figure("E1", "uniform(-1, 1) init", 96.57, ACCURACY, ".2f"),  # 9657 / 10000
    Figure("E1", "uniform(-1, 1) init", 0.1120, "test loss", ".4f"),
    Figure("E1", "N(1, 1e-2) init", 95.18, ACCURACY, ".2f"),  # 9518 / 10000
    Figure("E1", "N(1, 1e-2) init", 0.3903, "test loss", ".4f"),
    Figure("E2", "32 layers to 10 outputs", 55.41, ACCURACY, ".2f"),  # 5541 / 10000
    Figure("E2", "32 layers to 10 outputs", 1.6744, "test loss", ".4f"),
    *_table("E3", SECONDS, FOUR, {  # GPU, unsynchronised
        "packing disabled, Linear": 0.007770444266498089, "packing disabled, ACDC": 0.5301398802548647,
        "packing enabled, Linear": 0.005231818184256554, "packing enabled, ACDC": 0.529364119283855}),
    *_table("E4", SECONDS, FOUR, {
        "GPU, first run, dct1": 0.01097189262509346, "GPU, first run, dct": 0.2719538463279605,
        "GPU, first run, idct": 0.1428453316912055, "GPU, first run, Linear": 0.00483915489166975,
        "CPU, dct1": 1.1211627703160048, "CPU, dct": 2.0362922428175807,
        "CPU, idct": 3.8709053453058004, "CPU, Linear": 4.468587472103536,
        "GPU, dct1": 0.010546403005719185, "GPU, dct": 0.2743651457130909,
        "GPU, idct": 0.14596352353692055, "GPU, Linear": 0.004489514045417309}),
    # 5 October: the linear problem (E6) and DCT variants (E7)
    Figure("E6", "BatchNorm and ReLU, SGD: a floor the loss never went below", 1.0, "MSE", ".1f"),
    *_table("E7", SECONDS, FOUR, {
        "CPU, dct1": 1.0706987995654345, "CPU, dct": 1.982983972877264, "CPU, idct": 3.213463810272515,
        "CPU, rfft": 0.631943185813725, "CPU, FasterDCT": 3.719810419715941, "CPU, Linear": 4.693692773580551,
        "GPU, dct1": 0.010924047790467739, "GPU, dct": 0.27390200551599264, "GPU, idct": 0.14248866774141788,
        "GPU, rfft": 0.004178566858172417, "GPU, FasterDCT": 0.030473709106445312,
        "GPU, Linear": 0.006033767946064472, "GPU, dense DCT": 0.004221102222800255}),
    # 6 October: effective weights (E9), the dense parameterisation (E10, E11), CIFAR-10 (E12, E13)
    *_table("E9", "std of W's entries", FOUR, {f"N={n}": std for n, (std, _) in _E9.items()}),
    *_table("E9", "mean of W's entries", FOUR, {f"N={n}": mean for n, (_, mean) in _E9.items()}),
    Figure("E10", "permutation", 0.0198, "MSE", "g"),
    Figure("E10", "riffle", 0.0208, "MSE", "g"),
    Figure("E11", "32 layers, no Linear", 97.41, ACCURACY, ".2f"),  # 9741 / 10000
    Figure("E11", "32 layers, no Linear", 0.0952, "test loss", ".4f"),
    Figure("E12", "shortcuts → 12-layer stacks, ~40 epochs", 82, ACCURACY, "g"),
    Figure("E12", "shortcuts → 12-layer stacks, ~40 epochs", 89, "% training accuracy", "g"),
    Figure("E13", "shortcuts → one layer, 50 epochs", 85, ACCURACY, "g"),
    Figure("E13", "shortcuts → one layer, 50 epochs", 90, "% training accuracy", "g"),
    # 8–12 October: the riffle parameterisation (E14), most convolutions (E15), collapsed stacks (E16)
    Figure("E14", "shortcuts, riffle parameterisation, 70+ epochs", 92, ACCURACY, "g"),
    Figure("E14", "shortcuts, riffle parameterisation, 70+ epochs", 99, "% training accuracy", "g"),
    Figure("E15", "most convolutions", 69.810, ACCURACY, ".3f"),  # 6981 / 10000
    Figure("E15", "most convolutions", 0.985, "test loss", "g"),
    Figure("E15", "most convolutions", 83.334, "% training accuracy", ".3f"),  # 41667 / 50000
    Figure("E15", "most convolutions", 0.473, "training loss", "g"),
    Figure("E15", "dense ResNet18", 91, ACCURACY, "g"),  # "about 91%", like the rest at 79 epochs
    *_table("E16", SECONDS, FOUR, {"stacked": 0.35135913360863924, "collapsed": 0.21031779795885086}),
    # 13–22 October: cost tables (E18, E23) and WideResNets (E19–E23)
    *_e18("Tiny ConvNet", {"dense": (1.83065e7, 8.96740e4), "ACDC, 13 Oct": (2.18184e5, 9.03400e3),
                           "ACDC, corrected": (2.94185e7, 9.03400e3),
                           "ACDC, cheaper form per layer": (2.76143e6, 1.83400e3)}),
    *_e18("ResNet18", {"dense": (5.55423e8, 1.11740e7), "ACDC, 13 Oct": (4.14427e6, 1.20650e5),
                       "ACDC, corrected": (2.31831e8, 1.20650e5),
                       "ACDC, cheaper form per layer": (2.26888e7, 2.59300e4)}),
    *_e18("WRN-40-2", {"dense": (3.28304e8, 2.24355e6), "ACDC, 13 Oct": (3.78971e6, 7.70180e4),
                       "ACDC, corrected": (2.43861e8, 7.70180e4),
                       "ACDC, cheaper form per layer": (2.46428e7, 2.32580e4)}),
    Figure("E19", "weight decay 5e-4", 34.660, ERROR, ".3f"),
    Figure("E19", "weight decay 5e-4", 3.090, "% top-5 error", ".3f"),
    Figure("E19", "weight decay 8.8e-6", 8.760, ERROR, ".3f"),
    Figure("E19", "weight decay 8.8e-6", 0.260, "% top-5 error", ".3f"),
    Figure("E20", "from scratch", 12.020, ERROR, ".3f"),
    Figure("E20", "from scratch", 0.410, "% top-5 error", ".3f"),
    Figure("E20", "attention transfer", 13.400, ERROR, ".3f"),
    Figure("E20", "attention transfer", 0.760, "% top-5 error", ".3f"),
    Figure("E22", "separable, full-rank 3×3, 150 epochs", 91.5, ACCURACY, "g"),
    Figure("E23", "WRN-40-2, full-rank 3×3", 3.32076e7, MA, ".5E"),
    Figure("E23", "WRN-40-2, full-rank 3×3", 4.64420e4, "parameters", ".5E"),
    Figure("E23", "WRN-40-2, ACDC 3×3", 3.32076e7, MA, ".5E"),
    Figure("E23", "WRN-40-2, ACDC 3×3", 3.87140e4, "parameters", ".5E"),
    *_table("E23", ERROR, ".2f", {"from scratch, full-rank 3×3": 10.64, "from scratch, ACDC 3×3": 13.46,
                                  "attention transfer, full-rank 3×3": 10.13,
                                  "attention transfer, ACDC 3×3": 14.07}),
    # 5–6 November: random matrices (E24, E25)
    *_table("E24", "MSE", FOUR, {"2 layers": 0.029214851558208466, "4 layers": 0.029352974146604538,
                                 "8 layers": 0.027544179931282997, "16 layers": 0.024741271510720253,
                                 "32 layers": 0.02224716544151306}),
    *_table("E25", "MSE", FOUR, {f"K={k}, {shuffle}": pair for shuffle, by_k in _E25.items()
                                 for k, pair in by_k.items()}),
    # the follow-up paper: WRN-28-10 on CIFAR-10
    Figure("follow-up", "WRN-28-10 teacher", 3.65e7, "parameters", ".2e", source="follow-up"),
    Figure("follow-up", "WRN-28-10 teacher", 5.25e9, MA, ".2e", source="follow-up"),
    Figure("follow-up", "WRN-28-10 teacher", 3.3, ERROR, "g", source="follow-up"),  # "about 3.3%"
    Figure("follow-up", "WRN-28-10 ACDC student", 5.55e5, "parameters", ".2e", source="follow-up"),
    Figure("follow-up", "WRN-28-10 ACDC student", 7.99e8, MA, ".2e", source="follow-up"),
    Figure("follow-up", "WRN-28-10 ACDC student", 4.99, ERROR, "g", source="follow-up"),
    Figure("follow-up", "width above which a 12-layer stack beats one dense product", 600, "channels", "g",
           source="follow-up"),  # "roughly 600"
)


def figures(experiment: str | None = None, setting: str | None = None,
            unit: str | None = None) -> list[Figure]:
    """Every figure of ``experiment`` (``"E11"``, ``"follow-up"``) with that setting and unit
    (``None``: any)."""
    return [f for f in FIGURES if experiment in (None, f.experiment) and setting in (None, f.setting)
            and unit in (None, f.unit)]


def figure(experiment: str, setting: str | None = None, unit: str | None = None) -> Figure:
    """The one figure that matches (see :func:`figures`); ``KeyError`` naming the candidates when
    none or several do."""
    found = figures(experiment, setting, unit)
    if len(found) != 1:
        candidates = [(f.setting, f.unit) for f in figures(experiment)]
        raise KeyError(f"{len(found)} figures of {experiment} match setting={setting!r}, unit={unit!r}; "
                       f"its figures: {candidates}")
    return found[0]


def value(experiment: str, setting: str | None = None, unit: str | None = None) -> float:
    """The number of :func:`figure`, in its unit (seconds per 100 calls, MSE, %, ...)."""
    return figure(experiment, setting, unit).value


def accuracy(experiment: str, setting: str | None = None) -> float:
    """A test accuracy in [0, 1]: the figure in % test accuracy, or else 1 − its % top-1 error / 100
    (rounded to 10 decimals, so that 96.57% reads 0.9657)."""
    unit = ACCURACY if figures(experiment, setting, ACCURACY) else ERROR
    number = value(experiment, setting, unit)
    return round(number / 100 if unit == ACCURACY else 1 - number / 100, 10)
