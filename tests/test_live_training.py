"""Live training in a notebook (acdc_core.lab.notebook.live_training): headless it trains the defaults
once and draws their curve once; a stop ends the run before its next batch, keeping what it trained."""
import matplotlib

matplotlib.use("Agg")

import torch
from torch import nn

from acdc_core.lab import notebook
from acdc_core.lab.notebook import LiveRun, StopTraining, live_training, run_live
from acdc_core.training.train import train

BATCHES = [(torch.randn(8, 4, generator=torch.Generator().manual_seed(i)), torch.arange(8) % 2) for i in range(5)]


def fit(model: nn.Module, epochs: int, progress=False, on_epoch=None) -> None:
    """Train ``model`` by SGD on BATCHES (testing on the first)."""
    train(model, BATCHES, BATCHES[:1], torch.optim.SGD(model.parameters(), lr=0.1), epochs, device="cpu",
          progress=progress, on_epoch=on_epoch)


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def test_headless_trains_the_defaults_once_and_draws_every_epoch_once(monkeypatch):
    monkeypatch.setattr(notebook, "HEADLESS", True)
    calls, drawn = [], []

    def run(live, epochs, lr):
        calls.append((epochs, lr))
        fit(linear(), epochs, live.batches, live.report)

    def draw(records, fig):
        drawn.append(([r["epoch"] for r in records], tuple(fig.get_size_inches())))

    live_training(run, draw, (5, 3), epochs=(3, 1, 10, 1), lr=(0.1, [0.01, 0.1]))
    assert calls == [(3, 0.1)]
    assert drawn == [([1, 2, 3], (5.0, 3.0))]


def test_a_stop_from_the_callback_ends_the_run_early_and_keeps_what_it_trained():
    live, model = LiveRun(), linear()

    def report_then_stop(record):
        live.report(record)
        live.stop()

    outcome = run_live(lambda live, epochs: fit(model, epochs, live.batches, report_then_stop), live, {"epochs": 4})
    assert outcome == "stopped after 1 epoch(s)"
    assert [r["epoch"] for r in live.records] == [1]
    once = linear()
    fit(once, 1)  # the same run for one epoch, never stopped
    assert torch.equal(model.weight, once.weight) and torch.equal(model.bias, once.bias)


def test_the_batches_end_before_the_next_one_once_stop_is_asked():
    live, seen = LiveRun(), []
    try:
        for batch in live.batches(BATCHES):
            seen.append(batch)
            if len(seen) == 2:
                live.stop()
    except StopTraining:
        pass
    assert len(seen) == 2
