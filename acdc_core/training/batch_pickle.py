"""Unpickling CIFAR-10's python batches without trusting them.

:func:`load` first reads the opcodes without running them, refusing byte strings longer than the
file and memo indices out of sequence (the unpickler allocates by both) and tuples nested deeper
than a batch's (hashing one crashes Python). Then an unpickler that admits only the containers
and numpy types a batch holds builds the objects, calling none of numpy's constructors: an array
(a :class:`PickledArray`) is made only from bytes the pickle holds, once they are exactly what its
shape and dtype need. Every refusal is a ``ValueError`` or ``pickle.UnpicklingError``.
"""
from __future__ import annotations

import io
import math
import pickle
import pickletools

import numpy as np


def load(raw: bytes):
    """The object pickled in ``raw`` (protocols 0-5, Python 2's too, with bytes keys); numpy arrays
    and scalars come as :class:`PickledArray`."""
    _check_opcodes(raw)
    return _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()


def describe(value) -> str:
    """What ``value`` is, without its contents (which may be huge)."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a value of type {type(value).__name__}"


_NDARRAY = object()  # what numpy.ndarray unpickles as: only a tag for _reconstruct
_MAX_TUPLE_DEPTH = 100  # numpy's pickles nest tuples 2 deep; hashing 3e5 deep overflowed the C stack


class _PickledDtype:
    """``numpy.dtype(spec)`` as a pickle states it: plain types only (numbers, bytes, text; no
    objects, fields or subarrays), byte order from the state numpy pickles with it."""

    def __init__(self, spec, align=False, copy=False):  # numpy.dtype's signature; the flags are moot
        self.dtype = np.dtype(_ascii(spec))
        if self.dtype.kind not in "biufcSU" or not self.dtype.itemsize:
            raise ValueError(f"refusing dtype {self.dtype}: a batch holds arrays of plain types")

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 5 or any(v is not None for v in state[2:5]) \
                or _ascii(state[1]) not in ("<", ">", "|", "="):
            raise ValueError("a dtype's state should be (version, byte order, None, None, None, ...), "
                             f"found {describe(state)} that is not")
        self.dtype = self.dtype.newbyteorder(_ascii(state[1]))


class PickledArray:
    """An ndarray or numpy scalar from a pickle; its ``value`` is made only from bytes the pickle
    holds, once they are exactly what its shape and dtype need."""

    def __init__(self, value=None):
        self.value = value

    def __setstate__(self, state):
        """numpy's second step: ``(version, shape, dtype, is_fortran, data)``, once."""
        if self.value is not None or not isinstance(state, tuple) or len(state) != 5 \
                or state[3] not in (0, 1):
            raise ValueError("an array's state should be (version, shape, dtype, is_fortran, data), "
                             "given once")
        _, shape, dtype, fortran, raw = state
        self.value = _array(raw, dtype, shape, "F" if fortran else "C")


def _reconstruct(subtype, shape, dtype) -> PickledArray:
    """numpy's first step in unpickling an array: an empty one (``shape`` and ``dtype`` are
    placeholders), filled by its state."""
    if subtype is not _NDARRAY or not _is_shape(shape):
        raise ValueError("_reconstruct takes numpy.ndarray and a shape")
    return PickledArray()


def _frombuffer(buffer, dtype, shape, order) -> PickledArray:
    """How pickle protocol 5 states an array."""
    return PickledArray(_array(buffer, dtype, shape, order))


def _scalar(dtype, raw) -> PickledArray:
    """How numpy pickles a scalar such as ``np.int64(3)``."""
    return PickledArray(_array(raw, dtype, (), "C")[()])


def _latin1(text, encoding) -> bytes:
    """``_codecs.encode`` as pickle protocols 0-2 state bytes: latin-1 text."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(f"_codecs.encode is admitted for latin-1 text only, found {describe(text)} "
                         f"and an encoding of type {type(encoding).__name__}")
    return text.encode("latin1")


def _array(raw, dtype, shape, order) -> np.ndarray:
    """``raw`` as an array of ``shape`` and ``dtype``, when it holds exactly the bytes they need."""
    if not isinstance(raw, (bytes, bytearray)) or not isinstance(dtype, _PickledDtype) \
            or not _is_shape(shape) or order not in ("C", "F"):
        raise ValueError(f"an array needs bytes, a dtype, a shape (a tuple of ints >= 0) and an order "
                         f"'C' or 'F', found types {type(raw).__name__}, {type(dtype).__name__}, "
                         f"{type(shape).__name__} and {type(order).__name__}")
    needed = math.prod(shape) * dtype.dtype.itemsize
    if len(raw) != needed:
        raise ValueError(f"an array of shape {shape} and dtype {dtype.dtype} needs {needed:,} bytes, "
                         f"the file holds {len(raw):,}")
    return np.frombuffer(raw, dtype.dtype).reshape(shape, order=order)


def _is_shape(shape) -> bool:
    return isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)


def _ascii(text) -> str:
    if isinstance(text, bytes):  # Python 2's pickles state text as bytes
        return text.decode("ascii")
    if not isinstance(text, str):
        raise ValueError(f"expected text, found {describe(text)}")
    return text


_PICKLE_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _PickledDtype,
    ("_codecs", "encode"): _latin1,
}


class _BatchUnpickler(pickle.Unpickler):
    """Admits only what CIFAR-10's batches hold: dicts, lists, bytes, ints and numpy arrays, the
    latter through the stand-ins above (numpy's own constructors trust sizes and states)."""

    def find_class(self, module: str, name: str):
        # numpy 2 moved numpy.core to numpy._core
        target = _PICKLE_GLOBALS.get((module.replace("numpy.core", "numpy._core", 1), name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: a CIFAR-10 batch holds only "
                                         "plain containers and numpy arrays")
        if target is _NDARRAY:
            return target
        return lambda *args: target(*args)  # a fresh callable: a BUILD on it changes nothing shared


_TUPLES = {"EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"}
_PUTS, _GETS = {"PUT", "BINPUT", "LONG_BINPUT"}, {"GET", "BINGET", "LONG_BINGET"}


def _stack_effect(op) -> tuple[bool, int, int]:
    """(whether ``op`` takes all above the top mark, how many items it takes besides, how many it
    pushes); a PUT reads the top item, and puts it back."""
    marked = pickletools.markobject in op.stack_before
    taken = op.stack_before.index(pickletools.markobject) if marked else len(op.stack_before)
    return (marked, 1, 1) if op.name in _PUTS else (marked, taken, len(op.stack_after))


_STACK_EFFECTS = {op.name: _stack_effect(op) for op in pickletools.opcodes}


def _check_opcodes(raw: bytes) -> None:
    """Refuse, without running it, a pickle that would make the unpickler crash or allocate far
    beyond its size: a byte string longer than the rest of the file (the unpickler allocates the
    length stated; ``genops`` refuses it), tuples nested more than ``_MAX_TUPLE_DEPTH`` deep
    (Python hashes them recursively), or a memo index out of sequence (the unpickler sizes its
    memo by the index). Follows the nesting depth of each item on the stack and in the memo."""
    stack, marks, memo = [], [], {}
    for op, arg, _ in pickletools.genops(raw):
        name = op.name
        if name == "MARK":
            marks.append(len(stack))
            continue
        if name == "POP" and marks and len(stack) == marks[-1]:
            marks.pop()  # POP takes a mark when nothing is above it
            continue
        depths = _take(stack, marks, name)
        if name in _TUPLES:
            depths = [1 + max(depths, default=0)]
            if depths[0] > _MAX_TUPLE_DEPTH:
                raise ValueError(f"tuples nested deeper than {_MAX_TUPLE_DEPTH}")
        elif name in _PUTS or name == "MEMOIZE":
            index = len(memo) if name == "MEMOIZE" else arg
            if index > len(memo) + 1:  # picklers number from len(memo) (Python 2's cPickle: +1)
                raise ValueError(f"memo index {index:,} out of sequence ({len(memo):,} stored)")
            memo[index] = depths[0]
        elif name in _GETS:
            if arg not in memo:
                raise ValueError(f"memo index {arg:,} read before it is stored")
            depths = [memo[arg]]
        elif name == "DUP":
            depths = depths * 2
        else:
            depths = [0] * _STACK_EFFECTS[name][2]
        stack.extend(depths)


def _take(stack: list, marks: list, name: str) -> list:
    """The depths of the items opcode ``name`` takes off ``stack``, checked as the unpickler does:
    never below the top mark, unless taking it."""
    marked, count, _ = _STACK_EFFECTS[name]
    taken = []
    if marked:
        if not marks:
            raise ValueError(f"{name} without a mark")
        taken = stack[marks[-1]:]
        del stack[marks.pop():]
    if count > len(stack) - (marks[-1] if marks else 0):
        raise ValueError(f"{name} on a stack too short for it")
    if count:
        taken = stack[-count:] + taken
        del stack[-count:]
    return taken
