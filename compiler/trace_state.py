"""The state of a trace: the frame of the current branch or loop body, and the graph being built.

A `Frame` is what changes from one branch or map body to the next (the environment, the guards
the current code runs under, the map it runs in, whether it has ended); a `Graph` is what only
grows (nodes, their unique names, the glue statements queued for the next glue node). A
`Context` holds both, with the questions every tracing job asks about names and constants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.metadata import CodeRange, Scope

from pipec.compiler.analyse import Component, literal_of
from pipec.compiler.diagnostics import Reporter, Rule
from pipec.compiler.fold import fold
from pipec.compiler.import_kinds import ModulePlaces
from pipec.compiler.ir import Node
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.parse import Decorated, ParsedFile
from pipec.compiler.source import SourceModule
from pipec.compiler.star_imports import star_modules
from pipec.compiler.syntax import ExitFinder, UnitFinder, within
from pipec.compiler.trace_sharing import Sharing
from pipec.manifest import (
    Binding,
    Gather,
    Guard,
    ItemRef,
    Literal,
    Location,
    OutputRef,
    ParamRef,
    SelectOption,
)

if TYPE_CHECKING:
    from pipec.compiler.clearml_handles import CarriedLogger
    from pipec.compiler.identity_copies import IdentityHelper

__all__ = [
    "REPORTED",
    "UNBOUND",
    "Context",
    "Frame",
    "Graph",
    "LoopExit",
    "PendingGlue",
    "Symbol",
    "TupleResult",
    "Unavailable",
]


@dataclass(frozen=True)
class TupleResult:
    """The whole result of a multi-output step call, before it is unpacked."""

    items: tuple[OutputRef, ...]
    component: str


@dataclass(frozen=True)
class Unavailable:
    """A name whose value the compiled pipeline cannot provide here; using it is an error."""

    rule: Rule | None
    fields: Mapping[str, object] = field(default_factory=dict)


# Stands for the names a refused statement assigns: its error is reported once, not again at
# every later use.
REPORTED = Unavailable(None)

Symbol = Binding | TupleResult | Unavailable

# The node of a select option standing for "this name is not bound on this path" (a name bound in
# one branch of an `if` only). Reading it makes a node that fails as Python does.
UNBOUND = "<unbound>"


class LoopExit(Exception):
    """`break` or `continue` in a loop unrolled at compile time: unwinds to the loop."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class PendingGlue:
    """Controller statements queued for the next glue node, with what they read and write."""

    statements: list[cst.BaseStatement] = field(default_factory=list)
    originals: list[cst.CSTNode] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    globals: set[str] = field(default_factory=set)
    effects: bool = False
    barrier: bool = False
    returns: bool = False


@dataclass
class Frame:
    """What the code being traced sees: its variables, its guards, the map it runs in."""

    env: dict[str, Symbol]
    guards: tuple[Guard, ...] = ()
    terminated: bool = False  # a `return` or `raise` ended this path
    # Ordering: the last node with side effects, and the last `assert`/`raise` (later nodes wait).
    last_effects: tuple[str, ...] = ()
    barriers: tuple[str, ...] = ()
    map: str | None = None
    map_env: dict[str, Symbol] = field(default_factory=dict)  # the env the map body started from
    map_gathers: dict[str, Gather] = field(default_factory=dict)

    def branch(self, guard: Guard) -> Frame:
        """The frame of one side of a run-time `if`: a copy of this one, under `guard` too."""
        return dataclasses.replace(
            self, env=dict(self.env), guards=(*self.guards, guard), terminated=False
        )

    def map_body(self, map_name: str, target: str) -> Frame:
        """The frame of a map body: the loop variable is the element of `map_name`."""
        return dataclasses.replace(
            self,
            env={**self.env, target: ItemRef(map_name)},
            map=map_name,
            map_env=dict(self.env),
            map_gathers={},
        )


@dataclass
class Graph:
    """The nodes made so far, their names, and the glue waiting to become the next node."""

    nodes: list[Node] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    step_names: set[str] = field(default_factory=set)
    pending: PendingGlue = field(default_factory=PendingGlue)


class Context:
    """One trace: the file and its components, the current frame, the graph, the results."""

    def __init__(
        self,
        parsed: ParsedFile,
        components: Mapping[str, Component],
        controller: Decorated,
        parameters: tuple[str, ...],
        reporter: Reporter,
        modules: ModulePlaces | None = None,
    ) -> None:
        self.parsed = parsed
        self.source: SourceModule = parsed.source
        self.components = components
        self.controller = controller
        self.reporter = reporter
        self.frame = Frame({p: ParamRef(p) for p in parameters})
        self.graph = Graph(names=set(components))
        self.loop_guards: list[tuple[Guard, ...]] = []  # the guards of each unrolled loop
        self.returns: list[SelectOption] = []
        self.sharing = Sharing()  # what glue outputs may share with the values they were built from
        self.unbound_reads: dict[tuple[str, tuple[Guard, ...]], str] = {}  # -> its failing node
        self.warned_unreachable = False
        self.controller_scope = self.source.scopes.get(controller.function.body)
        # Comprehensions the tracer is unrolling or mapping, and helpers it is inlining: their
        # names are bound in the frame like the controller's own, so glue reads them as inputs.
        self.inner_scopes: list[Scope | None] = []
        # Names bound by an `import` in the controller -> that import, alone on its line.
        self.imports: dict[str, cst.SimpleStatementLine] = {}
        # The names a controller `import` bound -> the marker each holds while still bound to it.
        self.import_markers: dict[str, Unavailable] = {}
        # Names that held a ClearML Logger -> where it came from (see clearml_handles).
        self.loggers: dict[str, CarriedLogger] = {}
        self.task_names: frozenset[str] | None = None  # names only ever bound to a Task
        self.modules = modules  # where imported names lead: modules or values, read from disk
        # A module a glue node set process state of (`random.seed(1)`) -> (that node, the
        # call's text, its line): a later node reading the module would not see the state.
        self.module_state: dict[str, tuple[str, str, int]] = {}
        # The modules whose state the file's module-level code sets (found once).
        self.state_set_at_import: frozenset[str] | None = None
        # `locals()` calls of the controller's first statement (frame_reads), found once.
        self.parameter_locals: list[cst.Call] | None = None
        # Controller names that stand for a module's object (`env = os.environ`), found once.
        self.module_aliases: dict[str, str] | None = None
        # Module-level functions that test the identity of their parameters (found once).
        self.identity_helpers: dict[str, IdentityHelper] | None = None
        # A step node -> the values its call passed, as the controller had them: in Python the
        # step may return any of them, or anything inside one.
        self.step_arguments: dict[str, tuple[Binding, ...]] = {}
        # What the file has that is equal only to itself, for messages; "" if nothing (found once).
        self.identity_equal: str | None = None
        # The module-level names whose code may make such an object, and the module-level
        # values made by calling one (found once, see identity_equal).
        self.identity_makers: tuple[frozenset[str], frozenset[str]] | None = None
        # (what is followed, a node, its output) -> whether the output may hold it (see
        # value_origins: an `id(...)`, an object whose `==` is identity).
        self.value_origins: dict[tuple[str, str, str], bool] = {}
        # Module-level helpers that call steps (found on first use), and those being inlined.
        self.helpers: dict[str, cst.FunctionDef] | None = None
        self.inlining: list[str] = []
        self.star_modules = star_modules(self.source)
        # Names only a star import can define -> (name, where it is first read).
        self.star_reads: dict[cst.Name, tuple[str, Location]] = {}
        # Generators glue made and left in names: (node, name) -> where (generator_values).
        self.generator_functions: frozenset[str] | None = None
        self.generator_outputs: dict[tuple[str, str], cst.CSTNode] = {}
        self.generators_reported: set[tuple[str, str]] = set()

    # ---- names -------------------------------------------------------------------------------

    def unique(self, base: str) -> str:
        """`base`, then `base_1`, `base_2`, ... as ClearML names repeated calls of a step."""
        candidate = base
        n = self.graph.counters.get(base, 0)
        while (
            candidate in self.graph.names
            and candidate not in self.components
            or candidate in self.graph.step_names
        ):
            n += 1
            candidate = f"{base}_{n}"
        self.graph.counters[base] = n
        self.graph.names.add(candidate)
        self.graph.step_names.add(candidate)
        return candidate

    def numbered(self, prefix: str) -> str:
        n = self.graph.counters.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}_{n}"
            if candidate not in self.graph.names:
                self.graph.counters[prefix] = n
                self.graph.names.add(candidate)
                self.graph.step_names.add(candidate)
                return candidate

    def temporary(self, what: str) -> str:
        candidate, n = what, 0
        while candidate in self.frame.env or candidate in self.components:
            n += 1
            candidate = f"{what}_{n}"
        return candidate

    # ---- classification ----------------------------------------------------------------------

    def component_of(self, call: cst.Call) -> Component | None:
        func = call.func
        if not isinstance(func, cst.Name) or func.value not in self.components:
            return None
        if func.value in self.frame.env:  # shadowed by a controller variable
            return None
        return self.components[func.value]

    def units(self, node: cst.CSTNode) -> list[cst.BaseExpression]:
        from pipec.compiler.trace_inline import helper_of  # the inliner needs this module

        finder = UnitFinder(
            lambda c: self.component_of(c) is not None or helper_of(self, c) is not None
        )
        node.visit(finder)
        return finder.units

    def structural(self, node: cst.CSTNode) -> bool:
        """Whether a compound statement must be traced (it calls steps or leaves the controller)."""
        if self.units(node):
            return True
        exits = ExitFinder()
        node.visit(exits)
        return exits.found

    def uses(self, node: cst.CSTNode, skip: Sequence[CodeRange]) -> Iterator[tuple[str, str]]:
        """(kind, name) of each name `node` reads: local, global, builtin or undefined."""
        for kind, use in self.name_uses(node, skip):
            yield kind, use.value

    def name_uses(
        self, node: cst.CSTNode, skip: Sequence[CodeRange]
    ) -> Iterator[tuple[str, cst.Name]]:
        if node not in self.source.positions:
            return
        for use in self.source.uses_within(self.source.extent(node), skip):
            if use.builtin:
                yield "builtin", use.node
            elif use.scope is None and self.star_modules:
                # Only a module-level star import can define it: every script carries those.
                self.star_reads.setdefault(use.node, (use.name, self.location(use.node)))
                yield "global", use.node
            elif use.scope is None:
                yield "undefined", use.node
            elif use.scope is self.source.global_scope:
                yield "global", use.node
            elif use.scope is self.controller_scope or any(
                use.scope is s for s in self.inner_scopes
            ):
                yield "local", use.node
            # names of comprehensions and lambdas inside the statement are its own business

    def writes(self, node: cst.CSTNode) -> list[str]:
        scope = self.controller_scope
        if scope is None or node not in self.source.positions:
            return []
        where = self.source.extent(node)
        names: list[str] = []
        inner = [s for s in self.inner_scopes if s is not None]
        bound = [
            (a.name, getattr(a, "node", None))
            for a in [*scope.assignments, *(a for s in inner for a in s.assignments)]
        ]
        bound += [b for s in [scope, *inner] for b in self.source.walrus_bindings(s)]
        for name, target in bound:
            if target is None or target not in self.source.positions:
                continue
            if within(self.source.positions[target], where) and name not in names:
                names.append(name)
        return names

    def location(self, node: cst.CSTNode) -> Location:
        if node in self.source.positions:
            return self.source.location(node)
        return self.source.location(self.controller.function)

    def constant(self, name: str) -> Any:
        if name in self.graph.pending.writes:
            return NOT_LITERAL  # queued glue may change it: known only when that glue has run
        symbol = self.frame.env.get(name)
        if isinstance(symbol, Literal):
            return symbol.value
        if symbol is None and name in self.source.global_bindings():
            return literal_of(self.source, cst.Name(name))
        return NOT_LITERAL

    def fold(self, expr: cst.BaseExpression) -> Any:
        return fold(expr, self.constant)

    def fold_is_constant(self, expr: cst.BaseExpression) -> bool:
        return self.fold(expr) is not NOT_LITERAL
