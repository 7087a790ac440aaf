"""Distillation terms: attention transfer (Zagoruyko & Komodakis) as the follow-up work used it, and
classic knowledge distillation."""
from __future__ import annotations

import torch
import torch.nn.functional as F


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
