"""The traced nodes as a graph: what glue must write, and every dependency as an edge."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx

from pipec.compiler.ir import GlueNode, Node
from pipec.manifest import (
    Binding,
    Container,
    Gather,
    NodeKind,
    OutputRef,
    Select,
    binding_sources,
)

__all__ = ["build_graph", "prune_outputs", "stages"]


def prune_outputs(nodes: list[Node], result: Binding | None) -> list[Node]:
    """Glue writes only what a later node or the result reads."""
    used: set[tuple[str, str]] = set()

    def mark(binding: Binding) -> None:
        if isinstance(binding, (OutputRef, Gather)):
            used.add((binding.node, binding.output))
        elif isinstance(binding, Container):
            for item in binding.items:
                mark(item)
        elif isinstance(binding, Select):
            for option in binding.options:
                mark(option.binding)

    for node in nodes:
        for _, binding in node.inputs:
            mark(binding)
    if result is not None:
        mark(result)
    pruned: list[Node] = []
    for node in nodes:
        if isinstance(node, GlueNode) and node.kind is NodeKind.GLUE:
            node = replace(node, outputs=tuple(o for o in node.outputs if (node.name, o) in used))
        pruned.append(node)
    return pruned


def build_graph(nodes: list[Node], result: Binding | None) -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in nodes:
        graph.add_node(node.name)
    for node in nodes:
        data: set[str] = set()
        guards: set[str] = {g.node for g in node.when}
        for _, binding in node.inputs:
            d, g = binding_sources(binding)
            data |= d
            guards |= g
        if node.map is not None:
            data.add(node.map)
        for source in sorted(data):
            graph.add_edge(source, node.name, kind="data")
        for source in sorted(guards - data):
            graph.add_edge(source, node.name, kind="guard")
        for before in node.after:
            if not graph.has_edge(before, node.name):
                graph.add_edge(before, node.name, kind="order")
    if not nx.is_directed_acyclic_graph(
        graph
    ):  # pragma: no cover - the tracer only links backwards
        raise AssertionError("traced graph has a cycle")
    return graph


def stages(graph: nx.DiGraph, order: list[str]) -> tuple[tuple[str, ...], ...]:
    """The nodes in waves that could run together: each wave needs only the waves before it.

    Nodes of one wave are listed in program order (`order`).
    """
    position = {name: index for index, name in enumerate(order)}
    return tuple(
        tuple(sorted(wave, key=position.__getitem__)) for wave in nx.topological_generations(graph)
    )
