"""The step cache, shared by every run on this host.

The key (:func:`cache_key`, pure) covers what decides a step's outputs: the script's
bytes (and the local modules beside it), the content hashes of its input artifacts,
its literal and parameter inputs, the interpreter and cloudpickle versions, and its
requirements with the versions installed.  An entry is a folder
``<cache>/entries/<key[:2]>/<key>/`` holding the outputs, their meta files and
``entry.json``; it is assembled in ``<cache>/tmp`` and renamed into place, so a
half-written entry is never visible.  A hit is verified before use (every file against
the sha256 ``entry.json`` records, every meta file against its output): an entry that fails
is reported, removed and recomputed.  Files are created with the umask's permissions, so a
cache on a shared disk works for a group (see docs/runtime.md); an entry another user made
and this one cannot read is left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipec.atomic import link_or_copy_atomic, write_bytes_atomic, write_json_atomic
from pipec.cache_limits import cache_entries, evict_least_recently_used, touch_entry
from pipec.manifest import artifact_file_name
from pipec.paths import PathEscape, inside
from pipec.store import META_SUFFIX
from pipec.value_methods import ValueMethods

__all__ = [
    "CacheKeyParts",
    "CacheLookup",
    "StepCache",
    "cache_key",
    "default_cache_dir",
    "file_sha256",
]

KEY_VERSION = 1


@dataclass(frozen=True, eq=False, repr=False)
class CacheKeyParts(ValueMethods):
    """Everything a step's cache key is made of (hashed together by the cache)."""

    script_sha256: str
    local_modules: Mapping[str, str]  # module file name -> sha256
    function: str | None
    inputs: Mapping[str, Mapping[str, str]]  # argument -> {"artifact": sha256} or {"value": repr}
    outputs: Sequence[str]
    python: str  # implementation and full version, e.g. "cpython-3.11.9"
    cloudpickle: str | None
    requirements: Sequence[str]
    installed: Mapping[str, str | None]  # distribution -> installed version


def cache_key(parts: CacheKeyParts) -> str:
    """The sha256 of a canonical JSON document of everything that decides the outputs."""
    document = {
        "pipec_cache_key": KEY_VERSION,
        "script_sha256": parts.script_sha256,
        "local_modules": dict(sorted(parts.local_modules.items())),
        "function": parts.function,
        "inputs": {name: dict(value) for name, value in sorted(parts.inputs.items())},
        "outputs": list(parts.outputs),
        "python": parts.python,
        "cloudpickle": parts.cloudpickle,
        "requirements": sorted(parts.requirements),
        "installed": dict(sorted(parts.installed.items())),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """``$PIPEC_CACHE_DIR``, else ``$XDG_CACHE_HOME/pipec``, else ``~/.cache/pipec``."""
    explicit = os.environ.get("PIPEC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pipec" if xdg else Path.home() / ".cache" / "pipec"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, eq=False, repr=False)
class CacheLookup(ValueMethods):
    """The outcome of a lookup: ``files`` on a hit; ``problem`` says why an entry that exists
    was not used (damaged and dropped, or unreadable for this user and left alone)."""

    files: Mapping[str, Path] | None
    problem: str | None = None
    printed: bytes | None = None  # what the node printed, for nodes whose output is printing


class _Damaged(Exception):
    """An entry that fails verification: it is dropped and recomputed."""


# Staging folders and discarded entries left by killed writers are swept once they are
# this old; a live writer needs seconds, not an hour.
_LEFTOVER_AGE = 3600.0


class StepCache:
    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        self.root = root
        self._swept = False
        self._max_bytes = max_bytes  # None: no limit
        self._usage: int | None = None  # the cache's size as this process last measured it

    def _entry(self, key: str) -> Path:
        if not _HEX_KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return inside(self.root, f"entries/{key[:2]}/{key}")

    def lookup(self, key: str, outputs: Sequence[str]) -> CacheLookup:
        """The entry's output files when it exists and every file still has its recorded hash.

        An entry that fails verification is removed (``problem`` says why); one this user
        cannot read is left alone for its owner.
        """
        entry = self._entry(key)
        if not os.path.lexists(entry):
            return CacheLookup(None)
        try:
            found = self._verified(entry, outputs)
            touch_entry(entry)  # least recently used goes first when the cache is full
            return found
        except PermissionError as exc:
            return CacheLookup(
                None,
                f"cache entry {entry} cannot be read by this user ({exc.strerror}: "
                f"{exc.filename}); left it for its owner. To share a cache, see "
                "'What pipec trusts' in docs/runtime.md",
            )
        except _Damaged as exc:
            return self._drop(entry, str(exc))

    def _verified(self, entry: Path, outputs: Sequence[str]) -> CacheLookup:
        if entry.is_symlink() or not entry.is_dir():
            raise _Damaged("it is not a folder")
        document = _read_json(entry / "entry.json")
        recorded = document.get("outputs")
        if not isinstance(recorded, dict):
            raise _Damaged("entry.json lists no outputs")
        files: dict[str, Path] = {}
        for output in outputs:
            files[output] = self._verified_output(entry, output, recorded.get(output))
        printed: bytes | None = None
        expected = document.get("printed_sha256")
        if expected is not None:
            printed = _read_bytes(entry / "printed.txt")
            if hashlib.sha256(printed).hexdigest() != expected:
                raise _Damaged("printed.txt does not match the sha256 entry.json records for it")
        return CacheLookup(files, printed=printed)

    def _verified_output(self, entry: Path, output: str, recorded: object) -> Path:
        try:
            path = inside(entry, f"{artifact_file_name(output)}.pkl")
        except PathEscape as exc:
            raise _Damaged(str(exc)) from None
        if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
            raise _Damaged(f"entry.json records no sha256 for {path.name}")
        expected: str = recorded["sha256"]
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            raise _Damaged(f"{path.name} is missing") from None
        if actual != expected:
            raise _Damaged(f"{path.name} has sha256 {actual}, but entry.json records {expected}")
        meta_path = Path(str(path) + META_SUFFIX)
        meta_bytes = _read_bytes(meta_path)
        meta_sha256 = recorded.get("meta_sha256")
        if meta_sha256 is not None and hashlib.sha256(meta_bytes).hexdigest() != meta_sha256:
            raise _Damaged(f"{meta_path.name} does not match the sha256 entry.json records for it")
        try:
            meta = json.loads(meta_bytes)
        except ValueError:
            meta = None
        if not isinstance(meta, dict):
            raise _Damaged(f"{meta_path.name} is not a JSON object")
        if meta.get("sha256") != actual or meta.get("size") != os.stat(path).st_size:
            raise _Damaged(f"{meta_path.name} does not describe {path.name}")
        return path

    def save(
        self,
        key: str,
        node: str,
        files: Mapping[str, Path],
        hashes: Mapping[str, str],
        replace: bool = False,
        printed: bytes | None = None,
    ) -> None:
        """Keep a step's outputs under ``key`` (hard links when possible).

        An existing entry is kept (concurrent writers hold the same outputs) unless
        ``replace`` says the step was recomputed on purpose (``--refresh``); an entry this
        user cannot read is never replaced.
        """
        self._sweep_leftovers()
        entry = self._entry(key)
        if os.path.lexists(entry):
            if not replace:
                return
            if not os.access(entry / "entry.json", os.R_OK):
                raise PermissionError(
                    f"the entry {entry} belongs to another user and cannot be read; left it alone"
                )
            self._discard(entry)
        staging = self.root / "tmp" / f"{key}.{os.urandom(8).hex()}"
        try:
            outputs: dict[str, dict[str, str]] = {}
            for output, path in files.items():
                meta = Path(str(path) + META_SUFFIX)
                stored = artifact_file_name(output) + ".pkl"
                for source, name in ((path, stored), (meta, stored + META_SUFFIX)):
                    link_or_copy_atomic(source, inside(staging, name))
                    _share_as_umask_allows(staging / name)
                outputs[output] = {"sha256": hashes[output], "meta_sha256": file_sha256(meta)}
            document: dict[str, object] = {"key": key, "node": node, "outputs": outputs}
            if printed is not None:
                write_bytes_atomic(staging / "printed.txt", printed)
                document["printed_sha256"] = hashlib.sha256(printed).hexdigest()
            write_json_atomic(staging / "entry.json", document)
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, entry)
            except OSError:
                if not entry.exists():
                    raise
        finally:
            import shutil  # not at import: argparse no longer loads it for pipec

            shutil.rmtree(staging, ignore_errors=True)
        self._keep_within_limit(entry)

    def _keep_within_limit(self, saved: Path) -> None:
        """Evict least recently used entries once the cache outgrows its limit; the cache is
        measured once per process, then the entries this process adds are counted."""
        if self._max_bytes is None:
            return
        if self._usage is None:
            self._usage = sum(use.size for use in cache_entries(self.root))
        else:
            with contextlib.suppress(OSError):
                self._usage += sum(child.lstat().st_size for child in saved.iterdir())
        if self._usage > self._max_bytes:
            _, self._usage = evict_least_recently_used(self.root, self._max_bytes, keep=saved)

    def _sweep_leftovers(self) -> None:
        """Remove what killed writers left in ``tmp/`` (once per process and cache)."""
        if self._swept:
            return
        self._swept = True
        now = time.time()
        with contextlib.suppress(OSError):
            for leftover in (self.root / "tmp").iterdir():
                with contextlib.suppress(OSError):
                    old = now - leftover.lstat().st_mtime > _LEFTOVER_AGE
                    if old or leftover.name.startswith("discarded."):
                        _remove(leftover)

    def _discard(self, entry: Path) -> None:
        """Take an entry out of sight in one rename, then delete it."""
        graveyard = self.root / "tmp" / f"discarded.{os.urandom(8).hex()}"
        graveyard.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.rename(entry, graveyard)
        _remove(graveyard)

    def _drop(self, entry: Path, reason: str) -> CacheLookup:
        self._discard(entry)
        if os.path.lexists(entry):
            return CacheLookup(
                None,
                f"cache entry {entry} is corrupted: {reason}; could not remove it (no write "
                "permission on its folder), so it is left in place",
            )
        return CacheLookup(None, f"cache entry {entry} is corrupted: {reason}; removed it")


_HEX_KEY = re.compile(r"[0-9a-f]{64}")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing file is damage, an unreadable one is not ours to judge."""
    try:
        return path.read_bytes()
    except PermissionError:
        raise
    except OSError as exc:
        raise _Damaged(f"{path.name} cannot be read ({exc.strerror or exc})") from None


def _read_json(path: Path) -> dict[str, object]:
    try:
        document = json.loads(_read_bytes(path))
    except ValueError as exc:
        raise _Damaged(f"{path.name} is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise _Damaged(f"{path.name} is not a JSON object")
    return document


def _share_as_umask_allows(path: Path) -> None:
    """Give a kept file the permissions the umask allows: a step may have written it 0600
    (``tempfile.mkstemp``), which would hide the entry from the rest of a team sharing the
    cache.  The file is a hard link of the run's artifact, which gets the same permissions."""
    mask = _umask()
    if mask is None:
        return
    with contextlib.suppress(OSError):
        wanted = 0o666 & ~mask
        status = path.stat()
        if status.st_uid == os.geteuid() and status.st_mode & wanted != wanted:
            path.chmod((status.st_mode & 0o777) | wanted)


def _umask() -> int | None:
    """This process's umask, read without changing it (Linux); None when it cannot be read."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Umask:"):
            return int(line.split()[1], 8)
    return None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil  # not at import: argparse no longer loads it for pipec

        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()
