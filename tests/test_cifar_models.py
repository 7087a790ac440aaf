"""CIFAR networks, surgery on them, and the distillation terms against hand computations."""
import math

import pytest
import torch

from acdc_core.conv import SeparableACDCConv2d, replace_convolutions
from acdc_core.training.distill import attention_map, attention_transfer_loss, knowledge_distillation_loss
from acdc_core.lab.models.cifar import ResNet18, WideResNet
from acdc_core.lab.models import parameter_count


def test_resnet18_shape_parameters_and_attention_maps():
    torch.manual_seed(0)
    model = ResNet18(attention=True).eval()
    logits, maps = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert parameter_count(model) == 11_173_962  # the common CIFAR ResNet18


@pytest.mark.parametrize("depth, widen, params", [(40, 2, 2_243_546), (16, 1, 175_066)])
def test_wide_resnet_shapes_and_parameters(depth, widen, params):
    model = WideResNet(depth, widen, attention=True).eval()
    logits, maps = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10) and [m.shape[-1] for m in maps] == [32, 16, 8]
    assert parameter_count(model) == params
    with pytest.raises(ValueError, match="6n \\+ 4"):
        WideResNet(41, 2)


def test_surgery_on_resnet18_shortcuts_and_wrn_all_but_first():
    torch.manual_seed(0)
    resnet = ResNet18().eval()
    report = replace_convolutions(resnet, "shortcuts", n_layers=2)
    assert [r["name"] for r in report] == [f"groups.{g}.0.shortcut.0" for g in (1, 2, 3)]
    assert resnet(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    wrn = WideResNet(16, 2).eval()
    report = replace_convolutions(wrn, "all_but_first", n_layers=2)
    assert len(report) == 3 * 2 * 2 + 3 and report[0]["name"] == "groups.0.0.conv1"  # 6 blocks, 3 shortcuts
    assert sum(isinstance(m, SeparableACDCConv2d) for m in wrn.modules()) == len(report)
    assert wrn(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_attention_transfer_by_hand():
    s = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # (1, 2, 1, 2)
    t = torch.tensor([[[[0.0, 1.0]], [[1.0, 1.0]]]])
    a_s = torch.tensor([5.0, 2.0]) / math.sqrt(29.0)  # channel means of squares: (1+9)/2, (4+0)/2
    a_t = torch.tensor([0.5, 1.0]) / math.sqrt(1.25)
    assert torch.allclose(attention_map(s)[0], a_s)
    expected = 1e3 * ((a_s - a_t) ** 2).mean()
    assert torch.allclose(attention_transfer_loss([s, s], [t, t]), expected)
    with pytest.raises(ValueError, match="one to one"):
        attention_transfer_loss([s], [t, t])


def test_knowledge_distillation_by_hand():
    student, teacher = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    p = torch.softmax(teacher / 2, -1)
    q = torch.softmax(student / 2, -1)
    expected = 4 * (p * (p.log() - q.log())).sum()
    assert torch.allclose(knowledge_distillation_loss(student, teacher, 2.0), expected)


def test_weight_decay_groups_hold_exactly_the_structured_parameters():
    from acdc_core import ACDC
    from acdc_core.training.train import FLAT_STRUCTURED_DECAY, parameter_groups

    wrn = WideResNet(16, 2)
    dense = parameter_count(wrn)
    replace_convolutions(wrn, "all_but_first", n_layers=2)
    groups = parameter_groups(wrn, 5e-4, "scaled", dense_parameters=dense)
    structured = {id(p) for m in wrn.modules() if isinstance(m, ACDC) for p in m.parameters()}
    assert {id(p) for p in groups[1]["params"]} == structured and structured
    assert not structured & {id(p) for p in groups[0]["params"]}
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(wrn.parameters()))
    assert groups[1]["weight_decay"] == pytest.approx(5e-4 * parameter_count(wrn) / dense)
    assert groups[0]["weight_decay"] == 5e-4
    assert parameter_groups(wrn, 5e-4, "flat")[1]["weight_decay"] == FLAT_STRUCTURED_DECAY
    torch.optim.SGD(groups, lr=0.1, momentum=0.9)  # accepted as they are
    with pytest.raises(ValueError, match="needs dense_parameters"):
        parameter_groups(wrn, 5e-4, "scaled")
    with pytest.raises(ValueError, match="'flat', 'scaled' or a number"):
        parameter_groups(wrn, 5e-4, "ratio")
