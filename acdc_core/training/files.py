"""Writing files so that nothing half-written is ever left at the target path."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def write_atomically(target: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` on a new file in ``target``'s folder, then rename it onto ``target``.

    The partial file is created exclusively under an unpredictable name (so nothing planted
    beside the target, a symlink say, is ever written through), flushed to disk, renamed, and
    the folder is flushed too: after a crash ``target`` holds either its old or its new bytes.
    A failing ``write`` leaves ``target`` as it was and removes the partial file. The new file
    takes the old one's permissions, or the usual ones (0666 less the umask) when new."""
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder; expected the path of a file to write")
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    partial = Path(name)
    try:
        write(partial)
        if os.stat(partial, follow_symlinks=False).st_ino != os.fstat(handle).st_ino:
            raise OSError(f"{partial} was replaced while being written; {target} is unchanged")
        os.fchmod(handle, _permissions(target))
        os.fsync(handle)
        os.replace(partial, target)
        _sync_folder(target.parent)
    finally:
        os.close(handle)
        partial.unlink(missing_ok=True)
    return target


def _permissions(target: Path) -> int:
    """The mode bits ``target`` has now, or those a plain ``open(target, "w")`` would give it."""
    try:
        return os.stat(target).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk."""
    handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
