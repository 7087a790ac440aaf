"""Writing files so that nothing half-written is ever left at the target path."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def write_atomically(target: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(partial)`` on a hidden sibling of ``target``, then rename it onto ``target``.
    A failing ``write`` leaves ``target`` as it was and removes the partial file."""
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    try:
        write(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target
