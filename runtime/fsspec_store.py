"""Artifacts in any fsspec file system: the ``--store URL`` form of the ArtifactStore seam.

A run's artifacts live under ``URL/<run id>/`` with the same names as in a run folder
(``artifacts/<node>/<output>.pkl`` and its ``.meta.json``, decisions, map folders with
``count.json``, ``inputs/<node>/<argument>.json``).  Step scripts only read and write local
files, so each step runs under :mod:`pipec.staging`, which copies its inputs from the store
to a scratch folder, runs the script, and copies its outputs back; this side only names the
URLs and reads meta files.  Every copy is streamed in blocks, never whole in memory, and every
write goes to a temporary key that is then moved onto the real one, so a reader never sees
half an artifact.

``fsspec`` (and ``s3fs`` for ``s3://``) are imported only here, and this module only when
``--store`` names a URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from pipec.manifest import artifact_file_name
from pipec.record import ArtifactInfo
from pipec.store import COUNT_NAME, META_SUFFIX, StoreError

__all__ = [
    "FsspecArtifactStore",
    "RemoteStoreError",
    "describe_failure",
    "download",
    "file_system",
    "upload",
]

BLOCK = 8 << 20  # bytes per streamed read or write

_S3 = ("s3", "s3a")


class RemoteStoreError(Exception):
    """The store URL cannot be used: no fsspec, no credentials, no bucket (exit 2)."""


def file_system(url: str) -> tuple[Any, str]:
    """The fsspec file system of ``url`` and the path inside it; RemoteStoreError naming the
    extra to install when the protocol's package is missing."""
    protocol = url.split("://", 1)[0]
    hint = (
        "pip install 'pipec[s3]'"
        if protocol in _S3
        else f"pip install fsspec (and the fsspec package for {protocol}://)"
    )
    try:
        import fsspec
    except ImportError:
        raise RemoteStoreError(
            f"--store {url} needs fsspec, which is not installed; install it with: {hint}"
        ) from None
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        raise RemoteStoreError(f"--store {url}: {exc}; install it with: {hint}") from None
    except ValueError as exc:
        raise RemoteStoreError(f"--store {url}: {exc}") from None
    return fs, str(path)


def describe_failure(exc: BaseException) -> str:
    """What went wrong talking to the store, with the fix when it is the credentials."""
    text = str(exc) or type(exc).__name__
    if (
        isinstance(exc, PermissionError)
        or "AccessDenied" in text
        or "InvalidAccessKeyId" in text
        or "SignatureDoesNotMatch" in text
    ):
        return (
            f"the store refused the credentials ({text.strip()}); set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to a key that may write there"
        )
    return text


def check_writable(url: str) -> None:
    """Write and remove a small object under ``url``: wrong credentials, a missing bucket or
    a read-only store are found before any step runs."""
    fs, path = file_system(url)
    probe = f"{path.rstrip('/')}/.pipec-write-check-{uuid.uuid4().hex}"
    try:
        fs.pipe_file(probe, b"pipec\n")
        fs.rm_file(probe)
    except FileNotFoundError as exc:
        raise RemoteStoreError(
            f"--store {url}: {exc or 'not found'}; create the bucket (or folder) first"
        ) from None
    except Exception as exc:  # noqa: BLE001  # every back end raises its own kinds
        raise RemoteStoreError(
            f"--store {url}: cannot write there: {describe_failure(exc)}"
        ) from None


def download(fs: Any, path: str, target: Path, expected: str | None = None) -> tuple[int, str]:
    """Copy ``path`` to the local file ``target`` block by block; its size and sha256.

    ``expected`` (a sha256) is checked, so a damaged transfer never reaches a step.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    temporary = target.with_name(f".tmp-{os.getpid()}-{target.name}")
    try:
        with fs.open(path, "rb", block_size=BLOCK) as source, open(temporary, "wb") as sink:
            while block := source.read(BLOCK):
                digest.update(block)
                sink.write(block)
                size += len(block)
        if expected is not None and digest.hexdigest() != expected:
            raise StoreError(f"{path} does not match its sha256 (damaged in the store?)")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return size, digest.hexdigest()


def _is_local(fs: Any) -> bool:
    return getattr(fs, "auto_mkdir", None) is False  # only fsspec's LocalFileSystem has it


def _temporary_beside(fs: Any, path: str) -> str:
    parent, _, name = path.rpartition("/")
    if _is_local(fs):  # folders are real there
        fs.makedirs(parent, exist_ok=True)
    return f"{parent}/.tmp-{uuid.uuid4().hex}-{name}"


def _commit(fs: Any, temporary: str, path: str) -> None:
    """Move a written temporary key onto its name.  Single-file calls only: ``mv`` would read
    the brackets of a map instance (``square[3]``) as a glob."""
    if _is_local(fs):
        os.replace(temporary, path)
    else:
        fs.cp_file(temporary, path)
        fs.rm_file(temporary)


def upload(fs: Any, source: Path, path: str) -> None:
    """Copy the local file ``source`` to ``path``: streamed to a temporary key, then moved."""
    temporary = _temporary_beside(fs, path)
    try:
        fs.put_file(str(source), temporary)
        _commit(fs, temporary, path)
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            fs.rm_file(temporary)
        raise


def _upload_bytes(fs: Any, data: bytes, path: str) -> None:
    temporary = _temporary_beside(fs, path)
    fs.pipe_file(temporary, data)
    _commit(fs, temporary, path)


class FsspecArtifactStore:
    """Artifacts under ``<url>/<run_id>/``; ``scratch`` is a local folder for the files the
    step cache keeps."""

    def __init__(self, url: str, run_id: str, scratch: Path) -> None:
        self.url = f"{url.rstrip('/')}/{run_id}"
        self._fs, self._root = file_system(self.url)
        self._protocol = url.split("://", 1)[0]
        self._scratch = scratch

    def _path(self, relative: str) -> str:
        return f"{self._root}/{relative}"

    def _url(self, relative: str) -> str:
        return f"{self.url}/{relative}"

    @staticmethod
    def _artifact(node: str, output: str) -> str:
        return f"artifacts/{node}/{artifact_file_name(output)}.pkl"

    def location(self, node: str, output: str) -> str:
        return self._url(self._artifact(node, output))

    def element_location(self, node: str, output: str, index: int) -> str:
        return self._url(f"artifacts/{node}/{artifact_file_name(output)}/{index}.pkl")

    def decision_location(self, node: str, output: str) -> str:
        return self._url(f"artifacts/{node}/{artifact_file_name(output)}.json")

    def folder_location(self, node: str, output: str) -> str:
        count = self._path(f"artifacts/{node}/{artifact_file_name(output)}/{COUNT_NAME}")
        try:
            if self._fs.exists(count):
                self._fs.rm_file(count)
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{count}: {describe_failure(exc)}") from None
        return self._url(f"artifacts/{node}/{artifact_file_name(output)}")

    def _read(self, relative: str) -> bytes:
        try:
            data: bytes = self._fs.cat_file(self._path(relative))
        except FileNotFoundError:
            raise StoreError(f"{self._url(relative)} is missing") from None
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{self._url(relative)}: {describe_failure(exc)}") from None
        return data

    def _describe(self, relative: str) -> ArtifactInfo:
        try:
            meta = json.loads(self._read(relative + META_SUFFIX))
        except ValueError as exc:
            raise StoreError(f"{self._url(relative)}{META_SUFFIX} cannot be read ({exc})") from None
        size, sha256 = meta.get("size"), meta.get("sha256") if isinstance(meta, dict) else None
        if not isinstance(size, int) or not isinstance(sha256, str):
            raise StoreError(f"{self._url(relative)}{META_SUFFIX} lacks size or sha256")
        try:
            stored = self._fs.size(self._path(relative))
        except FileNotFoundError:
            raise StoreError(f"{self._url(relative)} is missing") from None
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{self._url(relative)}: {describe_failure(exc)}") from None
        if stored != size:
            raise StoreError(f"{self._url(relative)} has {stored} bytes, its meta file says {size}")
        return ArtifactInfo(relative, size, sha256)

    def describe(self, node: str, output: str) -> ArtifactInfo:
        return self._describe(self._artifact(node, output))

    def intact(self, node: str, output: str, expected: ArtifactInfo) -> bool:
        try:
            return self.describe(node, output) == expected
        except StoreError:
            return False

    def read_decision(self, node: str, output: str) -> tuple[bool, ArtifactInfo]:
        relative = f"artifacts/{node}/{artifact_file_name(output)}.json"
        data = self._read(relative)
        try:
            decision = json.loads(data)
        except ValueError:
            decision = None
        if not isinstance(decision, bool):
            raise StoreError(f"{self._url(relative)} does not hold JSON true or false")
        return decision, ArtifactInfo(relative, len(data), hashlib.sha256(data).hexdigest())

    def read_elements(self, node: str, output: str) -> tuple[str, list[ArtifactInfo]]:
        folder = f"artifacts/{node}/{artifact_file_name(output)}"
        try:
            count = json.loads(self._read(f"{folder}/{COUNT_NAME}")).get("count")
        except (ValueError, AttributeError) as exc:
            raise StoreError(f"{self._url(folder)}/{COUNT_NAME} cannot be read ({exc})") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise StoreError(f"{self._url(folder)}/{COUNT_NAME} does not hold a count")
        return folder, [self._describe(f"{folder}/{index}.pkl") for index in range(count)]

    def write_input_spec(self, node: str, argument: str, description: object) -> str:
        relative = f"inputs/{node}/{argument}.json"
        data = json.dumps(description, indent=2).encode()
        try:
            _upload_bytes(self._fs, data, self._path(relative))
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{self._url(relative)}: {describe_failure(exc)}") from None
        return self._url(relative)

    def local_file(self, node: str, output: str) -> Path:
        """The output and its meta file copied to this host (for the step cache to keep)."""
        return self._copy_here(self._artifact(node, output))

    def local_element_file(self, node: str, output: str, index: int) -> Path:
        return self._copy_here(f"artifacts/{node}/{artifact_file_name(output)}/{index}.pkl")

    def _copy_here(self, relative: str) -> Path:
        target = self._scratch / relative
        info = self._describe(relative)
        try:
            download(self._fs, self._path(relative + META_SUFFIX), Path(str(target) + META_SUFFIX))
            download(self._fs, self._path(relative), target, info.sha256)
        except Exception as exc:  # noqa: BLE001
            raise OSError(f"cannot copy {self._url(relative)} here: {exc}") from None
        return target

    def adopt(self, node: str, output: str, source: Path) -> ArtifactInfo:
        relative = self._artifact(node, output)
        try:
            # The meta file goes in first: a reader that finds the artifact finds its meta too.
            upload(self._fs, Path(str(source) + META_SUFFIX), self._path(relative + META_SUFFIX))
            upload(self._fs, source, self._path(relative))
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"{self._url(relative)}: {describe_failure(exc)}") from None
        return self.describe(node, output)
