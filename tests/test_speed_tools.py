"""The speed study's own pieces: the baselines it measures against, the crossover, the harness."""
import pytest
import torch

from acdc_core import StackedACDC, dct, idct
from acdc_core.lab.analysis.baselines import PlainACDC, PlainStack, plain_dct, plain_idct
from acdc_core.lab.analysis.speed import crossover
from acdc_core.lab.analysis.speed import peak_memory
from acdc_core.lab.bench import measure


def test_plain_baselines_compute_the_same_maps():
    x = torch.randn(3, 16, dtype=torch.float64)
    torch.testing.assert_close(plain_dct(x), dct(x, norm="ortho"))
    torch.testing.assert_close(plain_idct(x), idct(x, norm="ortho"))
    plain = PlainStack(16, 4, dtype=torch.float64)
    ours = StackedACDC(16, 16, 4, dtype=torch.float64)
    ours.load_state_dict({k: v for k, v in plain.state_dict().items() if k != "shuffle"}, strict=False)
    torch.testing.assert_close(ours(x), plain(x))
    assert isinstance(plain.layers[0], PlainACDC)


def test_crossover_is_where_ours_stays_faster():
    rows = [{"device": "cpu", "n": n, "name": name, "ms": ms} for n, name, ms in [
        (64, "ours", 2.0), (64, "dense", 1.0), (256, "ours", 1.0), (256, "dense", 2.0),
        (1024, "ours", 3.0), (1024, "dense", 2.0), (4096, "ours", 1.0), (4096, "dense", 9.0)]]
    assert crossover(rows, "ours", "dense") == 4096
    assert crossover(rows, "dense", "ours") is None
    assert crossover(rows[:4], "ours", "dense") == 256


def test_measure_returns_a_median_per_candidate():
    times = measure({"a": lambda: torch.ones(10).sum(), "b": lambda: None}, rounds=3, block_ms=1)
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_peak_memory_probe_sees_the_dense_gradient():
    """One nn.Linear(512, 512) fwd+bwd allocates at least its 1 MiB weight gradient."""
    assert peak_memory("linear", 512, 8) >= 0.9
    with pytest.raises(Exception):
        peak_memory("no-such-model", 8, 1)
