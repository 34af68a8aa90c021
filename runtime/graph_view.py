"""The DAG of a build, with a run's states when there is one: as text, as Graphviz DOT, and the
layered layout the HTML report draws.

Nodes sit in layers by their longest path from a root, so every edge points to a later layer;
the text view prints one line per node, layer after layer, each with the nodes it waits for,
which stays readable for hundreds of nodes where boxes and arrows would not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipec.manifest import EdgeKind, Manifest, NodeKind
from pipec.record import NodeRecord, NodeState, RunRecord
from pipec.value_methods import ValueMethods

__all__ = [
    "STATE_COLOURS",
    "GraphNode",
    "PipelineGraph",
    "format_dot",
    "format_graph",
    "pipeline_graph",
]


@dataclass(frozen=True, eq=False, repr=False)
class GraphNode(ValueMethods):
    """One node as the graph views draw it: its layer, parents and run state."""

    name: str
    kind: NodeKind
    layer: int
    parents: tuple[tuple[str, EdgeKind], ...]
    state: str | None  # the run's state of the node; None for a build without a run
    duration: float | None
    note: str  # a decision, a map's width, a failure or skip reason, or empty
    map: str | None  # the map whose body the node belongs to
    line: int  # the node's line in the pipeline file


@dataclass(frozen=True, eq=False, repr=False)
class PipelineGraph(ValueMethods):
    """A pipeline laid out in layers for `pipec show --graph` and report.html."""

    name: str
    nodes: tuple[GraphNode, ...]  # by layer, then program order

    @property
    def layers(self) -> int:
        return 1 + max((n.layer for n in self.nodes), default=-1)


def pipeline_graph(manifest: Manifest, record: RunRecord | None = None) -> PipelineGraph:
    """The DAG of ``manifest``, each node with its state in ``record`` if given."""
    order = {node.name: index for index, node in enumerate(manifest.nodes)}
    parents: dict[str, list[tuple[str, EdgeKind]]] = {name: [] for name in order}
    for edge in manifest.edges:
        if edge.source in order and edge.target in order:
            parents[edge.target].append((edge.source, edge.kind))
    layer: dict[str, int] = {}
    for name in _topological(order, parents):
        layer[name] = 1 + max((layer[p] for p, _ in parents[name]), default=-1)
    nodes = []
    for node in manifest.nodes:
        entry = record.nodes.get(node.name) if record is not None else None
        nodes.append(
            GraphNode(
                name=node.name,
                kind=node.kind,
                layer=layer[node.name],
                parents=tuple(parents[node.name]),
                state=entry.state.value if entry is not None else None,
                duration=entry.duration if entry is not None else None,
                note=_note(entry),
                map=node.map,
                line=node.source.line,
            )
        )
    nodes.sort(key=lambda n: (n.layer, order[n.name]))
    return PipelineGraph(manifest.pipeline.name, tuple(nodes))


def _topological(
    order: Mapping[str, int], parents: Mapping[str, Sequence[tuple[str, EdgeKind]]]
) -> list[str]:
    """Kahn's algorithm in program order; a manifest is validated acyclic before it is read."""
    waiting = {name: len(parents[name]) for name in order}
    children: dict[str, list[str]] = {name: [] for name in order}
    for name, sources in parents.items():
        for source, _ in sources:
            children[source].append(name)
    ready = [name for name in order if waiting[name] == 0]
    done: list[str] = []
    while ready:
        name = ready.pop(0)
        done.append(name)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return done + [name for name in order if name not in set(done)]


def _note(entry: NodeRecord | None) -> str:
    if entry is None:
        return ""
    if entry.decision is not None:
        return f"decided {entry.decision}"
    if entry.elements is not None:
        return f"{entry.elements} element" + ("" if entry.elements == 1 else "s")
    stopped = (NodeState.FAILED, NodeState.SKIPPED, NodeState.ABORTED, NodeState.EXITED)
    if entry.state in stopped and entry.message:
        return entry.message
    if entry.state is NodeState.SUCCEEDED and entry.message and not entry.outputs:
        return entry.message  # a map body node: how many instances ran
    return ""


_MARKS = {
    None: "o",
    "succeeded": "+",
    "cached": "=",
    "failed": "X",
    "skipped": "-",
    "aborted": "!",
    "interrupted": "!",
    "exited": "#",
    "running": ">",
    "pending": ".",
}


def format_graph(graph: PipelineGraph) -> str:
    """One line per node, layer by layer: mark, name, state and duration, what it waits for."""
    width = max((len(n.name) for n in graph.nodes), default=4)
    with_states = any(n.state is not None for n in graph.nodes)
    lines = [f"pipeline {graph.name}: {len(graph.nodes)} nodes in {graph.layers} layers"]
    if with_states:
        lines.append(
            "marks: + succeeded  = cached  X failed  - skipped  ! stopped  # sys.exit  > running"
        )
    current = -1
    for node in graph.nodes:
        if node.layer != current:
            current = node.layer
            lines.append(f"layer {current + 1}")
        cells = [f"  {_MARKS.get(node.state, '?')} {node.name.ljust(width)}"]
        if with_states:
            duration = "" if node.duration is None else f" {node.duration:.1f}s"
            cells.append(f"{(node.state or '') + duration:<18}")
        kind = "" if node.kind is NodeKind.STEP else node.kind.value
        if node.map:
            kind = (kind + " " if kind else "") + f"in map {node.map}"
        if kind:
            cells.append(f"[{kind}]")
        if node.parents:
            cells.append("<- " + ", ".join(_parent_text(p, k) for p, k in node.parents))
        if node.note:
            cells.append(f"({node.note})")
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _parent_text(name: str, kind: EdgeKind) -> str:
    return name if kind is EdgeKind.DATA else f"{name} ({kind.value})"


# One colour per node state, shared by the DOT output and `pipec report`'s page.
STATE_COLOURS = {
    "succeeded": "#b7e4c7",
    "cached": "#cde7f0",
    "failed": "#f4a3a3",
    "skipped": "#e5e5e5",
    "aborted": "#f7d08a",
    "interrupted": "#f7d08a",
    "exited": "#c9b8e8",
    "running": "#fff3b0",
    "pending": "#ffffff",
}


def format_dot(graph: PipelineGraph) -> str:
    """Graphviz DOT: one box per node (filled by its state), solid data edges, dashed others."""
    lines = [
        f"digraph {_quote(graph.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
    ]
    for node in graph.nodes:
        label = node.name
        if node.state is not None:
            duration = "" if node.duration is None else f" {node.duration:.1f}s"
            label += f"\\n{node.state}{duration}"
        attributes = [f"label={_quote(label, escaped=True)}"]
        if node.kind is NodeKind.CONDITION:
            attributes.append("shape=diamond")
        elif node.kind is not NodeKind.STEP:
            attributes.append('style="rounded,filled,dashed"')
        if node.state is not None:
            attributes.append(f"fillcolor={_quote(STATE_COLOURS.get(node.state, '#ffffff'))}")
        lines.append(f"  {_quote(node.name)} [{', '.join(attributes)}];")
    for node in graph.nodes:
        for parent, kind in node.parents:
            style = "" if kind is EdgeKind.DATA else " [style=dashed]"
            lines.append(f"  {_quote(parent)} -> {_quote(node.name)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _quote(text: str, escaped: bool = False) -> str:
    """A DOT string; ``escaped`` keeps the label's own ``\\n`` line breaks."""
    quoted = json.dumps(text.replace("\\n", "\n") if escaped else text)
    return quoted
