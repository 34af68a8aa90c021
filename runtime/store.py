"""Where a run's artifacts live: the ``ArtifactStore`` seam and its local-directory form.

Step scripts write ``PATH`` and ``PATH.meta.json`` themselves (size, sha256, Python and
cloudpickle versions); the store only names the paths, reads the meta files and puts
cached files in place.  It never unpickles anything.  A remote store (fsspec, ``s3://``)
implements the same protocol and stages files around the step's process.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

from pipec.atomic import link_or_copy_atomic, write_json_atomic
from pipec.manifest import artifact_file_name
from pipec.paths import PathEscape, inside
from pipec.record import ArtifactInfo

__all__ = [
    "COUNT_NAME",
    "META_SUFFIX",
    "ArtifactStore",
    "LocalArtifactStore",
    "StoreError",
    "read_meta",
]

META_SUFFIX = ".meta.json"
COUNT_NAME = "count.json"


class StoreError(Exception):
    """An artifact or its meta file is missing or unreadable."""


class ArtifactStore(Protocol):
    def location(self, node: str, output: str) -> str:
        """The path a step script reads or writes for this output."""

    def describe(self, node: str, output: str) -> ArtifactInfo:
        """Size and sha256 of a written output, from its meta file; StoreError when absent."""

    def intact(self, node: str, output: str, expected: ArtifactInfo) -> bool:
        """Whether the output still exists with the expected size (cheap; no rehash)."""

    def adopt(self, node: str, output: str, source: Path) -> ArtifactInfo:
        """Place an existing file (and its meta file) as this output, linking when possible."""

    def local_file(self, node: str, output: str) -> Path:
        """A local path holding the output's bytes (for the cache to keep)."""

    def local_element_file(self, node: str, output: str, index: int) -> Path:
        """A local path holding the bytes of element INDEX of a map's OUTPUT folder."""

    def decision_location(self, node: str, output: str) -> str:
        """The path a condition script writes its JSON decision to."""

    def read_decision(self, node: str, output: str) -> tuple[bool, ArtifactInfo]:
        """A condition's decision (JSON true/false, never a pickle); StoreError when unreadable."""

    def folder_location(self, node: str, output: str) -> str:
        """The folder a map script explodes its elements into (stale count.json removed)."""

    def read_elements(self, node: str, output: str) -> tuple[str, list[ArtifactInfo]]:
        """The folder (as recorded) and the elements a map script wrote, from count.json and
        the elements' meta files."""

    def element_location(self, node: str, output: str, index: int) -> str:
        """The path of element ``index`` of an exploded output."""

    def write_input_spec(self, node: str, argument: str, description: object) -> str:
        """Keep the JSON description of a combined input; the path the script reads it from."""


def read_meta(path: Path) -> dict[str, object]:
    meta_path = Path(str(path) + META_SUFFIX)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{meta_path} is missing") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{meta_path} cannot be read ({exc})") from None
    if not isinstance(meta, dict):
        raise StoreError(f"{meta_path} is not a JSON object")
    return meta


class LocalArtifactStore:
    """Artifacts under ``<run_dir>/artifacts/<node>/<output>.pkl``."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def _under_run(self, relative: str) -> Path:
        try:
            return inside(self.run_dir, relative)
        except PathEscape as exc:
            raise StoreError(f"refusing a path outside the run folder: {exc}") from None

    def _path(self, node: str, output: str) -> Path:
        return self._under_run(f"artifacts/{node}/{artifact_file_name(output)}.pkl")

    def location(self, node: str, output: str) -> str:
        path = self._path(node, output)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def local_file(self, node: str, output: str) -> Path:
        return self._path(node, output)

    def local_element_file(self, node: str, output: str, index: int) -> Path:
        return self._folder(node, output) / f"{index}.pkl"

    def describe(self, node: str, output: str) -> ArtifactInfo:
        return self._describe(self._path(node, output))

    def _describe(self, path: Path) -> ArtifactInfo:
        if not path.is_file():
            raise StoreError(f"{path} is missing")
        meta = read_meta(path)
        size, sha256 = meta.get("size"), meta.get("sha256")
        if not isinstance(size, int) or not isinstance(sha256, str):
            raise StoreError(f"{path}{META_SUFFIX} lacks size or sha256")
        return ArtifactInfo(str(path.relative_to(self.run_dir)), size, sha256)

    def intact(self, node: str, output: str, expected: ArtifactInfo) -> bool:
        path = self._path(node, output)
        try:
            return (
                os.stat(path).st_size == expected.size and self.describe(node, output) == expected
            )
        except (OSError, StoreError):
            return False

    def decision_location(self, node: str, output: str) -> str:
        path = self._decision_path(node, output)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def _decision_path(self, node: str, output: str) -> Path:
        return self._under_run(f"artifacts/{node}/{artifact_file_name(output)}.json")

    def read_decision(self, node: str, output: str) -> tuple[bool, ArtifactInfo]:
        path = self._decision_path(node, output)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{path} cannot be read ({exc})") from None
        try:
            decision = json.loads(data)
        except ValueError:
            decision = None
        if not isinstance(decision, bool):
            raise StoreError(f"{path} does not hold JSON true or false")
        digest = hashlib.sha256(data).hexdigest()
        return decision, ArtifactInfo(str(path.relative_to(self.run_dir)), len(data), digest)

    def _folder(self, node: str, output: str) -> Path:
        return self._under_run(f"artifacts/{node}/{artifact_file_name(output)}")

    def folder_location(self, node: str, output: str) -> str:
        folder = self._folder(node, output)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / COUNT_NAME).unlink(missing_ok=True)
        return str(folder)

    def element_location(self, node: str, output: str, index: int) -> str:
        return str(self._folder(node, output) / f"{index}.pkl")

    def read_elements(self, node: str, output: str) -> tuple[str, list[ArtifactInfo]]:
        folder = self._folder(node, output)
        count_path = folder / COUNT_NAME
        try:
            count = json.loads(count_path.read_text(encoding="utf-8")).get("count")
        except FileNotFoundError:
            raise StoreError(f"{count_path} is missing") from None
        except (OSError, ValueError, AttributeError) as exc:
            raise StoreError(f"{count_path} cannot be read ({exc})") from None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise StoreError(f"{count_path} does not hold a count")
        elements = [self._describe(folder / f"{index}.pkl") for index in range(count)]
        return str(folder.relative_to(self.run_dir)), elements

    def write_input_spec(self, node: str, argument: str, description: object) -> str:
        path = self._under_run(f"inputs/{node}/{argument}.json")
        write_json_atomic(path, description)
        return str(path)

    def adopt(self, node: str, output: str, source: Path) -> ArtifactInfo:
        target = self._path(node, output)
        # The meta file goes in first: a reader that finds the artifact finds its meta too.
        link_or_copy_atomic(Path(str(source) + META_SUFFIX), Path(str(target) + META_SUFFIX))
        link_or_copy_atomic(source, target)
        return self.describe(node, output)
