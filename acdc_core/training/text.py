"""Text for character-level language models: the embedded Shakespeare excerpt that needs no
network, Shakespeare's plays from the data folder, tiny shakespeare from its usual source, or any
plain UTF-8 file; split 90/10 by position and encoded over the sorted distinct characters of the
whole text; random training windows and fixed validation windows as batches.

Names (:data:`TEXTS`): ``"shakespeare_excerpt"`` (shipped in the package, see
``texts/README.md``), ``"shakespeare_plays"`` (``ROOT/shakespeare/plays.txt``, checked against
the ``SHA256SUMS`` beside it when there is one), ``"tiny_shakespeare"``
(``ROOT/tiny_shakespeare/input.txt``, downloaded from :data:`TINY_SHAKESPEARE_URL` when missing;
its source publishes no checksum, so it is checked by its length). ``ROOT`` is resolved by
:func:`~acdc_core.training.data.data_root`. Every other argument is the path of a text file, named
by its file name. Faults raise :class:`~acdc_core.training.data.CorruptDataError` or
:class:`~acdc_core.training.data.DataNotFoundError` naming the file, what was expected and what
it holds.
"""
from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..checks import check_positive_int
from .data import CorruptDataError, DataNotFoundError, ROOT_VARIABLE, check_digest, data_root, fetch

TEXTS = ("shakespeare_excerpt", "shakespeare_plays", "tiny_shakespeare")
TRAIN_FRACTION = 0.9
EXCERPT = Path(__file__).resolve().parent / "texts" / "shakespeare_excerpt.txt.gz"
PLAYS = "Shakespeare's plays (Open Shakespeare text)"
TINY_SHAKESPEARE_URL = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                        "tinyshakespeare/input.txt")
TINY_SHAKESPEARE_CHARACTERS = 1_115_394  # its published length: the check of a download
TINY_SHAKESPEARE = "tiny shakespeare (karpathy/char-rnn)"


@dataclass(frozen=True)
class TextSplit:
    """One split of a text, encoded.

    Attributes:
        tokens: ``(N,)`` int64 indices into ``vocabulary``.
        vocabulary: the sorted distinct characters of the whole text (both splits).
        source: what the text is, e.g. ``"Shakespeare's plays (Open Shakespeare text)"``.
        split: ``"train"`` or ``"validation"``.
        verified: whether the file was checked against its canonical checksum (or length).
    """
    tokens: torch.Tensor
    vocabulary: str
    source: str
    split: str
    verified: bool = True

    @property
    def origin(self) -> str:
        """What the text is, for provenance: its source."""
        return self.source

    @property
    def name(self) -> str:
        """What every output calls it, e.g. ``"tiny shakespeare (karpathy/char-rnn), train
        1,003,854 characters"``."""
        return f"{self.source}, {self.split} {len(self):,} characters" + (
            "" if self.verified else ", unverified file")

    @property
    def slug(self) -> str:
        """The name's lowercase letters and digits joined by '-', for file names."""
        words = f"{self.source} {self.split} {len(self)}" + ("" if self.verified else " unverified")
        return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")

    def __len__(self) -> int:
        return len(self.tokens)

    def decode(self, tokens) -> str:
        """The characters of ``tokens`` (indices into the vocabulary)."""
        return "".join(self.vocabulary[int(t)] for t in tokens)


@dataclass(frozen=True)
class Text:
    """A whole text: its ``name`` (what every output calls it), ``vocabulary`` (sorted distinct
    characters) and the ``train`` and ``validation`` :class:`TextSplit`, the first 90% of its
    characters and the rest."""
    name: str
    vocabulary: str
    train: TextSplit
    validation: TextSplit

    @property
    def characters(self) -> int:
        return len(self.train) + len(self.validation)

    def encode(self, characters: str) -> torch.Tensor:
        """``(len(characters),)`` int64 indices; a character outside the vocabulary is refused."""
        index = {c: i for i, c in enumerate(self.vocabulary)}
        unknown = sorted(set(characters) - set(index))
        if unknown:
            raise ValueError(f"characters {''.join(unknown)!r} are not in the vocabulary of {self.name}")
        return torch.tensor([index[c] for c in characters], dtype=torch.int64)


def load_text(name_or_path: str | os.PathLike, root: str | os.PathLike | None = None,
              download: bool = True) -> Text:
    """The text ``name_or_path``: one of :data:`TEXTS` or the path of a plain UTF-8 text file.

    ``root``: the data folder for ``"shakespeare_plays"`` and ``"tiny_shakespeare"`` (default
    ``$ACDC_DATA``, else ``~/.cache/acdc``). ``download``: fetch tiny shakespeare when it is
    missing (written atomically, checked by its length before it is renamed into place)."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"the text must be one of {', '.join(map(repr, TEXTS))} or a file path, got "
                        f"{type(name_or_path).__name__} {name_or_path!r}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    if name_or_path == "shakespeare_excerpt":
        with gzip.open(EXCERPT, "rb") as handle:
            characters = _decoded(EXCERPT, handle.read())
        return split_text(characters, f"{PLAYS}, embedded excerpt of {len(characters):,} characters")
    if name_or_path == "shakespeare_plays":
        return _plays(data_root(root))
    if name_or_path == "tiny_shakespeare":
        return _tiny_shakespeare(data_root(root), download)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise DataNotFoundError(f"{str(name_or_path)!r} is neither a text this package knows "
                                f"({', '.join(TEXTS)}) nor an existing file")
    if not path.is_file():
        raise CorruptDataError(f"{path}: expected a plain UTF-8 text file, found a folder or other "
                               f"non-file")
    return split_text(_decoded(path, path.read_bytes()), path.name, verified=False)


def split_text(characters: str, name: str, verified: bool = True) -> Text:
    """``characters`` encoded over their sorted distinct characters and split by position: the
    first ``int(0.9 · N)`` train, the rest validation (both must hold at least one)."""
    if len(characters) < 2:
        raise CorruptDataError(f"{name}: {len(characters)} characters; a text needs at least 2 "
                               f"(a train and a validation character)")
    codes = np.frombuffer(characters.encode("utf-32-le"), dtype=np.uint32)
    distinct = np.unique(codes)
    tokens = torch.from_numpy(np.searchsorted(distinct, codes).astype(np.int64))
    vocabulary = "".join(map(chr, distinct.tolist()))
    cut = max(int(TRAIN_FRACTION * len(tokens)), 1)
    splits = (TextSplit(tokens[:cut], vocabulary, name, "train", verified),
              TextSplit(tokens[cut:], vocabulary, name, "validation", verified))
    return Text(name, vocabulary, *splits)


def _decoded(path: Path, raw: bytes) -> str:
    """``raw`` as UTF-8 (a byte-order mark dropped); anything else is refused, naming the offset."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CorruptDataError(f"{path}: expected UTF-8 text, found byte {raw[error.start]:#04x} at "
                               f"offset {error.start:,}, which is not ({error.reason})") from None


def _plays(root: Path) -> Text:
    folder = root / "shakespeare"
    path = folder / "plays.txt"
    if not path.is_file():
        raise DataNotFoundError(f"shakespeare_plays: {path} is missing. Put plays.txt (with its "
                                f"SHA256SUMS) in {folder}, or set {ROOT_VARIABLE} / pass root= to the "
                                f"folder that holds shakespeare/")
    raw = path.read_bytes()
    sums = folder / "SHA256SUMS"
    expected = _listed_digest(sums, path.name) if sums.is_file() else None
    if expected is not None:
        check_digest(path, raw, expected, "sha256", hint=f"the digest listed in {sums}")
    return split_text(_decoded(path, raw), PLAYS, verified=expected is not None)


def _listed_digest(sums: Path, name: str) -> str:
    """The hex digest ``sums`` (``sha256sum``'s format) lists for ``name``."""
    for line in sums.read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, listed = line.strip().partition(" ")
        if listed.strip().lstrip("*") == name:
            return digest.lower()
    raise CorruptDataError(f"{sums}: expected a line '<sha256>  {name}', found none")


def _tiny_shakespeare(root: Path, download: bool) -> Text:
    path = root / "tiny_shakespeare" / "input.txt"
    if not path.is_file():
        if not download:
            reason = "download=False"
        else:
            try:
                fetch(TINY_SHAKESPEARE_URL, path, None, check=lambda raw: _check_tiny(path, raw))
                reason = ""
            except OSError as error:
                reason = f"download failed: {error}"
        if reason:
            raise DataNotFoundError(
                f"tiny_shakespeare: {path} is missing and could not be fetched ({reason}). Download "
                f"{TINY_SHAKESPEARE_URL} into {path.parent}, or set {ROOT_VARIABLE} / pass root= to "
                f"the folder that holds tiny_shakespeare/, or call load_text('tiny_shakespeare') on a "
                f"machine that is online")
    raw = path.read_bytes()
    _check_tiny(path, raw)
    return split_text(_decoded(path, raw), TINY_SHAKESPEARE)


def _check_tiny(path: Path, raw: bytes) -> None:
    """Tiny shakespeare is ASCII: its bytes are its characters, 1,115,394 of them."""
    if len(raw) != TINY_SHAKESPEARE_CHARACTERS:
        raise CorruptDataError(f"{path}: {len(raw):,} bytes, expected tiny shakespeare's "
                               f"{TINY_SHAKESPEARE_CHARACTERS:,}: damaged or another file (delete it "
                               f"to download again, or load it by its path)")


# ------------------------------------------------------------------------------------- batches
def _tokens_of(split) -> torch.Tensor:
    tokens = split.tokens if isinstance(split, TextSplit) else split
    if not isinstance(tokens, torch.Tensor) or tokens.dtype != torch.int64 or tokens.ndim != 1:
        raise TypeError(f"expected a TextSplit or an int64 tensor (N,) of tokens, got "
                        f"{type(split).__name__}")
    return tokens


def _check_context(split, tokens: torch.Tensor, context: int) -> None:
    check_positive_int("context", context)
    if len(tokens) < context + 1:
        name = split.name if isinstance(split, TextSplit) else f"{len(tokens):,} tokens"
        raise ValueError(f"{name}: too short for one context window, which needs context + 1 = "
                         f"{context + 1} characters (context={context})")


def _window(tokens: torch.Tensor, starts: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (B, T), targets (B·T,)): the ``context`` characters from each start, and each
    one's next character."""
    index = starts[:, None] + torch.arange(context + 1)
    windows = tokens[index]
    return windows[:, :-1].contiguous(), windows[:, 1:].reshape(-1)


class TextBatches:
    """``steps`` batches per epoch of ``batch_size`` random windows: ``(inputs (B, T) int64,
    targets (B·T,) int64)``, the targets each input's next character, T = ``context``.

    The window starts of an epoch come from ``(seed, epoch)`` (uniform over every start that leaves
    a next character), so ``set_epoch(epoch, start)`` resumes an epoch at batch ``start`` exactly
    as a run that never stopped sees it.

    Args:
        split: a :class:`TextSplit` (its name identifies the data in checkpoints) or an int64
            tensor ``(N,)`` of tokens.
        batch_size, context: B and T. seed: of the windows. steps: batches per epoch.
    """

    def __init__(self, split: TextSplit | torch.Tensor, batch_size: int, context: int, seed: int = 0,
                 steps: int = 100):
        self.tokens = _tokens_of(split)
        check_positive_int("batch_size", batch_size)
        check_positive_int("steps", steps)
        _check_context(split, self.tokens, context)
        self.dataset = split if isinstance(split, TextSplit) else None
        self.batch_size, self.context, self.seed, self.steps = batch_size, context, seed, steps
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """The epoch whose windows the next iteration gives, from batch ``start`` on."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        starts = torch.randint(0, len(self.tokens) - self.context, (self.steps, self.batch_size),
                               generator=generator)
        for batch in range(self.start, self.steps):
            yield _window(self.tokens, starts[batch], self.context)


class ValidationWindows:
    """The same ``windows`` windows of ``context`` characters every time, their starts evenly
    spaced from the split's first character to its last full window, in batches of at most
    ``batch_size``: ``(inputs (B, T), targets (B·T,))``. Every run scored on them is scored on the
    same characters (all T predictions of each window, from 1 to T characters of context)."""

    def __init__(self, split: TextSplit | torch.Tensor, context: int, windows: int = 256,
                 batch_size: int = 64):
        self.tokens = _tokens_of(split)
        check_positive_int("windows", windows)
        check_positive_int("batch_size", batch_size)
        _check_context(split, self.tokens, context)
        self.dataset = split if isinstance(split, TextSplit) else None
        self.context, self.batch_size = context, batch_size
        last = len(self.tokens) - self.context - 1
        self.starts = torch.linspace(0, last, windows, dtype=torch.float64).round().long().unique()

    @property
    def characters(self) -> int:
        """The predictions scored: windows × context."""
        return len(self.starts) * self.context

    def __len__(self) -> int:
        return -(-len(self.starts) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for starts in self.starts.split(self.batch_size):
            yield _window(self.tokens, starts, self.context)
