"""The run record (``run.json``): what happened to every node of one run.

Frozen dataclasses with explicit JSON conversion; the file is rewritten atomically
after every state change, so it is always a consistent picture a resumed run can trust.
Paths inside the record are relative to the run directory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path

from pipec.atomic import write_json_atomic

__all__ = [
    "RECORD_FORMAT",
    "ArtifactInfo",
    "InterpreterInfo",
    "NodeRecord",
    "NodeState",
    "RecordError",
    "RunRecord",
    "RunState",
    "read_record",
    "timestamp",
    "write_record",
]

RECORD_FORMAT = 1
RECORD_NAME = "run.json"


class RecordError(Exception):
    """A run directory or run record that cannot be read."""


class NodeState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    CACHED = "cached"  # succeeded by taking the outputs from the cache
    FAILED = "failed"
    SKIPPED = "skipped"  # not run: a branch not taken, an upstream failure, or the run stopped
    ABORTED = "aborted"  # stopped by pipec because another node failed (abort_on_failure)
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM

    @property
    def done(self) -> bool:
        return self in (NodeState.SUCCEEDED, NodeState.CACHED)


class RunState(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class ArtifactInfo:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class InterpreterInfo:
    executable: str
    version: str
    implementation: str
    cloudpickle: str | None

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class NodeRecord:
    state: NodeState = NodeState.PENDING
    start: str | None = None
    end: str | None = None
    duration: float | None = None
    exit_code: int | None = None
    attempts: int = 0
    cache_hit: bool = False
    cache_key: str | None = None
    code_sha256: str | None = None
    message: str | None = None
    log: str | None = None
    outputs: Mapping[str, ArtifactInfo] = field(default_factory=dict)
    decision: bool | None = None  # a condition node's decision
    elements: int | None = None  # how many elements a map node expanded to


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    build_dir: str
    manifest_sha256: str
    pipeline: str
    state: RunState
    created: str
    updated: str
    ended: str | None
    pid: int
    host: str
    sessions: int
    python: InterpreterInfo
    parameters: Mapping[str, object]  # encoded literals, see pipec.literals
    options: Mapping[str, object]
    nodes: Mapping[str, NodeRecord]
    result: Mapping[str, object] | None = None

    def with_node(self, name: str, node: NodeRecord) -> RunRecord:
        nodes = dict(self.nodes)
        nodes[name] = node
        return dataclasses.replace(self, nodes=nodes, updated=timestamp())

    def with_nodes_after(self, anchor: str, added: Mapping[str, NodeRecord]) -> RunRecord:
        """The record with ``added`` inserted right after node ``anchor`` (display order)."""
        nodes: dict[str, NodeRecord] = {}
        for name, node in self.nodes.items():
            if name not in added:
                nodes[name] = node
            if name == anchor:
                nodes.update(added)
        return dataclasses.replace(self, nodes=nodes, updated=timestamp())

    def counts(self) -> dict[NodeState, int]:
        found: dict[NodeState, int] = {}
        for node in self.nodes.values():
            found[node.state] = found.get(node.state, 0) + 1
        return found


def timestamp(epoch: float | None = None) -> str:
    """An ISO 8601 UTC time with microseconds."""
    moment = (
        datetime.now(timezone.utc) if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)
    )
    return moment.isoformat()


def parse_timestamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def write_record(run_dir: Path, record: RunRecord) -> None:
    write_json_atomic(run_dir / RECORD_NAME, record_to_json(record))


def read_record(run_dir: Path) -> RunRecord:
    path = run_dir / RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{run_dir}: not a run directory (no {RECORD_NAME})") from None
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: cannot be read ({exc})") from None
    try:
        return record_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"{path}: not a pipec run record ({exc!r})") from None


def record_to_json(record: RunRecord) -> dict[str, object]:
    return {
        "format": RECORD_FORMAT,
        "run_id": record.run_id,
        "build_dir": record.build_dir,
        "manifest_sha256": record.manifest_sha256,
        "pipeline": record.pipeline,
        "state": record.state.value,
        "created": record.created,
        "updated": record.updated,
        "ended": record.ended,
        "pid": record.pid,
        "host": record.host,
        "sessions": record.sessions,
        "python": dataclasses.asdict(record.python),
        "parameters": dict(record.parameters),
        "options": dict(record.options),
        "nodes": {name: _node_to_json(node) for name, node in record.nodes.items()},
        "result": None if record.result is None else dict(record.result),
    }


def _node_to_json(node: NodeRecord) -> dict[str, object]:
    data: dict[str, object] = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
    data["state"] = node.state.value
    data["outputs"] = {name: dataclasses.asdict(info) for name, info in node.outputs.items()}
    return data


def record_from_json(data: dict[str, object]) -> RunRecord:
    if data.get("format") != RECORD_FORMAT:
        raise ValueError(f"record format {data.get('format')!r}, expected {RECORD_FORMAT}")
    python = data["python"]
    nodes = data["nodes"]
    assert isinstance(python, dict) and isinstance(nodes, dict)
    return RunRecord(
        run_id=str(data["run_id"]),
        build_dir=str(data["build_dir"]),
        manifest_sha256=str(data["manifest_sha256"]),
        pipeline=str(data["pipeline"]),
        state=RunState(data["state"]),
        created=str(data["created"]),
        updated=str(data["updated"]),
        ended=_opt_str(data["ended"]),
        pid=int(str(data["pid"])),
        host=str(data["host"]),
        sessions=int(str(data["sessions"])),
        python=InterpreterInfo(**python),
        parameters=_mapping(data["parameters"]),
        options=_mapping(data["options"]),
        nodes={str(name): _node_from_json(_mapping(item)) for name, item in nodes.items()},
        result=None if data.get("result") is None else _mapping(data["result"]),
    )


def _node_from_json(data: Mapping[str, object]) -> NodeRecord:
    values = dict(data)
    values["state"] = NodeState(values["state"])
    values["outputs"] = {
        str(name): _artifact_from_json(_mapping(info))
        for name, info in _mapping(values["outputs"]).items()
    }
    known = {f.name for f in dataclasses.fields(NodeRecord)}
    return NodeRecord(**{k: v for k, v in values.items() if k in known})  # type: ignore[arg-type]


def _artifact_from_json(data: Mapping[str, object]) -> ArtifactInfo:
    size = data["size"]
    if not isinstance(size, int):
        raise TypeError(f"artifact size {size!r} is not an integer")
    return ArtifactInfo(str(data["path"]), size, str(data["sha256"]))


def _mapping(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
