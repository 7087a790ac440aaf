"""Bad input to the data loaders: damaged and hostile files in the real formats (IDX, gzipped IDX,
CIFAR-10 pickle batches) and wrong arguments. Each case asserts the error's type and that its
message names the offending file or argument; no case reaches the network."""
import codecs
import gzip
import pickle
import random
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from acdc_core.training import data
from acdc_core.training.data import CorruptDataError, DataNotFoundError, Dataset, load, read_cifar_batch, read_idx

try:
    from numpy._core import multiarray, numeric
except ImportError:  # numpy 1
    from numpy.core import multiarray, numeric

U1_STATE = (3, "|", None, None, None, -1, -1, 0)  # numpy's pickled state of dtype('u1')


def refused(error: type, culprit, function, *args, **kwargs) -> str:
    """``function(*args, **kwargs)`` must raise exactly ``error``, its message naming ``culprit``."""
    with pytest.raises(error) as caught:
        function(*args, **kwargs)
    message = str(caught.value)
    assert type(caught.value) is error and str(culprit) in message, message
    return message


class PeakMemory:
    """The most memory Python and numpy held at once inside the ``with`` block, in bytes."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------- IDX
def idx_header(shape) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def idx_file(path: Path, shape, gzipped=False, body=None) -> Path:
    raw = idx_header(shape) + (bytes(int(np.prod(shape))) if body is None else body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    return path


def mnist_folder(root: Path, train=((6, 28, 28), (6,)), test=((4, 28, 28), (4,))) -> Path:
    """The four uncompressed MNIST files under ``root``, zero-filled, of the given shapes."""
    folder = root / "MNIST" / "raw"
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        idx_file(folder / f"{prefix}-images-idx3-ubyte", images)
        idx_file(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder


@pytest.mark.parametrize("shape", [
    (2 ** 22, 2 ** 21, 2 ** 21),  # 2^64 pixels: np.prod wrapped to 0, which matched an empty body
    (2 ** 32 - 1,) * 3,
    (10 ** 9, 28, 28),
])
def test_idx_header_asking_for_more_than_the_file_holds(tmp_path, shape):
    path = idx_file(tmp_path / "x-idx3-ubyte", shape, body=b"")
    with PeakMemory() as memory:
        message = refused(CorruptDataError, path, read_idx, path)
    assert f"({16 + shape[0] * shape[1] * shape[2]:,} bytes), the file has 16 bytes" in message
    assert memory.peak < 2 ** 20


def test_idx_file_longer_than_its_header_says_is_refused_unread(tmp_path):
    path = idx_file(tmp_path / "x-idx3-ubyte", (1, 28, 28))
    with open(path, "r+b") as file:
        file.truncate(2 ** 25)  # 32 MiB, sparse: zeros after the 800 bytes the header accounts for
    with PeakMemory() as memory:
        message = refused(CorruptDataError, path, read_idx, path)
    assert f"(800 bytes), the file has {2 ** 25:,} bytes: truncated or padded" in message
    assert memory.peak < 2 ** 20


def test_gzipped_idx_header_beyond_what_gzip_can_expand_to(tmp_path):
    path = idx_file(tmp_path / "x-idx3-ubyte.gz", (1000, 1000, 1000), gzipped=True, body=b"")
    with PeakMemory() as memory:
        message = refused(CorruptDataError, path, read_idx, path)
    assert f"{path.stat().st_size:,} gzipped bytes can hold" in message
    assert memory.peak < 2 ** 20


def test_gzip_bomb_is_decompressed_no_further_than_the_header_says(tmp_path):
    compressor, zeros = zlib.compressobj(9, zlib.DEFLATED, 31), bytes(2 ** 20)  # 31: gzip format
    chunks = [compressor.compress(idx_header((1, 28, 28)))]
    chunks += [compressor.compress(zeros) for _ in range(64)] + [compressor.flush()]
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(b"".join(chunks))  # 64 MiB of zeros after a header that promises 784 bytes
    with PeakMemory() as memory:
        message = refused(CorruptDataError, path, read_idx, path)
    assert "decompressed file has more" in message
    assert memory.peak < 4 * 2 ** 20


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:10] + bytes(b ^ 0x5A for b in raw[10:30]) + raw[30:], "damaged or truncated"),
    (lambda raw: raw[:-4] + b"\0\0\0\0", "damaged or truncated"),  # wrong length in the trailer
    (lambda raw: raw + b"garbage after the stream", "damaged or truncated"),
])
def test_damaged_gzip_stream(tmp_path, damage, message):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(damage(gzip.compress(idx_header((3000,)) + bytes(range(250)) * 12)))
    assert message in refused(CorruptDataError, path, read_idx, path)


@pytest.mark.parametrize("gzipped", [False, True])
def test_truncated_idx_header(tmp_path, gzipped):
    path = tmp_path / ("x-idx3-ubyte.gz" if gzipped else "x-idx3-ubyte")
    raw = idx_header((5, 28, 28))[:9]
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    assert "header is truncated (9 of 16 bytes)" in refused(CorruptDataError, path, read_idx, path)


@pytest.mark.parametrize("file, shape, expected", [
    ("train-images-idx3-ubyte", (6, 784), "expected images (N, rows, columns)"),
    ("train-images-idx3-ubyte", (6, 0, 28), "expected images (N, rows, columns)"),
    ("train-labels-idx1-ubyte", (6, 1), "expected labels (N,)"),
    ("train-labels-idx1-ubyte", (5,), "do not match"),
    ("t10k-images-idx3-ubyte", (4, 32, 32), "must agree in image shape"),
])
def test_idx_files_of_the_wrong_shape(tmp_path, file, shape, expected):
    folder = mnist_folder(tmp_path)
    idx_file(folder / file, shape)
    assert expected in refused(CorruptDataError, folder / file, load, "mnist", root=tmp_path,
                               download=False)


def test_empty_idx_split(tmp_path):
    folder = mnist_folder(tmp_path, test=((0, 28, 28), (0,)))
    message = refused(CorruptDataError, folder / "t10k-images-idx3-ubyte", load, "mnist",
                      root=tmp_path, download=False)
    assert "must not be empty" in message


def test_idx_labels_out_of_range(tmp_path):
    folder = mnist_folder(tmp_path)
    idx_file(folder / "t10k-labels-idx1-ubyte", (4,), body=bytes([0, 1, 10, 2]))
    message = refused(CorruptDataError, folder / "t10k-labels-idx1-ubyte", load, "mnist",
                      root=tmp_path, download=False)
    assert "labels go up to 10, expected < 10" in message


# ------------------------------------------------------------------------------------- CIFAR-10
class Call:
    """Pickles as ``function(*args)``, then ``__setstate__(state)`` when a state is given: any
    call a hostile batch can make (numpy's functions are named by reference, never run here)."""

    def __init__(self, function, *args, state=None):
        self.function, self.args, self.state = function, args, state

    def __reduce__(self):
        call = (self.function, self.args)
        return call if self.state is None else call + (self.state,)


def u1(state=U1_STATE, spec="u1"):
    return Call(np.dtype, spec, False, True, state=state)


def array(shape=(2, 3072), dtype=None, fortran=False, raw=bytes(6144), initial=(0,)):
    """An array as numpy pickles one (protocols 0-4), any part of it replaceable."""
    return Call(multiarray._reconstruct, np.ndarray, initial, b"b",
                state=(1, shape, u1() if dtype is None else dtype, fortran, raw))


def batch_file(tmp_path: Path, batch, protocol=2) -> Path:
    path = tmp_path / "data_batch_1"
    path.write_bytes(batch if isinstance(batch, bytes) else pickle.dumps(batch, protocol=protocol))
    return path


def batch(data=None, labels=(0, 1)):
    return {b"data": np.zeros((2, 3072), np.uint8) if data is None else data, b"labels": list(labels)}


@pytest.mark.parametrize("data, found", [
    (array(shape=(10 ** 12, 3072), raw=b""), "needs 3,072,000,000,000,000 bytes, the file holds 0"),
    (array(shape=(2 ** 32, 2 ** 32), raw=b""), "needs 18,446,744,073,709,551,616 bytes"),  # np.prod: 0
    (Call(numeric._frombuffer, b"", np.dtype("u1"), (2 ** 40, 2 ** 24), "C"), "needs 18,446,744"),
    (Call(multiarray._reconstruct, np.ndarray, (10 ** 12,), b"b"), "array without its data"),
    (Call(np.ndarray, (10 ** 12,)), "not callable"),
])
def test_pickled_array_asking_for_more_than_the_file_holds(tmp_path, data, found):
    path = batch_file(tmp_path, batch(data), protocol=4)  # protocol 2 states b"" as a call of bytes()
    with PeakMemory() as memory:
        assert found in refused(CorruptDataError, path, read_cifar_batch, path)
    assert memory.peak < 2 ** 20


@pytest.mark.parametrize("data, found", [
    (array(dtype=np.dtype("O"), raw=[0] * 6144), "refusing dtype object"),
    (array(dtype=np.dtype("u1,u1")), "refusing dtype"),
    (array(dtype=np.dtype(("u1", (2,)))), "refusing dtype"),
    (array(dtype=u1(state=(3, "|", None, -1, -1, 0))), "a dtype's state"),  # segfaulted numpy
    (array(dtype=u1(state=(3, "|", None, ("a",), {"a": 1}, -1, -1, 0))), "a dtype's state"),
    (array(dtype=u1(state=(3, "x", None, None, None, -1, -1, 0))), "a dtype's state"),
    (array(dtype=u1(state=[3, "|"])), "a dtype's state"),
    (array(dtype=u1(spec=7)), "expected text, found a value of type int"),
    (array(dtype=u1(spec=b"u\xff")), "can't decode"),
    (array(dtype=u1(spec="no such type")), "not understood"),
    (array(dtype="u1"), "found types bytes, str, tuple and str"),
    (array(shape=[2, 3072]), "a shape (a tuple of ints >= 0)"),
    (array(shape=(2, -3072)), "a shape (a tuple of ints >= 0)"),
    (array(shape=(2, 3072.0)), "a shape (a tuple of ints >= 0)"),
    (array(shape=(2, True)), "a shape (a tuple of ints >= 0)"),
    (array(raw="x" * 6144), "found types str, "),
    (array(raw=bytes(6143)), "needs 6,144 bytes, the file holds 6,143"),
    (array(fortran=2), "an array's state should be"),
    (array(initial="shape"), "_reconstruct takes numpy.ndarray and a shape"),
    (Call(multiarray._reconstruct, dict, (0,), b"b"), "dict: a CIFAR-10 batch holds only"),
    (Call(numeric._frombuffer, bytes(6144), np.dtype("u1"), (2, 3072), "K"), "an order 'C' or 'F'"),
    (Call(multiarray.scalar, np.dtype("i8"), b"\x01\x02"), "needs 8 bytes, the file holds 2"),
    (Call(codecs.encode, "x", "rot13"), "latin-1 text only"),
    (Call(codecs.encode, b"x", "latin1"), "found a value of type bytes"),
    (Call(pickle.loads, b"N."), "pickle.loads: a CIFAR-10 batch holds only"),
])
def test_pickled_numpy_objects_with_wrong_parts(tmp_path, data, found):
    path = batch_file(tmp_path, batch(data))
    assert found in refused(CorruptDataError, path, read_cifar_batch, path)


def test_array_state_given_twice(tmp_path):
    twice = Call(numeric._frombuffer, bytes(6144), np.dtype("u1"), (2, 3072), "C",
                 state=(1, (2, 3072), np.dtype("u1"), False, bytes(6144)))
    path = batch_file(tmp_path, batch(twice))
    assert "given once" in refused(CorruptDataError, path, read_cifar_batch, path)


@pytest.mark.parametrize("batch_or_bytes, found", [
    ([1, 2], "expected a dict, found a value of type list"),
    (None, "expected a dict, found a value of type NoneType"),
    (b"", "not a readable CIFAR-10 batch"),
    (b"\x80\x02}q\x00.", "expected a 'data' entry"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, "expected a 'labels' entry"),
    ({b"\xff\xfe": 1, **batch()}, None),  # a key that is not UTF-8 is not in the way
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, None),  # str keys, no batch_label
    (batch(data=[[0] * 3072] * 2), "found a value of type list"),
    (batch(data=np.zeros((2, 3072), np.int64)), "found an array of dtype int64 and shape (2, 3072)"),
    (batch(data=np.zeros((2, 3, 32, 32), np.uint8)), "of dtype uint8 and shape (2, 3, 32, 32)"),
    (batch(data=np.zeros(6144, np.uint8)), "found an array of dtype uint8 and shape (6144,)"),
    (batch(data=b"\0" * 6144), "found a value of type bytes"),
    (batch(labels=[0.0, 1.0]), "found a value of type float at position 0"),
    (batch(labels=[0, "1"]), "found a value of type str at position 1"),
    (batch(labels=[0, b"1"]), "found a value of type bytes at position 1"),
    (batch(labels=[True, False]), "found a value of type bool at position 0"),
    (batch(labels=[0, [1]]), "found a value of type list at position 1"),
    (batch(labels=[0, 10]), "found a label outside 0..9 at position 1"),
    (batch(labels=[-1, 0]), "found a label outside 0..9 at position 0"),
    (batch(labels=[0, 2 ** 70]), "found a label outside 0..9 at position 1"),
    (batch(labels=[0]), "expected 2 labels in 0..9 (ints or an integer array), found 1"),
    ({**batch(), b"labels": np.array([0.0, 1.0])}, "found an array of dtype float64 and shape (2,)"),
    ({**batch(), b"labels": np.array([True, False])}, "found an array of dtype bool and shape (2,)"),
    ({**batch(), b"labels": np.array([b"0", b"1"])}, "found an array of dtype |S1 and shape (2,)"),
    ({**batch(), b"labels": np.zeros((2, 1), np.int64)}, "an array of dtype int64 and shape (2, 1)"),
    ({**batch(), b"labels": np.array([0, 12], np.uint8)}, "found labels from 0 to 12"),
    ({**batch(), b"labels": {0: 0, 1: 1}}, "found a value of type dict"),
    ({**batch(), b"labels": b"\x00\x01"}, "found a value of type bytes"),
])
def test_batch_of_the_wrong_structure(tmp_path, batch_or_bytes, found):
    path = batch_file(tmp_path, batch_or_bytes)
    if found is None:  # the control: these load
        assert read_cifar_batch(path)[1].tolist() == [0, 1]
    else:
        assert found in refused(CorruptDataError, path, read_cifar_batch, path)


def test_labels_as_numpy_integers_load(tmp_path):
    labels = [np.int64(3), np.uint8(9)]
    for pickled in ({**batch(), b"labels": labels}, {**batch(), b"labels": np.array([3, 9], ">i4")}):
        assert read_cifar_batch(batch_file(tmp_path, pickled))[1].tolist() == [3, 9]


def test_tuples_nested_deep_enough_to_crash_hashing(tmp_path):
    nest = b")" + b"\x85" * 300_000  # ((((),),),...): hashing it as a dict key overflowed the C stack
    path = batch_file(tmp_path, b"\x80\x02}" + nest + b"K\x01s.")
    assert "tuples nested deeper than 100" in refused(CorruptDataError, path, read_cifar_batch, path)


def test_memo_index_that_would_size_the_memo(tmp_path):
    path = batch_file(tmp_path, b"\x80\x02Nr" + (2 ** 24).to_bytes(4, "little") + b".")
    with PeakMemory() as memory:  # the unpickler allocated a memo of 2^25 slots (256 MiB) for it
        message = refused(CorruptDataError, path, read_cifar_batch, path)
    assert "memo index 16,777,216 out of sequence" in message
    assert memory.peak < 2 ** 20


@pytest.mark.parametrize("opcode, length", [
    (b"\x8e", 2 ** 33), (b"\x96", 2 ** 33), (b"\x8d", 2 ** 33),  # BINBYTES8, BYTEARRAY8, BINUNICODE8
    (b"B", 2 ** 31 - 1),  # BINBYTES
])
def test_byte_string_longer_than_the_file(tmp_path, opcode, length):
    width = 8 if length > 2 ** 32 else 4
    path = batch_file(tmp_path, b"\x80\x05" + opcode + length.to_bytes(width, "little") + b".")
    with PeakMemory() as memory:  # for all but BINUNICODE8 the unpickler allocated the length stated
        message = refused(CorruptDataError, path, read_cifar_batch, path)
    assert f"expected {length} bytes" in message
    assert memory.peak < 2 ** 20


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_truncated_and_mutated_batches(tmp_path, protocol):
    """Every truncation of a small batch, and random byte changes, read or raise CorruptDataError."""
    good = pickle.dumps({**batch(), b"filenames": [b"a.png", b"b.png"], b"batch_label": b"x"},
                        protocol=protocol)
    generator = random.Random(protocol)
    cases = [good[:n] for n in range(0, len(good), max(1, len(good) // 200))]
    for _ in range(300):
        mutated = bytearray(good)
        for _ in range(generator.randint(1, 3)):
            mutated[generator.randrange(len(good))] = generator.randrange(256)
        cases.append(bytes(mutated))
    for raw in cases:
        path = batch_file(tmp_path, raw)
        try:
            images, labels = read_cifar_batch(path)
        except CorruptDataError as error:
            assert str(path) in str(error)
        else:
            assert images.shape[1:] == (3, 32, 32) and labels.shape == images.shape[:1]
            assert labels.dtype == np.int64 and 0 <= labels.min() <= labels.max() <= 9


def test_random_bytes_are_not_a_batch(tmp_path):
    generator = np.random.default_rng(0)
    for size in (1, 16, 1000, 100_000):
        path = batch_file(tmp_path, generator.integers(0, 256, size, np.uint8).tobytes())
        refused(CorruptDataError, path, read_cifar_batch, path)


def cifar_folder(root: Path, sizes: dict) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, n in sizes.items():
        pickled = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [0] * n}
        (folder / name).write_bytes(pickle.dumps(pickled))
    return folder


ALL_BATCHES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]


def test_empty_cifar_split(tmp_path):
    folder = cifar_folder(tmp_path, {name: 0 if name == "test_batch" else 2 for name in ALL_BATCHES})
    message = refused(CorruptDataError, folder, load, "cifar10", root=tmp_path, download=False,
                      verify=False)
    assert "test_batch hold no images" in message and "must not be empty" in message


@pytest.mark.parametrize("download", [False, True])
def test_cifar_folder_with_some_batches_but_not_all(tmp_path, monkeypatch, download):
    folder = cifar_folder(tmp_path, {name: 2 for name in ALL_BATCHES[:3]})
    monkeypatch.setattr(data, "_fetch_cifar10", lambda root: pytest.fail("downloaded over a folder"))
    message = refused(DataNotFoundError, folder, load, "cifar10", root=tmp_path, download=download)
    assert "data_batch_4, data_batch_5, test_batch missing" in message
    assert ("download=False" if not download else "remove it to download again") in message


# ------------------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("name", [b"mnist", None, 3, ["mnist"], np.array(["mnist"])])
def test_dataset_name_that_is_not_a_string(name):
    assert "dataset name must be a str" in refused(TypeError, type(name).__name__, load, name)


@pytest.mark.parametrize("argument, value", [
    ("download", "no"), ("download", 0), ("download", None), ("verify", 1), ("verify", "yes"),
])
def test_flags_that_are_not_bools(argument, value):  # the stand-in: no files, no network
    message = refused(TypeError, argument, load, "cifar10_standin", **{argument: value})
    assert f"must be True or False, got {type(value).__name__} {value!r}" in message


@pytest.mark.parametrize("root", [3, b"/tmp", ["data"]])
def test_root_that_is_not_a_path(root):
    assert "root must be a folder path" in refused(TypeError, repr(root), load, "mnist", root=root,
                                                   download=False)


def test_empty_root():
    assert "got ''" in refused(ValueError, "root", load, "mnist", root="", download=False)


def test_root_that_is_a_file(tmp_path, monkeypatch):
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    message = refused(ValueError, a_file, load, "cifar10", root=a_file, download=False)
    assert message.startswith("root must name a folder")
    monkeypatch.setenv("ACDC_DATA", str(a_file))
    message = refused(ValueError, a_file, load, "mnist", download=False)
    assert message.startswith("$ACDC_DATA must name a folder")


def tiny_dataset(**changes) -> Dataset:
    fields = dict(images=torch.zeros(4, 1, 2, 2, dtype=torch.uint8), labels=torch.tensor([0, 1, 1, 0]),
                  classes=("a", "b"), mean=(0.5,), std=(0.25,), source="tiny", split="train")
    return Dataset(**{**fields, **changes})


@pytest.mark.parametrize("n", [-1, 2.5, "3", True, None])
def test_first_n_that_is_not_a_count(n):
    assert f"got {n!r}" in refused(ValueError, "n must be an int >= 0", tiny_dataset().first, n)


def test_first_n_accepts_numpy_integers():
    assert len(tiny_dataset().first(np.int64(3))) == 3


IMAGES = "images must be a torch.uint8 tensor (N, C, H, W)"


@pytest.mark.parametrize("changes, culprit", [
    (dict(labels=torch.tensor([0, 1, 1])), "images and labels must agree in length, got 4 images and 3"),
    (dict(images=torch.zeros(4, 1, 2, 2)), f"{IMAGES}, got torch.float32 tensor of shape (4, 1, 2, 2)"),
    (dict(images=torch.zeros(4, 2, 2, dtype=torch.uint8)), f"{IMAGES}, got torch.uint8 tensor of shape (4,"),
    (dict(images=np.zeros((4, 1, 2, 2), np.uint8)), f"{IMAGES}, got ndarray"),
    (dict(labels=torch.tensor([0, 1, 1, 0], dtype=torch.int32)), "labels must be a torch.int64 tensor"),
    (dict(labels=torch.zeros(4, 1, dtype=torch.int64)), "labels must be a torch.int64 tensor (N,)"),
    (dict(labels=torch.tensor([0, 1, 2, 0])), "labels must lie in 0..1 (one per class), got 0..2"),
    (dict(labels=torch.tensor([0, -1, 1, 0])), "labels must lie in 0..1 (one per class), got -1..1"),
    (dict(classes=()), "classes must be a non-empty tuple"),
    (dict(classes=["a", "b"]), "classes must be a non-empty tuple"),
    (dict(mean=(0.5, 0.5, 0.5)), "mean must be a tuple of one value per channel (1)"),
    (dict(std=0.25), "std must be a tuple of one value per channel (1), got 0.25"),
])
def test_dataset_built_with_inconsistent_fields(changes, culprit):
    refused(ValueError, culprit, tiny_dataset, **changes)


@pytest.mark.parametrize("argument, value, error", [("train", 0, ValueError), ("test", -5, ValueError),
                                                    ("train", 2.5, TypeError)])
def test_standin_with_an_empty_or_fractional_split(argument, value, error):
    refused(error, f"{argument} must be a positive int, got {value!r}", data.cifar10_standin,
            **{argument: value})
