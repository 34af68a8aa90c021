"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

A reader (or a run resumed after SIGKILL) sees either the old file or the new one,
never half of one.  Nothing is fsynced: the run record is rewritten often and losing
the last write after a power cut only costs redoing a step.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

__all__ = ["is_leftover", "link_or_copy_atomic", "write_bytes_atomic", "write_json_atomic"]

# Temporary names of interrupted writes: ours (``.NAME.RANDOM.tmp``, ``.NAME.PID.link.tmp``)
# and the step scripts' (``.tmp-PID-NAME``).
_LEFTOVER = re.compile(r"^\.(tmp-\d+-.+|.+\.[0-9a-f]{12}\.tmp|.+\.\d+\.link\.tmp)$")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp")
    # Not tempfile.mkstemp: its files are 0600, and a cache or run folder shared by a group
    # needs the permissions the umask gives.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
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
            import shutil  # not at import: argparse no longer loads it for pipec

            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        _discard(str(tmp))
        raise


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def is_leftover(name: str) -> bool:
    """Whether a file name is the temporary file of a write that never finished."""
    return _LEFTOVER.match(name) is not None
