"""Writing files so that a crash never leaves a half-written one: the one helper every writer uses.

A file is written under a temporary name beside its final one, flushed to disk, then
renamed over it (a rename is atomic on POSIX file systems): readers see the old file or
the new one, never a torn mix.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that choose a format by it
    still work); renamed to ``path`` when the block ends, deleted if it raises."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.partial{path.suffix}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` atomically: ``write(f)`` fills an open binary file."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def folder_bytes(folder: Path | str) -> int:
    """The size of every file under ``folder``."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 of a name -> array dict (names and bytes, in name order): the same for the same
    numbers whatever file or process they sit in, which a file's own sha256 is not (an .npz
    records when it was written)."""
    digest = hashlib.sha256()
    for name, value in sorted(weights.items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def array_sha256(value: np.ndarray) -> str:
    """sha256 of one array's dtype, shape and bytes: equal digests mean equal arrays, bit for bit."""
    value = np.ascontiguousarray(value)
    digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
    digest.update(value.tobytes())
    return digest.hexdigest()


REPO = Path(__file__).resolve().parent.parent


def repo_relative(text: str | Path) -> str:
    """``text`` (a path, a command, a log line) with this checkout's absolute path removed, so
    that what is written into results names paths relative to the repository."""
    return str(text).replace(str(REPO) + os.sep, "")
