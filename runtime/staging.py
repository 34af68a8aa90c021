"""Run one step against a remote store: ``python -m pipec.staging --root URL -- PYTHON SCRIPT ...``.

Step scripts read and write local files only.  This wrapper, run on the host that runs the
step (this one, or a Dask worker), copies every ``--input`` under ``URL`` (and every artifact
an ``@FILE`` input names) into a scratch folder, points every ``--output`` under ``URL`` at
that folder, runs the script with its output passing straight through, and, when it exits
0, copies the outputs back: each artifact before its meta file, a map's elements before its
``count.json``, each through a temporary key.  A step that fails writes nothing to the store.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

from pipec.fsspec_store import RemoteStoreError, download, file_system, upload
from pipec.store import COUNT_NAME, META_SUFFIX

__all__ = ["launcher", "main"]


def launcher(root: str) -> tuple[str, ...]:
    """What goes before a step's command line to run it against the store at ``root``."""
    return (sys.executable, "-m", "pipec.staging", "--root", root, "--")


class _Stage:
    def __init__(self, root: str, scratch: Path) -> None:
        self.root = root.rstrip("/")
        self.fs, self.base = file_system(self.root)
        self.scratch = scratch
        self.outputs: list[tuple[Path, str]] = []  # local file or folder -> store path

    def _relative(self, url: str) -> str | None:
        prefix = self.root + "/"
        return url[len(prefix) :] if url.startswith(prefix) else None

    def fetch(self, url: str) -> str:
        """A local copy of an input artifact (and its meta file); other paths stay as they are."""
        relative = self._relative(url)
        if relative is None:
            return url
        target = self.scratch / relative
        meta_path = f"{self.base}/{relative}{META_SUFFIX}"
        expected = None
        if self.fs.exists(meta_path):
            download(self.fs, meta_path, Path(str(target) + META_SUFFIX))
            expected = json.loads(Path(str(target) + META_SUFFIX).read_text()).get("sha256")
        download(self.fs, f"{self.base}/{relative}", target, expected)
        return str(target)

    def fetch_spec(self, url: str) -> str:
        """An ``@FILE`` input: the JSON copied here with every artifact it names fetched."""
        relative = self._relative(url)
        if relative is None:
            return url
        spec = json.loads(self.fs.cat_file(f"{self.base}/{relative}"))
        target = self.scratch / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self._localise(spec)), encoding="utf-8")
        return str(target)

    def _localise(self, spec: Any) -> Any:
        if isinstance(spec, dict):
            if "path" in spec:
                return {"path": self.fetch(spec["path"])}
            return {key: self._localise(value) for key, value in spec.items()}
        if isinstance(spec, list):
            return [self._localise(entry) for entry in spec]
        return spec

    def place_output(self, url: str) -> str:
        relative = self._relative(url)
        if relative is None:
            return url
        target = self.scratch / relative
        if not relative.endswith((".pkl", ".json")):  # a map's folder of elements
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        self.outputs.append((target, f"{self.base}/{relative}"))
        return str(target)

    def commit(self) -> None:
        for local, remote in self.outputs:
            if local.is_dir():
                files = sorted(p for p in local.iterdir() if p.name != COUNT_NAME)
                # Elements before their meta files, count.json last: a reader that finds the
                # count finds every element.
                ordered = [p for p in files if not p.name.endswith(META_SUFFIX)]
                ordered += [p for p in files if p.name.endswith(META_SUFFIX)]
                for path in ordered:
                    upload(self.fs, path, f"{remote}/{path.name}")
                if (local / COUNT_NAME).exists():
                    upload(self.fs, local / COUNT_NAME, f"{remote}/{COUNT_NAME}")
            elif local.exists():
                upload(self.fs, local, remote)
                meta = Path(str(local) + META_SUFFIX)
                if meta.exists():
                    upload(self.fs, meta, remote + META_SUFFIX)


def _localised_argv(stage: _Stage, argv: list[str]) -> list[str]:
    result: list[str] = []
    position = 0
    while position < len(argv):
        item = argv[position]
        option, equals, value = item.partition("=")
        if option in ("--input", "--output") and not equals and position + 1 < len(argv):
            position += 1
            option, value = item, argv[position]
            item = f"{option}={value}"
        if option in ("--input", "--output"):
            name, _, location = item.partition("=")[2].partition("=")
            if option == "--output":
                location = stage.place_output(location)
            elif location.startswith("@"):
                location = "@" + stage.fetch_spec(location[1:])
            else:
                location = stage.fetch(location)
            item = f"{option}={name}={location}"
        result.append(item)
        position += 1
    return result


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # the step got the same signal (one process group)


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) < 4 or arguments[0] != "--root" or arguments[2] != "--":
        print(
            "usage: python -m pipec.staging --root URL -- PYTHON SCRIPT [ARGS...]", file=sys.stderr
        )
        return 2
    root, step = arguments[1], arguments[3:]
    signal.signal(signal.SIGTERM, _stop)
    scratch = Path(tempfile.mkdtemp(prefix="pipec-stage-"))
    try:
        try:
            stage = _Stage(root, scratch)
            command = _localised_argv(stage, step)
        except (RemoteStoreError, OSError, ValueError) as exc:
            print(f"pipec: cannot fetch the step's inputs from {root}: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # noqa: BLE001  # the store's own errors, by back end
            print(f"pipec: cannot fetch the step's inputs from {root}: {exc}", file=sys.stderr)
            return 1
        code = subprocess.call(command, stdin=subprocess.DEVNULL)
        if code != 0:
            return code if code > 0 else 128 - code  # killed by a signal: as a shell says it
        try:
            stage.commit()
        except Exception as exc:  # noqa: BLE001
            print(f"pipec: cannot write the step's outputs to {root}: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
