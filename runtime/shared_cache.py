"""``pipec run --cache URL``: a step cache that several hosts share through fsspec.

The local cache folder stays in front: a lookup that misses there fetches the entry from
``URL/entries/<k2>/<key>/`` into it and then verifies it as any local entry (every file
against the sha256 its ``entry.json`` records), so a damaged shared entry is never used.  A
saved entry is copied up after it is saved locally, its files first and ``entry.json`` last:
a host sees a shared entry only once it is whole.  The shared cache can only make a run
faster: when it cannot be reached during a run, pipec says so and computes the step.

Imported only when ``--cache`` names a URL (it needs fsspec, and s3fs for ``s3://``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipec.cache import CacheLookup, StepCache
from pipec.fsspec_store import download, file_system, upload
from pipec.manifest import artifact_file_name

__all__ = ["SharedStepCache"]

_ENTRY = "entry.json"


class SharedStepCache(StepCache):
    """The cache folder ``root`` in front of the shared cache at ``url``."""

    def __init__(
        self, root: Path, url: str, warn: Callable[[str], None], max_bytes: int | None = None
    ) -> None:
        super().__init__(root, max_bytes)
        self.url = url.rstrip("/")
        self._warn = warn
        self._fs: Any = None
        self._base = ""

    def _remote(self, key: str) -> tuple[Any, str]:
        if self._fs is None:
            self._fs, base = file_system(self.url)
            self._base = base.rstrip("/")
        self._entry(key)  # checks the key's form
        return self._fs, f"{self._base}/entries/{key[:2]}/{key}"

    def lookup(self, key: str, outputs: Sequence[str]) -> CacheLookup:
        found = super().lookup(key, outputs)
        if found.files is not None or found.problem is not None:
            return found
        try:
            fetched = self._fetch(key)
        except Exception as exc:  # noqa: BLE001 - every fsspec back end raises its own kinds
            self._warn(f"cannot read the shared cache {self.url} ({exc}); computing the step")
            return found
        return super().lookup(key, outputs) if fetched else found

    def _fetch(self, key: str) -> bool:
        """Copy the shared entry under ``key`` into the local folder; whether there was one."""
        fs, remote = self._remote(key)
        try:
            document = json.loads(fs.cat_file(f"{remote}/{_ENTRY}"))
        except FileNotFoundError:
            return False
        recorded = document.get("outputs") if isinstance(document, dict) else None
        if not isinstance(recorded, dict):
            return False  # not an entry pipec wrote: leave it, compute the step
        names = [
            f"{artifact_file_name(output)}.pkl{suffix}"
            for output in recorded
            for suffix in ("", ".meta.json")
        ]
        if document.get("printed_sha256") is not None:
            names.append("printed.txt")
        staging = self.root / "tmp" / f"{key}.fetched.{os.urandom(8).hex()}"
        try:
            for name in names:
                download(fs, f"{remote}/{name}", staging / name)
            (staging / _ENTRY).write_text(json.dumps(document), encoding="utf-8")
            entry = self._entry(key)
            entry.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(staging, entry)
            except OSError:
                if not entry.exists():  # else another run fetched it first: the same bytes
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return True

    def save(
        self,
        key: str,
        node: str,
        files: Mapping[str, Path],
        hashes: Mapping[str, str],
        replace: bool = False,
        printed: bytes | None = None,
    ) -> None:
        super().save(key, node, files, hashes, replace=replace, printed=printed)
        entry = self._entry(key)
        if not (entry / _ENTRY).is_file():
            return
        try:
            fs, remote = self._remote(key)
            if not replace and fs.exists(f"{remote}/{_ENTRY}"):
                return  # another host saved the same outputs
            for child in sorted(entry.iterdir()):
                if child.name != _ENTRY:
                    upload(fs, child, f"{remote}/{child.name}")
            upload(fs, entry / _ENTRY, f"{remote}/{_ENTRY}")
        except Exception as exc:  # noqa: BLE001 - every fsspec back end raises its own kinds
            raise OSError(f"the shared cache {self.url}: {exc}") from None
