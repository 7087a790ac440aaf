"""The training loop under DistributedDataParallel: two CPU processes (gloo), each with half of
every batch, end with the weights of one process that saw whole batches."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import blobs
from torch import nn

from acdc_core import StackedACDC
from acdc_core.training import distributed
from acdc_core.training.batches import Batches
from acdc_core.training.train import train


def run(shard, checkpoint=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), StackedACDC(16, 16, 2, relu=True), nn.Linear(16, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = train(model, Batches(blobs(64, 1), 16, shuffle=True, seed=3, shard=shard),
                    Batches(blobs(32, 2), 8, shard=shard), optimiser, 2, progress=False, device="cpu",
                    checkpoint=checkpoint)
    return model.state_dict(), history


def worker(rank, world, port, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    assert distributed.start("gloo") == (rank, world)
    images, _ = next(iter(Batches(blobs(64, 1), 16, shard=distributed.shard())))
    assert len(images) == 8  # half of every batch
    weights, history = run(distributed.shard(), checkpoint=os.path.join(folder, "c.pt"))
    torch.save({"weights": weights, "history": history.records}, os.path.join(folder, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_two_gloo_processes_match_one_process(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    single, history = run(None)
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for key, value in single.items():
            assert torch.allclose(result["weights"][key], value, atol=1e-5), (rank, key)
        for ours, theirs in zip(result["history"], history.records):
            assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5)
            assert ours["test_accuracy"] == theirs["test_accuracy"]
    assert torch.load(tmp_path / "c.pt", weights_only=True)["epoch"] == 2  # written by rank 0


def test_start_outside_torchrun_says_how(monkeypatch):
    for variable in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
        distributed.start()
    assert distributed.shard() is None and distributed.is_main()


def test_shard_must_divide_the_batch():
    with pytest.raises(ValueError, match="dividing batch_size=15"):
        Batches(blobs(8, 0), 15, shard=(0, 2))
