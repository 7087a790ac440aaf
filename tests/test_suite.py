"""The notebook suite: checks before running, outputs, failures, the index, and the helpers."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import notebook_file, notebook_folder

from acdc_core.lab import notebook, suite

PARAMETERS = """steps: int = 3  # how many points to plot
scale: float = 1.0  # vertical scale
label: str = "line"  # legend label
fail: bool = False  # raise on purpose
values: list = [1, 2]  # extra values"""
BODY = """import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from acdc_core.lab.notebook import headline, output_path, record_metric, save_figure
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([scale * i for i in range(steps)], label=label)
save_figure(fig, "line")
if output_path("values.txt"):
    output_path("values.txt").write_text(str(values))
record_metric("steps", steps)
record_metric("total", scale * sum(range(steps)) + sum(values))
headline("How tall is the line?", [f"its top: {scale * (steps - 1)} units <high>"])
if fail:
    raise RuntimeError("failing on purpose")"""


def write_notebook(folder: Path, name: str) -> Path:
    return notebook_file(folder, name, PARAMETERS, BODY)


@pytest.fixture
def folder(tmp_path):
    return notebook_folder(tmp_path, PARAMETERS, BODY)


def test_list_shows_parameters_with_types_defaults_and_comments(folder):
    text = suite.list_notebooks(folder)
    assert "alpha" in text and "beta" in text
    assert "steps: int = 3  # how many points to plot" in text
    assert "profiles (notebooks/params.yaml): quick, full" in text


def test_plan_applies_profile_then_overrides_with_types(folder):
    work = suite.plan([], "full", ["scale=2.5", "fail=false", "values=[3, 4]"], folder)
    assert work["alpha"][1] == {"steps": 5, "scale": 2.5, "fail": False, "values": [3, 4]}
    assert work["beta"][1] == {"scale": 2.5, "fail": False, "values": [3, 4]}


@pytest.mark.parametrize("names, profile, overrides, words", [
    (["gamma"], "quick", [], "unknown notebook(s): gamma; valid names: alpha, beta"),
    ([], "slow", [], "unknown profile 'slow'; valid profiles: quick, full"),
    ([], "quick", ["speed=1"], "no selected notebook has a parameter 'speed'; valid parameters: fail, label"),
    ([], "quick", ["steps=many"], "steps='many' does not parse as int (default: 3)"),
    ([], "quick", ["fail=perhaps"], "does not parse as bool"),
    ([], "quick", ["values=(1, 2)"], "does not parse as list"),
    ([], "quick", ["steps"], "-p expects NAME=VALUE"),
])
def test_bad_requests_are_refused_before_running(folder, names, profile, overrides, words):
    with pytest.raises(suite.Refused) as refusal:
        suite.plan(names, profile, overrides, folder)
    assert words in str(refusal.value)


def test_profile_naming_an_unknown_parameter_is_refused(folder):
    (folder / "params.yaml").write_text("full:\n  alpha:\n    stepz: 5\n")
    with pytest.raises(suite.Refused, match="has no parameter 'stepz'; its parameters: steps"):
        suite.plan([], "full", [], folder)


def test_every_profile_of_the_project_is_valid():
    for profile in suite.profiles():
        work = suite.plan([], profile)
        assert set(work) == set(suite.available())


def run_suite(folder, out, *arguments):
    return subprocess.run([sys.executable, "-m", "acdc_core.lab.suite", "--notebooks", str(folder), "run",
                           "--out", str(out), *arguments], capture_output=True, text=True)


def test_run_writes_outputs_and_a_failure_does_not_stop_the_others(folder, tmp_path):
    out = tmp_path / "out"
    result = run_suite(folder, out, "-p", "fail=true", "alpha")
    assert result.returncode == 1 and "failed: alpha" in result.stderr
    assert not (out / "alpha.metrics.json").exists()  # a failed run leaves no metrics that look complete
    failed = nbformat.read(out / "alpha.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))
    result = run_suite(folder, out, "--profile", "full", "-p", "scale=2")
    assert result.returncode == 0, result.stderr
    assert "[1/2] alpha: ok" in result.stdout and "[2/2] beta: ok" in result.stdout
    assert json.loads((out / "alpha.metrics.json").read_text()) == {"steps": 5, "total": 23.0}
    for name in ("alpha", "beta"):
        for suffix in (".ipynb", ".html", ".metrics.json", ".line.png", ".values.txt"):
            assert (out / f"{name}{suffix}").stat().st_size > 0
    assert not list(out.glob(".*partial*"))
    index = (out / "index.html").read_text()
    assert "alpha.line.png" in index and "beta.html" in index and "2 of 2 notebooks ran" in index
    assert "<a href='beta.values.txt'>values.txt</a>" in index
    assert "<p class='question'>How tall is the line?</p>\n<ul><li>its top: 8.0 units &lt;high&gt;</li></ul>" in index
    assert "headline.json</a>" not in index and "<th>total</th>" not in index  # shown as findings, not raw
    assert "without encryption" not in result.stderr + result.stdout  # the kernels' transport is encrypted


def test_refused_run_exits_2_and_runs_nothing(folder, tmp_path):
    result = run_suite(folder, tmp_path / "out", "gamma")
    assert result.returncode == 2 and "valid names: alpha, beta" in result.stderr
    assert not (tmp_path / "out").exists()


CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute("data-images", loaded + "/" + images.length);
});
</script>"""


def images_loaded(page: Path, browser: str) -> str:
    checked = page.with_name("check-" + page.name)
    checked.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", f"--user-data-dir={page.parent / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    marker = 'data-images="'
    return dom[dom.index(marker) + len(marker):].split('"')[0] if marker in dom else "no result"


def test_every_figure_of_the_index_loads_in_chromium(folder, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed (make test installs Debian's chromium where it can)")
    out = tmp_path / "out"
    assert run_suite(folder, out).returncode == 0
    assert images_loaded(out / "index.html", browser) == "2/2"
    broken = out / "broken.html"
    broken.write_text((out / "index.html").read_text().replace("beta.line.png", "missing.png"))
    assert images_loaded(broken, browser) == "1/2"  # the check can fail


def test_helpers_write_metrics_and_figures_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("ACDC_METRICS_FILE", str(tmp_path / "m.json"))
    monkeypatch.setenv("ACDC_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ACDC_NOTEBOOK", "demo")
    notebook.record_metric("a", 1)
    notebook.record_metric("b", 0.5)
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1, "b": 0.5}
    with pytest.raises(TypeError, match="must be a number, string or boolean"):
        notebook.record_metric("c", [1, 2])
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    assert notebook.save_figure(plt.figure(figsize=(1, 1)), "tiny") == tmp_path / "demo.tiny.png"
    assert notebook.output_path("history.csv") == tmp_path / "demo.history.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.tiny.png", "m.json"]


def test_headless_helpers_draw_once_at_the_defaults_and_stay_quiet(monkeypatch):
    monkeypatch.setattr(notebook, "HEADLESS", True)
    calls = []
    notebook.interactive(lambda n, kind: calls.append((n, kind)), n=(8, 1, 64, 1), kind=("a", ["a", "b"]))
    assert calls == [(8, "a")]
    bar = notebook.progress(desc="steps", total=3)
    bar.update(3)
    bar.close()
    assert list(notebook.progress(range(3), desc="items")) == [0, 1, 2]


def test_a_widget_block_returns_nothing_and_shows_whole_labels(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "HEADLESS", False)
    shown = notebook.interactive(lambda n, sigma, kind: None, n=(8, 1, 64, 1), sigma=(0.01, 0.001, 0.5, 0.001),
                                 kind=("a", ["a", "b"]))
    text = capsys.readouterr().out
    assert shown is None and text.count("description_width='initial'") == 3 and "readout_format='.3f'" in text


def test_matplotlibs_post_execute_hooks_run_on_the_main_thread_only():
    """ipykernel 7 runs post_execute after widget messages on a subshell thread; matplotlib's hooks
    there raced the main thread's figure (a mathtext ParseException under a control)."""
    import threading
    from types import SimpleNamespace

    import matplotlib.pyplot as plt
    from IPython.core.events import EventManager

    calls = []
    def ours():
        calls.append(threading.current_thread().name)
    def redraw():  # stands in for matplotlib's own hook
        calls.append("matplotlib")
    redraw.__module__ = "matplotlib.pyplot"
    shell = SimpleNamespace(events=EventManager(None, {"post_execute": None}))
    for hook in (ours, redraw):
        shell.events.register("post_execute", hook)
    notebook.figures_drawn_on_the_main_thread(shell)
    notebook.figures_drawn_on_the_main_thread(shell)  # idempotent
    elsewhere = threading.Thread(target=shell.events.trigger, args=("post_execute",), name="subshell")
    elsewhere.start()
    elsewhere.join()
    assert calls == ["subshell"]
    shell.events.trigger("post_execute")
    assert calls == ["subshell", "MainThread", "matplotlib"]
    shell.events.register("post_execute", redraw)  # already there, wrapped
    shell.events.unregister("post_execute", redraw)  # as pyplot and the inline backend do
    assert shell.events.callbacks["post_execute"] == [ours]
    from matplotlib_inline.backend_inline import flush_figures
    assert {plt._draw_all_if_interactive.__module__, flush_figures.__module__} == {  # the hooks it guards
        "matplotlib.pyplot", "matplotlib_inline.backend_inline"}


class Handle:
    """Stands in for IPython's display handle: keeps every content the line was drawn with."""

    def __init__(self, content):
        self.contents = [content]

    def update(self, content, raw=False):
        self.contents.append(content)


def test_a_notebook_progress_line_is_plain_output_redrawn_in_place(monkeypatch):
    import IPython.display

    handles = []
    monkeypatch.setattr(IPython.display, "display", lambda content, **_: handles.append(Handle(content)) or handles[-1])
    assert list(notebook.ProgressLine(range(4), "sizes", None, leave=True)) == [0, 1, 2, 3]
    quiet = notebook.ProgressLine(None, "steps", 5, leave=False)
    quiet.update(2)
    quiet.close()
    kept, blanked = handles
    assert all(set(c) <= {"text/plain", "text/html"} for c in kept.contents + blanked.contents)  # no widget
    assert kept.contents[0]["text/plain"].startswith("sizes: 0/4, ") and "<progress value='0' max='4'>" in kept.contents[0]["text/html"]
    assert kept.contents[-1]["text/plain"].startswith("sizes: 4/4 done in ")
    assert blanked.contents[-1] == {"text/plain": ""}


def test_outside_a_notebook_the_progress_bar_is_text(monkeypatch):
    from tqdm.std import tqdm
    monkeypatch.setattr(notebook, "HEADLESS", False)
    bar = notebook.progress(range(2), desc="sizes", leave=False)
    assert type(bar) is tqdm and bar.desc == "sizes"
    bar.close()


def test_an_unreadable_notebook_is_refused_before_anything_runs(folder, tmp_path):
    (folder / "broken.ipynb").write_text("{not json")
    result = run_suite(folder, tmp_path / "out", "broken", "alpha")
    assert result.returncode == 2 and "broken.ipynb cannot be read as a notebook" in result.stderr
    assert not (tmp_path / "out").exists()
