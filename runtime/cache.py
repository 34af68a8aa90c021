"""The step cache, shared by every run on this host.

The key (:func:`cache_key`, pure) covers what decides a step's outputs: the script's
bytes (and the local modules beside it), the content hashes of its input artifacts,
its literal and parameter inputs, the interpreter and cloudpickle versions, and its
requirements with the versions installed.  An entry is a folder
``<cache>/entries/<key[:2]>/<key>/`` holding the outputs, their meta files and
``entry.json``; it is assembled in ``<cache>/tmp`` and renamed into place, so a
half-written entry is never visible.  A hit is rehashed before use: an entry whose bytes
no longer match is reported, removed and recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipec.atomic import link_or_copy_atomic, write_json_atomic
from pipec.store import META_SUFFIX

__all__ = [
    "CacheKeyParts",
    "CacheLookup",
    "StepCache",
    "cache_key",
    "default_cache_dir",
    "file_sha256",
]

KEY_VERSION = 1


@dataclass(frozen=True)
class CacheKeyParts:
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


@dataclass(frozen=True)
class CacheLookup:
    """The outcome of a lookup: ``files`` on a hit, ``problem`` when a corrupt entry was dropped."""

    files: Mapping[str, Path] | None
    problem: str | None = None
    printed: bytes | None = None  # what the node printed, for nodes whose output is printing


class StepCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _entry(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / key

    def lookup(self, key: str, outputs: Sequence[str]) -> CacheLookup:
        """The entry's output files when it exists and every file still has its recorded hash."""
        entry = self._entry(key)
        try:
            document = json.loads((entry / "entry.json").read_text(encoding="utf-8"))
            recorded = document["outputs"]
        except FileNotFoundError:
            return CacheLookup(None)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return self._drop(entry, f"entry.json cannot be read ({exc})")
        files: dict[str, Path] = {}
        for output in outputs:
            path = entry / f"{output}.pkl"
            expected = (
                recorded.get(output, {}).get("sha256") if isinstance(recorded, dict) else None
            )
            try:
                actual = file_sha256(path)
            except OSError:
                return self._drop(entry, f"{path.name} is missing")
            if actual != expected or not Path(str(path) + META_SUFFIX).is_file():
                return self._drop(
                    entry,
                    f"{path.name} has sha256 {actual[:12]}..., expected {str(expected)[:12]}...",
                )
            files[output] = path
        printed: bytes | None = None
        expected = document.get("printed_sha256") if isinstance(document, dict) else None
        if expected is not None:
            try:
                printed = (entry / "printed.txt").read_bytes()
            except OSError:
                return self._drop(entry, "printed.txt is missing")
            if hashlib.sha256(printed).hexdigest() != expected:
                return self._drop(entry, "printed.txt does not match its recorded hash")
        return CacheLookup(files, printed=printed)

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
        ``replace`` says the step was recomputed on purpose (``--refresh``).
        """
        entry = self._entry(key)
        if entry.exists():
            if not replace:
                return
            self._discard(entry)
        staging = self.root / "tmp" / f"{key}.{os.urandom(8).hex()}"
        try:
            for output, path in files.items():
                link_or_copy_atomic(path, staging / f"{output}.pkl")
                link_or_copy_atomic(
                    Path(str(path) + META_SUFFIX), staging / f"{output}.pkl{META_SUFFIX}"
                )
            document: dict[str, object] = {
                "key": key,
                "node": node,
                "outputs": {o: {"sha256": h} for o, h in hashes.items()},
            }
            if printed is not None:
                staging.mkdir(parents=True, exist_ok=True)
                (staging / "printed.txt").write_bytes(printed)
                document["printed_sha256"] = hashlib.sha256(printed).hexdigest()
            write_json_atomic(staging / "entry.json", document)
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, entry)
            except OSError:
                if not entry.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _discard(self, entry: Path) -> None:
        """Take an entry out of sight in one rename, then delete it."""
        graveyard = self.root / "tmp" / f"discarded.{os.urandom(8).hex()}"
        graveyard.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.rename(entry, graveyard)
        shutil.rmtree(graveyard, ignore_errors=True)

    def _drop(self, entry: Path, reason: str) -> CacheLookup:
        self._discard(entry)
        return CacheLookup(None, f"cache entry {entry} is corrupted: {reason}; removed it")
