"""The transformer study: texts (names, splits, errors, downloads from file:// URLs), batches
(determinism, exact resume), the model (causality, shapes, every structure forward and backward,
each structured map against its explicit matrix), parameter and multiply-add counts against
explicit counts and FlopCounterMode, knob matching, a stopped run resumed bit-identical, and the
command line recording a run."""
import gzip
import hashlib
import json
import runpy
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from acdc_core import StackedACDC
from acdc_core.lab.experiments import transformer as experiment
from acdc_core.lab.models import transformer as models
from acdc_core.lab.models.transformer import (RECIPES, STRUCTURES, CharTransformer, TransformerConfig,
                                              Widened, at_equal_multiply_adds, at_equal_parameters,
                                              comparison_budget, counts, feed_forward_counts, linear,
                                              matched_knob)
from acdc_core.training import text as texts
from acdc_core.training.data import CorruptDataError, DataNotFoundError
from acdc_core.training.text import PLAYS, TextBatches, ValidationWindows, load_text, split_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
KNOBS = {"dense": 48, "acdc": 2, "monarch": 4, "lowrank": 3, "butterfly": 2}


def tiny(structure="dense", attention="dense", **sizes) -> TransformerConfig:
    sizes = {"vocabulary": 11, "context": 8, "layers": 2, "heads": 2, "width": 16, **sizes}
    return TransformerConfig(feed_forward=structure, knob=KNOBS[structure], attention=attention,
                             attention_knob=KNOBS[attention] if attention != "dense" else None, **sizes)


# ----------------------------------------------------------------------------------------- texts
def test_the_embedded_excerpt_is_named_split_and_encoded():
    text = load_text("shakespeare_excerpt")
    with gzip.open(texts.EXCERPT, "rt", encoding="utf-8") as handle:
        raw = handle.read()
    assert text.characters == len(raw) == 399_994 and raw.endswith("\n")
    assert text.name == f"{PLAYS}, embedded excerpt of 399,994 characters"
    assert text.vocabulary == "".join(sorted(set(raw)))
    cut = int(0.9 * len(raw))
    assert text.train.decode(text.train.tokens) == raw[:cut]
    assert text.validation.decode(text.validation.tokens) == raw[cut:]
    assert text.train.name == f"{text.name}, train {cut:,} characters" and text.train.verified
    if (SHARED / "shakespeare" / "plays.txt").is_file():
        assert (SHARED / "shakespeare" / "plays.txt").read_text(encoding="utf-8").startswith(raw)


def test_any_utf8_file_by_path(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("ünder the sea, ünder the sky\n" * 3, encoding="utf-8")
    text = load_text(path)
    assert text.name == "poem.txt" and text.vocabulary == "".join(sorted(set(path.read_text())))
    assert not text.train.verified and "unverified" in text.train.name
    assert text.train.decode(text.train.tokens) + text.validation.decode(text.validation.tokens) == \
        path.read_text(encoding="utf-8")
    assert torch.equal(text.encode("sky"), torch.tensor([text.vocabulary.index(c) for c in "sky"]))


def test_bad_texts_are_refused_with_what_was_expected(tmp_path):
    with pytest.raises(DataNotFoundError, match="neither a text this package knows .*nor an existing file"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(CorruptDataError, match="expected a plain UTF-8 text file, found a folder"):
        load_text(tmp_path)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(CorruptDataError, match="expected UTF-8 text, found byte 0xe9 at offset 3"):
        load_text(tmp_path / "latin1.txt")
    (tmp_path / "one.txt").write_text("a")
    with pytest.raises(CorruptDataError, match="1 characters; a text needs at least 2"):
        load_text(tmp_path / "one.txt")
    with pytest.raises(TypeError, match="one of 'shakespeare_excerpt'.* or a file path, got int"):
        load_text(3)
    short = split_text("abcdefghij" * 3, "short").validation
    with pytest.raises(ValueError, match="short, validation 3 characters: too short for one context "
                                         "window, which needs context \\+ 1 = 9 characters"):
        ValidationWindows(short, context=8)


def write_plays(root: Path, body: str, digest: str | None) -> Path:
    folder = root / "shakespeare"
    folder.mkdir(parents=True)
    (folder / "plays.txt").write_text(body, encoding="utf-8")
    if digest is not None:
        (folder / "SHA256SUMS").write_text(f"{digest}  plays.txt\n")
    return folder


def test_the_plays_are_checked_against_their_sha256sums(tmp_path):
    body = "ROMEO.\nBut soft, what light through yonder window breaks?\n"
    write_plays(tmp_path / "good", body, hashlib.sha256(body.encode()).hexdigest())
    text = load_text("shakespeare_plays", root=tmp_path / "good")
    assert text.name == PLAYS and text.train.verified and text.characters == len(body)
    write_plays(tmp_path / "bad", body, "0" * 64)
    with pytest.raises(CorruptDataError, match="SHA256 .*, expected 0{64}"):
        load_text("shakespeare_plays", root=tmp_path / "bad")
    write_plays(tmp_path / "bare", body, None)
    assert "unverified file" in load_text("shakespeare_plays", root=tmp_path / "bare").train.name
    with pytest.raises(DataNotFoundError, match="missing/shakespeare/plays.txt is missing"):
        load_text("shakespeare_plays", root=tmp_path / "missing")


def test_tiny_shakespeare_is_fetched_when_missing_and_refused_offline(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match=f"download=False.*{texts.TINY_SHAKESPEARE_URL}") as error:
        load_text("tiny_shakespeare", root=tmp_path / "root", download=False)
    assert str(tmp_path / "root" / "tiny_shakespeare") in str(error.value)
    server = tmp_path / "server.txt"
    line = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
    server.write_bytes((line * (texts.TINY_SHAKESPEARE_CHARACTERS // len(line) + 1))[:texts.TINY_SHAKESPEARE_CHARACTERS])
    monkeypatch.setattr(texts, "TINY_SHAKESPEARE_URL", server.as_uri())
    text = load_text("tiny_shakespeare", root=tmp_path / "root")
    assert text.name == texts.TINY_SHAKESPEARE and text.characters == texts.TINY_SHAKESPEARE_CHARACTERS
    assert (tmp_path / "root" / "tiny_shakespeare" / "input.txt").read_bytes() == server.read_bytes()
    server.write_bytes(line)
    with pytest.raises(CorruptDataError, match="61 bytes, expected tiny shakespeare's 1,115,394"):
        load_text("tiny_shakespeare", root=tmp_path / "other")
    assert not (tmp_path / "other" / "tiny_shakespeare" / "input.txt").exists()


@pytest.mark.skipif(not (SHARED / "shakespeare" / "plays.txt").is_file(), reason="no ../shared/data")
def test_the_real_plays():
    text = load_text("shakespeare_plays", root=SHARED)
    assert text.train.verified and text.characters == 4_850_382 and len(text.vocabulary) == 83


# --------------------------------------------------------------------------------------- batches
def test_batches_are_windows_drawn_from_seed_and_epoch_and_resume_exactly():
    tokens = torch.arange(1000)
    batches = TextBatches(tokens, batch_size=4, context=16, seed=3, steps=6)
    first = list(batches)
    assert len(first) == len(batches) == 6
    for inputs, targets in first:
        assert inputs.shape == (4, 16) and targets.shape == (64,) and inputs.dtype == torch.int64
        starts = inputs[:, :1]
        assert torch.equal(inputs, starts + torch.arange(16)) and torch.equal(targets, (inputs + 1).flatten())
    again = TextBatches(tokens, batch_size=4, context=16, seed=3, steps=6)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again))
    batches.set_epoch(1)
    second = list(batches)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, second))
    batches.set_epoch(1, 4)
    assert [b[0].tolist() for b in batches] == [b[0].tolist() for b in second[4:]]
    assert max(int(b[0].max()) for b in first + second) <= 998  # every target inside the tokens


def test_validation_windows_are_fixed_and_span_the_split():
    windows = ValidationWindows(torch.arange(500), context=10, windows=7, batch_size=3)
    batches = list(windows)
    assert [len(b[0]) for b in batches] == [3, 3, 1] and windows.characters == 70
    starts = torch.cat([b[0][:, 0] for b in batches])
    assert starts[0] == 0 and starts[-1] == 500 - 11 and torch.equal(starts, windows.starts)
    assert [b[0].tolist() for b in windows] == [b[0].tolist() for b in batches]


# ----------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("structure", STRUCTURES)
def test_no_position_sees_a_later_token(structure):
    torch.manual_seed(0)
    model = CharTransformer(tiny(structure, attention=structure)).double().eval()
    tokens = torch.randint(0, 11, (2, 8))
    changed = tokens.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    with torch.no_grad():
        before, after = (model(t).view(2, 8, 11) for t in (tokens, changed))
    assert torch.allclose(before[:, :5], after[:, :5], rtol=0, atol=1e-12)
    assert not torch.allclose(before[:, 5], after[:, 5])


@pytest.mark.parametrize("attention", STRUCTURES)
@pytest.mark.parametrize("structure", STRUCTURES)
def test_every_structure_trains_forward_and_backward(structure, attention):
    torch.manual_seed(1)
    model = CharTransformer(tiny(structure, attention))
    tokens = torch.randint(0, 11, (3, 5))  # shorter than the context
    logits = model(tokens)
    assert logits.shape == (15, 11)
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 11, (15,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    with pytest.raises(ValueError, match="T <= context=8, got torch.int64 of shape \\(1, 9\\)"):
        model(torch.zeros(1, 9, dtype=torch.int64))


def repeat_and_sum(small: int, large: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The explicit (large, small) matrix repeating features and (small, large) summing groups."""
    stacked = torch.eye(small, dtype=torch.float64).repeat(large // small, 1)
    return stacked, stacked.T


@pytest.mark.parametrize("structure", ("monarch", "lowrank", "butterfly"))
@pytest.mark.parametrize("sizes", ((16, 64), (64, 16)))
def test_a_widened_square_layer_is_sum_times_its_matrix_times_repeat(structure, sizes):
    torch.manual_seed(2)
    layer = linear(structure, *sizes, KNOBS[structure]).double()
    assert isinstance(layer, Widened)
    square = layer.layer.effective_weight()
    grow, _ = repeat_and_sum(sizes[0], 64) if sizes[0] < 64 else (torch.eye(64, dtype=torch.float64), None)
    _, shrink = repeat_and_sum(sizes[1], 64) if sizes[1] < 64 else (None, torch.eye(64, dtype=torch.float64))
    weight = shrink @ square @ grow
    bias = shrink @ layer.layer.effective_bias()
    x = torch.randn(5, sizes[0], dtype=torch.float64)
    assert torch.allclose(layer(x), x @ weight.T + bias, rtol=0, atol=1e-12)
    assert torch.allclose(layer.effective_weight(), weight, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sizes", ((16, 64), (64, 16)))
def test_the_acdc_feed_forward_is_a_linear_stack_between_repeat_and_sum(sizes):
    torch.manual_seed(3)
    stack = linear("acdc", *sizes, 3).double()
    assert isinstance(stack, StackedACDC) and stack.is_linear() and stack.form == "auto"
    matrix = torch.eye(64, dtype=torch.float64)
    offset = torch.zeros(64, dtype=torch.float64)
    for i, layer in enumerate(stack.layers):  # each layer, then the riffle between layers
        matrix, offset = layer.effective_weight() @ matrix, layer.effective_weight() @ offset + layer.effective_bias()
        if i < len(stack.layers) - 1:
            index = getattr(stack, f"shuffle_{i}")
            matrix, offset = matrix[index], offset[index]
    small = min(sizes)
    grow, shrink = repeat_and_sum(small, 64)
    grow = grow if sizes[0] == small else torch.eye(64, dtype=torch.float64)
    shrink = shrink if sizes[1] == small else torch.eye(64, dtype=torch.float64)
    x = torch.randn(5, sizes[0], dtype=torch.float64)
    assert torch.allclose(stack(x), x @ (shrink @ matrix @ grow).T + shrink @ offset, rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------- counts
def test_feed_forward_counts_by_hand():
    d, n, log = 128, 512, 9
    assert feed_forward_counts(d, "dense", None) == (2 * d * n + n + d, 2 * d * n)
    assert feed_forward_counts(d, "dense", 192) == (2 * d * 192 + 192 + d, 2 * d * 192)
    assert feed_forward_counts(d, "lowrank", 24) == (2 * (2 * n * 24 + n), 2 * 2 * n * 24)
    assert feed_forward_counts(d, "monarch", 16) == (2 * (n * (16 + 32) + n), 2 * n * (16 + 32))
    assert feed_forward_counts(d, "butterfly", 3) == (2 * 3 * (2 * n * log + n), 2 * 3 * 2 * n * log)
    # ACDC layer: diagonals A and D and a bias; 4n + 5 n log2 n MA (acdc_core.flops)
    assert feed_forward_counts(d, "acdc", 2) == (2 * 2 * 3 * n, 2 * 2 * (4 * n + 5 * n * log))


@pytest.mark.parametrize("attention", ("dense", "lowrank", "butterfly"))
@pytest.mark.parametrize("structure", STRUCTURES)
def test_counts_agree_with_flop_counter_mode(structure, attention):
    config = tiny(structure, attention, width=32)
    torch.manual_seed(4)
    model = CharTransformer(config)
    for module in model.modules():  # counted in the FFT form: run in it
        if isinstance(module, StackedACDC):
            module.form = "fft"
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):  # the CPU kernel has no formula
        model(torch.zeros(1, config.context, dtype=torch.int64))
    figures = counts(config)
    assert figures["mult_adds"] == pytest.approx(counter.get_total_flops() / 2 / config.context, rel=1e-9)
    assert figures["parameters"] == sum(p.numel() for p in model.parameters())
    assert figures["feed_forward_parameters"] == sum(p.numel() for n, p in model.named_parameters() if ".ff." in n)
    ff = feed_forward_counts(32, structure, config.knob)
    assert figures["feed_forward_mult_adds"] == 2 * ff[1] and figures["feed_forward_parameters"] == 2 * ff[0]


# ------------------------------------------------------------------------------------------ knobs
@pytest.mark.parametrize("by", ("parameters", "mult_adds"))
@pytest.mark.parametrize("structure", STRUCTURES)
def test_the_matched_knob_is_the_closest_of_all(structure, by):
    width, which = 16, 0 if by == "parameters" else 1
    target = comparison_budget(width)[which] * 1.3
    every = {k: feed_forward_counts(width, structure, k)[which] for k in models.knob_range(structure, width)}
    best = min(every, key=lambda k: (abs(every[k] - target), k))
    assert matched_knob(structure, width, target, by) == best


def test_the_recipes_hold_the_matched_knobs():
    for profile, width in (("quick", 32), ("cpu", 128), ("full", 512)):
        base = TransformerConfig(vocabulary=65, width=width)
        parameters, mult_adds = comparison_budget(width)
        equal_parameters = at_equal_parameters(base, parameters)
        equal_mult_adds = at_equal_multiply_adds(base, mult_adds)
        assert equal_parameters["dense"].hidden == 4 * width and equal_parameters["monarch"].knob == \
            equal_mult_adds["monarch"].knob
        for name, recipe in RECIPES.items():
            if recipe.profile != profile:
                continue
            assert recipe.width == width, name
            if recipe.matched == "reference":
                assert recipe.structure == "dense" and recipe.knob is None
                continue
            matched = equal_parameters if recipe.matched == "parameters" else equal_mult_adds
            key = "narrow dense" if recipe.structure == "dense" else recipe.structure
            assert recipe.knob == matched[key].knob, name


# ------------------------------------------------------------------------------------------- runs
def test_a_stopped_run_resumes_to_the_weights_of_one_that_never_stopped(tmp_path, monkeypatch):
    text = load_text("shakespeare_excerpt")
    options = {"epochs": 2, "steps": 12, "progress": False, "device": "cpu"}
    straight = experiment.run("quick_acdc", text.train, text.validation, checkpoint_dir=tmp_path / "a", **options)
    original, given = TextBatches.__iter__, []

    def stopping(self):
        for batch in original(self):
            given.append(1)
            if len(given) == 12 + 11:  # in the second epoch, past its checkpoint at batch 10
                raise KeyboardInterrupt
            yield batch
    monkeypatch.setattr(TextBatches, "__iter__", stopping)
    with pytest.raises(KeyboardInterrupt):
        experiment.run("quick_acdc", text.train, text.validation, checkpoint_dir=tmp_path / "b", **options)
    monkeypatch.setattr(TextBatches, "__iter__", original)
    resumed = experiment.run("quick_acdc", text.train, text.validation, checkpoint_dir=tmp_path / "b", **options)
    assert resumed.history.resumed == 1
    expected, found = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(expected[k], found[k]) for k in expected)
    assert [r["test_loss"] for r in resumed.history.records] == [r["test_loss"] for r in straight.history.records]


def test_the_command_line_records_a_run(tmp_path, capsys):
    experiment.main(["quick_lowrank:1", "--checkpoint-dir", str(tmp_path / "runs"), "--record", "test",
                     "--results", str(tmp_path / "results"), "--epochs", "2", "--steps", "3", "--threads", "1"])
    line = capsys.readouterr().out
    assert line.startswith("quick_lowrank seed 1 on Shakespeare's plays (Open Shakespeare text), embedded "
                           "excerpt of 399,994 characters, train 359,994 characters: validation loss ")
    recorded = json.loads((tmp_path / "results" / "transformer" / "test.json").read_text())
    run = recorded["runs"][0]
    assert (run["recipe"], run["seed"], run["structure"], run["knob"], run["steps"]) == ("quick_lowrank", 1, "lowrank", 12, 6)
    assert [c["step"] for c in run["curves"]] == [3, 6] and run["validation_loss"] == run["curves"][-1]["validation_loss"]
    assert run["curves"][1]["train_seconds"] > run["curves"][0]["train_seconds"] > 0
    config = RECIPES["quick_lowrank"].config(len(load_text("shakespeare_excerpt").vocabulary))
    assert {k: run[k] for k in ("parameters", "feed_forward_parameters", "mult_adds", "feed_forward_mult_adds")} == counts(config)
    assert run["tokens_per_second"] > 0 and run["provenance"]["data"] == {"name": PLAYS + ", embedded excerpt of "
                                                                                  "399,994 characters", "verified": True}
    assert "transformer quick_lowrank:1" in run["provenance"]["command"]


def test_the_throughput_benchmark_records_every_recipe_beside_the_runs(tmp_path, capsys):
    bench = runpy.run_path(str(Path(__file__).parents[1] / "benchmarks" / "transformer_throughput.py"))
    bench["main"](["--recipes", "quick_dense", "quick_acdc", "--rounds", "1", "--threads", "1", "--record", "test",
                   "--results", str(tmp_path)])
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:4]}
    measured = json.loads((tmp_path / "transformer" / "test.json").read_text())["measurements"]["throughput"]
    for name in ("quick_dense", "quick_acdc"):  # tokens per step over the step's time
        recipe = RECIPES[name]
        assert measured["tokens_per_second"][name] == pytest.approx(
            recipe.batch_size * recipe.context * 1e3 / measured["ms_per_step"][name])
        assert rows[name][2] == f"{measured['tokens_per_second'][name]:.0f}"
    assert rows["quick_dense"][3] == "1.00"  # the reference against itself
    assert "transformer_throughput.py --recipes quick_dense quick_acdc" in measured["provenance"]["command"]
