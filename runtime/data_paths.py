"""Data a step reads by path: the stamp of a local file or folder that a string input names.

A cached step that takes ``"data/iris.csv"`` as an argument depends on that file's bytes,
which the string alone does not show.  Hashing the data could cost as much as the step, so
the stamp is what ``make`` trusts: each file's size and modification time (nanoseconds).
A folder counts by its files, at most :data:`MAX_FILES` of them in name order, found at most
:data:`MAX_DEPTH` levels down.  Relative paths are read from pipec's working folder, which
is the steps' working folder too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["MAX_DEPTH", "MAX_FILES", "data_stamp"]

MAX_FILES = 10_000
MAX_DEPTH = 8
_MAX_PATH_TEXT = 4096


def data_stamp(text: str) -> str | None:
    """The sha256 of the size and mtime of what ``text`` names, or None when it names nothing.

    ``text`` may be a path or a ``file://`` URL.  Strings made only of dots and slashes
    (``"."``, ``"/"``, a separator) are not taken as paths: they would stamp a whole tree.
    """
    if text.startswith("file://"):
        text = text[len("file://") :]
    if not text or len(text) > _MAX_PATH_TEXT or "\0" in text or not text.strip("./"):
        return None
    path = Path(text).expanduser()
    try:
        status = path.stat()
    except (OSError, ValueError):
        return None
    if path.is_dir():
        listing: object = {"folder": _folder_listing(path)}
    elif path.is_file():
        listing = {"file": [status.st_size, status.st_mtime_ns]}
    else:
        return None  # a device or a pipe: its contents are not a file's
    document = json.dumps(listing, separators=(",", ":"))
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def _folder_listing(root: Path) -> list[list[object]]:
    """``[relative name, size, mtime_ns]`` of the folder's files, in name order, bounded."""
    found: list[list[object]] = []
    pending: list[tuple[Path, int]] = [(root, 0)]
    while pending and len(found) < MAX_FILES:
        folder, depth = pending.pop()
        try:
            children = sorted(os.scandir(folder), key=lambda child: child.name)
        except OSError:
            found.append([str(folder.relative_to(root)) + "/", "unreadable", 0])
            continue
        for child in children:
            try:
                if child.is_dir(follow_symlinks=False):
                    if depth + 1 < MAX_DEPTH:
                        pending.append((Path(child.path), depth + 1))
                    continue
                status = child.stat()
            except OSError:
                continue
            name = str(Path(child.path).relative_to(root))
            found.append([name, status.st_size, status.st_mtime_ns])
            if len(found) >= MAX_FILES:
                break
    return sorted(found, key=lambda row: str(row[0]))
