"""A build folder for Dask workers that do not have it: found before the run, shipped once.

A step's command line names its script by the path it has on the submitting host.  Before a
run, every worker is asked (``Client.run``) whether it sees, at that path, the same build:
the same files with the same bytes (a fingerprint over the build's files, its ``runs/``
folder left out).  When one does not, the build's files travel as one zip archive through
Dask (scattered once, fetched by each worker that runs a step), each such worker unpacks it
once per fingerprint into its temporary folder, and the step's command line names the copy.

Steps of a worker without the build can only write their outputs somewhere both sides
reach, so shipping is for runs with a remote ``--store``; without one the run is refused
before it starts (see :mod:`pipec.backends`).

This module runs on both sides; it needs only the standard library.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["build_archive", "build_fingerprint", "local_build", "sees_build"]

_LEFT_OUT = frozenset({"runs", "__pycache__"})  # run folders and bytecode are not the build
_UNPACKED = ".pipec-shipped"  # written last in an unpacked copy: it is complete


def _build_files(build_dir: Path) -> Iterator[tuple[str, Path]]:
    """Every file of the build, by its path relative to the folder, in a stable order."""
    for parent, folders, files in os.walk(build_dir):
        folders[:] = sorted(name for name in folders if name not in _LEFT_OUT)
        for name in sorted(files):
            path = Path(parent, name)
            if path.is_file():
                yield path.relative_to(build_dir).as_posix(), path


# A file changed less than this long before it was hashed may change again within the same
# tick of the file system's clock (2 s on FAT; NFS takes the server's clock) and keep all its
# stat fields: such a hash is not remembered (as git treats its "racily clean" entries).
_SETTLED_SECONDS = 2.0

_Signature = tuple[tuple[str, int, int, int, int, int, int], ...]
_fingerprints_lock = threading.Lock()
_fingerprints: dict[str, tuple[_Signature, str]] = {}  # build folder -> (its files' stat, hash)


def build_fingerprint(build_dir: Path) -> str:
    """A hash of the build's file names and bytes: equal builds, equal fingerprints.

    A Dask worker asks for it before every run; hashing every file each time is the cost of
    a build the size of its local modules.  So the hash is remembered per process with every
    file's device, inode, size, mtime and ctime, and reused while none of them changed.  A
    file rewritten in place gets a new ctime, which no program can set back (``os.utime``
    sets mtime, and itself moves ctime), so an edit is seen even when the size and the mtime
    stay; only a change within the clock tick of the last one could hide, and a hash taken
    that soon after a change is not remembered.
    """
    key = os.path.abspath(build_dir)
    files = list(_build_files(build_dir))
    hashed_at = time.time()
    signature = tuple(_stat_of(relative, path) for relative, path in files)
    with _fingerprints_lock:
        known = _fingerprints.get(key)
    if known is not None and known[0] == signature:
        return known[1]
    digest = hashlib.sha256()
    for relative, path in files:
        digest.update(relative.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    fingerprint = digest.hexdigest()
    latest_change = max((max(entry[5], entry[6]) for entry in signature), default=0)
    if latest_change < (hashed_at - _SETTLED_SECONDS) * 1e9:
        with _fingerprints_lock:
            _fingerprints[key] = (signature, fingerprint)
    return fingerprint


def _stat_of(relative: str, path: Path) -> tuple[str, int, int, int, int, int, int]:
    found = path.stat()
    return (
        relative,
        found.st_dev,
        found.st_ino,
        found.st_size,
        found.st_mode,
        found.st_mtime_ns,
        found.st_ctime_ns,
    )


def build_archive(build_dir: Path) -> bytes:
    """The build's files as one zip archive (scripts and text: small, held in memory)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative, path in _build_files(build_dir):
            archive.write(path, relative)
    return buffer.getvalue()


_seen_lock = threading.Lock()
_seen: dict[tuple[str, str], bool] = {}  # (path, fingerprint) -> whether this host has it


def sees_build(path: str, fingerprint: str, look_again: bool = False) -> bool:
    """Whether this host has the build at ``path`` (looked at once per build and process,
    unless ``look_again``: the check before each run)."""
    with _seen_lock:
        known = None if look_again else _seen.get((path, fingerprint))
    if known is None:
        try:
            known = Path(path).is_dir() and build_fingerprint(Path(path)) == fingerprint
        except OSError:
            known = False
        with _seen_lock:
            _seen[(path, fingerprint)] = known
    return known


_unpack_lock = threading.Lock()


def local_build(path: str, fingerprint: str, archive: bytes) -> str:
    """Where this host runs the build from: ``path`` when it has the build there, else a copy
    unpacked from ``archive`` (once per fingerprint and host)."""
    if sees_build(path, fingerprint):
        return path
    root = Path(tempfile.gettempdir()) / "pipec-builds"
    target = root / fingerprint
    with _unpack_lock:
        if (target / _UNPACKED).is_file():
            return str(target)
        root.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{fingerprint[:12]}-", dir=root))
        try:
            with zipfile.ZipFile(io.BytesIO(archive)) as unpacking:
                for member in unpacking.namelist():
                    if member.startswith("/") or ".." in Path(member).parts:
                        raise ValueError(f"the build archive holds {member!r}")
                unpacking.extractall(temporary)
            (temporary / _UNPACKED).write_text(f"{path}\n", encoding="utf-8")
            if target.exists() and not (target / _UNPACKED).is_file():
                shutil.rmtree(target, ignore_errors=True)  # an incomplete copy, left by a kill
            # Another worker process on this host may have finished first: theirs is as good.
            try:
                os.rename(temporary, target)
            except OSError:
                if not (target / _UNPACKED).is_file():
                    raise
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    return str(target)
