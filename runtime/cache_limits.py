"""The step cache's size limit: how big it may grow, how big it is, and what goes first.

Entries are evicted least recently used first: a hit touches the entry's ``entry.json``, so
its modification time is the entry's last use.  Sizes count every file of an entry, though
a file that is also a hard link in a run folder frees its space only once that run is gone.
An entry this user cannot read (another user's, in a shared cache) is never deleted.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipec.value_methods import ValueMethods

__all__ = [
    "DEFAULT_CACHE_MAX",
    "CacheEntryUse",
    "CacheSizeError",
    "cache_entries",
    "cache_max_bytes",
    "evict_least_recently_used",
    "format_size",
    "parse_size",
    "remove_entry",
    "touch_entry",
]

DEFAULT_CACHE_MAX = "10G"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*"  # compiled (and kept by re) when used


class CacheSizeError(ValueError):
    """``PIPEC_CACHE_MAX`` (or a size given on the command line) that is not a size."""


def parse_size(text: str) -> int:
    """Bytes from ``500M``, ``10G``, ``1.5T``, ``2GiB`` or a plain number of bytes."""
    match = re.fullmatch(_SIZE, text, re.IGNORECASE)
    if match is None:
        raise CacheSizeError(
            f"{text!r} is not a size; write a number of bytes with an optional unit, "
            "such as 500M, 10G or 1T"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def cache_max_bytes() -> int:
    """The limit: ``PIPEC_CACHE_MAX`` when set, else :data:`DEFAULT_CACHE_MAX`."""
    text = os.environ.get("PIPEC_CACHE_MAX", "").strip() or DEFAULT_CACHE_MAX
    try:
        return parse_size(text)
    except CacheSizeError as exc:
        raise CacheSizeError(f"PIPEC_CACHE_MAX: {exc}") from None


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


@dataclass(frozen=True, eq=False, repr=False)
class CacheEntryUse(ValueMethods):
    """One cache entry as the size limit sees it: how big, how recently used."""

    path: Path
    size: int
    last_used: float  # the modification time of its entry.json
    readable: bool  # False: another user's entry, left alone


def cache_entries(root: Path) -> Iterator[CacheEntryUse]:
    """Every entry folder under ``root/entries``, with its size and last use."""
    with contextlib.suppress(OSError):
        for shard in sorted((root / "entries").iterdir()):
            if not shard.is_dir() or shard.is_symlink():
                continue
            with contextlib.suppress(OSError):
                for entry in sorted(shard.iterdir()):
                    yield _describe(entry)


def _describe(entry: Path) -> CacheEntryUse:
    record = entry / "entry.json"
    readable = os.access(record, os.R_OK) and os.access(entry, os.R_OK | os.X_OK)
    try:
        last_used = record.stat().st_mtime
    except OSError:
        last_used = 0.0
    size = 0
    with contextlib.suppress(OSError):
        for child in entry.iterdir():
            with contextlib.suppress(OSError):
                size += child.lstat().st_size
    return CacheEntryUse(entry, size, last_used, readable)


def touch_entry(entry: Path) -> None:
    """Mark an entry as used now (a shared entry this user may not touch stays as it was)."""
    with contextlib.suppress(OSError):
        os.utime(entry / "entry.json")


def evict_least_recently_used(
    root: Path, limit: int, keep: Path | None = None
) -> tuple[list[Path], int]:
    """Delete the least recently used readable entries until the cache fits in ``limit``;
    the entries deleted and the size left."""
    entries = list(cache_entries(root))
    total = sum(entry.size for entry in entries)
    evicted: list[Path] = []
    for entry in sorted(entries, key=lambda e: e.last_used):
        if total <= limit:
            break
        if not entry.readable or entry.path == keep:
            continue
        if remove_entry(root, entry.path):
            total -= entry.size
            evicted.append(entry.path)
    return evicted, total


def remove_entry(root: Path, entry: Path) -> bool:
    """Take an entry out of sight in one rename (a reader sees it whole or not at all), then
    delete it; whether it is gone."""
    graveyard = root / "tmp" / f"discarded.{os.urandom(8).hex()}"
    try:
        graveyard.parent.mkdir(parents=True, exist_ok=True)
        os.rename(entry, graveyard)
    except OSError:
        return False
    import shutil  # not at import: argparse no longer loads it for pipec

    shutil.rmtree(graveyard, ignore_errors=True)
    return True
