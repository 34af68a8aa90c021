"""The parsed pipeline file: its concrete syntax tree, positions and a name index of the module scope."""

from __future__ import annotations

import ast
import bisect
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import cast

import libcst as cst
from libcst.metadata import (
    BuiltinScope,
    CodeRange,
    ComprehensionScope,
    ExpressionContext,
    ExpressionContextProvider,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)

from pipec.compiler import rules
from pipec.compiler.deep_stack import check_python_compiles
from pipec.compiler.diagnostics import Location, UserError

__all__ = ["NameUse", "SourceModule", "parse_source"]


@dataclass(frozen=True)
class NameUse:
    """One read of a name, with where it is and which scope defines it."""

    name: str
    node: cst.Name
    range: CodeRange
    scope: Scope | None  # the scope that binds the name; None for a builtin or an undefined name
    builtin: bool


@dataclass
class SourceModule:
    """A parsed file. Built once by `parse_source`; read-only afterwards."""

    path: str
    text: str
    module: cst.Module
    positions: dict[cst.CSTNode, CodeRange]
    scopes: dict[cst.CSTNode, Scope | None]
    raw_qualified_names: Mapping[cst.CSTNode, object]
    uses: tuple[NameUse, ...]
    # Walrus targets inside comprehensions, by the scope Python binds them in (see
    # `_walrus_bindings`): id(scope) -> [(name, target)].
    lifted: Mapping[int, list[tuple[str, cst.Name]]] = field(default_factory=dict)
    _starts: list[tuple[int, int]] = field(default_factory=list)
    _bindings: dict[str, list[int]] | None = None

    def __post_init__(self) -> None:
        self._starts = [self._start(stmt) for stmt in self.module.body]

    def _start(self, node: cst.CSTNode) -> tuple[int, int]:
        r = self.extent(node)
        return (r.start.line, r.start.column)

    def extent(self, node: cst.CSTNode) -> CodeRange:
        """The node's range, including the decorators of a function or class."""
        r = self.positions[node]
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
            return CodeRange(self.positions[node.decorators[0]].start, r.end)
        return r

    def qualified_names(self, node: cst.CSTNode) -> frozenset[str]:
        """Dotted names `node` refers to, resolved through the file's imports."""
        value = self.raw_qualified_names.get(node, ())
        if callable(value):  # libcst computes qualified names lazily
            value = value()
        return frozenset(q.name for q in value)  # type: ignore[attr-defined]

    def location(self, node: cst.CSTNode) -> Location:
        r = self.positions[node]
        return Location(self.path, r.start.line, r.start.column + 1)

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def statement_index(self, node: cst.CSTNode) -> int:
        """Index in `module.body` of the top-level statement that holds `node`."""
        return self.index_at(self.positions[node])

    def index_at(self, where: CodeRange) -> int:
        key = (where.start.line, where.start.column)
        return bisect.bisect_right(self._starts, key) - 1

    def walrus_bindings(self, scope: Scope) -> list[tuple[str, cst.Name]]:
        """The names walrus expressions inside comprehensions bind in `scope`
        (`[last := f(x) for x in xs]` binds `last` in the function around it)."""
        return self.lifted.get(id(scope), [])

    @property
    def global_scope(self) -> GlobalScope:
        scope = self.scopes[self.module]
        assert isinstance(scope, GlobalScope)
        return scope

    def global_bindings(self) -> dict[str, list[int]]:
        """Module-level name -> indices of the top-level statements that bind it."""
        if self._bindings is None:
            self._bindings = self._find_bindings()
        return self._bindings

    def _find_bindings(self) -> dict[str, list[int]]:
        bindings: dict[str, set[int]] = defaultdict(set)
        for assignment in self.global_scope.assignments:
            node = getattr(assignment, "node", None)  # builtins and imports-by-star have none
            if node is not None and node in self.positions:
                bindings[assignment.name].add(self.statement_index(node))
        return {name: sorted(indices) for name, indices in bindings.items()}

    def globals_bound_within(self, where: CodeRange) -> set[str]:
        """The module-level names the code at `where` assigns, imports or defines."""
        return {
            assignment.name
            for assignment in self.global_scope.assignments
            if (node := getattr(assignment, "node", None)) is not None
            and node in self.positions
            and _inside(self.extent(node), where)
        }

    def globals_read_within(self, where: CodeRange) -> set[str]:
        """The module-level names the code at `where` reads."""
        return {use.name for use in self.uses_within(where) if use.scope is self.global_scope}

    def uses_within(
        self, where: CodeRange, excluding: Iterable[CodeRange] = ()
    ) -> Iterator[NameUse]:
        skipped = tuple(excluding)
        for use in self.uses:
            if _inside(use.range, where) and not any(_inside(use.range, s) for s in skipped):
                yield use


def _inside(inner: CodeRange, outer: CodeRange) -> bool:
    a = (inner.start.line, inner.start.column)
    b = (inner.end.line, inner.end.column)
    return (outer.start.line, outer.start.column) <= a and b <= (outer.end.line, outer.end.column)


def parse_source(text: str, path: str) -> SourceModule:
    """Parse without running anything. Syntax errors carry CPython's own line and column."""
    text = text.lstrip("\ufeff")
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line = exc.lineno or 1
        column = exc.offset or 1
        message = exc.msg or "invalid syntax"
        newer = _newer_syntax(exc, text)
        if newer is not None:
            construct, version = newer
            raise UserError(
                [
                    rules.NEWER_PYTHON_SYNTAX.at(
                        Location(path, line, column),
                        construct=construct,
                        version=version,
                    )
                ]
            ) from None
        raise UserError(
            [rules.SYNTAX_ERROR.at(Location(path, line, column), message=message)]
        ) from None
    check_python_compiles(text, tree, path)
    module = cst.parse_module(text)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    captured = _mark_pattern_captures(wrapper)
    # One batched walk of the tree for all three providers.
    resolved = wrapper.resolve_many([PositionProvider, ScopeProvider, QualifiedNameProvider])
    positions = cast("dict[cst.CSTNode, CodeRange]", dict(resolved[PositionProvider]))
    scopes = cast("dict[cst.CSTNode, Scope | None]", dict(resolved[ScopeProvider]))
    lifted = _walrus_bindings(module, scopes)
    return SourceModule(
        path=path,
        text=text,
        module=module,
        positions=positions,
        scopes=scopes,
        raw_qualified_names=resolved[QualifiedNameProvider],
        uses=tuple(_collect_uses(scopes, positions, captured, lifted)),
        lifted=lifted,
    )


def _walrus_bindings(
    module: cst.Module, scopes: Mapping[cst.CSTNode, Scope | None]
) -> dict[int, list[tuple[str, cst.Name]]]:
    """A walrus inside a comprehension binds its name in the nearest enclosing scope that is
    not a comprehension (PEP 572); libcst records it in the comprehension. By that scope's id:
    each such name and its target."""

    class _Targets(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[cst.Name] = []

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            if isinstance(node.target, cst.Name):
                self.found.append(node.target)

    targets = _Targets()
    module.visit(targets)
    lifted: dict[int, list[tuple[str, cst.Name]]] = defaultdict(list)
    for target in targets.found:
        scope = scopes.get(target)
        if not isinstance(scope, ComprehensionScope):
            continue
        owner: Scope = scope
        while isinstance(owner, ComprehensionScope) and owner.parent is not owner:
            owner = owner.parent
        lifted[id(owner)].append((target.value, target))
    return dict(lifted)


def _mark_pattern_captures(wrapper: MetadataWrapper) -> frozenset[str]:
    """Make the names a `case` pattern binds (`case [first, *rest]:`) assignments.

    libcst's scope analysis leaves such names without an expression context and so takes them
    for reads of undefined names. The scope provider reads the contexts the wrapper holds, so
    the contexts are computed first and stored back with the captures marked as stores. Its
    reads still find no assignment (a `case` does not advance libcst's assignment order):
    `_collect_uses` resolves the returned names to the scope that binds them.
    """
    contexts = dict(wrapper.resolve(ExpressionContextProvider))
    finder = _CaptureFinder()
    wrapper.module.visit(finder)
    if not finder.captures:
        return frozenset()
    for name in finder.captures:
        contexts[name] = ExpressionContext.STORE
    wrapper._metadata[ExpressionContextProvider] = MappingProxyType(contexts)
    return frozenset(name.value for name in finder.captures)


class _CaptureFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.captures: list[cst.Name] = []

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self.captures.append(node.name)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self.captures.append(node.name)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self.captures.append(node.rest)


# Syntax that a newer Python accepts, told by CPython's message on an older one (or the line).
_NEWER_SYNTAX = (
    ("multiple exception types must be parenthesized", "`except A, B:` (PEP 758)", (3, 14)),
)
_TYPE_STATEMENT = re.compile(r"^\s*type\s+[A-Za-z_]\w*\s*(\[[^\]]*\])?\s*=")


def _newer_syntax(exc: SyntaxError, text: str) -> tuple[str, str] | None:
    """(the construct, the Python version it needs) when the error is only this Python's age."""
    for fragment, construct, version in _NEWER_SYNTAX:
        if fragment in (exc.msg or "") and sys.version_info < version:
            return construct, ".".join(map(str, version))
    lines = text.splitlines()
    line = lines[exc.lineno - 1] if exc.lineno and exc.lineno <= len(lines) else ""
    if sys.version_info < (3, 12) and _TYPE_STATEMENT.match(line):
        return "the `type` statement (PEP 695)", "3.12"
    return None


def _collect_uses(
    scopes: dict[cst.CSTNode, Scope | None],
    positions: dict[cst.CSTNode, CodeRange],
    captured: frozenset[str],
    lifted: Mapping[int, list[tuple[str, cst.Name]]],
) -> Iterator[NameUse]:
    unique = list({id(s): s for s in scopes.values() if s is not None}.values())
    found: list[NameUse] = []
    for scope in unique:
        for access in scope.accesses:
            node = _leading_name(access.node)
            if node is None or node not in positions:
                continue
            referents = list(access.referents)
            builtin = bool(referents) and all(isinstance(r.scope, BuiltinScope) for r in referents)
            # Python defines `__file__` in every module it runs from a file; each script pipec
            # writes reads the pipeline file's path in its place (compiler/file_reads.py).
            builtin = builtin or (not referents and node.value == "__file__")
            owner = next(
                (r.scope for r in referents if not isinstance(r.scope, BuiltinScope)), None
            )
            if not referents and node.value in captured:
                owner = _binding_scope(access.scope, node.value)
            elif not referents and isinstance(access.scope, ComprehensionScope):
                # libcst finds no assignment for a later `for` clause's target read in that
                # clause's `if` (`[y for x in a for y in b if y > x]`): Python binds it there.
                owner = _comprehension_binding(access.scope, node.value)
            if owner is None and not referents:
                owner = _walrus_scope(access.scope, node.value, lifted)
            found.append(NameUse(node.value, node, positions[node], owner, builtin))
    found.sort(key=lambda u: (u.range.start.line, u.range.start.column))
    return iter(found)


def _binding_scope(scope: Scope, name: str) -> Scope | None:
    """The nearest scope, from `scope` outwards, that assigns `name`."""
    while True:
        if name in scope.assignments:
            return scope
        if scope.parent is scope:
            return None
        scope = scope.parent


def _walrus_scope(
    scope: Scope, name: str, lifted: Mapping[int, list[tuple[str, cst.Name]]]
) -> Scope | None:
    """The nearest scope, from `scope` outwards, that a comprehension's walrus binds `name` in."""
    while True:
        if any(bound == name for bound, _ in lifted.get(id(scope), ())):
            return scope
        if scope.parent is scope:
            return None
        scope = scope.parent


def _comprehension_binding(scope: Scope, name: str) -> Scope | None:
    """The comprehension, from `scope` out through enclosing ones, whose `for` targets bind `name`."""
    while isinstance(scope, ComprehensionScope):
        if name in scope.assignments:
            return scope
        scope = scope.parent
    return None


def _leading_name(node: cst.CSTNode) -> cst.Name | None:
    """The name an access reads. libcst records a read of `a.b.c` after `import a.b.c` on the
    whole attribute chain; what the statement needs bound is still `a`."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None
