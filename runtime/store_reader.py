"""Reading a finished run's artifacts back from the ``--store URL`` it ran with (``pipec inspect``).

A run with a remote store keeps its record on the submitting host and its artifacts under
``URL/<run id>/``, named as in a run folder.  ``pipec inspect`` loads a value only from a
local file, so this copies what it asks for into a scratch folder, streamed in blocks, and
checks each file against the sha256 the run recorded before handing its path on: a copy
that does not match is never unpickled.

``fsspec`` (and ``s3fs`` for ``s3://``) are imported only through :mod:`pipec.fsspec_store`,
and this module only when a run recorded a store.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from pipec.fsspec_store import RemoteStoreError, describe_failure, download, file_system
from pipec.store import COUNT_NAME, META_SUFFIX, StoreError

__all__ = ["StoreReadError", "StoreRunReader"]


class StoreReadError(Exception):
    """An artifact cannot be read from the store, or does not hold what the run recorded."""


class StoreRunReader:
    """The artifacts of run ``run_id`` in the store at ``url``, copied into ``scratch``."""

    def __init__(self, url: str, run_id: str, scratch: Path) -> None:
        self.url = f"{url.rstrip('/')}/{run_id}"
        try:
            self._fs, self._root = file_system(self.url)
        except RemoteStoreError as exc:
            raise StoreReadError(str(exc).replace("--store", "the run's store")) from None
        self._scratch = scratch

    def where(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    def _remote(self, relative: str) -> str:
        parts = PurePosixPath(relative)
        if parts.is_absolute() or ".." in parts.parts or "\\" in relative or "\0" in relative:
            raise StoreReadError(
                f"run.json names {relative!r}, which is not a path inside {self.url}; "
                "refusing to load it"
            )
        return f"{self._root}/{relative}"

    def _failure(self, relative: str, exc: BaseException) -> StoreReadError:
        if isinstance(exc, FileNotFoundError):
            return StoreReadError(f"{self.where(relative)} is gone from the store")
        return StoreReadError(f"cannot read {self.where(relative)}: {describe_failure(exc)}")

    def artifact(self, relative: str, sha256: str) -> Path:
        """A local copy of one artifact and its meta file, holding the bytes the run recorded."""
        remote = self._remote(relative)
        target = self._scratch / relative
        meta = self._remote(relative + META_SUFFIX)
        try:
            if self._fs.exists(meta):
                download(self._fs, meta, Path(str(target) + META_SUFFIX))
            download(self._fs, remote, target, sha256)
        except StoreError:
            raise StoreReadError(
                f"{self.where(relative)} does not hold the bytes the run recorded (sha256 "
                f"{sha256}): it changed after the run wrote it; refusing to load it"
            ) from None
        except Exception as exc:  # noqa: BLE001  # every back end raises its own kinds
            raise self._failure(relative, exc) from None
        return target

    def elements(self, relative: str, sha256: str) -> list[Path]:
        """Local copies of a map's elements, checked against the record's hash of their hashes."""
        count_relative = f"{relative}/{COUNT_NAME}"
        try:
            count = json.loads(self._fs.cat_file(self._remote(count_relative)))["count"]
            paths: list[Path] = []
            hashes: list[str] = []
            for index in range(int(count)):
                element = f"{relative}/{index}.pkl"
                meta = self._remote(element + META_SUFFIX)
                target = self._scratch / element
                if self._fs.exists(meta):
                    download(self._fs, meta, Path(str(target) + META_SUFFIX))
                hashes.append(download(self._fs, self._remote(element), target)[1])
                paths.append(target)
        except StoreReadError:
            raise
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreReadError(f"{self.where(count_relative)} cannot be read ({exc})") from None
        except Exception as exc:  # noqa: BLE001
            raise self._failure(relative, exc) from None
        if hashlib.sha256("\n".join(hashes).encode()).hexdigest() != sha256:
            raise StoreReadError(
                f"the elements in {self.where(relative)} changed after the run wrote them; "
                "refusing to load them"
            )
        return paths

    def meta(self, relative: str) -> dict[str, Any] | None:
        """An artifact's meta file, or None when it cannot be read."""
        try:
            meta = json.loads(self._fs.cat_file(self._remote(relative + META_SUFFIX)))
        except Exception:  # noqa: BLE001  # only for a preview
            return None
        return meta if isinstance(meta, dict) else None
