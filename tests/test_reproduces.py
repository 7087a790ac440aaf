"""The check of run-dependent notebook figures against the canonical refresh's."""
import json

import pytest

from acdc_core.lab.notebook import reproduces

PARAMETERS = {"epochs": 4, "models": ["e11"]}


def recorded(tmp_path, monkeypatch, figures):
    path = tmp_path / "references.json"
    monkeypatch.setenv("ACDC_RECORD_REFERENCE", "1")
    reproduces("mnist", PARAMETERS, figures, path)
    monkeypatch.delenv("ACDC_RECORD_REFERENCE")
    return path


def test_a_refresh_records_the_figures_and_a_later_run_is_held_to_them(tmp_path, monkeypatch, capsys):
    path = recorded(tmp_path, monkeypatch, {"e11 test %": (88.9, 3.0)})
    saved = json.loads(path.read_text())["mnist"]
    assert saved["figures"] == {"e11 test %": 88.9} and saved["parameters"] == PARAMETERS
    reproduces("mnist", PARAMETERS, {"e11 test %": (90.5, 3.0)}, path)  # 1.6 points off: within
    assert "off by 1.6 (tolerance 3)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="outside their tolerances of the reference: e11 test %"):
        reproduces("mnist", PARAMETERS, {"e11 test %": (92.0, 3.0)}, path)


def test_a_figure_the_reference_lacks_fails(tmp_path, monkeypatch):
    path = recorded(tmp_path, monkeypatch, {"e11 test %": (88.9, 3.0)})
    with pytest.raises(AssertionError, match="convnet test %"):
        reproduces("mnist", PARAMETERS, {"convnet test %": (90.0, 3.0)}, path)


def test_other_parameters_compare_nothing_and_say_so(tmp_path, monkeypatch, capsys):
    path = recorded(tmp_path, monkeypatch, {"e11 test %": (88.9, 3.0)})
    reproduces("mnist", {**PARAMETERS, "epochs": 10}, {"e11 test %": (97.0, 3.0)}, path)
    reproduces("cifar", PARAMETERS, {"x": (1.0, 0.1)}, path)
    out = capsys.readouterr().out
    assert out.count("nothing compared") == 2


def test_the_canonical_refresh_records_the_headline_as_the_answer_shown_first(tmp_path, monkeypatch,
                                                                             capsys):
    from acdc_core.lab import notebook

    answers = tmp_path / "answers.json"
    monkeypatch.setattr(notebook, "ANSWERS", answers)
    monkeypatch.delenv("ACDC_OUTPUT_DIR", raising=False)
    monkeypatch.setenv("ACDC_NOTEBOOK", "mnist")
    notebook.headline("Does it train?", ["yes, to 97.1%"])  # a run that is not the refresh
    assert not answers.exists()
    notebook.answer("mnist", answers)
    assert "No answer is recorded for mnist yet" in capsys.readouterr().out
    monkeypatch.setenv("ACDC_RECORD_REFERENCE", "1")
    notebook.headline("Does it train?", ["yes, to 97.1%", "faster than dense"])
    recorded = json.loads(answers.read_text())["mnist"]
    assert recorded["findings"] == ["yes, to 97.1%", "faster than dense"]
    assert recorded["provenance"]["command"] == "make refresh"
    capsys.readouterr()
    notebook.answer("mnist", answers)
    shown = capsys.readouterr().out.splitlines()
    assert shown[0] == "Does it train?" and shown[1].startswith("Recorded answer (quick profile, commit ")
    assert shown[2:] == ["- yes, to 97.1%", "- faster than dense"]


def test_a_refresh_shows_the_answer_it_recorded_in_the_answer_cell(tmp_path, monkeypatch):
    """The answer cell runs before the headline that the refresh records: the refresh gives it
    what it prints once that answer is recorded."""
    import nbformat

    from acdc_core.lab import notebook
    from acdc_core.lab.suite.running import _show_the_answer_recorded

    monkeypatch.setattr(notebook, "ANSWERS", tmp_path / "answers.json")
    monkeypatch.delenv("ACDC_OUTPUT_DIR", raising=False)
    monkeypatch.setenv("ACDC_NOTEBOOK", "mnist")
    monkeypatch.setenv("ACDC_RECORD_REFERENCE", "1")
    notebook.headline("Does it train?", ["yes, to 97.1%"])  # as the refreshed notebook's last cell does
    stale = nbformat.v4.new_output("stream", name="stdout", text="the previous refresh's answer\n")
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('answer("mnist")', outputs=[stale]),
                                           nbformat.v4.new_code_cell("print(1)", outputs=[stale])])
    _show_the_answer_recorded(book, "mnist")
    shown = book.cells[0].outputs[0]["text"].splitlines()
    assert shown[0] == "Does it train?" and shown[-1] == "- yes, to 97.1%"
    assert book.cells[1].outputs == [stale]


@pytest.mark.parametrize("count", [0, 6])
def test_a_headline_answers_in_one_to_five_findings(count):
    from acdc_core.lab.notebook import headline

    with pytest.raises(ValueError, match=f"1 to 5 findings, got {count}"):
        headline("Why?", [f"finding {k}" for k in range(count)])
