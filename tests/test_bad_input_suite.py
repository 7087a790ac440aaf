"""The suite against bad input: every refusal names what is wrong, comes before anything runs or
is written, and no file the suite did not write is ever deleted or written over."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import notebook_file, notebook_folder

from acdc_core.lab import notebook, suite

PARAMETERS = """steps: int = 3
scale: float = 1.0
label: str = "one"
fail: bool = False
values: list = [1, 2]
options: dict = {"a": 1}
by_index: dict = {1: "x"}
untyped = 5
sizes: list[int] = [1]"""
BODY = """from acdc_core.lab.notebook import output_path, record_metric
output_path("notes.txt")  # asked for, never written: a user's file of that name stays the user's
output_path(f"{label}.txt").write_text(label)
record_metric("steps", steps)"""


def write_notebook(folder: Path, name: str) -> Path:
    return notebook_file(folder, name, PARAMETERS, BODY)


@pytest.fixture
def folder(tmp_path):
    return notebook_folder(tmp_path, PARAMETERS, BODY)


def snapshot(root: Path) -> dict:
    """Every file under ``root``: its bytes, or for a link where it points."""
    return {str(p.relative_to(root)): ("link", os.readlink(p)) if p.is_symlink() else p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}


def survivors(before: dict, root: Path) -> dict:
    """The entries of ``before`` as they are now (None where gone)."""
    after = snapshot(root)
    return {name: after.get(name) for name in before}


def cli(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "acdc_core.lab.suite", *map(str, argv)],
                          capture_output=True, text=True)


def assert_refused(result, *words):
    """Exit status 2, one line on stderr (no traceback) naming each of ``words``."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("acdc-suite: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert str(word) in lines[0]


def main_refused(capsys, *argv, words=()):
    """``suite.main`` in this process: exit status 2 and one line on stderr naming ``words``."""
    try:
        code = suite.main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    captured = capsys.readouterr()
    assert_refused(subprocess.CompletedProcess(argv, code, captured.out, captured.err), *words)


def refused(call, *words):
    with pytest.raises(suite.Refused) as refusal:
        call()
    for word in words:
        assert str(word) in str(refusal.value)
    return str(refusal.value)


# Data loss: --out


def test_out_equal_to_the_notebooks_folder_is_refused_and_nothing_changes(folder, tmp_path):
    (folder / "alpha.notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    result = cli("--notebooks", folder, "run", "--out", folder)
    assert_refused(result, f"--out {folder}", "folder of the notebooks")
    assert snapshot(tmp_path) == before


def test_out_equal_to_a_chosen_notebooks_own_folder_is_refused(folder, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_notebook(elsewhere, "gamma")
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", elsewhere / "gamma.ipynb", "--out", elsewhere,
                 words=[elsewhere, "folder of the notebooks"])
    assert snapshot(tmp_path) == before


def test_out_linked_to_the_notebooks_folder_is_refused(folder, tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(folder)
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "--out", link,
                 words=[link, folder.resolve()])
    assert snapshot(tmp_path) == before


def test_out_naming_an_existing_file_is_refused(folder, tmp_path, capsys):
    file = tmp_path / "results.txt"
    file.write_text("keep")
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "--out", file,
                 words=[file, "existing file", "expected a folder"])
    assert snapshot(tmp_path) == before


def test_out_under_an_existing_file_is_refused(folder, tmp_path, capsys):
    file = tmp_path / "results.txt"
    file.write_text("keep")
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "--out", file / "sub",
                 words=[file / "sub", f"{file} is not a folder"])
    assert snapshot(tmp_path) == before


def test_empty_out_is_refused(folder, capsys):
    main_refused(capsys, "--notebooks", folder, "run", "--out", "", words=["--out", "is empty"])


# Data loss: what an output folder holds


def test_files_the_suite_would_write_over_unrecorded_are_refused(folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "alpha.html").write_text("a user's page")
    (out / "index.html").write_text("a user's index")
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "alpha", "--out", out,
                 words=["alpha.html", "index.html", "no earlier run recorded"])
    assert snapshot(tmp_path) == before


def test_a_recorded_output_replaced_by_a_link_is_neither_deleted_nor_written_through(
        folder, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "precious.html").write_text("precious")
    (out / "alpha.html").symlink_to(tmp_path / "precious.html")
    (out / suite.RECORD).write_text(json.dumps({"version": 1, "files": {"alpha": ["alpha.html"]}}))
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "alpha", "--out", out, words=["alpha.html"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("entry", ["../victim.txt", "/tmp/victim.txt", "alpha.x/../../victim.txt",
                                   "beta.html", "", ".", "..", "alpha\\..\\victim.txt", 3])
def test_a_hand_edited_record_never_leads_outside_its_notebooks_files(folder, tmp_path, capsys, entry):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "victim.txt").write_text("victim")
    (out / "beta.html").write_text("beta's")
    record = {"version": 1, "files": {"alpha": ["alpha.html", entry], "beta": ["beta.html"]}}
    (out / suite.RECORD).write_text(json.dumps(record))
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "alpha", "--out", out,
                 words=[suite.RECORD, "damaged", f"holds {entry!r};"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("text, words", [
    ("{not json", ["damaged"]),
    ("[]", ["damaged", "expected"]),
    ('{"version": 2, "files": {}}', ["damaged", "'version': 2"]),
    ('{"version": 1, "files": []}', ["damaged", "expected"]),
    ('{"version": 1, "files": {"a.b": ["a.b.html"]}}', ["damaged", "'a.b'"]),
    ('{"version": 1, "files": {"../x": ["../x.html"]}}', ["damaged", "'../x'"]),
    ('{"version": 1, "files": {"alpha": "alpha.html"}}', ["damaged", "'alpha.html'"]),
])
def test_a_damaged_record_is_refused(folder, tmp_path, capsys, text, words):
    out = tmp_path / "out"
    out.mkdir()
    (out / suite.RECORD).write_text(text)
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "run", "--out", out, words=[suite.RECORD, *words])
    assert snapshot(tmp_path) == before


def test_a_record_that_is_a_folder_is_refused(folder, tmp_path, capsys):
    out = tmp_path / "out"
    (out / suite.RECORD).mkdir(parents=True)
    main_refused(capsys, "--notebooks", folder, "run", "--out", out, words=[suite.RECORD, "damaged"])


def test_clearing_deletes_recorded_plain_files_only(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "precious.png").write_text("precious")
    (out / "alpha.linked.png").symlink_to(tmp_path / "precious.png")
    (out / "alpha.folder.png").mkdir()
    (out / "alpha.old.png").write_text("stale")
    (out / "alpha.notes.txt").write_text("mine")
    names = ["alpha.linked.png", "alpha.folder.png", "alpha.old.png", "alpha.gone.png"]
    (out / suite.RECORD).write_text(json.dumps({"version": 1, "files": {"alpha": names}}))
    suite.Record(out).clear("alpha")
    assert sorted(p.name for p in out.iterdir()) == [suite.RECORD, "alpha.folder.png",
                                                    "alpha.linked.png", "alpha.notes.txt"]
    assert (tmp_path / "precious.png").read_text() == "precious"
    assert json.loads((out / suite.RECORD).read_text())["files"] == {"alpha": []}


# Data loss: runs


def test_glob_characters_in_names_delete_nothing_unrelated(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name in ("a*", "[ab]"):
        write_notebook(notebooks, name)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("ab.html", "a.html", "b.notes.txt", "aX.ipynb", "a*x.txt"):
        (out / name).write_text(name)
    before = snapshot(tmp_path)
    for _ in range(2):  # the second run clears the first one's outputs
        result = cli("--notebooks", notebooks, "run", "--out", out, "a*", "[ab]")
        assert result.returncode == 0, result.stderr
    assert survivors(before, tmp_path) == before
    assert (out / "a*.one.txt").read_text() == "one" and (out / "[ab].html").exists()


def test_a_rerun_deletes_only_what_the_last_run_recorded(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "alpha.notes.txt").write_text("mine")  # the notebook asks output_path for it, never writes
    (out / "alpha.draft.txt").write_text("mine too")
    before = snapshot(tmp_path)
    assert cli("--notebooks", folder, "run", "alpha", "--out", out).returncode == 0
    assert (out / "alpha.one.txt").read_text() == "one"
    result = cli("--notebooks", folder, "run", "alpha", "--out", out, "-p", "label=two")
    assert result.returncode == 0, result.stderr
    assert survivors(before, tmp_path) == before
    assert not (out / "alpha.one.txt").exists()  # stale: the last run wrote it and recorded it
    index = (out / "index.html").read_text()
    assert "alpha.two.txt" in index and "alpha.one.txt" not in index and "notes.txt" not in index
    recorded = json.loads((out / suite.RECORD).read_text())["files"]
    assert recorded == {"alpha": ["alpha.html", "alpha.ipynb", "alpha.metrics.json", "alpha.two.txt"],
                        "index": ["index.html"]}


@pytest.mark.parametrize("name", ["../escape.txt", "sub/x.txt", "", "..", "html", "ipynb",
                                  "metrics.json", "a\\b.txt", "line\n.txt"])
def test_output_path_refuses_names_outside_the_notebooks_own_files(tmp_path, monkeypatch, name):
    monkeypatch.setenv("ACDC_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("ACDC_NOTEBOOK", "demo")
    with pytest.raises(ValueError) as error:
        notebook.output_path(name)
    assert repr(name) in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_output_path_notes_each_name_it_hands_out(tmp_path, monkeypatch):
    monkeypatch.setenv("ACDC_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("ACDC_NOTEBOOK", "demo")
    monkeypatch.setenv("ACDC_OUTPUTS_FILE", str(tmp_path / "notes.jsonl"))
    notebook.output_path("history.csv")
    notebook.output_path("plot.png")
    lines = (tmp_path / "notes.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == ["demo.history.csv", "demo.plot.png"]


# Notebooks and folders


def test_a_notebook_path_that_does_not_exist_is_refused_not_taken_by_name(folder, tmp_path):
    missing = tmp_path / "nowhere" / "alpha.ipynb"
    before = snapshot(tmp_path)
    result = cli("--notebooks", folder, "run", missing, "--out", tmp_path / "out")
    assert_refused(result, missing, "does not exist")
    assert snapshot(tmp_path) == before


def test_a_bare_notebook_file_name_is_a_path_too(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused(lambda: suite.resolve(["alpha.ipynb"], folder), "alpha.ipynb", "does not exist")
    assert suite.resolve(["notebooks/alpha.ipynb"], folder) == {"alpha": folder / "alpha.ipynb"}


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_notebooks_folder_that_is_not_a_folder_is_refused(tmp_path, capsys, make):
    folder = tmp_path / "notebooks"
    if make == "file":
        folder.write_text("not a folder")
    for command in (["list"], ["run"], ["refresh"]):
        main_refused(capsys, "--notebooks", folder, *command, words=[f"--notebooks {folder}"])
    refused(lambda: suite.plan([], folder=folder), folder)


def test_an_empty_notebooks_argument_is_refused(capsys):
    main_refused(capsys, "--notebooks", "", "list", words=["--notebooks", "is empty"])


def test_a_folder_without_notebooks_is_refused(tmp_path):
    refused(lambda: suite.plan([], folder=tmp_path), tmp_path, "no notebooks")


@pytest.mark.parametrize("content, words", [
    ("hello", ["does not appear to be JSON"]),
    ("[]", ["cannot be read as a notebook"]),
    ("{}", ["cannot be read as a notebook"]),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
     ["cannot be read as a notebook"]),
    (b"\xff\xfe\x00", ["cannot be read as a notebook"]),
])
def test_a_file_that_is_not_a_notebook_is_refused(folder, content, words):
    path = folder / "broken.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refused(lambda: suite.plan(["broken", "alpha"], folder=folder), path, *words)
    refused(lambda: suite.plan([str(path)], folder=folder), path, *words)


def test_a_path_that_is_not_a_notebook_file_is_refused(folder, tmp_path):
    (tmp_path / "notes.txt").write_text("text")
    (tmp_path / "folder.ipynb").mkdir()
    refused(lambda: suite.resolve([str(tmp_path / "notes.txt")], folder), "notes.txt",
            "expected a file ending in .ipynb, got a file")
    refused(lambda: suite.resolve([str(tmp_path / "folder.ipynb")], folder), "folder.ipynb",
            "got a folder")


def test_a_folder_named_like_a_notebook_in_the_notebooks_folder_is_refused(folder):
    (folder / "gamma.ipynb").mkdir()
    refused(lambda: suite.plan([], folder=folder), folder / "gamma.ipynb", "got a folder")


@pytest.mark.parametrize("names", [["alpha", "alpha"], ["alpha", "ALPHA_PATH"], ["alpha", "alpha.ipynb"]])
def test_a_notebook_named_twice_is_refused(folder, tmp_path, monkeypatch, names):
    monkeypatch.chdir(folder)
    names = [str(folder / "alpha.ipynb") if n == "ALPHA_PATH" else n for n in names]
    refused(lambda: suite.plan(names, folder=folder), "'alpha' is named twice")


@pytest.mark.parametrize("stem", ["a.b", "index", "INDEX", "tab\there"])
def test_a_notebook_name_outputs_could_collide_on_is_refused(folder, stem):
    write_notebook(folder, stem)
    refused(lambda: suite.plan([], folder=folder), repr(stem), "expected a name without '.'")
    assert set(suite.plan(["alpha"], folder=folder)) == {"alpha"}  # the others still run


def test_a_broken_link_in_the_notebooks_folder_is_refused(folder, tmp_path):
    (folder / "gamma.ipynb").symlink_to(tmp_path / "gone.ipynb")
    refused(lambda: suite.plan([], folder=folder), folder / "gamma.ipynb", "got a broken link")


def test_hidden_files_are_not_notebooks_and_cannot_be_named(folder):
    write_notebook(folder, ".hidden")
    assert set(suite.available(folder)) == {"alpha", "beta"}
    refused(lambda: suite.resolve([str(folder / ".hidden.ipynb")], folder), "'.hidden'")


def test_refresh_refuses_a_missing_path_and_rewrites_nothing(folder, tmp_path, capsys):
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "refresh", "alpha", tmp_path / "gone.ipynb",
                 words=[tmp_path / "gone.ipynb", "does not exist"])
    main_refused(capsys, "--notebooks", folder, "refresh", "gamma", words=["unknown notebook(s): gamma"])
    assert snapshot(tmp_path) == before


def test_refresh_refuses_an_unreadable_notebook_before_rewriting_any(folder, tmp_path, capsys):
    (folder / "broken.ipynb").write_text("{not json")
    before = snapshot(tmp_path)
    main_refused(capsys, "--notebooks", folder, "refresh", "alpha", "broken",
                 words=[folder / "broken.ipynb", "cannot be read as a notebook"])
    assert snapshot(tmp_path) == before


# params.yaml


@pytest.mark.parametrize("text, words", [
    ("full: [1, 2]\n", ["profile 'full' must map notebook names", "got a list"]),
    ("- quick\n- full\n", ["expected a mapping of profile names", "got a list"]),
    ("just text\n", ["expected a mapping of profile names", "got a str"]),
    ("full:\n  alpha: [1, 2]\n", ["profile 'full'", "'alpha'", "[1, 2]"]),
    ("full:\n  alpha:\n    1: 2\n", ["profile 'full'", "parameter name 1 is not text"]),
    ("full:\n  - alpha\n  beta: {}\n", ["cannot be read as YAML"]),
    ("full:\n  alpha:\n    steps: 1\n    steps: 2\n", ["key 'steps' is given twice", "line 4"]),
    ("full: {}\nfull: {alpha: {steps: 1}}\n", ["key 'full' is given twice"]),
    ("../escape: {}\n", ["profile name '../escape'"]),
    ("7: {}\n", ["profile name 7"]),
    (b"full: \xff\n", ["cannot be read as YAML"]),
])
def test_a_malformed_params_yaml_is_refused(folder, capsys, text, words):
    (folder / "params.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(lambda: suite.plan([], "quick", folder=folder), "params.yaml", *words)
    main_refused(capsys, "--notebooks", folder, "list", words=["params.yaml", *words])


def test_params_yaml_that_is_a_folder_is_refused(folder):
    (folder / "params.yaml").unlink()
    (folder / "params.yaml").mkdir()
    refused(lambda: suite.plan([], folder=folder), folder / "params.yaml", "cannot be read")


def test_merge_keys_in_params_yaml_may_be_overridden(folder):
    (folder / "params.yaml").write_text("base: &base {alpha: {steps: 4}}\n"
                                        "full:\n  <<: *base\n  beta: {steps: 6}\n")
    work = suite.plan([], "full", folder=folder)
    assert work["alpha"][1] == {"steps": 4} and work["beta"][1] == {"steps": 6}


@pytest.mark.parametrize("line, words", [
    ("steps: 2.5", ["steps must be int, got 2.5 (float)", "params.yaml profile 'full'"]),
    ("steps: true", ["steps must be int, got True (bool)"]),
    ("steps: '3'", ["steps must be int, got '3' (str)"]),
    ("scale: yes", ["scale must be float, got True (bool)"]),
    ("fail: 1", ["fail must be bool, got 1 (int)"]),
    ("label: 3", ["label must be str, got 3 (int)"]),
    ("label: no", ["label must be str, got False (bool)"]),
    ("values: 2020-01-01", ["values must be list, got datetime.date(2020, 1, 1) (date)"]),
    ("values: [2020-01-01]", ["values from params.yaml profile 'full' holds datetime.date"]),
    ("values: [{1: a}]", ["values from params.yaml profile 'full' holds 1 (int)"]),
    ("values: !!set {a, b}", ["values must be list, got"]),
    ("options: {1: a}", ["options from params.yaml profile 'full' holds 1 (int)"]),
    ("by_index: {1: y}", ["by_index cannot be set", "{1: \"x\"}"]),
    ("untyped: 3", ["untyped is declared 'None'"]),
    ("sizes: [1]", ["sizes is declared 'list[int]'"]),
])
def test_params_yaml_values_must_have_the_declared_type(folder, line, words):
    (folder / "params.yaml").write_text(f"full:\n  alpha:\n    {line}\n")
    refused(lambda: suite.plan(["alpha"], "full", folder=folder), "alpha: ", *words)


def test_params_yaml_values_of_the_declared_type_arrive_as_they_are(folder):
    (folder / "params.yaml").write_text(
        "full:\n  alpha:\n    scale: 2\n    fail: true\n    label: 'yes'\n    values: [[a, b], null]\n"
        "    options: {a: [1, 2.5]}\n")
    injected = suite.plan(["alpha"], "full", folder=folder)["alpha"][1]
    assert injected == {"scale": 2.0, "fail": True, "label": "yes", "values": [["a", "b"], None],
                        "options": {"a": [1, 2.5]}}
    assert type(injected["scale"]) is float


# -p


@pytest.mark.parametrize("override, words", [
    ('values=[("a","b")]', ["values='[(\"a\",\"b\")]' does not parse as list", "-p values are JSON"]),
    ("values=(1, 2)", ["does not parse as list"]),
    ('values={"a": 1}', ["values must be list, got {'a': 1} (dict) from -p"]),
    ("steps=3.0", ["steps must be int, got 3.0 (float) from -p (default: 3)"]),
    ("steps=1e3", ["steps must be int, got 1000.0 (float)"]),
    ("steps=true", ["steps must be int, got True (bool)"]),
    ("steps=many", ["steps='many' does not parse as int (default: 3)"]),
    ("scale=false", ["scale must be float, got False (bool)"]),
    ("scale=2.5x", ["scale='2.5x' does not parse as float"]),
    ("fail=True", ["fail='True' does not parse as bool"]),
    ("fail=yes", ["fail='yes' does not parse as bool"]),
    ("fail=1", ["fail must be bool, got 1 (int)"]),
    ("label=3", ["label must be str, got 3 (int)", "quote text that reads as JSON"]),
    ("label=null", ["label must be str, got None (NoneType)"]),
    ("label=[1]", ["label must be str, got [1] (list)"]),
    ('options={"a": 1, "a": 2}', ["options=", "key 'a' is given twice"]),
    ("options=[1]", ["options must be dict, got [1] (list)"]),
    ('by_index={"1": "y"}', ["by_index cannot be set", "not text"]),
    ("untyped=3", ["untyped is declared 'None'"]),
    ("sizes=[1]", ["sizes is declared 'list[int]'"]),
])
def test_overrides_must_be_json_of_the_declared_type(folder, override, words):
    refused(lambda: suite.plan(["alpha"], "quick", [override], folder), "alpha: ", *words)


@pytest.mark.parametrize("override, expected", [
    ("label=hello world", "hello world"),
    ('label="3"', "3"),
    ('label="[1]"', "[1]"),
    ("scale=2", 2.0),
    ("scale=-0.5", -0.5),
    ("steps=7", 7),
    ("fail=true", True),
    ('values=[["a", "b"], null, 1.5]', [["a", "b"], None, 1.5]),
    ('options={"1": [true], "b": {"c": null}}', {"1": [True], "b": {"c": None}}),
])
def test_overrides_arrive_as_the_json_they_are(folder, override, expected):
    name = override.partition("=")[0]
    value = suite.plan(["alpha"], "quick", [override], folder)["alpha"][1][name]
    assert value == expected and type(value) is type(expected)


def test_an_override_given_twice_is_refused(folder):
    refused(lambda: suite.plan([], "quick", ["steps=3", "steps=4"], folder),
            "-p steps is given twice ('3' and '4')")


def test_an_override_refused_on_the_command_line_writes_nothing(folder, tmp_path):
    before = snapshot(tmp_path)
    result = cli("--notebooks", folder, "run", "--out", tmp_path / "out", "-p", 'values=[("a","b")]')
    assert_refused(result, "values=", "does not parse as list")
    assert snapshot(tmp_path) == before


# The command line


@pytest.mark.parametrize("argv, words", [
    (["run", "--profile"], ["--profile", "expected one argument"]),
    (["run", "--bogus"], ["--bogus"]),
    (["walk"], ["'walk'"]),
    (["run", "--profile", "quick", "--profile", "full"], ["--profile: given twice (quick and full)"]),
    (["run", "--out", "a", "--out", "b"], ["--out: given twice (a and b)"]),
    ([], ["command"]),
])
def test_usage_errors_are_one_line(folder, capsys, argv, words):
    main_refused(capsys, "--notebooks", folder, *argv, words=words)
