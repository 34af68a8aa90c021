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
from pathlib import Path
from typing import TypeAlias

from pipec.literals import Literal, LiteralError, decode_literal, encode_literal
from pipec.paths import PathEscape, inside, unsafe_component
from pipec.schema import load_manifest_schema, schema_errors
from pipec.value_methods import ValueMethods

__all__ = [
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "Binding",
    "artifact_file_name",
    "Container",
    "ContainerKind",
    "Edge",
    "EdgeKind",
    "Gather",
    "Guard",
    "ItemRef",
    "Literal",
    "Location",
    "Manifest",
    "ManifestError",
    "Node",
    "NodeKind",
    "OutputRef",
    "Parameter",
    "ParamRef",
    "Pipeline",
    "Select",
    "SelectOption",
    "binding_sources",
    "encode_binding",
    "encode_guards",
    "encode_manifest",
    "load_manifest",
    "parse_manifest",
    "referenced_nodes",
]

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
# Deeper than any compiled pipeline needs (a binding of a dozen nested containers is
# already rare); the validator and the runtime walk bindings recursively.
MAX_NESTING = 64


class ManifestError(Exception):
    """The build folder cannot be run; the message lists every problem and how to fix it."""


class NodeKind(Enum):
    STEP = "step"
    GLUE = "glue"
    CONDITION = "condition"  # computes an `if` test: writes JSON true/false as `decision`
    MAP = "map"  # explodes `over` into items/<i>.pkl; its body runs once per element


class EdgeKind(Enum):
    DATA = "data"
    ORDER = "order"
    GUARD = "guard"


class ContainerKind(Enum):
    LIST = "list"
    TUPLE = "tuple"
    DICT = "dict"


@dataclass(frozen=True, eq=False, repr=False)
class ParamRef(ValueMethods):
    """A binding to a pipeline parameter."""

    name: str


@dataclass(frozen=True, eq=False, repr=False)
class OutputRef(ValueMethods):
    """A binding to one output of another node."""

    node: str
    output: str

    def __str__(self) -> str:
        return f"{self.node}.{self.output}"


@dataclass(frozen=True, eq=False, repr=False)
class Guard(ValueMethods):
    """Holds when condition node ``node`` succeeded and decided ``value``."""

    node: str
    value: bool

    def __str__(self) -> str:
        return f"{self.node} is {self.value}"


@dataclass(frozen=True, eq=False, repr=False)
class Container(ValueMethods):
    """A list, tuple or dict built at compile time; ``keys`` (reprs) only for a dict."""

    kind: ContainerKind
    items: tuple[Binding, ...]
    keys: tuple[str, ...] = ()

    @classmethod
    def of_list(cls, items: tuple[Binding, ...]) -> Container:
        return cls(ContainerKind.LIST, items)

    @classmethod
    def of_tuple(cls, items: tuple[Binding, ...]) -> Container:
        return cls(ContainerKind.TUPLE, items)

    @classmethod
    def of_dict(cls, entries: Mapping[object, Binding]) -> Container:
        """A dict whose keys are literal values (written as their reprs)."""
        return cls(ContainerKind.DICT, tuple(entries.values()), tuple(map(repr, entries)))

    @property
    def is_sequence(self) -> bool:
        return self.kind is not ContainerKind.DICT

    def entries(self) -> tuple[tuple[object, Binding], ...]:
        """A dict's (key value, binding) pairs; the keys are literals by construction."""
        return tuple(
            (decode_literal({"literal": key}).value, item)
            for key, item in zip(self.keys, self.items, strict=True)
        )


@dataclass(frozen=True, eq=False, repr=False)
class SelectOption(ValueMethods):
    """One branch of a :class:`Select`: its guards and the binding it gives."""

    when: tuple[Guard, ...]
    binding: Binding


@dataclass(frozen=True, eq=False, repr=False)
class Select(ValueMethods):
    """The value of a name assigned in branches: the first option whose guards all hold."""

    options: tuple[SelectOption, ...]


@dataclass(frozen=True, eq=False, repr=False)
class ItemRef(ValueMethods):
    """Inside a map body: this instance's element of map node ``map``."""

    map: str


@dataclass(frozen=True, eq=False, repr=False)
class Gather(ValueMethods):
    """Outside a map: output ``output`` of every instance of body node ``node``, in order."""

    map: str
    node: str
    output: str


Binding: TypeAlias = Literal | ParamRef | OutputRef | Container | Select | ItemRef | Gather


@dataclass(frozen=True, order=True)
class Location:
    """A position in the pipeline's source file: 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, eq=False, repr=False)
class Parameter(ValueMethods):
    """A parameter of the pipeline function, with its default as a literal."""

    name: str
    annotation: str | None
    default: Literal | None
    required: bool


@dataclass(frozen=True, eq=False, repr=False)
class Node(ValueMethods):
    """A step, a glue node, a condition or a map: its script and what it reads and writes."""

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
    when: tuple[Guard, ...] = ()
    map: str | None = None  # the map node whose body this node belongs to
    local_modules: tuple[str, ...] = ()  # local module files the script imports
    imports: tuple[str, ...] = ()  # absolute imports of the script: what a warm start preloads


@dataclass(frozen=True, eq=False, repr=False)
class Edge(ValueMethods):
    """A dependency between two nodes: data passed, or order only."""

    source: str
    target: str
    kind: EdgeKind


@dataclass(frozen=True, eq=False, repr=False)
class Pipeline(ValueMethods):
    """The decorated pipeline function: its name, options and place in the source."""

    name: str
    project: str | None
    version: str | None
    function: str
    abort_on_failure: bool
    default_queue: str | None
    options: Mapping[str, object]
    source: Location


@dataclass(frozen=True, eq=False, repr=False)
class Manifest(ValueMethods):
    """A build: the pipeline, its parameters and nodes in program order, edges and result.

    The compiler makes one and writes it with :func:`encode_manifest`; the runtime reads it
    back with :func:`load_manifest`, which also sets ``build_dir`` (absolute) and ``sha256``
    (of the file's bytes).
    """

    generator: str
    pipeline: Pipeline
    parameters: tuple[Parameter, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    result: Binding | None
    requirements_file: str
    python: str | None = None  # the Python the build was made with ("3.11.7"), when known
    build_dir: Path = Path()
    sha256: str = ""

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    def dependencies(self) -> dict[str, frozenset[str]]:
        """Every node's predecessors: its edges, the nodes its inputs and guards read, ``after``."""
        deps: dict[str, set[str]] = {node.name: set(node.after) for node in self.nodes}
        for node in self.nodes:
            deps[node.name].update(_upstream_nodes(node))
        for edge in self.edges:
            deps[edge.target].add(edge.source)
        return {name: frozenset(found) for name, found in deps.items()}

    def body(self, map_name: str) -> tuple[Node, ...]:
        """The nodes instantiated once per element of map node ``map_name``, in program order."""
        return tuple(node for node in self.nodes if node.map == map_name)

    def script_path(self, node: Node) -> Path:
        return self.build_dir / node.script


def encode_manifest(manifest: Manifest) -> dict[str, object]:
    """The JSON form of a manifest, as ``manifest.json`` holds it (the inverse of parsing)."""
    pipeline = manifest.pipeline
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": manifest.generator,
        "pipeline": {
            "name": pipeline.name,
            "project": pipeline.project,
            "version": pipeline.version,
            "function": pipeline.function,
            "abort_on_failure": pipeline.abort_on_failure,
            "default_queue": pipeline.default_queue,
            "options": dict(pipeline.options),
            "source": _encode_location(pipeline.source),
        },
        "parameters": [
            {
                "name": parameter.name,
                "annotation": parameter.annotation,
                "default": None
                if parameter.default is None
                else encode_literal(parameter.default.value),
                "required": parameter.required,
            }
            for parameter in manifest.parameters
        ],
        "nodes": [_encode_node(node) for node in manifest.nodes],
        "edges": [
            {"from": edge.source, "to": edge.target, "kind": edge.kind.value}
            for edge in manifest.edges
        ],
        "result": None if manifest.result is None else encode_binding(manifest.result),
        "requirements_file": manifest.requirements_file,
        # Only when known, so that builds made from a fixed environment stay byte-identical.
        **({} if manifest.python is None else {"python": manifest.python}),
    }


def _encode_node(node: Node) -> dict[str, object]:
    return {
        "name": node.name,
        "kind": node.kind.value,
        "script": node.script,
        "function": node.function,
        "inputs": {name: encode_binding(binding) for name, binding in node.inputs.items()},
        "outputs": list(node.outputs),
        "after": list(node.after),
        "when": encode_guards(node.when),
        "map": node.map,
        "effects": node.effects,
        "requirements": list(node.requirements),
        "requirements_file": node.requirements_file,
        "local_modules": list(node.local_modules),
        "imports": list(node.imports),
        "options": dict(node.options),
        "cache": node.cache,
        "retry_on_failure": node.retry_on_failure,
        "queue": node.queue,
        "source": _encode_location(node.source),
        "code_sha256": node.code_sha256,
    }


def _encode_location(location: Location) -> dict[str, object]:
    return {"path": location.path, "line": location.line, "column": location.column}


def encode_guards(guards: tuple[Guard, ...]) -> list[dict[str, object]]:
    return [{"node": guard.node, "value": guard.value} for guard in guards]


def encode_binding(binding: Binding) -> dict[str, object]:
    """The JSON form of a binding (the inverse of reading one from the manifest)."""
    if isinstance(binding, Literal):
        return encode_literal(binding.value)
    if isinstance(binding, ParamRef):
        return {"param": binding.name}
    if isinstance(binding, OutputRef):
        return {"node": binding.node, "output": binding.output}
    if isinstance(binding, Container):
        if binding.kind is ContainerKind.DICT:
            return {
                "dict": [
                    [key, encode_binding(item)]
                    for key, item in zip(binding.keys, binding.items, strict=True)
                ]
            }
        return {binding.kind.value: [encode_binding(item) for item in binding.items]}
    if isinstance(binding, Select):
        return {
            "select": [
                {"when": encode_guards(option.when), "binding": encode_binding(option.binding)}
                for option in binding.options
            ]
        }
    if isinstance(binding, ItemRef):
        return {"item": binding.map}
    return {"gather": {"map": binding.map, "node": binding.node, "output": binding.output}}


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
    if _nesting_depth(data) > MAX_NESTING:
        problem = f"lists and objects nest more than {MAX_NESTING} levels deep"
        raise ManifestError(_report(where, [problem]))
    problems = schema_errors(data, load_manifest_schema())
    if problems:
        raise ManifestError(_report(where, problems))
    assert isinstance(data, dict)
    try:
        manifest = _build(data, build_dir, sha256)
    except LiteralError as exc:
        raise ManifestError(_report(where, [str(exc)])) from None
    problems = _semantic_errors(manifest)
    if problems:
        raise ManifestError(_report(where, problems))
    return manifest


def _nesting_depth(data: object) -> int:
    """How deeply lists and objects nest in decoded JSON (counted without recursion)."""
    deepest = 0
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_NESTING:
            pending += [(child, depth + 1) for child in children]
    return deepest


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
        python=_opt_str(data.get("python")),
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
        when=_guards(item["when"]),
        map=_opt_str(item["map"]),
        local_modules=tuple(str(m) for m in _list(item["local_modules"])),
        imports=tuple(str(m) for m in _list(item.get("imports", []))),
    )


def _guards(value: object) -> tuple[Guard, ...]:
    return tuple(Guard(str(g["node"]), bool(g["value"])) for g in map(_obj, _list(value)))


def _binding(item: dict[str, object]) -> Binding:
    if "param" in item:
        return ParamRef(str(item["param"]))
    if "node" in item:
        return OutputRef(str(item["node"]), str(item["output"]))
    if "list" in item or "tuple" in item:
        kind = ContainerKind.LIST if "list" in item else ContainerKind.TUPLE
        entries = _list(item[kind.value])
        return Container(kind, tuple(_binding(_obj(entry)) for entry in entries))
    if "dict" in item:
        pairs = [_list(pair) for pair in _list(item["dict"])]
        keys = tuple(str(pair[0]) for pair in pairs)
        for key in keys:
            decode_literal({"literal": key})  # a key must be a literal: LiteralError otherwise
        return Container(ContainerKind.DICT, tuple(_binding(_obj(pair[1])) for pair in pairs), keys)
    if "select" in item:
        return Select(
            tuple(
                SelectOption(_guards(option["when"]), _binding(_obj(option["binding"])))
                for option in map(_obj, _list(item["select"]))
            )
        )
    if "item" in item:
        return ItemRef(str(item["item"]))
    if "gather" in item:
        gather = _obj(item["gather"])
        return Gather(str(gather["map"]), str(gather["node"]), str(gather["output"]))
    return decode_literal(item)


def binding_sources(binding: Binding) -> tuple[set[str], set[str]]:
    """(nodes whose outputs a binding reads, condition nodes whose decisions it reads)."""
    if isinstance(binding, OutputRef):
        return {binding.node}, set()
    if isinstance(binding, ItemRef):
        return {binding.map}, set()
    if isinstance(binding, Gather):
        return {binding.map, binding.node}, set()
    data: set[str] = set()
    guards: set[str] = set()
    if isinstance(binding, Container):
        parts = list(binding.items)
    elif isinstance(binding, Select):
        parts = [option.binding for option in binding.options]
        guards = {guard.node for option in binding.options for guard in option.when}
    else:
        parts = []
    for part in parts:
        part_data, part_guards = binding_sources(part)
        data |= part_data
        guards |= part_guards
    return data, guards


def referenced_nodes(binding: Binding) -> set[str]:
    """Every node a binding reads: outputs, guards of select options, maps and gathered nodes."""
    data, guards = binding_sources(binding)
    return data | guards


def _location(value: object) -> Location:
    item = _obj(value)
    line, column = item["line"], item["column"]
    assert isinstance(line, int) and isinstance(column, int)
    return Location(str(item["path"]), line, column)


def _semantic_errors(manifest: Manifest) -> list[str]:
    problems: list[str] = []
    names = manifest.node_names
    outputs = {node.name: set(node.outputs) for node in manifest.nodes}
    kinds = {node.name: node.kind for node in manifest.nodes}
    maps = {node.name: node.map for node in manifest.nodes}
    params = {param.name for param in manifest.parameters}
    problems += [f"node {n!r} is defined more than once" for n in _duplicates(names)]
    problems += [
        f"parameter {p!r} is defined more than once"
        for p in _duplicates([param.name for param in manifest.parameters])
    ]

    def check_guards(guards: tuple[Guard, ...], where: str) -> None:
        for guard in guards:
            if guard.node not in kinds:
                problems.append(f"{where} is guarded by node {guard.node!r}, which does not exist")
            elif kinds[guard.node] is not NodeKind.CONDITION:
                problems.append(
                    f"{where} is guarded by {guard.node!r}, a {kinds[guard.node].value} node; "
                    "guards name condition nodes"
                )

    def check_binding(binding: Binding, where: str, body_of: str | None) -> None:
        if isinstance(binding, ParamRef) and binding.name not in params:
            problems.append(
                f"{where} reads parameter {binding.name!r}, which the manifest does not declare"
            )
        elif isinstance(binding, OutputRef):
            if binding.node not in outputs:
                problems.append(f"{where} reads node {binding.node!r}, which does not exist")
            elif binding.output not in outputs[binding.node]:
                problems.append(
                    f"{where} reads {binding}, but {binding.node!r} only has outputs "
                    f"{sorted(outputs[binding.node])}"
                )
            elif kinds[binding.node] in (NodeKind.CONDITION, NodeKind.MAP):
                problems.append(
                    f"{where} reads {binding}, the output of a {kinds[binding.node].value} "
                    "node, which only the runtime reads"
                )
            elif maps[binding.node] is not None and maps[binding.node] != body_of:
                problems.append(
                    f"{where} reads {binding}, which runs once per element of map "
                    f"{maps[binding.node]!r}; read it with a gather binding"
                )
        elif isinstance(binding, Container):
            for entry in binding.items:
                check_binding(entry, where, body_of)
        elif isinstance(binding, Select):
            for option in binding.options:
                check_guards(option.when, f"{where} (a select option)")
                check_binding(option.binding, where, body_of)
        elif isinstance(binding, ItemRef) and binding.map != body_of:
            problems.append(
                f"{where} reads an element of map {binding.map!r} but is not in that map's body"
            )
        elif isinstance(binding, Gather):
            if kinds.get(binding.map) is not NodeKind.MAP:
                problems.append(f"{where} gathers over {binding.map!r}, which is not a map node")
            elif binding.node not in kinds or maps[binding.node] != binding.map:
                problems.append(
                    f"{where} gathers {binding.node!r}, which is not in the body of map "
                    f"{binding.map!r}"
                )
            elif binding.output not in outputs[binding.node]:
                problems.append(
                    f"{where} gathers {binding.node}.{binding.output}, but {binding.node!r} "
                    f"only has outputs {sorted(outputs[binding.node])}"
                )
            elif body_of == binding.map:
                problems.append(f"{where} gathers over its own map {binding.map!r}")

    for node in manifest.nodes:
        where = f"node {node.name!r}"
        problems += _name_errors(node)
        for argument, binding in node.inputs.items():
            check_binding(binding, f"{where} input {argument!r}", node.map)
        check_guards(node.when, where)
        problems += _shape_errors(node, kinds, maps)
        problems += [
            f"{where} runs after {other!r}, which does not exist"
            for other in node.after
            if other not in outputs
        ]
        problems += _script_errors(manifest.build_dir, node)
        problems += _local_module_errors(manifest.build_dir, node)
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
        check_binding(manifest.result, "the pipeline result", None)
    if not problems:
        problems += _cycle_errors(manifest)
    return problems


def _shape_errors(
    node: Node, kinds: Mapping[str, NodeKind], maps: Mapping[str, str | None]
) -> list[str]:
    """What a condition, a map and a map body must look like for this runtime."""
    where = f"node {node.name!r}"
    problems: list[str] = []
    if node.kind is NodeKind.CONDITION and node.outputs != ("decision",):
        problems.append(f"{where} is a condition node; its only output must be 'decision'")
    if node.kind is NodeKind.MAP and (node.outputs != ("items",) or set(node.inputs) != {"over"}):
        problems.append(f"{where} is a map node; it must read 'over' and write 'items'")
    if node.map is not None:
        if kinds.get(node.map) is not NodeKind.MAP:
            problems.append(f"{where} is in the body of {node.map!r}, which is not a map node")
        if node.kind in (NodeKind.MAP, NodeKind.CONDITION):
            problems.append(
                f"{where}: a {node.kind.value} node inside a map body is not supported; "
                "move the inner `for`/`if` into a step"
            )
        if node.effects:
            problems.append(
                f"{where} prints inside a map body, whose instances run in parallel; "
                "print after the loop instead"
            )
        for guard in node.when:
            if maps.get(guard.node) is not None:
                problems.append(f"{where} is guarded by {guard.node!r}, inside a map body")
    problems += [
        f"{where} runs after {other!r}, a node of another map's body"
        for other in node.after
        if node.map is not None and maps.get(other) not in (None, node.map)
    ]
    return problems


def artifact_file_name(output: str) -> str:
    """The file name (before `.pkl`, `.json` or a map's folder) of output OUTPUT's artifact.

    An output name is a ClearML artifact name, any string ("pandas DataFrame", "größe"). Names
    of letters, digits, `_`, `-`, `.` and `~` stay as they are; every other character becomes
    `%XX` of its UTF-8 bytes, so two names never share a file and none leaves its folder.
    """
    from urllib.parse import quote

    return quote(output, safe="")


def _name_errors(node: Node) -> list[str]:
    """Names that become paths and command-line arguments: one safe component each."""
    where = f"node {node.name!r}"
    problems = []
    why = unsafe_component(node.name)
    if why:
        problems.append(f"{where}: the node name {why}; a node name is a Python identifier")
    problems += [
        f"{where}: input {argument!r} is not a Python identifier (an argument of the step)"
        for argument in node.inputs
        if not argument.isidentifier()
    ]
    problems += [
        f"{where}: output {output!r} is empty, '.' or '..'; an output name becomes a file name"
        for output in node.outputs
        if unsafe_component(artifact_file_name(output))
    ]
    return problems


def _build_file_error(build_dir: Path, node: Node, what: str, relative: str) -> str | None:
    """Why a script or local module path of ``node`` cannot be run from the build; None if it can."""
    try:
        path = inside(build_dir, relative)
    except PathEscape:
        return (
            f"node {node.name!r}: {what} {relative!r} must be a path inside the build folder "
            "(symbolic links included)"
        )
    if not path.is_file():
        return f"node {node.name!r}: {what} {relative!r} is missing from {build_dir}"
    return None


def _local_module_errors(build_dir: Path, node: Node) -> list[str]:
    found = (_build_file_error(build_dir, node, "local module", m) for m in node.local_modules)
    return [problem for problem in found if problem]


def _script_errors(build_dir: Path, node: Node) -> list[str]:
    problem = _build_file_error(build_dir, node, "script", node.script)
    return [problem] if problem else []


def _cycle_errors(manifest: Manifest) -> list[str]:
    try:
        graphlib.TopologicalSorter(manifest.dependencies()).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1] if len(exc.args) > 1 else []
        return [f"the nodes form a cycle: {' -> '.join(map(str, cycle))}"]
    return []


def _upstream_nodes(node: Node) -> set[str]:
    found = {guard.node for guard in node.when}
    for binding in node.inputs.values():
        found |= referenced_nodes(binding)
    return found


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
