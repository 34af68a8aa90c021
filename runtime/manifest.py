"""Load and validate a build's ``manifest.json`` (schema_version 1) into frozen dataclasses.

Validation happens before anything runs: the schema's shape, then what a schema cannot
say (names that must exist, scripts on disk, cycles).  All problems are collected and
reported together in one :class:`ManifestError`.
"""

from __future__ import annotations

import graphlib
import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import TypeAlias

from pipec.literals import Literal, LiteralError, decode_literal
from pipec.schema import load_manifest_schema, schema_errors

__all__ = [
    "SCHEMA_VERSION",
    "Binding",
    "Edge",
    "EdgeKind",
    "Location",
    "Manifest",
    "ManifestError",
    "Node",
    "NodeKind",
    "OutputRef",
    "Parameter",
    "ParamRef",
    "Pipeline",
    "load_manifest",
]

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


class ManifestError(Exception):
    """The build folder cannot be run; the message lists every problem and how to fix it."""


class NodeKind(Enum):
    STEP = "step"
    GLUE = "glue"


class EdgeKind(Enum):
    DATA = "data"
    ORDER = "order"


@dataclass(frozen=True)
class ParamRef:
    """A binding to a pipeline parameter."""

    name: str


@dataclass(frozen=True)
class OutputRef:
    """A binding to one output of another node."""

    node: str
    output: str

    def __str__(self) -> str:
        return f"{self.node}.{self.output}"


Binding: TypeAlias = Literal | ParamRef | OutputRef


@dataclass(frozen=True)
class Location:
    path: str
    line: int
    column: int


@dataclass(frozen=True)
class Parameter:
    name: str
    annotation: str | None
    default: Literal | None
    required: bool


@dataclass(frozen=True)
class Node:
    name: str
    kind: NodeKind
    script: str
    function: str | None
    inputs: Mapping[str, Binding]
    outputs: tuple[str, ...]
    after: tuple[str, ...]
    effects: bool
    requirements: tuple[str, ...]
    requirements_file: str
    options: Mapping[str, object]
    cache: bool
    retry_on_failure: int
    queue: str | None
    source: Location
    code_sha256: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind


@dataclass(frozen=True)
class Pipeline:
    name: str
    project: str | None
    version: str | None
    function: str
    abort_on_failure: bool
    default_queue: str | None
    options: Mapping[str, object]
    source: Location


@dataclass(frozen=True)
class Manifest:
    """A validated build: ``build_dir`` is absolute, node order is program order."""

    build_dir: Path
    sha256: str
    generator: str
    pipeline: Pipeline
    parameters: tuple[Parameter, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    result: Binding | None
    requirements_file: str

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def dependencies(self) -> dict[str, frozenset[str]]:
        """Every node's predecessors: its edges, its data inputs and its ``after`` list."""
        deps: dict[str, set[str]] = {node.name: set(node.after) for node in self.nodes}
        for node in self.nodes:
            deps[node.name].update(_upstream_nodes(node))
        for edge in self.edges:
            deps[edge.target].add(edge.source)
        return {name: frozenset(found) for name, found in deps.items()}

    def script_path(self, node: Node) -> Path:
        return self.build_dir / node.script


def load_manifest(build_dir: Path) -> Manifest:
    """Read, validate and return the manifest of ``build_dir``."""
    path = build_dir / MANIFEST_NAME
    if not build_dir.is_dir():
        raise ManifestError(
            f"{build_dir}: no such build folder; create it with `pipec build PIPELINE.py`"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"{path}: not found; is {build_dir} a folder written by `pipec build`?"
        ) from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(
            f"{path}: not valid JSON ({exc}); rebuild it with `pipec build`"
        ) from None
    return parse_manifest(data, build_dir.resolve(), hashlib.sha256(raw).hexdigest())


def parse_manifest(data: object, build_dir: Path, sha256: str = "") -> Manifest:
    """Validate decoded manifest JSON into dataclasses; scripts are looked up under build_dir."""
    where = build_dir / MANIFEST_NAME
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version")
        raise ManifestError(
            f"{where}: schema_version is {found!r}, this runtime reads version {SCHEMA_VERSION}; "
            "rebuild with this installation's `pipec build`, or install the pipec that wrote it"
        )
    problems = schema_errors(data, load_manifest_schema())
    if problems:
        raise ManifestError(_report(where, problems))
    assert isinstance(data, dict)
    unsupported = _control_flow_uses(data)
    if unsupported:
        raise ManifestError(
            f"{where}: this build uses run-time control flow, which this `pipec run` cannot "
            "execute yet:\n" + "\n".join(f"  - {use}" for use in unsupported) + "\n"
            "keep the controller's `if`/`for` to values known at compile time (constants, "
            "literal lists, range), or run the pipeline file as plain Python for now"
        )
    try:
        manifest = _build(data, build_dir, sha256)
    except LiteralError as exc:
        raise ManifestError(_report(where, [str(exc)])) from None
    problems = _semantic_errors(manifest)
    if problems:
        raise ManifestError(_report(where, problems))
    return manifest


def _report(where: Path, problems: list[str]) -> str:
    lines = [f"{where}: the manifest is not valid ({len(problems)} problem(s)):"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append(
        "rebuild the folder with `pipec build`; if it was built by pipec, this is a bug in pipec"
    )
    return "\n".join(lines)


def _build(data: dict[str, object], build_dir: Path, sha256: str) -> Manifest:
    pipeline = _obj(data["pipeline"])
    return Manifest(
        build_dir=build_dir,
        sha256=sha256,
        generator=str(data["generator"]),
        pipeline=Pipeline(
            name=str(pipeline["name"]),
            project=_opt_str(pipeline["project"]),
            version=_opt_str(pipeline["version"]),
            function=str(pipeline["function"]),
            abort_on_failure=bool(pipeline["abort_on_failure"]),
            default_queue=_opt_str(pipeline["default_queue"]),
            options=_obj(pipeline["options"]),
            source=_location(pipeline["source"]),
        ),
        parameters=tuple(_parameter(_obj(item)) for item in _list(data["parameters"])),
        nodes=tuple(_node(_obj(item)) for item in _list(data["nodes"])),
        edges=tuple(
            Edge(str(e["from"]), str(e["to"]), EdgeKind(e["kind"]))
            for e in map(_obj, _list(data["edges"]))
        ),
        result=None if data["result"] is None else _binding(_obj(data["result"])),
        requirements_file=str(data["requirements_file"]),
    )


def _parameter(item: dict[str, object]) -> Parameter:
    default = item["default"]
    return Parameter(
        name=str(item["name"]),
        annotation=_opt_str(item["annotation"]),
        default=None if default is None else decode_literal(_obj(default)),
        required=bool(item["required"]),
    )


def _node(item: dict[str, object]) -> Node:
    retry = item["retry_on_failure"]
    assert isinstance(retry, int)
    return Node(
        name=str(item["name"]),
        kind=NodeKind(item["kind"]),
        script=str(item["script"]),
        function=_opt_str(item["function"]),
        inputs={str(k): _binding(_obj(v)) for k, v in _obj(item["inputs"]).items()},
        outputs=tuple(str(o) for o in _list(item["outputs"])),
        after=tuple(str(a) for a in _list(item["after"])),
        effects=bool(item["effects"]),
        requirements=tuple(str(r) for r in _list(item["requirements"])),
        requirements_file=str(item["requirements_file"]),
        options=_obj(item["options"]),
        cache=bool(item["cache"]),
        retry_on_failure=retry,
        queue=_opt_str(item["queue"]),
        source=_location(item["source"]),
        code_sha256=str(item["code_sha256"]),
    )


_PLAIN_BINDING_KEYS = ({"value"}, {"literal"}, {"param"}, {"node", "output"})


def _control_flow_uses(data: dict[str, object]) -> list[str]:
    """What a control-flow build (docs/build-output.md) asks that this runtime does not do."""
    found: list[str] = []
    for node in map(_obj, _list(data["nodes"])):
        name = node["name"]
        if node["kind"] not in (NodeKind.STEP.value, NodeKind.GLUE.value):
            found.append(f"node {name!r} is a {node['kind']!r} node")
        if node.get("when") or node.get("map") is not None:
            found.append(f"node {name!r} is guarded by an `if` or sits in a run-time `for`")
        for argument, binding in _obj(node["inputs"]).items():
            if set(_obj(binding)) not in _PLAIN_BINDING_KEYS:
                found.append(f"node {name!r} input {argument!r} is a {_shape(binding)} binding")
    result = data["result"]
    if result is not None and set(_obj(result)) not in _PLAIN_BINDING_KEYS:
        found.append(f"the pipeline result is a {_shape(result)} binding")
    return found


def _shape(binding: object) -> str:
    return "/".join(sorted(_obj(binding)))


def _binding(item: dict[str, object]) -> Binding:
    if "param" in item:
        return ParamRef(str(item["param"]))
    if "node" in item:
        return OutputRef(str(item["node"]), str(item["output"]))
    return decode_literal(item)


def _location(value: object) -> Location:
    item = _obj(value)
    line, column = item["line"], item["column"]
    assert isinstance(line, int) and isinstance(column, int)
    return Location(str(item["path"]), line, column)


def _semantic_errors(manifest: Manifest) -> list[str]:
    problems: list[str] = []
    names = manifest.node_names
    outputs = {node.name: set(node.outputs) for node in manifest.nodes}
    params = {param.name for param in manifest.parameters}
    problems += [f"node {n!r} is defined more than once" for n in _duplicates(names)]
    problems += [
        f"parameter {p!r} is defined more than once"
        for p in _duplicates([param.name for param in manifest.parameters])
    ]

    def check_binding(binding: Binding, where: str) -> None:
        if isinstance(binding, ParamRef) and binding.name not in params:
            problems.append(
                f"{where} reads parameter {binding.name!r}, which the manifest does not declare"
            )
        if isinstance(binding, OutputRef):
            if binding.node not in outputs:
                problems.append(f"{where} reads node {binding.node!r}, which does not exist")
            elif binding.output not in outputs[binding.node]:
                problems.append(
                    f"{where} reads {binding}, but {binding.node!r} only has outputs "
                    f"{sorted(outputs[binding.node])}"
                )

    for node in manifest.nodes:
        for argument, binding in node.inputs.items():
            check_binding(binding, f"node {node.name!r} input {argument!r}")
        problems += [
            f"node {node.name!r} runs after {other!r}, which does not exist"
            for other in node.after
            if other not in outputs
        ]
        problems += _script_errors(manifest.build_dir, node)
    edge_pairs = {(edge.source, edge.target) for edge in manifest.edges}
    for edge in manifest.edges:
        for end in (edge.source, edge.target):
            if end not in outputs:
                problems.append(
                    f"edge {edge.source!r} -> {edge.target!r} names unknown node {end!r}"
                )
    for node in manifest.nodes:
        for upstream in sorted(_upstream_nodes(node) | set(node.after)):
            if upstream in outputs and (upstream, node.name) not in edge_pairs:
                problems.append(
                    f"node {node.name!r} depends on {upstream!r} but edges[] has no such edge"
                )
    if manifest.result is not None:
        check_binding(manifest.result, "the pipeline result")
    if not problems:
        problems += _cycle_errors(manifest)
    return problems


def _script_errors(build_dir: Path, node: Node) -> list[str]:
    script = PurePosixPath(node.script)
    if script.is_absolute() or ".." in script.parts:
        return [
            f"node {node.name!r}: script {node.script!r} must be a path inside the build folder"
        ]
    if not (build_dir / script).is_file():
        return [f"node {node.name!r}: script {node.script!r} is missing from {build_dir}"]
    return []


def _cycle_errors(manifest: Manifest) -> list[str]:
    try:
        graphlib.TopologicalSorter(manifest.dependencies()).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1] if len(exc.args) > 1 else []
        return [f"the nodes form a cycle: {' -> '.join(map(str, cycle))}"]
    return []


def _upstream_nodes(node: Node) -> set[str]:
    return {b.node for b in node.inputs.values() if isinstance(b, OutputRef)}


def _duplicates(names: list[str] | tuple[str, ...]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _obj(value: object) -> dict[str, object]:
    assert isinstance(value, dict)
    return value


def _list(value: object) -> list[object]:
    assert isinstance(value, list)
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
