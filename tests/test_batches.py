"""Batching and the augmentations on whole batches."""
import pytest
import torch

from acdc_core.training.batches import Batches, cifar_augment, cutout, horizontal_flip, random_crop
from acdc_core.training.data import Dataset


def dataset(n=10, channels=1, size=6):
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    return Dataset(images, torch.arange(n) % 3, ("a", "b", "c"), (0.5,) * channels,
                   (0.25,) * channels, source="toy", split="train")


def test_every_sample_once_per_epoch_in_an_order_fixed_by_seed_and_epoch():
    batches = Batches(dataset(), 4, shuffle=True, seed=3)
    assert len(batches) == 3
    first = torch.cat([labels for _, labels in batches])
    assert len(first) == 10
    orders = []
    for epoch in (0, 1, 0):
        batches.set_epoch(epoch)
        orders.append(torch.cat([images.flatten(1)[:, 0] for images, _ in batches]))
    assert torch.equal(orders[0], orders[2]) and not torch.equal(orders[0], orders[1])
    assert sorted(orders[0].tolist()) == sorted(orders[1].tolist())


def test_normalisation_and_shapes():
    data = dataset(channels=3)
    images, labels = next(iter(Batches(data, 10)))
    assert images.dtype == torch.float32 and images.shape == (10, 3, 6, 6)
    assert torch.allclose((images * 0.25 + 0.5) * 255, data.images.float(), atol=1e-3)
    assert torch.equal(labels, data.labels)
    flat, _ = next(iter(Batches(data, 4, flatten=True)))
    assert flat.shape == (4, 108)


def test_drop_last_and_bad_batch_size():
    assert len(Batches(dataset(), 4, drop_last=True)) == 2
    assert sum(len(y) for _, y in Batches(dataset(), 4, drop_last=True)) == 8
    with pytest.raises(ValueError, match="batch_size"):
        Batches(dataset(), 0)


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    images = torch.randn(16, 2, 5, 5)
    out = random_crop(2, fill=-3.0)(images, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), value=-3.0)
    shifts = set()
    for i in range(16):
        found = [(t, l) for t in range(5) for l in range(5)
                 if torch.equal(out[i], padded[i, :, t:t + 5, l:l + 5])]
        assert found, f"sample {i} is not a window of its padded image"
        shifts.add(found[0])
    assert len(shifts) > 3


def test_flip_mirrors_some_images_and_keeps_the_rest():
    images = torch.randn(32, 3, 4, 4)
    out = horizontal_flip()(images, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    kept = [torch.equal(o, i) for o, i in zip(out, images)]
    assert all(f or k for f, k in zip(flipped, kept)) and 4 < sum(flipped) < 28
    assert torch.equal(horizontal_flip(1.0)(images, torch.Generator()), images.flip(-1))


def test_cutout_zeroes_one_clipped_square_per_image():
    images = torch.ones(20, 3, 8, 8)
    out = cutout(4)(images, torch.Generator().manual_seed(0))
    for image in out:
        hole = image[0] == 0
        assert torch.equal(hole, (image == 0).all(0))  # every channel alike
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert hole.sum() == len(rows) * len(cols)  # a rectangle
        assert len(rows) == 4 or rows[0] == 0 or rows[-1] == 7  # clipped only at a border


def test_cifar_augmentation_keeps_shape_and_is_reproducible():
    images = torch.randn(8, 3, 32, 32)
    a = cifar_augment(16)(images, torch.Generator().manual_seed(5))
    b = cifar_augment(16)(images, torch.Generator().manual_seed(5))
    assert a.shape == images.shape and torch.equal(a, b)


def test_shards_split_every_batch_between_processes():
    data = dataset(n=12)
    whole = [y for _, y in Batches(data, 4, shuffle=True, seed=1)]
    halves = [[y for _, y in Batches(data, 4, shuffle=True, seed=1, shard=(r, 2))] for r in range(2)]
    for full, a, b in zip(whole, *halves):
        assert torch.equal(full[0::2], a) and torch.equal(full[1::2], b)


def test_a_dataset_feeds_torch_dataloader_as_batches_does():
    from torch.utils.data import DataLoader

    from acdc_core.training.data import load

    _, test_set = load("mnist_subset")
    theirs = next(iter(DataLoader(test_set, batch_size=32)))
    ours = next(iter(Batches(test_set, 32)))
    assert len(test_set) == 1000 and theirs[0].dtype == torch.float32 and theirs[1].dtype == torch.int64
    torch.testing.assert_close(theirs[0], ours[0], rtol=0, atol=1e-6)
    assert torch.equal(theirs[1], ours[1])
    image, label = test_set[-1]
    assert image.shape == (1, 28, 28) and label == test_set.labels[-1]
    with pytest.raises(IndexError, match="Dataset index 1000 is out of range for 1,000 samples"):
        test_set[1000]
    with pytest.raises(TypeError, match="Dataset index must be an int, got slice"):
        test_set[:3]
