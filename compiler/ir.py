"""The traced pipeline: values flowing between nodes (bindings), the nodes, and the graph."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import libcst as cst
import networkx as nx

from pipec.compiler.analyse import Support
from pipec.compiler.diagnostics import Location

__all__ = [
    "Binding",
    "Const",
    "DictOf",
    "GatherRef",
    "GlueNode",
    "Guard",
    "ItemRef",
    "ListOf",
    "Node",
    "NodeKind",
    "OutputRef",
    "ParamRef",
    "Select",
    "StepNode",
    "Trace",
    "binding_sources",
]

RETURN_OUTPUT = "return"


class NodeKind(enum.Enum):
    STEP = "step"
    GLUE = "glue"
    CONDITION = "condition"
    MAP = "map"


@dataclass(frozen=True)
class ParamRef:
    name: str


@dataclass(frozen=True)
class OutputRef:
    node: str
    output: str


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Guard:
    """Holds when condition node `node` ran and decided `value`."""

    node: str
    value: bool


@dataclass(frozen=True)
class ListOf:
    """A list or tuple whose shape is known at compile time and whose items may be artifacts."""

    items: tuple[Binding, ...]
    tuple: bool = False


@dataclass(frozen=True)
class DictOf:
    items: tuple[tuple[Any, Binding], ...]  # (constant key, value)


@dataclass(frozen=True)
class Select:
    """The value of the first option whose guards all hold (names assigned in branches)."""

    options: tuple[tuple[tuple[Guard, ...], Binding], ...]


@dataclass(frozen=True)
class ItemRef:
    """Inside a map body: this instance's element."""

    map: str


@dataclass(frozen=True)
class GatherRef:
    """After a map: the list of one body output over every instance, in element order."""

    map: str
    node: str
    output: str


Binding = ParamRef | OutputRef | Const | ListOf | DictOf | Select | ItemRef | GatherRef


def binding_sources(binding: Binding) -> tuple[set[str], set[str]]:
    """(nodes whose outputs the binding reads, condition nodes whose decisions it reads)."""
    data: set[str] = set()
    guards: set[str] = set()
    if isinstance(binding, OutputRef):
        data.add(binding.node)
    elif isinstance(binding, ListOf):
        for item in binding.items:
            d, g = binding_sources(item)
            data |= d
            guards |= g
    elif isinstance(binding, DictOf):
        for _, item in binding.items:
            d, g = binding_sources(item)
            data |= d
            guards |= g
    elif isinstance(binding, Select):
        for option_guards, item in binding.options:
            guards |= {g.node for g in option_guards}
            d, g = binding_sources(item)
            data |= d
            guards |= g
    elif isinstance(binding, ItemRef):
        data.add(binding.map)
    elif isinstance(binding, GatherRef):
        data |= {binding.map, binding.node}
    return data, guards


@dataclass(frozen=True)
class StepNode:
    name: str
    component: str
    inputs: tuple[tuple[str, Binding], ...]
    after: tuple[str, ...]
    when: tuple[Guard, ...]
    map: str | None
    location: Location

    @property
    def kind(self) -> NodeKind:
        return NodeKind.STEP


@dataclass(frozen=True)
class GlueNode:
    """Controller code run by a script of its own: plain glue, an `if` test, or a map's iterable."""

    name: str
    kind: NodeKind
    statements: tuple[cst.BaseStatement, ...]  # GLUE: the statements, ready to render
    expression: cst.BaseExpression | None  # CONDITION: the test; MAP: the iterable
    inputs: tuple[tuple[str, Binding], ...]
    outputs: tuple[str, ...]
    after: tuple[str, ...]
    when: tuple[Guard, ...]
    map: str | None
    effects: bool
    location: Location
    end_line: int
    source_code: str  # the controller lines as the user wrote them
    support: Support


Node = StepNode | GlueNode


@dataclass(frozen=True)
class Trace:
    nodes: tuple[Node, ...]  # program order
    result: Binding | None
    graph: nx.DiGraph

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)
