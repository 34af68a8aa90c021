"""Pass 3: symbolic execution of the controller body into a DAG of step, glue, condition and map nodes.

The tracer walks the controller's statements in program order with an environment that maps
each controller variable to what it holds at that point: a parameter, a step output, a constant,
a container of these, or a choice between branches. Step calls become step nodes; other code
becomes glue nodes that run the user's own statements; loops over constants are unrolled; `if`
on run-time values becomes a condition node whose decision guards the nodes of each branch;
loops over run-time values become map nodes that the runtime expands.

The jobs live in their own modules: `trace_state` (the frame and the graph being built),
`trace_values`, `trace_statements`, `trace_branches`, `trace_loops` and `trace_glue`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipec.compiler import trace_statements
from pipec.compiler.analyse import Component
from pipec.compiler.dag import build_graph, prune_outputs
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.import_kinds import ModulePlaces
from pipec.compiler.ir import Trace
from pipec.compiler.parse import Decorated, ParsedFile
from pipec.compiler.trace_state import Context

__all__ = ["trace_controller"]


def trace_controller(
    parsed: ParsedFile,
    components: Mapping[str, Component],
    controller: Decorated,
    parameters: tuple[str, ...],
    reporter: Reporter,
    modules: ModulePlaces | None = None,
) -> Trace:
    """`modules`: where imported names lead (a module is imported afresh by each script, never
    a value two names share; a local module's list is); unknown without it."""
    context = Context(parsed, components, controller, parameters, reporter, modules)
    result = trace_statements.run(context)
    nodes = prune_outputs(context.graph.nodes, result)
    star_reads = tuple(dict.fromkeys(context.star_reads.values()))
    return Trace(tuple(nodes), result, build_graph(nodes, result), star_reads)
