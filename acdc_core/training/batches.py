"""Mini-batches from an in-memory :class:`~acdc_core.training.data.Dataset`, without torchvision, and the
usual augmentations as operations on a whole batch ``(N, C, H, W)``.

The order of each epoch comes from ``(seed, epoch)`` and each batch's augmentation from ``(seed,
epoch, batch)``, so a run resumed at any batch sees the same batches as one that never stopped.
"""
from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..checks import check_positive_int
from .data import Dataset

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class Batches:
    """Iterate ``(images, labels)`` batches: images float32 ``(B, C, H, W)`` scaled to [0, 1] and
    normalised by the dataset's mean/std, labels int64 ``(B,)``, on ``device``.

    Args:
        dataset: the split to batch.
        batch_size: samples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: a fresh order every epoch, drawn from ``seed`` and the epoch number.
        augment: ``augment(images, generator) -> images`` applied to each normalised batch
            (see :func:`compose`); its randomness also comes from ``(seed, epoch)``.
        flatten: give images as ``(B, C*H*W)``.
        shard: ``(rank, world_size)``: this process takes every ``world_size``-th sample of each
            batch from ``rank`` on (all processes see the same batches; see
            :mod:`acdc_core.training.distributed`).
    """

    def __init__(self, dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0,
                 augment: Augment | None = None, drop_last: bool = False, flatten: bool = False,
                 shard: tuple[int, int] | None = None, device: torch.device | str | None = None):
        check_positive_int("batch_size", batch_size)
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.augment, self.drop_last, self.flatten = augment, drop_last, flatten
        rank, world = shard or (0, 1)
        if not 0 <= rank < world or batch_size % world:
            raise ValueError(f"shard (rank, world_size) needs 0 <= rank < world_size dividing "
                             f"batch_size={batch_size}, got {shard}")
        self.shard = (rank, world)
        self.device = torch.device(device or "cpu")
        self.epoch, self.start = 0, 0
        shape = (1, -1, 1, 1)
        std = torch.tensor(dataset.std).view(shape)
        self._scale, self._shift = 1.0 / (255.0 * std), torch.tensor(dataset.mean).view(shape) / std

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Choose the epoch whose order (and augmentation) the next iteration gives, and the
        batch it starts from (to resume an epoch part-way)."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        n = len(self.dataset)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        for batch in range(self.start, len(self)):
            index = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            images = self.dataset.images[index].float().mul_(self._scale).sub_(self._shift)
            if self.augment is not None:
                generator.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_033 + batch)
                images = self.augment(images, generator)
            if self.flatten:
                images = images.flatten(1)
            rank, world = self.shard
            labels = self.dataset.labels[index][rank::world]
            yield images[rank::world].to(self.device, non_blocking=True), labels.to(self.device)


def random_crop(padding: int, fill: float = 0.0) -> Augment:
    """Pad each image by ``padding`` pixels of value ``fill`` on every side (0 after normalisation
    is the mean colour; MNIST's black background is ``-mean / std``) and crop a random window of
    the original size, per sample: a random shift by up to ``padding`` pixels."""
    check_positive_int("padding", padding)

    def crop(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = images.shape
        padded = F.pad(images, (padding,) * 4, value=fill)
        top = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
        left = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator)
        rows = (top + torch.arange(h))[:, None, :, None]
        cols = (left + torch.arange(w))[:, None, None, :]
        return padded[torch.arange(n)[:, None, None, None], torch.arange(images.shape[1])[:, None, None],
                      rows, cols]
    return crop


def horizontal_flip(probability: float = 0.5) -> Augment:
    """Mirror each image left-right with ``probability``."""
    def flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mask = torch.rand(images.shape[0], generator=generator) < probability
        return torch.where(mask[:, None, None, None], images.flip(-1), images)
    return flip


def cutout(size: int) -> Augment:
    """Zero (the mean colour, after normalisation) a ``size``×``size`` square at a random centre of
    each image, clipped at the border (DeVries & Taylor's Cutout)."""
    check_positive_int("size", size)

    def cut(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, _, h, w = images.shape
        cy = torch.randint(0, h, (n, 1), generator=generator)
        cx = torch.randint(0, w, (n, 1), generator=generator)
        rows = ((torch.arange(h) - cy + size // 2) >= 0) & ((torch.arange(h) - cy + size // 2) < size)
        cols = ((torch.arange(w) - cx + size // 2) >= 0) & ((torch.arange(w) - cx + size // 2) < size)
        hole = rows[:, :, None] & cols[:, None, :]
        return images.masked_fill(hole[:, None], 0.0)
    return cut


def compose(*augments: Augment) -> Augment:
    """Apply ``augments`` in order."""
    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for augment in augments:
            images = augment(images, generator)
        return images
    return apply


def cifar_augment(cutout_size: int | None = None) -> Augment:
    """The standard CIFAR training augmentation: random crop with 4-pixel padding, horizontal flip,
    and optionally Cutout of ``cutout_size`` (16 in the later work)."""
    steps = [random_crop(4), horizontal_flip()]
    return compose(*steps, cutout(cutout_size)) if cutout_size else compose(*steps)
