"""``pipec inspect``: one output of a run, the run's result, or the list of every output.

Only this command unpickles, in a child process of the run's interpreter, and only files
inside the run folder whose bytes have the sha256 the run recorded (unpickling runs code).
A run made with ``--store URL`` keeps its artifacts there: they are copied to a scratch folder
(:mod:`pipec.store_reader`) and checked the same way.  A condition's decision and a literal
result are printed from ``run.json``, without loading anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from pipec.cache import file_sha256
from pipec.literals import decode_literal
from pipec.paths import is_inside
from pipec.record import ArtifactInfo, RecordError, RunRecord
from pipec.references import RunReferenceError, resolve_run
from pipec.store import COUNT_NAME, META_SUFFIX, StoreError, read_meta

__all__ = ["register"]

_RESULT = "result"
_RUN_HELP = (
    "the run: its folder; a build folder (its latest run); a build folder and a run id or "
    "a unique prefix of one; or a run id alone (looked up under ./build)"
)


class _Refused(Exception):
    """A user's mistake, or a file the run does not vouch for: exit status 2."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``inspect`` to the CLI."""
    inspect = subparsers.add_parser(
        "inspect",
        help="print one artifact of a run, its result, or list its outputs (this unpickles, "
        "which can run code)",
        description="Load one output of a run in the run's interpreter and print it; `result` "
        "prints the pipeline's result; --list lists every node's outputs without loading any. "
        "Unpickling can run code hidden in the artifact: only inspect runs you trust. pipec only "
        "loads a file inside the run folder whose bytes match the sha256 the run recorded.",
    )
    inspect.add_argument(
        "words",
        nargs="+",
        metavar="RUN [RUN_ID] NODE[.OUTPUT]|result",
        help=_RUN_HELP + "; then the node and the output when it has several, or `result` "
        "(with --list, no node)",
    )
    inspect.add_argument(
        "--list", action="store_true", help="list every node's outputs (size, sha256, preview)"
    )
    inspect.add_argument(
        "--python", default=None, metavar="PATH", help="load it with this interpreter instead"
    )
    inspect.set_defaults(func=inspect_command)


def inspect_command(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="pipec-inspect-") as scratch:
        return _inspect(args, Path(scratch))


def _inspect(args: argparse.Namespace, scratch: Path) -> int:
    words: list[str] = list(args.words)
    try:
        if args.list:
            if len(words) > 2:
                raise _Refused("--list takes the run only: pipec inspect RUN [RUN_ID] --list")
            record, run_dir = _run(words)
            with _refusing():
                print(_listing(record, _files(record, run_dir, scratch)), end="")
            return 0
        if len(words) < 2:
            raise _Refused(
                "name what to inspect: pipec inspect RUN NODE[.OUTPUT], pipec inspect RUN result, "
                "or pipec inspect RUN --list"
            )
        record, run_dir = _run(words[:-1])
        target = words[-1]
        with _refusing():
            files = _files(record, run_dir, scratch)
            spec, header = (
                _result(record, files) if target == _RESULT else _artifact(record, files, target)
            )
    except (_Refused, RecordError, RunReferenceError) as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2
    print(f"pipec: run {record.run_id}, {header}", file=sys.stderr)
    sys.stderr.flush()
    if "print" in spec:
        print(spec["print"])
        return 0
    python = args.python or _run_interpreter(record.python.executable)
    # Values of the pipeline file's classes are pickled by reference to the build's home module
    # (steps/_pipec_pipeline.py); the build's local modules are beside it.
    steps = str(Path(record.build_dir) / "steps")
    done = subprocess.run(
        [python, "-c", _LOADER, json.dumps(spec), steps], stdin=subprocess.DEVNULL, check=False
    )
    return 0 if done.returncode == 0 else 1


def _run(words: list[str]) -> tuple[RunRecord, Path]:
    if not words or len(words) > 2:
        raise _Refused("name the run: pipec inspect RUN [RUN_ID] NODE[.OUTPUT]")
    entry = resolve_run(words[0], words[1] if len(words) == 2 else None)
    return entry.record, entry.path


class _RunFiles(Protocol):
    """Where a run's artifacts are read from: its folder, or the store it ran with."""

    def where(self, relative: str) -> str: ...

    def artifact(self, name: str, info: ArtifactInfo) -> Path:
        """A local file holding the bytes the run recorded for output ``name``."""

    def elements(self, name: str, info: ArtifactInfo) -> list[Path]:
        """Local files holding a map's elements, as the run recorded them."""

    def meta(self, relative: str) -> dict[str, Any] | None: ...


class _FolderFiles:
    def __init__(self, run_dir: Path) -> None:
        self._run_dir = run_dir

    def where(self, relative: str) -> str:
        return str(self._run_dir / relative)

    def artifact(self, name: str, info: ArtifactInfo) -> Path:
        return _verified(self._run_dir, name, info)

    def elements(self, name: str, info: ArtifactInfo) -> list[Path]:
        return _verified_elements(self._run_dir, name, info)

    def meta(self, relative: str) -> dict[str, Any] | None:
        try:
            return read_meta(self._run_dir / relative)
        except StoreError:
            return None


class _StoreFiles:
    """The artifacts of a run made with ``--store URL``, copied here as they are asked for."""

    def __init__(self, url: str, run_id: str, scratch: Path) -> None:
        from pipec.store_reader import StoreRunReader

        self._reader = StoreRunReader(url, run_id, scratch)

    def where(self, relative: str) -> str:
        return self._reader.where(relative)

    def artifact(self, name: str, info: ArtifactInfo) -> Path:
        return self._reader.artifact(info.path, info.sha256)

    def elements(self, name: str, info: ArtifactInfo) -> list[Path]:
        return self._reader.elements(info.path, info.sha256)

    def meta(self, relative: str) -> dict[str, Any] | None:
        return self._reader.meta(relative)


def _files(record: RunRecord, run_dir: Path, scratch: Path) -> _RunFiles:
    store = record.options.get("store")
    if store is None:
        return _FolderFiles(run_dir)
    return _StoreFiles(str(store), record.run_id, scratch)


@contextmanager
def _refusing() -> Iterator[None]:
    """A store that cannot be read, or holds other bytes, is a refusal (exit 2), not a crash."""
    try:
        yield
    except Exception as exc:
        from_store = type(exc).__name__ == "StoreReadError"  # not imported unless a store is
        if not from_store:
            raise
        raise _Refused(str(exc)) from None


def _artifact(record: RunRecord, files: _RunFiles, target: str) -> tuple[dict[str, object], str]:
    """What to load for ``NODE[.OUTPUT]``, and the provenance line."""
    node, _, output = target.partition(".")
    if node not in record.nodes:
        raise _Refused(
            f"run {record.run_id} has no node {node!r}; it has: {', '.join(record.nodes)} "
            "(or inspect `result`, or --list)"
        )
    entry = record.nodes[node]
    if entry.decision is not None:
        return {"print": repr(entry.decision)}, f"{node}: the condition decided {entry.decision}"
    outputs = entry.outputs
    if not outputs:
        raise _Refused(f"node {node!r} has no outputs in this run (state: {entry.state.value})")
    if not output:
        if len(outputs) > 1:
            choices = ", ".join(f"{node}.{name}" for name in outputs)
            raise _Refused(f"node {node!r} has several outputs; name one of: {choices}")
        output = next(iter(outputs))
    if output not in outputs:
        raise _Refused(f"node {node!r} has no output {output!r}; it has: {', '.join(outputs)}")
    info = outputs[output]
    if entry.elements is not None:
        paths = files.elements(f"{node}.{output}", info)
        header = f"{node}.{output}: {entry.elements} elements in {files.where(info.path)}"
        return {"list": [{"path": str(path)} for path in paths]}, header
    path = files.artifact(f"{node}.{output}", info)
    provenance = _provenance(path)
    return {"path": str(path)}, f"{node}.{output}: {files.where(info.path)}{provenance}"


def _result(record: RunRecord, files: _RunFiles) -> tuple[dict[str, object], str]:
    """What to load for the pipeline's result: an artifact, a literal or a combination."""
    result = record.result
    if result is None:
        raise _Refused(
            f"run {record.run_id} has no result ({record.state.value}; a pipeline that returns "
            "nothing, or a run that did not finish, has none)"
        )
    if "node" in result:
        return _artifact(record, files, f"{result['node']}.{result['output']}")
    if "combined" in result:
        by_path = _recorded_paths(record)
        spec = _combined(result["combined"], files, by_path)
        return spec, "result: built from several artifacts"
    try:
        value = decode_literal(dict(result)).value
    except (ValueError, TypeError, KeyError) as exc:
        raise _Refused(f"run.json's result cannot be read ({exc})") from None
    return {"print": repr(value)}, "result: a literal"


def _recorded_paths(record: RunRecord) -> dict[str, tuple[str, ArtifactInfo]]:
    """Every artifact path the record vouches for, with the output that wrote it."""
    found: dict[str, tuple[str, ArtifactInfo]] = {}
    for node, entry in record.nodes.items():
        for output, info in entry.outputs.items():
            found[info.path] = (f"{node}.{output}", info)
    return found


def _combined(
    spec: object, files: _RunFiles, by_path: Mapping[str, tuple[str, ArtifactInfo]]
) -> dict[str, object]:
    """A result's ``@FILE`` spec with every artifact checked and its path made absolute."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise _Refused(f"run.json's result is damaged: {spec!r}")
    ((kind, body),) = spec.items()
    if kind == "path":
        known = by_path.get(str(body))
        if known is None:
            raise _Refused(
                f"run.json's result names {body!r}, which no node of the run recorded; "
                "refusing to load it"
            )
        return {"path": str(files.artifact(*known))}
    if kind == "literal":
        return {"literal": str(body)}
    if kind in ("list", "tuple") and isinstance(body, list):
        return {kind: [_combined(item, files, by_path) for item in body]}
    if kind == "dict" and isinstance(body, list):
        return {"dict": [[key, _combined(item, files, by_path)] for key, item in body]}
    raise _Refused(f"run.json's result is damaged: {spec!r}")


def _verified(run_dir: Path, name: str, info: ArtifactInfo) -> Path:
    """The artifact's path, once it is known to lie in the run folder and hold the bytes the run
    recorded: unpickling runs code, so a file the record does not vouch for is never loaded."""
    path = run_dir / info.path
    if not is_inside(run_dir, path):
        raise _Refused(
            f"run.json names {info.path!r} for {name}, which is outside the run folder "
            f"{run_dir}; refusing to load it"
        )
    if not path.is_file():
        raise _Refused(f"{path} is gone")
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise _Refused(f"{path} cannot be read ({exc.strerror or exc})") from None
    if actual != info.sha256:
        raise _Refused(
            f"{path} has sha256 {actual}, but the run recorded {info.sha256}: it changed after "
            "the run wrote it; refusing to load it"
        )
    return path


def _verified_elements(run_dir: Path, name: str, info: ArtifactInfo) -> list[Path]:
    """A map's element files, checked against the record's hash of their hashes."""
    folder = run_dir / info.path
    if not is_inside(run_dir, folder) or not folder.is_dir():
        raise _Refused(f"run.json names {info.path!r} for {name}, which is not a folder of the run")
    try:
        count = json.loads((folder / COUNT_NAME).read_text(encoding="utf-8"))["count"]
        paths = [folder / f"{index}.pkl" for index in range(int(count))]
        hashes = [file_sha256(path) for path in paths]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise _Refused(f"the elements of {name} cannot be read ({exc})") from None
    digest = hashlib.sha256("\n".join(hashes).encode()).hexdigest()
    if digest != info.sha256:
        raise _Refused(
            f"the elements of {name} in {folder} changed after the run wrote them; "
            "refusing to load them"
        )
    return paths


def _provenance(path: Path) -> str:
    try:
        meta = read_meta(path)
    except StoreError:
        return f" (no readable {path.name}{META_SUFFIX})"
    writer = (
        f"cloudpickle {meta['cloudpickle']}" if meta.get("cloudpickle") else "the pickle module"
    )
    return (
        f" ({meta.get('size')} bytes, sha256 {str(meta.get('sha256'))[:12]}..., "
        f"written by Python {meta.get('python')} with {writer})"
    )


def _listing(record: RunRecord, files: _RunFiles) -> str:
    rows: list[tuple[str, str, str, str]] = []
    for node, entry in record.nodes.items():
        if entry.decision is not None:
            rows.append((node, "decision", "", f"decided {entry.decision}"))
            continue
        if not entry.outputs:
            rows.append((node, f"({entry.state.value}, no outputs)", "", ""))
        for output, info in entry.outputs.items():
            what = f"{entry.elements} elements" if entry.elements is not None else ""
            rows.append((node, output, _size(info.size), what or _preview(files, info.path)))
    if record.result is not None:
        rows.append(("result", "", "", _result_text(record.result)))
    names = max((len(row[0]) for row in rows), default=4)
    outs = max((len(row[1]) for row in rows), default=6)
    lines = [f"{'node':<{names}}  {'output':<{outs}}  {'size':>9}  preview"]
    lines += [f"{a:<{names}}  {b:<{outs}}  {c:>9}  {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines) + "\n"


def _result_text(result: Mapping[str, object]) -> str:
    if "node" in result:
        return f"{result['node']}.{result['output']}"
    if "combined" in result:
        return "built from several artifacts (pipec inspect RUN result)"
    return "a literal (pipec inspect RUN result)"


def _preview(files: _RunFiles, relative: str) -> str:
    meta = files.meta(relative)
    if meta is None:  # gone, damaged, or the store is out of reach: say so, not a blank
        return "(meta file not readable)"
    preview = meta.get("preview")
    text = str(preview) if preview is not None else ""
    return text if len(text) <= 60 else text[:57] + "..."


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def _run_interpreter(recorded: str) -> str:
    return recorded if Path(recorded).exists() else sys.executable


# Runs in the run's interpreter: rebuilds the value from a spec of checked files and literals.
_LOADER = r"""
import ast, json, os, pprint, sys

here = "%d.%d" % sys.version_info[:2]

def load(path):
    try:
        with open(path + ".meta.json", encoding="utf-8") as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        meta = {}
    if meta.get("python") not in (None, here):
        sys.exit("pipec inspect: %s was written by Python %s; this is Python %s: pass --python "
                 "with a Python %s interpreter" % (path, meta["python"], here, meta["python"]))
    try:
        import cloudpickle as loader
    except ImportError:
        import pickle as loader
    with open(path, "rb") as handle:
        return loader.load(handle)

def build(spec):
    (kind, body), = spec.items()
    if kind == "path":
        return load(body)
    if kind == "literal":
        return ast.literal_eval(body)
    if kind == "list":
        return [build(item) for item in body]
    if kind == "tuple":
        return tuple(build(item) for item in body)
    return {key: build(item) for key, item in body}

if os.path.isfile(os.path.join(sys.argv[2], "_pipec_pipeline.py")):
    sys.path.insert(0, sys.argv[2])
value = build(json.loads(sys.argv[1]))
try:
    pprint.pp(value, width=100)
    sys.stdout.flush()
except BrokenPipeError:  # piped into `head`, which has what it wanted: end quietly
    import os
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
"""
