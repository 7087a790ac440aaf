"""Helpers for the notebooks: the explicit headless flag, sliders that fall back to one static
figure, figure files, headline metrics, progress lines and plain-text tables.

Figures of a run that another CPU or thread count may move in their last digits (trained
accuracies, fitted errors) are never printed in checked cells: :func:`reproduces` compares them
with the canonical refresh's, within stated tolerances.

The runner sets ``ACDC_HEADLESS=1`` (so do ``make test`` and ``make refresh``), ``ACDC_OUTPUT_DIR``
(where figures go), ``ACDC_NOTEBOOK`` (the notebook's name, prefixed to its files),
``ACDC_METRICS_FILE`` and ``ACDC_OUTPUTS_FILE`` (where ``output_path`` notes each name it hands
out, so the runner records and later deletes exactly those files). Nothing here guesses at the
frontend.
"""
from __future__ import annotations

import html
import io
import json
import math
import os
import textwrap
import threading
import time
from pathlib import Path

from ..training.files import write_atomically
from . import results

REFERENCES = results.RESULTS / "references.json"  # the canonical refresh's run-dependent figures

HEADLESS = os.environ.get("ACDC_HEADLESS", "") not in ("", "0")
RUNNER_SUFFIXES = ("ipynb", "html", "metrics.json")  # NOTEBOOK.* files the runner writes itself
HEADLINE = "headline.json"  # NOTEBOOK.headline.json: the question and findings, shown by the index
ANSWERS = results.RESULTS / "answers.json"  # each notebook's headline at the canonical refresh
MOST_FINDINGS = 5


def output_dir() -> Path | None:
    """The folder the runner asked figures and files to go to, or None when run by hand."""
    path = os.environ.get("ACDC_OUTPUT_DIR")
    return Path(path) if path else None


def output_path(name: str) -> Path | None:
    """``OUTPUT_DIR/NOTEBOOK.NAME`` for a file the notebook leaves beside its figures (the runner
    lists it in the index); None when the notebook runs by hand. ``name`` must be a plain file
    name, not one of the runner's own suffixes."""
    _check_output_name(name)
    folder = output_dir()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{os.environ.get('ACDC_NOTEBOOK', 'notebook')}.{name}"
    _note_output(target.name)
    return target


def _check_output_name(name) -> None:
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name
            or not name.isprintable() or name in RUNNER_SUFFIXES):
        raise ValueError(f"output name {name!r}: expected a plain file name without '/' or '\\', "
                         f"other than the runner's own {', '.join(RUNNER_SUFFIXES)}")


def _note_output(file_name: str) -> None:
    """Tell the runner (through ACDC_OUTPUTS_FILE) that this file is the notebook's output."""
    notes = os.environ.get("ACDC_OUTPUTS_FILE")
    if notes:
        with open(notes, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(file_name) + "\n")


def save_figure(fig, name: str) -> Path | None:
    """Write ``fig`` as ``NOTEBOOK.NAME.png`` into the output folder (atomically); None when the
    notebook runs by hand."""
    target = output_path(f"{name}.png")
    if target is None:
        return None
    write_atomically(target, lambda path: fig.savefig(path, format="png", dpi=100,
                                                      bbox_inches="tight"))
    return target


def record_metric(name: str, value) -> None:
    """Add one headline number to the notebook's metrics (a flat JSON object the runner keeps as
    ``NOTEBOOK.metrics.json``). Values must be numbers, strings or booleans."""
    if not isinstance(value, (int, float, str, bool)):
        raise TypeError(f"metric {name!r} must be a number, string or boolean, got {type(value).__name__}")
    path = os.environ.get("ACDC_METRICS_FILE")
    if not path:
        return
    target = Path(path)
    metrics = json.loads(target.read_text()) if target.exists() else {}
    metrics[name] = value
    write_atomically(target, lambda p: p.write_text(json.dumps(metrics, indent=1, sort_keys=True)))


def reproduces(notebook: str, parameters: dict, figures: dict[str, tuple[float, float]],
               references: str | os.PathLike = REFERENCES) -> None:
    """Assert that this run's ``figures`` (name -> (value, tolerance), both in the figure's unit)
    lie within their tolerances of the same figures of the canonical refresh (``make refresh``,
    which sets ``ACDC_RECORD_REFERENCE=1`` and so records them instead), and print how far each
    lies. Compares nothing, and says so, when the run's ``parameters`` are not the recorded ones."""
    path = Path(references)
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if os.environ.get("ACDC_RECORD_REFERENCE", "") not in ("", "0"):
        _update_json(path, notebook, {"parameters": parameters, "provenance": results.provenance(
            "make refresh", "the notebook's quick defaults", verified=True),
            "figures": {name: value for name, (value, _) in figures.items()}})
        print(f"{len(figures)} figures recorded as the reference of {notebook}")
        return
    reference = recorded.get(notebook)
    if reference is None or reference["parameters"] != parameters:
        print(f"no reference recorded for {notebook} with these parameters: nothing compared")
        return
    origin = reference["provenance"]
    print(f"against the reference of {origin['date']} (commit {origin['commit']}, {origin['machine']}):")
    misses = []
    for name, (value, tolerance) in figures.items():
        want = reference["figures"].get(name)
        if want is None:
            print(f"  {name}: {value:.6g}, not in the reference")
        else:
            print(f"  {name}: {value:.6g}, reference {want:.6g}, off by {abs(value - want):.3g} "
                  f"(tolerance {tolerance:g})")
        if want is None or not abs(value - want) <= tolerance:
            misses.append(name)
    assert not misses, f"{notebook}: outside their tolerances of the reference: {', '.join(misses)}"


def headline(question: str, findings: list[str]) -> None:
    """Print the notebook's question and its findings (one sentence each, numbers with their units
    and verdicts, the first answering the question; at most :data:`MOST_FINDINGS`); run by the
    suite, also keep them as ``NOTEBOOK.headline.json`` for its index, and under the canonical
    refresh (``ACDC_RECORD_REFERENCE=1``) record them as the notebook's answer (:func:`answer`)."""
    if not findings or len(findings) > MOST_FINDINGS:
        raise ValueError(f"a headline answers its question in 1 to {MOST_FINDINGS} findings, got "
                         f"{len(findings)}: put the rest in a table")
    print(textwrap.fill(question, 100))
    for finding in findings:
        print(textwrap.fill(finding, 100, initial_indent="- ", subsequent_indent="  "))
    answered = {"question": question, "findings": findings}
    target = output_path(HEADLINE)
    if target is not None:
        text = json.dumps(answered, indent=1, ensure_ascii=False)
        write_atomically(target, lambda path: path.write_text(text, encoding="utf-8"))
    notebook = os.environ.get("ACDC_NOTEBOOK")
    if notebook and os.environ.get("ACDC_RECORD_REFERENCE", "") not in ("", "0"):
        provenance = results.provenance("make refresh", "the notebook's quick defaults", verified=True)
        _update_json(ANSWERS, notebook, {**answered, "provenance": provenance})


def _update_json(path: Path, key: str, value) -> None:
    """Set ``key`` of the JSON object in ``path`` (created when absent) to ``value``, atomically."""
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    recorded[key] = value
    text = json.dumps(recorded, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    write_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))


def recorded_answer(notebook: str, answers: str | os.PathLike | None = None) -> dict | None:
    """The question, findings and provenance the canonical refresh recorded for ``notebook`` in
    ``answers`` (default: ANSWERS); None when it has recorded none."""
    path = Path(answers or ANSWERS)
    return json.loads(path.read_text(encoding="utf-8")).get(notebook) if path.is_file() else None


def answer(notebook: str, answers: str | os.PathLike | None = None) -> None:
    """Print the notebook's question and the answer its last canonical refresh recorded, with
    where and when it ran: what a notebook shows first, before its method."""
    recorded = recorded_answer(notebook, answers)
    if recorded is None:
        print(f"No answer is recorded for {notebook} yet: `make refresh` records one.")
        return
    origin = recorded["provenance"]
    print(textwrap.fill(recorded["question"], 100))
    print(f"Recorded answer (quick profile, commit {origin['commit']}, {origin['date']}, "
          f"{origin['machine']}):")
    for finding in recorded["findings"]:
        print(textwrap.fill(finding, 100, initial_indent="- ", subsequent_indent="  "))


def progress(iterable=None, *, desc: str, total: int | None = None, leave: bool = True):
    """A progress bar that says what it is doing: ``for x in progress(items, desc="sizes")``, or
    without ``iterable`` a bar advanced by ``update(n)`` and ended by ``close()``. In a notebook
    kernel it is one line of plain HTML redrawn in place (a saved notebook reopens without widget
    state); in a terminal a tqdm text bar; headless, nothing. ``leave=False`` blanks it when done."""
    if HEADLESS:
        return Quiet(iterable)
    if not _in_kernel():
        from tqdm.std import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=leave)
    return ProgressLine(iterable, desc, total, leave)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class Quiet:
    """What :func:`progress` returns headless: the iterable unchanged, ``update`` and ``close``
    doing nothing."""

    def __init__(self, iterable=None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class ProgressLine:
    """A progress line in a notebook's output: ``desc``, a bar, done/total, elapsed and remaining
    time; redrawn at most twice a second through a display handle."""

    def __init__(self, iterable, desc: str, total: int | None, leave: bool):
        from IPython.display import display

        self.iterable, self.desc, self.leave = iterable, desc, leave
        self.total = len(iterable) if total is None and hasattr(iterable, "__len__") else total
        self.done, self.began, self.drawn, self.closed = 0, time.perf_counter(), 0.0, False
        self.handle = display(self._content(), raw=True, display_id=True)

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.drawn >= 0.5 or self.done == self.total:
            self.drawn = now
            self.handle.update(self._content(), raw=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.handle.update(self._content(final=True) if self.leave else {"text/plain": ""}, raw=True)

    def _content(self, final: bool = False) -> dict:
        seconds = time.perf_counter() - self.began
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        text = f"{self.desc}: {count}, {seconds:.0f} s"
        if final:
            text = f"{self.desc}: {count} done in {seconds:.0f} s"
        elif self.total and self.done:
            text += f", about {seconds * (self.total - self.done) / self.done:.0f} s left"
        bar = "" if final or not self.total else f"<progress value='{self.done}' max='{self.total}'></progress> "
        return {"text/plain": text, "text/html": f"<div>{bar}{html.escape(text)}</div>"}


def interactive(plot, **sliders) -> None:
    """Show ``plot(**values)`` under sliders in JupyterLab; when headless, call it once with each
    slider's default. A slider is ``(default, choices)`` for a dropdown, or
    ``(default, low, high, step)`` for a numeric slider. Returns nothing (a cell ending in it
    prints nothing more)."""
    defaults = {name: spec[0] for name, spec in sliders.items()}
    if HEADLESS:
        plot(**defaults)
        return
    import ipywidgets as widgets

    figures_drawn_on_the_main_thread()
    widgets.interact(plot, **{name: _control(name, spec) for name, spec in sliders.items()})


class _MainThreadOnly:
    """A post_execute hook that runs on the main thread only; equal to the hook it wraps, so that
    unregistering that hook still finds it and registering it again adds nothing."""

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            self.hook(*args, **kwargs)

    def __eq__(self, other):
        return other is self or other is self.hook

    __hash__ = None


def figures_drawn_on_the_main_thread(shell=None) -> None:
    """Keep matplotlib's post_execute hooks (pyplot's redraw of open figures, the inline backend's
    display and close) on the main thread of ``shell`` (default: the running IPython's).

    ipykernel 7 handles some widget messages on a subshell thread and runs the post_execute hooks
    there, after each message; matplotlib's would then draw, display and close the figure the main
    thread is still building, and its text layout is not thread-safe: a control's redraw failed at
    random (a mathtext ParseException). Idempotent; nothing outside IPython."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            return
    hooks = shell.events.callbacks["post_execute"]
    hooks[:] = [_MainThreadOnly(hook) if _is_matplotlibs(hook) else hook for hook in hooks]


def _is_matplotlibs(hook) -> bool:
    return not isinstance(hook, _MainThreadOnly) and getattr(hook, "__module__", "").split(".")[0] in (
        "matplotlib", "matplotlib_inline")


def table(rows: list[dict], columns: list[str] | None = None, formats: dict | None = None) -> str:
    """A fixed-width text table of ``rows`` (dicts); ``formats`` maps a column to a format spec."""
    columns = columns or list(rows[0])
    formats = formats or {}
    cells = [[format(row.get(c, ""), formats.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _control(name: str, spec: tuple):
    """The widget of one :func:`interactive` control: a dropdown for ``(default, choices)``, else a
    slider for ``(default, low, high, step)``, updating on release."""
    import ipywidgets as widgets

    style = {"description_width": "initial"}  # the whole label, never cut
    if len(spec) == 2:
        return widgets.Dropdown(options=list(spec[1]), value=spec[0], description=name, style=style)
    default, low, high, step = spec
    if all(isinstance(v, int) for v in spec):
        kind, shown = widgets.IntSlider, {}
    else:  # show as many decimals as the step has
        kind, shown = widgets.FloatSlider, {"readout_format": f".{max(0, -math.floor(math.log10(step)))}f"}
    return kind(value=default, min=low, max=high, step=step, description=name, continuous_update=False,
                style=style, **shown)


class StopTraining(Exception):
    """Raised inside a live run (:class:`LiveRun`) once its stop was requested."""


class LiveRun:
    """What a live training function gets (see :func:`live_training`): pass :meth:`batches` as
    :func:`~acdc_core.training.train.train`'s ``progress`` and :meth:`report` as its ``on_epoch``.
    ``records`` holds the epochs' records so far; ``redraw(records)`` is called after each."""

    def __init__(self, redraw=None):
        self.records: list[dict] = []
        self.redraw = redraw
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the run to end before its next batch (the unfinished epoch's batches stay trained
        but unrecorded)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def batches(self, batches, desc: str = "", leave: bool = False):
        """The training batches unchanged, raising :class:`StopTraining` before the next one once
        :meth:`stop` was called; train's ``progress`` signature (``desc``, ``leave`` unused)."""
        for batch in batches:
            if self.stopping:
                raise StopTraining(desc)
            yield batch

    def report(self, record: dict) -> None:
        """Keep one epoch's record and redraw."""
        self.records.append(record)
        if self.redraw is not None:
            self.redraw(self.records)


def run_live(run, live: LiveRun, values: dict) -> str:
    """Call ``run(live, **values)`` until it ends or is stopped (:class:`StopTraining`); what
    happened, in words. The records and the model trained so far are kept either way."""
    try:
        run(live, **values)
    except StopTraining:
        return f"stopped after {len(live.records)} epoch(s)"
    return f"done: {len(live.records)} epoch(s)"


def live_training(run, draw, figsize: tuple[float, float], **controls) -> None:
    """Train with live controls. ``run(live, **values)`` trains with the controls' values (specs as
    for :func:`interactive`), passing ``live.batches`` and ``live.report`` of its
    :class:`LiveRun` to ``train``; ``draw(records, fig)`` draws the epochs' records so far into an
    empty matplotlib Figure of ``figsize`` inches. In JupyterLab: the controls, a start and a stop
    button, a status line and the figure, redrawn after every epoch while the run trains in a
    thread (so that stop is heard); stop ends it after the current batch. Headless: one run at the
    defaults, its figure drawn once at the end. Returns nothing."""
    defaults = {name: spec[0] for name, spec in controls.items()}
    if HEADLESS:
        import matplotlib.pyplot as plt

        live = LiveRun()
        run_live(run, live, defaults)
        draw(live.records, plt.figure(figsize=figsize))
        plt.show()
        return
    import ipywidgets as widgets
    from IPython.display import display

    figures_drawn_on_the_main_thread()
    widgets_of = {name: _control(name, spec) for name, spec in controls.items()}
    start, stop = widgets.Button(description="start"), widgets.Button(description="stop", disabled=True)
    status, image = widgets.Label("press start to train"), widgets.Image(format="png")
    status.add_class("acdc-live-status")
    image.add_class("acdc-live-figure")
    current: list[LiveRun] = []

    def show(records) -> None:
        image.value = _png(draw, records, figsize)
        if not current[0].stopping:
            status.value = f"training: {len(records)} epoch(s) done"

    def train_in_thread(live: LiveRun, values: dict) -> None:
        try:
            status.value = run_live(run, live, values)
        except Exception as error:  # shown, not lost in the thread
            status.value = f"failed: {type(error).__name__}: {error}"
        start.disabled, stop.disabled = False, True

    def started(_) -> None:
        current[:] = [LiveRun(show)]
        start.disabled, stop.disabled = True, False
        status.value = "training: first epoch"
        values = {name: control.value for name, control in widgets_of.items()}
        threading.Thread(target=train_in_thread, args=(current[0], values), daemon=True).start()

    def stopped(_) -> None:
        current[0].stop()
        stop.disabled = True
        status.value = "stopping after this batch"

    start.on_click(started)
    stop.on_click(stopped)
    display(widgets.VBox([*widgets_of.values(), widgets.HBox([start, stop, status]), image]))


def _png(draw, records: list[dict], figsize: tuple[float, float]) -> bytes:
    """``draw(records, fig)`` on a new Figure, as PNG bytes (no pyplot: safe off the main thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    draw(records, fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()
