"""Distillation: attention transfer (Zagoruyko & Komodakis) as the follow-up work used it, classic
knowledge distillation, and the two pieces that let :func:`acdc_core.training.train.train` train a student
with them: :class:`Distilled` (student and frozen teacher as one model) and
:class:`DistillationLoss`."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def attention_map(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` activations -> ``(B, H*W)``: the mean over channels of the squared
    activation, flattened and scaled to unit L2 norm per sample."""
    return F.normalize(x.pow(2).mean(1).flatten(1))


def attention_transfer_loss(student: list[torch.Tensor], teacher: list[torch.Tensor],
                            beta: float = 1e3) -> torch.Tensor:
    """β × the mean over paired maps of the mean squared difference of their attention maps
    (teacher maps carry no gradient). Paired maps must have equal spatial size."""
    if len(student) != len(teacher) or not student:
        raise ValueError(f"attention transfer pairs maps one to one, got {len(student)} student and "
                         f"{len(teacher)} teacher maps")
    terms = []
    for i, (s, t) in enumerate(zip(student, teacher)):
        if s.shape[0] != t.shape[0] or s.shape[2:] != t.shape[2:]:
            raise ValueError(f"map {i}: student {tuple(s.shape)} and teacher {tuple(t.shape)} "
                             "differ in batch or spatial size")
        terms.append((attention_map(s) - attention_map(t.detach())).pow(2).mean())
    return beta * torch.stack(terms).mean()


def knowledge_distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                                temperature: float = 4.0) -> torch.Tensor:
    """Hinton's soft-target term: T² × KL(teacher ‖ student) of the tempered softmaxes, batch mean."""
    log_student = F.log_softmax(student_logits / temperature, -1)
    teacher = F.softmax(teacher_logits.detach() / temperature, -1)
    return temperature ** 2 * F.kl_div(log_student, teacher, reduction="batchmean")


class Distilled(nn.Module):
    """A student trained against a frozen teacher. Both map images to ``(logits, maps)`` (the CIFAR
    models with ``attention=True``). In training mode the output is ``(logits, maps, teacher
    logits, teacher maps)``; in eval mode only the student's ``(logits, maps)``, so evaluation
    costs no teacher pass. The teacher stays in eval mode and carries no gradient."""

    def __init__(self, student: nn.Module, teacher: nn.Module):
        super().__init__()
        self.student, self.teacher = student, teacher.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> "Distilled":
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, x: torch.Tensor):
        logits, maps = self.student(x)
        if not self.training:
            return logits, maps
        with torch.no_grad():
            teacher_logits, teacher_maps = self.teacher(x)
        return logits, maps, teacher_logits, teacher_maps


class DistillationLoss:
    """``loss(output, labels)`` for :class:`Distilled`: cross-entropy of the student's logits, plus
    the attention-transfer term (``beta``) and ``kd_weight`` × the KD term when the output carries
    the teacher's (training); cross-entropy alone on ``(logits, maps)`` (evaluation)."""

    def __init__(self, beta: float = 1e3, kd_weight: float = 0.0, temperature: float = 4.0):
        self.beta, self.kd_weight, self.temperature = beta, kd_weight, temperature

    def __call__(self, output, labels: torch.Tensor) -> torch.Tensor:
        if len(output) not in (2, 4):
            raise ValueError(f"expected (logits, maps) or (logits, maps, teacher logits, teacher maps), "
                             f"got a tuple of {len(output)}")
        logits = output[0].float()
        loss = F.cross_entropy(logits, labels)
        if len(output) == 4:
            maps, teacher_logits, teacher_maps = output[1], output[2].float(), output[3]
            loss = loss + attention_transfer_loss([m.float() for m in maps],
                                                  [m.float() for m in teacher_maps], self.beta)
            if self.kd_weight:
                loss = loss + self.kd_weight * knowledge_distillation_loss(logits, teacher_logits,
                                                                           self.temperature)
        return loss
