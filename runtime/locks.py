"""Advisory file locks that pipec's processes use to tell each other what is in use."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["held_alone"]


@contextlib.contextmanager
def held_alone(lock_file: Path) -> Iterator[bool]:
    """Hold ``lock_file``'s exclusive lock while the block runs, if nobody else holds it.

    Yields True when held, and when there is nothing to hold: no lock file (nobody ever locked
    it) or no ``flock`` on this platform. Yields False when another process holds the lock, or
    the file cannot be opened (another user's)."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield True
        return
    try:
        descriptor = os.open(lock_file, os.O_RDWR)
    except FileNotFoundError:
        yield True
        return
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock
