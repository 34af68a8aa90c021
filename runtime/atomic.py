"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

A reader (or a run resumed after SIGKILL) sees either the old file or the new one,
never half of one.  Nothing is fsynced: the run record is rewritten often and losing
the last write after a power cut only costs redoing a step.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_bytes_atomic", "write_json_atomic", "link_or_copy_atomic"]


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def write_json_atomic(path: Path, data: object) -> None:
    write_bytes_atomic(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def link_or_copy_atomic(source: Path, target: Path) -> None:
    """Make ``target`` hold ``source``'s bytes: a hard link when possible, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.link.tmp"
    _discard(str(tmp))
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        _discard(str(tmp))
        raise


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
