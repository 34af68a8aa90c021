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

from pipec.atomic import write_bytes_atomic, write_json_atomic
from pipec.literals import LiteralError, decode_literal
from pipec.program_exit import ProgramExit
from pipec.value_methods import ValueMethods

__all__ = [
    "RECORD_FORMAT",
    "ArtifactInfo",
    "RecordEncoder",
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
    EXITED = "exited"  # glue that called sys.exit: the run ended there, as the program would

    @property
    def done(self) -> bool:
        return self in (NodeState.SUCCEEDED, NodeState.CACHED)


class RunState(Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, eq=False, repr=False)
class ArtifactInfo(ValueMethods):
    """An output file of a node: path (relative to the run folder), size, hash."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, eq=False, repr=False)
class InterpreterInfo(ValueMethods):
    """The interpreter a run's steps run on."""

    executable: str
    version: str
    implementation: str
    cloudpickle: str | None

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, eq=False, repr=False)
class NodeRecord(ValueMethods):
    """What happened to one node (or instance) in the run so far."""

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
    warm: bool | None = None  # its last attempt was forked from a warm template; None: not run


@dataclass(frozen=True, eq=False, repr=False)
class RunRecord(ValueMethods):
    """The whole of ``run.json``: the run, its options and every node's record."""

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
    # The controller's sys.exit that ended the run (pipec.program_exit.ProgramExit.to_json).
    system_exit: Mapping[str, object] | None = None

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


def write_record(run_dir: Path, record: RunRecord, encoder: RecordEncoder | None = None) -> None:
    """Write ``run.json`` atomically; ``encoder`` (the same one for every write of a run) spares
    encoding again the nodes that did not change since its last write."""
    if encoder is None:
        write_json_atomic(run_dir / RECORD_NAME, record_to_json(record))
    else:
        write_bytes_atomic(run_dir / RECORD_NAME, encoder.text(record).encode("utf-8"))


# `"nodes"` as json.dumps(..., indent=2) writes it at the top level (two spaces in, where a
# nested key would be four), standing for the nodes' text until it is put in.
_NODES_STANDING_IN = '\n  "nodes": {}'


class RecordEncoder:
    """The text of ``run.json``, the same as ``json.dumps(record_to_json(record), indent=2)``
    plus a newline, with each node's part kept from one write to the next.

    The run loop rewrites the whole record after every turn; encoding every node each time
    costs a run of n nodes O(n^2) encoding, in the process that also starts the steps.  A node
    whose record did not change (the same object: records are frozen and replaced on change)
    keeps the text it had.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, tuple[NodeRecord, str]] = {}

    def text(self, record: RunRecord) -> str:
        data = record_to_json(dataclasses.replace(record, nodes={}))
        outer = json.dumps(data, indent=2)
        assert outer.count(_NODES_STANDING_IN) == 1
        return outer.replace(_NODES_STANDING_IN, '\n  "nodes": ' + self._nodes_text(record)) + "\n"

    def _nodes_text(self, record: RunRecord) -> str:
        if not record.nodes:
            return "{}"
        kept = self._nodes
        self._nodes = {}
        parts = []
        for name, node in record.nodes.items():
            known = kept.get(name)
            if known is not None and known[0] is node:
                part = known[1]
            else:
                # Two levels down in the file: every line after the first moves four spaces in.
                text = json.dumps(_node_to_json(node), indent=2).replace("\n", "\n    ")
                part = f"    {json.dumps(name)}: {text}"
            self._nodes[name] = (node, part)
            parts.append(part)
        return "{\n" + ",\n".join(parts) + "\n  }"


def read_record(run_dir: Path) -> RunRecord:
    """The record of ``run_dir``; :class:`RecordError` (never another error) when it is missing
    or damaged."""
    path = run_dir / RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{run_dir}: not a run directory (no {RECORD_NAME})") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise RecordError(f"{path}: cannot be read ({exc})") from None
    try:
        return record_from_json(data)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise RecordError(f"{path}: damaged, not a pipec run record ({reason})") from None


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
        "system_exit": None if record.system_exit is None else dict(record.system_exit),
    }


def _node_to_json(node: NodeRecord) -> dict[str, object]:
    data: dict[str, object] = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
    data["state"] = node.state.value
    data["outputs"] = {name: dataclasses.asdict(info) for name, info in node.outputs.items()}
    return data


def record_from_json(data: object) -> RunRecord:
    """A record from its JSON form, every field checked; ValueError, TypeError or KeyError when
    the document is not one."""
    data = _mapping(data, "the record")
    if data.get("format") != RECORD_FORMAT:
        raise ValueError(f"record format {data.get('format')!r}, expected {RECORD_FORMAT}")
    python = _mapping(data["python"], "python")
    parameters = _mapping(data["parameters"], "parameters")
    for name, encoded in parameters.items():
        try:
            decode_literal(_mapping(encoded, f"parameter {name!r}"))
        except LiteralError as exc:
            raise ValueError(f"parameter {name!r}: {exc}") from None
    nodes = _mapping(data["nodes"], "nodes")
    result = data.get("result")
    system_exit = data.get("system_exit")
    if system_exit is not None:
        ProgramExit.from_json(_mapping(system_exit, "system_exit"))
    return RunRecord(
        run_id=_text(data, "run_id"),
        build_dir=_text(data, "build_dir"),
        manifest_sha256=_text(data, "manifest_sha256"),
        pipeline=_text(data, "pipeline"),
        state=RunState(data["state"]),
        created=_time(data, "created"),
        updated=_time(data, "updated"),
        ended=_opt_time(data, "ended"),
        pid=_integer(data, "pid"),
        host=_text(data, "host"),
        sessions=_integer(data, "sessions"),
        python=InterpreterInfo(
            executable=_text(python, "executable"),
            version=_text(python, "version"),
            implementation=_text(python, "implementation"),
            cloudpickle=_opt_text(python, "cloudpickle"),
        ),
        parameters=parameters,
        options=_mapping(data["options"], "options"),
        nodes={
            name: _node_from_json(_mapping(item, f"node {name!r}")) for name, item in nodes.items()
        },
        result=None if result is None else _mapping(result, "result"),
        system_exit=None if system_exit is None else _mapping(system_exit, "system_exit"),
    )


def _node_from_json(data: Mapping[str, object]) -> NodeRecord:
    duration = data.get("duration")
    if duration is not None and (
        isinstance(duration, bool) or not isinstance(duration, (int, float))
    ):
        raise TypeError(f"duration {duration!r} is not a number")
    decision = data.get("decision")
    if decision is not None and not isinstance(decision, bool):
        raise TypeError(f"decision {decision!r} is not true, false or null")
    elements = data.get("elements")
    cache_hit = data.get("cache_hit", False)
    if not isinstance(cache_hit, bool):
        raise TypeError(f"cache_hit {cache_hit!r} is not true or false")
    warm = data.get("warm")
    if warm is not None and not isinstance(warm, bool):
        raise TypeError(f"warm {warm!r} is not true, false or null")
    return NodeRecord(
        state=NodeState(data["state"]),
        start=_opt_time(data, "start"),
        end=_opt_time(data, "end"),
        duration=None if duration is None else float(duration),
        exit_code=None if data.get("exit_code") is None else _integer(data, "exit_code"),
        attempts=_integer(data, "attempts") if "attempts" in data else 0,
        cache_hit=cache_hit,
        cache_key=_opt_text(data, "cache_key"),
        code_sha256=_opt_text(data, "code_sha256"),
        message=_opt_text(data, "message"),
        log=_opt_text(data, "log"),
        outputs={
            name: _artifact_from_json(_mapping(info, f"output {name!r}"))
            for name, info in _mapping(data.get("outputs", {}), "outputs").items()
        },
        decision=decision,
        elements=None if elements is None else _integer(data, "elements"),
        warm=warm,
    )


def _artifact_from_json(data: Mapping[str, object]) -> ArtifactInfo:
    size = _integer(data, "size")
    if size < 0:
        raise ValueError(f"artifact size {size} is negative")
    return ArtifactInfo(_text(data, "path"), size, _text(data, "sha256"))


def _mapping(value: object, what: str = "a field") -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is {type(value).__name__}, expected an object")
    return value


def _text(data: Mapping[str, object], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} is {json.dumps(value)[:40]}, expected a string")
    return value


def _opt_text(data: Mapping[str, object], name: str) -> str | None:
    return None if data.get(name) is None else _text(data, name)


def _integer(data: Mapping[str, object], name: str) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is {json.dumps(value)[:40]}, expected an integer")
    return value


def _opt_time(data: Mapping[str, object], name: str) -> str | None:
    return None if data.get(name) is None else _time(data, name)


def _time(data: Mapping[str, object], name: str) -> str:
    """An ISO 8601 time (checked, so that sorting and durations never meet another value)."""
    text = _text(data, name)
    try:
        parse_timestamp(text)
    except ValueError:
        raise ValueError(f"{name} {text!r} is not an ISO 8601 time") from None
    return text
