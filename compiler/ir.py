"""The traced controller: its nodes in program order, its result and its graph.

Values flowing between nodes are the build model's bindings (`pipec.manifest`), so the
tracer, the lowering pass and the runtime speak of them with the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import networkx as nx

from pipec.compiler.analyse import Support
from pipec.manifest import Binding, Guard, Location, NodeKind

__all__ = ["RETURN_OUTPUT", "GlueNode", "Node", "StepNode", "Trace"]

RETURN_OUTPUT = "return"


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
    # Names the controller reads that only a module-level star import can define, and where.
    star_reads: tuple[tuple[str, Location], ...] = ()

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)
