"""Recorded results: writing, replacing and reading a results file; the committed files' form; the
CIFAR command line recording a run; the verdict lines computed from recorded runs."""
import dataclasses
import json

import pytest

from acdc_core.lab import log_figures, results
from acdc_core.lab.analysis import cifar as cifar_analysis
from acdc_core.lab.experiments import cifar
from acdc_core.lab.models import cifar_recipes
from acdc_core.training.data import STANDIN_LABEL

REQUIRED_RUN = {"recipe", "seed", "data", "epochs", "test_accuracy", "parameters", "train_seconds",
                "curves", "provenance"}
REQUIRED_FIT = {"recipe", "seed", "data", "settings", "mse", "iterations", "parameters", "train_seconds",
                "curves", "provenance"}
REQUIRED_PROVENANCE = {"commit", "date", "command", "machine", "data"}


def fake_run(recipe, seed, accuracy, parameters=1000, mult_adds=1e6):
    """A made-up run (for these tests only), shaped as the recorder keeps one."""
    origin = results.provenance("a test", "made-up data", verified=False)
    return {"recipe": recipe, "seed": seed, "data": "made-up data", "epochs": 1,
            "test_accuracy": accuracy, "parameters": parameters, "mult_adds": mult_adds,
            "train_seconds": 1.0, "curves": [], "provenance": origin}


def test_recording_replaces_a_run_of_the_same_recipe_and_seed(tmp_path):
    results.record("cifar", "cpu", fake_run("wrn16_2", 0, 0.5), tmp_path)
    results.record("cifar", "cpu", fake_run("wrn16_2", 1, 0.6), tmp_path)
    results.record("cifar", "cpu", fake_run("wrn16_2", 0, 0.7), tmp_path)
    recorded = results.load("cifar", "cpu", tmp_path)
    assert recorded["notebook"] == "cifar" and recorded["profile"] == "cpu"
    assert [(r["seed"], r["test_accuracy"]) for r in recorded["runs"]] == [(1, 0.6), (0, 0.7)]
    assert set(recorded["provenance"]) == REQUIRED_PROVENANCE
    assert [p.name for p in (tmp_path / "cifar").iterdir()] == ["cpu.json"]  # nothing half-written
    assert results.load("cifar", "full", tmp_path) is None
    with pytest.raises(ValueError, match=r"a recorded run needs \['provenance'\]"):
        results.record("cifar", "cpu", {"recipe": "x", "seed": 0}, tmp_path)


def test_a_measurement_is_kept_beside_the_runs_and_leaves_them_alone(tmp_path):
    results.record("transformer", "cpu", fake_run("dense", 0, 0.5), tmp_path)
    before = results.load("transformer", "cpu", tmp_path)
    origin = results.provenance("a benchmark", "made-up data", verified=False)
    results.record_measurement("transformer", "cpu", "throughput", {"x": 1, "provenance": origin}, tmp_path)
    results.record_measurement("transformer", "cpu", "throughput", {"x": 2, "provenance": origin}, tmp_path)
    recorded = results.load("transformer", "cpu", tmp_path)
    assert recorded["measurements"] == {"throughput": {"x": 2, "provenance": origin}}
    assert (recorded["runs"], recorded["provenance"]) == (before["runs"], before["provenance"])
    with pytest.raises(ValueError, match="a recorded measurement needs its provenance"):
        results.record_measurement("transformer", "cpu", "throughput", {"x": 3}, tmp_path)
    assert results.load("transformer", "cpu", tmp_path)["measurements"]["throughput"]["x"] == 2


def test_every_committed_results_file_has_the_recorded_form():
    files = sorted(results.RESULTS.glob("*/*.json"))
    assert files, f"no results under {results.RESULTS}"
    for path in files:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        assert (recorded["notebook"], recorded["profile"]) == (path.parent.name, path.stem)
        assert set(recorded["provenance"]) >= REQUIRED_PROVENANCE
        for run in recorded["runs"]:
            assert set(run) >= (REQUIRED_FIT if "mse" in run else REQUIRED_RUN), (path, run["recipe"])
            assert set(run["provenance"]["data"]) == {"name", "verified"}
            assert 0 <= run["mse"] if "mse" in run else 0 <= run["test_accuracy"] <= 1
        for measured in recorded.get("measurements", {}).values():
            assert set(measured["provenance"]) >= REQUIRED_PROVENANCE, path


def test_verdicts_give_the_gaps_of_the_recorded_runs():
    recorded = {"runs": [fake_run("wrn16_2", 0, 0.80, 600_000, 1e8),
                         fake_run("wrn16_2_scratch", 0, 0.70, 40_000, 2e7),
                         fake_run("wrn16_2_distilled", 0, 0.75, 40_000, 2e7)]}
    lines = cifar_analysis.recorded_verdicts(recorded)
    assert lines[0] == ("wrn16_2_scratch (seed 0): 70.00%, 10.00 points below the dense wrn16_2 (80.00%), "
                        "with 15.0× fewer parameters and 5.0× fewer multiply-adds.")
    assert lines[1].endswith("; attention transfer: +5.00 points against wrn16_2_scratch from scratch.")
    e22 = log_figures.figure("E22").text
    assert lines[2].startswith(f"The log: E22's WRN-40-2 student with attention transfer reached {e22}%")
    assert lines[3].startswith("Verdict, wrn16_2_scratch: ACDC below dense, as in the follow-up, with a larger "
                               "gap (10.00 against 1.7 points).")
    assert "attention transfer helped (+5.00 points; E23: +0.51)" in lines[4]
    assert len(cifar_analysis.recorded_verdicts({"runs": recorded["runs"][1:]})) == 1  # no dense run: no gap


def test_the_command_line_records_a_finished_run(tmp_path):
    cifar.main(["quick_scratch:0", "--dataset", "cifar10_standin", "--train-images", "64",
                "--test-images", "32", "--epochs", "1", "--checkpoint-dir", str(tmp_path / "runs"),
                "--record", "check", "--results", str(tmp_path / "results")])
    recorded = results.load("cifar", "check", tmp_path / "results")
    (run,) = recorded["runs"]
    assert set(run) >= REQUIRED_RUN and run["recipe"] == "quick_scratch" and run["epochs"] == 1
    assert run["provenance"]["command"].startswith("python -m acdc_core.lab.experiments.cifar quick_scratch:0")
    assert run["provenance"]["data"]["verified"] is True and run["mult_adds"] > 0
    assert len(run["curves"]) == 1 and run["parameters"] == cifar_recipes.build("quick_scratch").parameters


def test_mnist_rows_judge_the_recorded_seeds():
    from acdc_core.lab.analysis.mnist import log_setting, recorded_rows, result_row
    setting = log_setting("mnist", 10)
    assert result_row("e11", [log_figures.accuracy("E11"), 0.9745], 75_264, setting)["verdict"] == "reproduced"
    assert result_row("e2", [0.60], 86_016, setting)["verdict"] == "better"
    assert result_row("e11_improved", [0.979], 75_264, setting)["verdict"] == "misses the goal"
    assert result_row("e11", [0.96], 75_264, log_setting("mnist_subset", 4))["verdict"] == "worse (indicative)"
    recorded = {"runs": [{**fake_run("e11", seed, accuracy, 75_264), "epochs": 10}
                         for seed, accuracy in ((0, 0.97), (1, 0.98))]}
    for run in recorded["runs"]:
        run["provenance"]["data"]["name"] = "MNIST"
    (row,) = recorded_rows(recorded)
    assert (row["ours %"], row["per seed %"], row["seeds"]) == ("97.50 ± 0.71", "97.00, 98.00", 2)


def test_quick_rows_carry_the_recorded_full_result_beside_them():
    from acdc_core.lab.analysis.mnist import beside_full, log_setting, result_row
    quick = [result_row(name, [0.9], 1, log_setting("mnist_subset", 4)) for name in ("e11", "convnet")]
    recorded = {"runs": [{**fake_run("e11", 0, 0.97, 75_264), "epochs": 10}]}
    recorded["runs"][0]["provenance"]["data"]["name"] = "MNIST"
    e11, convnet = beside_full(quick, recorded)
    assert (e11["verdict"], e11["full %"], e11["full verdict"]) == ("worse (indicative)", "97.00 ± 0.00", "reproduced")
    assert (convnet["full %"], convnet["full verdict"]) == ("—", "—")
    assert beside_full(quick, None)[0]["full %"] == "—"


def test_the_mnist_command_line_records_a_finished_run(tmp_path):
    from acdc_core.lab.experiments import mnist
    mnist.main(["e1_normal:0", "--dataset", "mnist_subset", "--epochs", "1", "--checkpoint-dir",
                str(tmp_path / "runs"), "--record", "check", "--results", str(tmp_path / "results")])
    (run,) = results.load("mnist", "check", tmp_path / "results")["runs"]
    assert set(run) >= REQUIRED_RUN and (run["recipe"], run["seed"], run["epochs"]) == ("e1_normal", 0, 1)
    # absolute paths outside the current folder lose all but their last part
    assert run["provenance"]["command"] == ("python -m acdc_core.lab.experiments.mnist e1_normal:0 "
                                            "--dataset mnist_subset --epochs 1 --checkpoint-dir .../runs "
                                            "--record check --results .../results")


def test_the_headline_summarises_each_recipe_over_its_seeds(tmp_path):
    for seed, accuracy in ((0, 0.97), (1, 0.98)):
        results.record("mnist", "full", fake_run("e11", seed, accuracy, 75_264), tmp_path)
    results.record("mnist", "full", {**fake_run("e2", 0, 0.6), "train_seconds": None}, tmp_path)
    results.record("mnist", "cpu", fake_run("e2", 0, 0.6), tmp_path)
    recorded = results.recorded_profiles("mnist", tmp_path)
    assert list(recorded) == ["cpu", "full"] and results.recorded_profiles("cifar", tmp_path) == {}
    e11, e2 = results.headline(recorded["full"])
    assert e11 == {"recipe": "e11", "seeds": 2, "epochs": 1, "test accuracy %": "97.50 ± 0.71",
                   "parameters": "75,264", "hours": f"{2 / 3600:.2f}"}
    assert (e2["test accuracy %"], e2["hours"]) == ("60.00", "—")
    fits = {"runs": [{**fake_run("E25 K=1", seed, 0, 64), "mse": mse, "iterations": 40 + seed}
                     for seed, mse in ((0, 0.04), (1, 0.05))]}
    assert {k: results.headline(fits)[0][k] for k in ("seeds", "iterations", "final MSE")} == {
        "seeds": 2, "iterations": 41, "final MSE": "0.04500 ± 0.00707"}


def test_the_suite_index_shows_each_recorded_profile_beside_the_run():
    from acdc_core.lab.suite.index import _recorded_section
    page = "\n".join(_recorded_section("mnist"))
    full = results.load("mnist", "full")
    assert "<h3>Recorded: the full profile</h3>" in page and full["provenance"]["commit"] in page
    for row in results.headline(full):
        assert f"<td>{row['recipe']}</td>" in page and f"<td>{row['test accuracy %']}</td>" in page
    assert _recorded_section("speed_study") == []  # nothing recorded, nothing shown


def test_renaming_the_data_keeps_the_standin_recognisable():
    from acdc_core.training.data import load
    standin, _ = load("cifar10_standin")
    (kept,) = cifar.renamed([standin.first(8)], "CIFAR-10 (JPEG copy)")
    assert kept.synthetic and kept.name == standin.first(8).name
    real = dataclasses.replace(standin, source="CIFAR-10", detail="", verified=False, synthetic=False)
    (named,) = cifar.renamed([real], "CIFAR-10 (JPEG copy)")
    assert named.name == "CIFAR-10 (JPEG copy) train 2,000, unverified files"
    assert (named.origin, named.verified) == ("CIFAR-10 (JPEG copy)", False)
    assert cifar.renamed([real], "") == [real]
    assert (standin.origin, standin.verified) == (STANDIN_LABEL, True)


def test_e1_readings_put_the_closest_to_the_log_first():
    from acdc_core.lab.analysis.mnist import e1_readings
    uniform, normal = (log_figures.figure("E1", f"{init} init", log_figures.ACCURACY)
                       for init in ("uniform(-1, 1)", "N(1, 1e-2)"))
    accuracy = {"e1_uniform": uniform.value / 100, "e1_normal": normal.value / 100 - 0.01,
                "e1_uniform_padded": uniform.value / 100, "e1_normal_padded": normal.value / 100,
                "e1_uniform_unpadded": 0.90}  # the unpadded reading lacks its normal run: left out
    recorded = {"runs": [fake_run(name, 0, value) for name, value in accuracy.items()]}
    rows = e1_readings(recorded)
    assert [(r["reading"], r["largest distance (points)"]) for r in rows] == [("padded", 0.0), ("narrowing", 1.0)]
    assert rows[1]["normal %"] == f"94.18 (log {normal.text})"


def test_a_recorded_command_names_no_absolute_path(tmp_path):
    here = tmp_path / "checkout"
    command = f"python -m x --root /data/cifar --results {here}/results --out={here}/runs/a relative/path"
    assert results.portable(command, here) == ("python -m x --root .../cifar --results results "
                                              "--out=runs/a relative/path")
