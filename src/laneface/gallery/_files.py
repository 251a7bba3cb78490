"""Crash-safe persistence of index files: generations switched by an atomic rename.

An index directory holds numbered generations and a ``CURRENT`` file naming the valid one::

    index/CURRENT            "g000012"
    index/g000012/...        the files of one complete save

A save writes a new generation into a temporary directory, renames it into place, then replaces
``CURRENT`` with ``os.replace`` (atomic on POSIX). A crash at any point leaves the previous generation
valid; leftovers are removed by the next save.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from laneface.fsutil import fsync_dir

__all__ = ["current_generation", "write_generation"]

_CURRENT = "CURRENT"


def current_generation(root: Path) -> Path | None:
    """The directory of the valid generation under ``root``, or ``None`` when nothing was saved yet."""
    marker = root / _CURRENT
    if not marker.is_file():
        return None
    name = marker.read_text(encoding="utf-8").strip()
    path = root / name
    return path if name.startswith("g") and path.is_dir() else None


def write_generation(root: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(directory)`` to fill a new generation, then make it the current one atomically."""
    root.mkdir(parents=True, exist_ok=True)
    current = current_generation(root)
    number = int(current.name[1:]) + 1 if current is not None else 1
    name = f"g{number:06d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    write(tmp)
    for f in tmp.iterdir():
        with f.open("rb") as fh:
            os.fsync(fh.fileno())
    final = root / name
    if final.exists():  # a crashed save of the same number that never became current
        shutil.rmtree(final)
    os.replace(tmp, final)
    marker_tmp = root / f".{_CURRENT}.tmp"
    marker_tmp.write_text(name + "\n", encoding="utf-8")
    with marker_tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(marker_tmp, root / _CURRENT)
    fsync_dir(root)
    for old in root.iterdir():
        if old.is_dir() and old.name != name and (old.name.startswith("g") or old.name.startswith(".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
    return final
