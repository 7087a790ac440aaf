"""The CIFAR experiments: the synthetic stand-in, distillation inside the training loop, recipes,
schedules, teacher-then-student runs, and the command line under torchrun."""
import os
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from acdc_core.training import data
from acdc_core.lab.analysis import cifar as cifar_analysis
from acdc_core.lab.experiments import cifar
from acdc_core.lab.models import cifar_recipes
from acdc_core.training.batches import Batches
from acdc_core.conv import SeparableACDCConv2d
from acdc_core.training.distill import Distilled, DistillationLoss, attention_transfer_loss
from acdc_core.lab.models.cifar import WideResNet
from acdc_core.training.train import train


def small_standin(n_train=64, n_test=32):
    train_set, test_set = data.load("cifar10_standin")
    return train_set.first(n_train), test_set.first(n_test)


def test_standin_is_deterministic_labelled_and_shaped_like_cifar():
    train_set, test_set = data.cifar10_standin(train=200, test=50)
    again, _ = data.cifar10_standin(train=200, test=50)
    assert torch.equal(train_set.images, again.images) and torch.equal(train_set.labels, again.labels)
    assert train_set.images.shape == (200, 3, 32, 32) and train_set.images.dtype == torch.uint8
    assert set(train_set.labels.tolist()) == set(range(10))
    for split in (train_set, test_set):
        assert "SYNTHETIC" in split.name and "not real images" in split.name
    assert test_set.mean == train_set.mean  # normalised by the training split's statistics
    subset = train_set.first(10)
    assert len(subset) == 10 and "first 10 used" in subset.name and train_set.first(0) is train_set


def test_standin_classes_are_learnable():
    """Class = grating orientation: the image's 2-D power spectrum carries it, so a nearest-mean
    classifier on spectra beats chance by far (a stand-in a network could not learn would make
    the quick profile's curves meaningless)."""
    train_set, test_set = data.cifar10_standin(train=1000, test=300)

    def features(split):
        x = split.images.float().mean(1)
        return torch.fft.fft2(x - x.mean((1, 2), keepdim=True)).abs().flatten(1)

    train_x, test_x = features(train_set), features(test_set)
    means = torch.stack([train_x[train_set.labels == k].mean(0) for k in range(10)])
    predicted = torch.cdist(F.normalize(test_x), F.normalize(means)).argmin(1)
    assert (predicted == test_set.labels).float().mean() > 0.5


def test_absent_cifar_falls_back_to_the_standin_and_says_why(tmp_path):
    train_set, _, note = cifar.load_or_standin("cifar10", root=tmp_path, download=False)
    assert "SYNTHETIC" in train_set.name
    assert "CIFAR-10 is not available" in note and str(tmp_path) in note
    with pytest.raises(data.DataNotFoundError):  # only CIFAR-10 has a stand-in
        cifar.load_or_standin("mnist", root=tmp_path, download=False)


def test_the_standin_is_told_apart_and_its_runs_differ_from_the_logs():
    train_set, test_set = small_standin(64, 32)
    assert train_set.synthetic and test_set.synthetic
    real = replace(train_set, source="CIFAR-10", detail="", synthetic=False)
    assert cifar_analysis.log_setting("e22", train_set, test_set, 3) == {
        "data": ("synthetic stand-in", "CIFAR-10"), "training images": (64, 50_000),
        "test images": (32, 10_000), "epochs": (3, 150)}
    assert cifar_analysis.log_setting("e22", real, test_set, 150)["data"] == ("CIFAR-10", "CIFAR-10")


def test_distilled_runs_the_teacher_only_in_training_and_keeps_it_frozen():
    torch.manual_seed(0)
    student, teacher = WideResNet(10, 1, attention=True), WideResNet(10, 1, attention=True)
    model = Distilled(student, teacher).train()
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    x = torch.randn(4, 3, 32, 32)
    logits, maps, teacher_logits, teacher_maps = model(x)
    assert len(maps) == len(teacher_maps) == 3 and not teacher_logits.requires_grad
    assert len(model.eval()(x)) == 2
    labels = torch.tensor([0, 1, 2, 3])
    expected = F.cross_entropy(logits, labels) + attention_transfer_loss(maps, teacher_maps, 1e3)
    assert torch.allclose(DistillationLoss(1e3)((logits, maps, teacher_logits, teacher_maps), labels), expected)
    assert torch.allclose(DistillationLoss()((logits, maps), labels), F.cross_entropy(logits, labels))
    with pytest.raises(ValueError, match="got a tuple of 3"):
        DistillationLoss()((logits, maps, teacher_logits), labels)


def test_training_a_student_moves_only_the_student():
    torch.manual_seed(0)
    student, teacher = WideResNet(10, 1, attention=True), WideResNet(10, 1, attention=True)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_before = [p.clone() for p in student.parameters()]
    train_set, test_set = small_standin(32, 16)
    history = train(Distilled(student, teacher), Batches(train_set, 16, shuffle=True),
                    Batches(test_set, 16), torch.optim.SGD(student.parameters(), lr=0.05), 1,
                    loss_fn=DistillationLoss(), progress=False, device="cpu")
    images, labels = map(torch.stack, zip(*(test_set[i] for i in range(len(test_set)))))
    with torch.no_grad():  # the test accuracy counted by hand, sample by sample, off the loop's path
        by_hand = (student.eval()(images)[0].argmax(-1) == labels).float().mean().item()
    assert history.final["test_accuracy"] == pytest.approx(by_hand)
    for key, value in teacher.state_dict().items():  # BatchNorm statistics included
        assert torch.equal(value, before[key]), key
    assert any(not torch.equal(a, b) for a, b in zip(student.parameters(), student_before))


def test_step_schedule_drops_at_60_120_160_of_200_epochs_and_cosine_ends_at_zero():
    """Also: a shortened run keeps the schedule's shape."""
    factor = cifar.schedule_factor(cifar_recipes.CIFAR_RECIPES["e22"], steps_per_epoch=10)  # 150 of 200
    assert [factor(e * 10) for e in (0, 59, 60, 119, 120, 159, 160)] == pytest.approx(
        [1, 1, 0.2, 0.2, 0.04, 0.04, 0.008])
    cosine = cifar.schedule_factor(cifar_recipes.CIFAR_RECIPES["quick_teacher"], steps_per_epoch=10)
    assert cosine(0) == 1 and cosine(15) == pytest.approx(0.5) and cosine(30) == pytest.approx(0)
    assert cifar.schedule_factor(cifar_recipes.CIFAR_RECIPES["e12"], 10)(399) == 1
    shortened = cifar.schedule_factor(cifar_recipes.CIFAR_RECIPES["e22"], 10, epochs=15)  # 15 of 20
    assert [shortened(s) for s in (59, 60, 120, 160)] == pytest.approx([1, 0.2, 0.04, 0.008])


def test_one_cycle_rises_from_a_25th_to_the_peak_at_30_percent_then_falls_to_zero():
    factor = cifar.schedule_factor(cifar_recipes.CIFAR_RECIPES["wrn16_2"], steps_per_epoch=20)  # 300 steps
    assert [factor(s) for s in (0, 45, 90, 195, 300, 400)] == pytest.approx([0.04, 0.52, 1, 0.5, 0, 0])


@pytest.mark.parametrize("name", ["e12", "e22", "e23_scratch", "quick_distilled"])
def test_recipes_build_with_the_surgery_they_name(name):
    recipe = cifar_recipes.CIFAR_RECIPES[name]
    built = cifar_recipes.build(name)
    convs = [m for m in built.model.modules() if isinstance(m, SeparableACDCConv2d)]
    assert len(convs) == len(built.replaced) > 0
    assert all(c.pointwise.n_layers == recipe.conv.get("n_layers", 12) for c in convs)
    assert built.parameters < built.dense_parameters
    first = built.model.stem if hasattr(built.model, "stem") else None
    assert isinstance(first, SeparableACDCConv2d) == (recipe.substitute == "all")
    with pytest.raises(ValueError, match="recipe must be one of"):
        cifar_recipes.build("e99")


def test_a_student_run_trains_its_teacher_first_then_reads_it_from_the_checkpoint(tmp_path):
    train_set, test_set = small_standin()
    first = cifar.run("quick_distilled", train_set, test_set, device="cpu", checkpoint_dir=tmp_path,
                      progress=False)
    names = sorted(p.name.split("-")[1] for p in tmp_path.glob("*.pt"))
    assert names == ["distilled", "teacher"]
    assert first.parameters < first.dense_parameters and first.history.resumed == 0
    again = cifar.run("quick_distilled", train_set, test_set, device="cpu", checkpoint_dir=tmp_path,
                      progress=False)
    assert again.history.resumed == 3 and again.history.records == first.history.records
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_the_command_line_runs_under_torchrun(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--master-port", str(port), "-m", "acdc_core.lab.experiments.cifar", "quick_scratch",
               "--dataset", "cifar10_standin", "--train-images", "128", "--test-images", "64",
               "--epochs", "1", "--threads", "1", "--checkpoint-dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("quick_scratch seed 0 on SYNTHETIC") == 1  # rank 0 alone prints
    (checkpoint,) = tmp_path.glob("*.pt")
    state = torch.load(checkpoint, weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 1


def _recorded(recipe, accuracy, seed=0):
    return {"recipe": recipe, "seed": seed, "test_accuracy": accuracy, "parameters": 1000,
            "mult_adds": 1e6, "epochs": 1}


def test_each_student_is_set_against_its_own_twin_from_scratch():
    """E12 (ResNet18, from scratch) and E23 (WRN-40-2, from scratch and with attention transfer)
    recorded side by side: E23's attention transfer is measured against E23 from scratch."""
    runs = [_recorded("resnet18", 0.90), _recorded("e12", 0.50), _recorded("wrn40_2", 0.95),
            _recorded("e23_scratch", 0.80), _recorded("e23_distilled", 0.85)]
    lines = cifar_analysis.recorded_verdicts({"runs": runs})
    (student,) = [line for line in lines if line.startswith("e23_distilled")]
    assert student.endswith("+5.00 points against e23_scratch from scratch.")
    (verdict,) = [line for line in lines if line.startswith("Verdict, e23_distilled")]
    assert "attention transfer helped (+5.00 points" in verdict
    assert not any("e12" in line for line in lines if "attention transfer" in line)
    runs_without_twin = [r for r in runs if r["recipe"] != "e23_scratch"]
    (alone,) = [line for line in cifar_analysis.recorded_verdicts({"runs": runs_without_twin})
                if line.startswith("Verdict, e23_distilled")]
    assert "attention transfer" not in alone
