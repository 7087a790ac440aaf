"""The speed study's own pieces: the baselines it measures against, the crossover, the pivots and
ratios of its tables, and the harness (timings on a clock we control and on real sleeps, memory on
an allocation of known size)."""
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from acdc_core import StackedACDC, dct, idct
from acdc_core.lab import bench
from acdc_core.lab.analysis.baselines import PlainACDC, PlainStack, plain_dct, plain_idct
from acdc_core.lab.analysis.speed import by_size, crossover, peak_memory, ratios
from acdc_core.lab.bench import measure

ROOT = Path(__file__).resolve().parent.parent


def test_plain_baselines_compute_the_same_maps():
    x = torch.randn(3, 16, dtype=torch.float64)
    torch.testing.assert_close(plain_dct(x), dct(x, norm="ortho"))
    torch.testing.assert_close(plain_idct(x), idct(x, norm="ortho"))
    plain = PlainStack(16, 4, dtype=torch.float64)
    ours = StackedACDC(16, 16, 4, dtype=torch.float64)
    ours.load_state_dict({k: v for k, v in plain.state_dict().items() if k != "shuffle"}, strict=False)
    torch.testing.assert_close(ours(x), plain(x))
    assert isinstance(plain.layers[0], PlainACDC)


ROWS = [{"device": "cpu", "n": n, "name": name, "ms": ms} for n, name, ms in [
    (64, "ours", 2.0), (64, "dense", 1.0), (256, "ours", 1.0), (256, "dense", 2.0),
    (1024, "ours", 3.0), (1024, "dense", 2.0), (4096, "ours", 1.0), (4096, "dense", 9.0)]]


def test_crossover_is_where_ours_stays_faster():
    assert crossover(ROWS, "ours", "dense") == 4096
    assert crossover(ROWS, "dense", "ours") is None
    assert crossover(ROWS[:4], "ours", "dense") == 256


def test_tables_by_size_and_their_ratios():
    rows = ROWS[:4] + [{"device": "cuda", "n": 64, "name": "ours", "ms": 0.5}]
    assert by_size(rows, "cpu") == [{"N": 64, "ours": 2.0, "dense": 1.0},
                                    {"N": 256, "ours": 1.0, "dense": 2.0}]
    assert by_size(rows, "cuda") == [{"N": 64, "ours": 0.5}]
    assert ratios(rows, [("dense / ours", "dense", "ours")]) == [
        {"device": "cpu", "N": 64, "dense / ours": 0.5}, {"device": "cpu", "N": 256, "dense / ours": 2.0},
        {"device": "cuda", "N": 64}]  # nothing to divide by on cuda


def test_measure_interleaves_rounds_and_takes_the_median_per_call(monkeypatch):
    """On a clock that only the candidates move: "a" takes 2 ms a call except in its second round
    (50 ms a call), "b" 0.5 ms. The medians are exactly 2 and 0.5; a mean would give 11.6 for "a"."""
    now, calls = [0.0], []
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    def candidate(name, ms):
        def call():
            calls.append(name)
            rounds_done = (calls.count(name) - 3) // {"a": 5, "b": 20}[name]  # after 2 set-up calls
            now[0] += (50.0 if name == "a" and rounds_done == 1 else ms) / 1e3
        return call

    times = measure({"a": candidate("a", 2.0), "b": candidate("b", 0.5)}, rounds=5, block_ms=9.7)
    assert times == pytest.approx({"a": 2.0, "b": 0.5})
    # one call each to warm up and one to time; then blocks of about 9.7 ms, alternating
    assert calls == ["a"] * 2 + ["b"] * 2 + (["a"] * 5 + ["b"] * 20) * 5


def test_measure_ranks_real_sleeps():
    times = measure({"slow": lambda: time.sleep(2e-3), "fast": lambda: time.sleep(2e-4)},
                    rounds=3, block_ms=10)
    assert times["slow"] >= 2.0 and times["fast"] >= 0.2  # a sleep never ends early
    assert times["fast"] < times["slow"]


def test_the_memory_probe_sees_an_allocation_of_known_size():
    """In a fresh process: 64 MiB and 32 MiB of float32 ones, each allocated and freed in one call."""
    script = ("import torch\nfrom acdc_core.lab.bench import added_memory\n"
              "added_memory(lambda: torch.ones(1000))\n"  # warm-up: torch's own first allocations
              "print(added_memory(lambda: torch.ones(2 ** 24)), added_memory(lambda: torch.ones(2 ** 23)))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    large, small = map(float, result.stdout.split())
    assert 60 < large < 68 and 30 < small < 36, (large, small)


def test_peak_memory_probe_sees_the_dense_gradient():
    """One nn.Linear(512, 512) fwd+bwd allocates at least its 1 MiB weight gradient."""
    assert peak_memory("linear", 512, 8) >= 0.9
    with pytest.raises(subprocess.CalledProcessError):
        peak_memory("no-such-model", 8, 1)
