"""Pass 4: symbolic execution of a straight-line controller body into a DAG of step and glue nodes."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import networkx as nx
from libcst.metadata import CodeRange
from pipec.compiler.analyse import (
    Component,
    ParameterKind,
    Support,
    _literal_of,
    collect_support,
)
from pipec.compiler.diagnostics import Location, Reporter
from pipec.compiler.literals import NOT_LITERAL, read_literal
from pipec.compiler.parse import Decorated, ParsedFile
from pipec.compiler.source import SourceModule

__all__ = [
    "Binding",
    "Const",
    "GlueNode",
    "NodeKind",
    "OutputRef",
    "ParamRef",
    "StepNode",
    "Trace",
    "trace_controller",
]

# Builtins that neither print nor mutate: glue that calls only these has no side effects to order.
_PURE_BUILTINS = frozenset(
    ["abs", "all", "any", "bool", "bytes", "chr", "dict", "divmod", "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "oct", "ord", "pow", "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "type", "zip"]
)
RETURN_OUTPUT = "return"


class NodeKind(enum.Enum):
    STEP = "step"
    GLUE = "glue"


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


Binding = ParamRef | OutputRef | Const


@dataclass(frozen=True)
class _TupleResult:
    """The whole result of a multi-output step call, before it is unpacked."""

    items: tuple[OutputRef, ...]
    component: str


_Symbol = ParamRef | OutputRef | Const | _TupleResult


@dataclass(frozen=True)
class StepNode:
    name: str
    component: str
    inputs: tuple[tuple[str, Binding], ...]
    after: tuple[str, ...]
    location: Location

    kind = NodeKind.STEP


@dataclass(frozen=True)
class GlueNode:
    name: str
    statements: tuple[cst.BaseStatement, ...]  # ready to render inside the glue function
    inputs: tuple[tuple[str, Binding], ...]
    outputs: tuple[str, ...]
    after: tuple[str, ...]
    effects: bool
    location: Location
    end_line: int
    source_code: str  # the controller lines as the user wrote them
    support: Support

    kind = NodeKind.GLUE


Node = StepNode | GlueNode


@dataclass(frozen=True)
class Trace:
    nodes: tuple[Node, ...]  # program order
    result: Binding | None
    graph: nx.DiGraph

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)


@dataclass
class _PendingGlue:
    statements: list[cst.BaseStatement] = field(default_factory=list)
    originals: list[cst.CSTNode] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    globals: set[str] = field(default_factory=set)
    effects: bool = False
    barrier: bool = False
    returns: bool = False
    first: cst.CSTNode | None = None
    temporaries: dict[str, Binding] = field(default_factory=dict)


class _StepCallFinder(cst.CSTVisitor):
    """Outermost calls of components inside an expression or statement, in source order."""

    def __init__(self, is_step: Any) -> None:
        self.is_step = is_step
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> bool:
        if self.is_step(node):
            self.calls.append(node)
            return False
        return True

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class _CallReplacer(cst.CSTTransformer):
    def __init__(self, replacements: Mapping[cst.Call, str]) -> None:
        self.replacements = replacements

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = self.replacements.get(original_node)
        return cst.Name(name) if name is not None else updated_node


class _ImpureCallFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.impure = False

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value in _PURE_BUILTINS):
            self.impure = True


_REFUSED_STATEMENTS: dict[type, tuple[str, str]] = {
    cst.If: (
        "`if` in a controller",
        "control flow in the controller is not supported yet: compute the decision inside a step, or use separate pipelines",
    ),
    cst.For: (
        "`for` loop in a controller",
        "control flow in the controller is not supported yet: call the step once per value explicitly, or loop inside a step",
    ),
    cst.While: (
        "`while` loop in a controller",
        "a controller must have a fixed shape: loop inside a step instead",
    ),
    cst.Try: (
        "`try` in a controller",
        "handle errors inside the step; use retry_on_failure=N for flaky steps",
    ),
    cst.With: ("`with` in a controller", "open resources inside the step that uses them"),
    cst.FunctionDef: (
        "function defined inside a controller",
        "define helper functions at module level; steps and glue scripts carry them along",
    ),
    cst.ClassDef: (
        "class defined inside a controller",
        "define classes at module level; steps and glue scripts carry them along",
    ),
}
_REFUSED_SMALL: dict[type, tuple[str, str]] = {
    cst.Global: (
        "`global` in a controller",
        "pass values between steps as arguments and return values",
    ),
    cst.Nonlocal: (
        "`nonlocal` in a controller",
        "pass values between steps as arguments and return values",
    ),
    cst.Import: (
        "import inside a controller",
        "move the import to the top of the file; glue scripts carry the imports they use",
    ),
    cst.ImportFrom: (
        "import inside a controller",
        "move the import to the top of the file; glue scripts carry the imports they use",
    ),
    cst.Del: (
        "`del` in a controller",
        "drop the `del`: every value lives in its own artifact file",
    ),
}


class _Tracer:
    def __init__(
        self,
        parsed: ParsedFile,
        components: Mapping[str, Component],
        controller: Decorated,
        parameters: tuple[str, ...],
        reporter: Reporter,
    ) -> None:
        self.parsed = parsed
        self.source: SourceModule = parsed.source
        self.components = components
        self.controller = controller
        self.reporter = reporter
        self.env: dict[str, _Symbol] = {p: ParamRef(p) for p in parameters}
        self.nodes: list[Node] = []
        self.names: set[str] = set()
        self.counts: dict[str, int] = {}
        self.pending = _PendingGlue()
        self.last_effect: str | None = None
        self.last_barrier: str | None = None
        self.result: Binding | None = None
        self.returned = False
        self.temp_counter = 0
        self.controller_scope = self.source.scopes.get(controller.function.body)

    # ---- names -------------------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        if base not in self.names:
            self.names.add(base)
            return base
        n = self.counts.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self.names:
                self.counts[base] = n
                self.names.add(candidate)
                return candidate

    def _glue_name(self) -> str:
        return self._unique(
            "glue_" + str(sum(1 for n in self.nodes if isinstance(n, GlueNode)) + 1)
        )

    # ---- classification ----------------------------------------------------------------------

    def _component_of(self, call: cst.Call) -> Component | None:
        func = call.func
        if not isinstance(func, cst.Name) or func.value not in self.components:
            return None
        if func.value in self.env:  # shadowed by a controller variable
            return None
        return self.components[func.value]

    def _step_calls(self, node: cst.CSTNode) -> list[cst.Call]:
        finder = _StepCallFinder(lambda c: self._component_of(c) is not None)
        node.visit(finder)
        return finder.calls

    def _uses(self, node: cst.CSTNode, skip: list[CodeRange]) -> Iterator[tuple[str, str]]:
        """(kind, name) for every name read in `node`: kind is local, global, builtin or undefined."""
        for use in self.source.uses_within(self.source.extent(node), skip):
            if use.builtin:
                yield "builtin", use.name
            elif use.scope is None:
                yield "undefined", use.name
            elif use.scope is self.source.global_scope:
                yield "global", use.name
            else:
                yield "local", use.name

    def _writes(self, node: cst.CSTNode) -> list[str]:
        scope = self.controller_scope
        if scope is None:
            return []
        where = self.source.extent(node)
        names: list[str] = []
        for assignment in scope.assignments:
            target = getattr(assignment, "node", None)
            if target is None:
                continue
            inside = target in self.source.positions and _within(self.source.positions[target], where)
            if inside and assignment.name not in names:
                names.append(assignment.name)
        return names

    # ---- bindings ----------------------------------------------------------------------------

    def _bind(self, expr: cst.BaseExpression, what: str) -> Binding | None:
        """The binding of a step argument, creating nodes as needed; None after reporting an error."""
        if isinstance(expr, cst.Name) and expr.value in self.env:
            symbol = self.env[expr.value]
            if isinstance(symbol, _TupleResult):
                self._tuple_error(expr, symbol)
                return None
            return symbol
        if isinstance(expr, cst.Subscript):
            item = self._tuple_item(expr)
            if item is not None:
                return item
        if isinstance(expr, cst.Call) and self._component_of(expr) is not None:
            return self._single_output(expr)
        if not self._step_calls(expr) and not any(k == "local" for k, _ in self._uses(expr, [])):
            value = _literal_of(self.source, expr)
            if value is not NOT_LITERAL:
                return Const(value)
        # Anything else is computed by a glue node of its own.
        temp = self._temporary(what)
        assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(temp))], value=expr)
        self._flush()
        self._glue_statement(assign, expr, extra_writes=[temp])
        self._flush()
        ref = self.env.get(temp)
        return ref if isinstance(ref, (ParamRef, OutputRef, Const)) else None

    def _temporary(self, what: str) -> str:
        base = what
        candidate = base
        n = 0
        while candidate in self.env or candidate in self.components:
            n += 1
            candidate = f"{base}_{n}"
        return candidate

    def _tuple_item(self, expr: cst.Subscript) -> OutputRef | None:
        if not isinstance(expr.value, cst.Name) or len(expr.slice) != 1:
            return None
        symbol = self.env.get(expr.value.value)
        index = expr.slice[0].slice
        if not isinstance(symbol, _TupleResult) or not isinstance(index, cst.Index):
            return None
        value = read_literal(self.source.code(index.value))
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and -len(symbol.items) <= value < len(symbol.items)
        ):
            return symbol.items[value]
        return None

    def _tuple_error(self, node: cst.CSTNode, symbol: _TupleResult) -> None:
        names = ", ".join(o.output for o in symbol.items)
        self.reporter.error(
            self._location(node),
            f"the results of multi-output step `{symbol.component}` are used as one value",
            f"unpack them first (`{names} = {symbol.component}(...)`) or index them with a constant",
        )

    def _location(self, node: cst.CSTNode) -> Location:
        if node in self.source.positions:
            return self.source.location(node)
        return self.source.location(self.controller.function)

    def _single_output(self, call: cst.Call) -> OutputRef | None:
        symbol = self._step_call(call)
        if isinstance(symbol, _TupleResult):
            self._tuple_error(call, symbol)
            return None
        return symbol

    # ---- step calls --------------------------------------------------------------------------

    def _step_call(self, call: cst.Call) -> OutputRef | _TupleResult | None:
        component = self._component_of(call)
        assert component is not None
        name_for_errors = component.function_name
        bound: dict[str, cst.BaseExpression] = {}
        positional = [
            p for p in component.parameters if p.kind is ParameterKind.POSITIONAL_OR_KEYWORD
        ]
        ok = True
        index = 0
        for arg in call.args:
            if arg.star:
                self.reporter.error(
                    self._location(arg),
                    f"`{arg.star}` arguments in a call of step `{name_for_errors}`",
                    "pass every argument by position or by name: pipec binds them at compile time",
                )
                ok = False
                continue
            if arg.keyword is None:
                if index >= len(positional):
                    self.reporter.error(
                        self._location(arg),
                        f"step `{name_for_errors}` takes {len(positional)} positional argument"
                        f"{'s' if len(positional) != 1 else ''} but more were given",
                        f"the signature is {name_for_errors}({', '.join(p.name for p in component.parameters)})",
                    )
                    ok = False
                    continue
                bound[positional[index].name] = arg.value
                index += 1
                continue
            key = arg.keyword.value
            if component.parameter(key) is None:
                self.reporter.error(
                    self._location(arg),
                    f"step `{name_for_errors}` has no parameter `{key}`",
                    f"the signature is {name_for_errors}({', '.join(p.name for p in component.parameters)})",
                )
                ok = False
            elif key in bound:
                self.reporter.error(
                    self._location(arg),
                    f"step `{name_for_errors}` got two values for `{key}`",
                    "pass each argument once",
                )
                ok = False
            else:
                bound[key] = arg.value
        missing = [p.name for p in component.parameters if p.required and p.name not in bound]
        if missing:
            self.reporter.error(
                self._location(call),
                f"step `{name_for_errors}` is missing required argument"
                f"{'s' if len(missing) > 1 else ''} {', '.join(f'`{m}`' for m in missing)}",
                f"pass {', '.join(missing)}: the signature is "
                f"{name_for_errors}({', '.join(p.name for p in component.parameters)})",
            )
            ok = False
        inputs: list[tuple[str, Binding]] = []
        for parameter in component.parameters:
            if parameter.name in bound:
                binding = self._bind(
                    bound[parameter.name], f"{component.function_name}_{parameter.name}"
                )
                if binding is None:
                    ok = False
                else:
                    inputs.append((parameter.name, binding))
        if not ok:
            # Keep tracing with a stand-in so later lines are checked without knock-on errors.
            stand_in = tuple(OutputRef("<invalid>", o) for o in component.return_values)
            return (
                stand_in[0]
                if len(stand_in) == 1
                else _TupleResult(stand_in, component.function_name)
            )
        self._flush()
        node_name = self._unique(component.step_name)
        after = self._parents(component, call)
        after = self._ordering(after, inputs)
        self.nodes.append(
            StepNode(
                node_name,
                component.function_name,
                tuple(inputs),
                tuple(after),
                self._location(call),
            )
        )
        outputs = tuple(OutputRef(node_name, o) for o in component.return_values)
        if len(outputs) == 1:
            return outputs[0]
        return _TupleResult(outputs, component.function_name)

    def _parents(self, component: Component, call: cst.Call) -> list[str]:
        after: list[str] = []
        for parent in component.parents:
            matches = [
                n.name
                for n in self.nodes
                if isinstance(n, StepNode)
                and (n.name == parent or self.components[n.component].step_name == parent)
            ]
            if not matches:
                option = component.options["parents"]
                self.reporter.error(
                    option.location,
                    f"parent `{parent}` of step `{component.function_name}` is not called before it",
                    "name a step that the controller calls earlier, by its step name",
                )
            after.extend(matches)
        return after

    def _ordering(self, after: list[str], inputs: list[tuple[str, Binding]]) -> list[str]:
        fed = {b.node for _, b in inputs if isinstance(b, OutputRef)}
        if self.last_barrier is not None and self.last_barrier not in after:
            after.append(self.last_barrier)
        return [a for a in dict.fromkeys(after) if a not in fed]

    # ---- glue --------------------------------------------------------------------------------

    def _add_glue(
        self,
        statement: cst.BaseStatement,
        original: cst.CSTNode,
        extra_writes: list[str] | None = None,
        replaced: Mapping[cst.Call, str] | None = None,
    ) -> None:
        replaced = replaced or {}
        skip = [self.source.extent(call) for call in replaced]
        pending = self.pending
        if pending.first is None:
            pending.first = original
        for kind, name in self._uses(original, skip):
            if kind == "local":
                pending.reads.append(name)
            elif kind == "global":
                pending.globals.add(name)
            elif kind == "undefined":
                self.reporter.error(
                    self._location(original),
                    f"name `{name}` is not defined",
                    f"define `{name}` at module level or assign it in the controller before this line",
                )
        pending.reads.extend(replaced.values())
        writes = list(extra_writes or []) + self._writes(original)
        for w in writes:
            if w not in pending.writes:
                pending.writes.append(w)
        finder = _ImpureCallFinder()
        statement.visit(finder)
        pending.effects = pending.effects or finder.impure
        body = statement.body if isinstance(statement, cst.SimpleStatementLine) else []
        if any(isinstance(s, (cst.Assert, cst.Raise)) for s in body):
            pending.barrier = True
        if any(isinstance(s, cst.Return) for s in body):
            pending.returns = True
        pending.statements.append(statement)
        pending.originals.append(original)

    def _flush(self) -> None:
        pending = self.pending
        if not pending.statements:
            return
        self.pending = _PendingGlue()
        name = self._glue_name()
        inputs: list[tuple[str, Binding]] = []
        seen: set[str] = set()
        assigned: set[str] = set()
        ok = True
        # Reads that come before any write of the same name in the block are the block's inputs.
        for read in pending.reads:
            if read in seen or read in assigned:
                continue
            seen.add(read)
            symbol = self.env.get(read)
            if symbol is None:
                if read in pending.writes:
                    continue  # assigned earlier in the block
                self.reporter.error(
                    self._location(pending.first or self.controller.function),
                    f"`{read}` is used before it is assigned",
                    f"assign `{read}` earlier in the controller",
                )
                ok = False
                continue
            if isinstance(symbol, _TupleResult):
                self._tuple_error(pending.first or self.controller.function, symbol)
                ok = False
                continue
            inputs.append((read, symbol))
        if not ok:
            return
        outputs = list(pending.writes)
        if pending.returns:
            outputs.append(RETURN_OUTPUT)
        after: list[str] = []
        if pending.effects and self.last_effect is not None:
            after.append(self.last_effect)
        after = self._ordering(after, inputs)
        first = pending.first or self.controller.function
        start = (
            self.source.extent(pending.originals[0])
            if pending.originals[0] in self.source.positions
            else None
        )
        end = (
            self.source.extent(pending.originals[-1])
            if pending.originals[-1] in self.source.positions
            else None
        )
        code = "".join(
            self.source.code(o) if isinstance(o, cst.BaseStatement) else self.source.code(o) + "\n"
            for o in pending.originals
        )
        support = collect_support(
            self.source,
            self.parsed,
            pending.globals,
            pending.statements,
            self.reporter,
            "controller code",
        )
        node = GlueNode(
            name=name,
            statements=tuple(pending.statements),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            after=tuple(after),
            effects=pending.effects,
            location=self._location(first),
            end_line=end.end.line if end else (start.end.line if start else 0),
            source_code=code,
            support=support,
        )
        self.nodes.append(node)
        if pending.effects:
            self.last_effect = name
        if pending.barrier:
            self.last_barrier = name
        for written in pending.writes:
            self.env[written] = OutputRef(name, written)
        if pending.returns:
            self.result = OutputRef(name, RETURN_OUTPUT)

    # ---- statements --------------------------------------------------------------------------

    def run(self) -> None:
        body = self.controller.function.body
        statements: list[cst.BaseStatement] = (
            list(body.body)
            if isinstance(body, cst.IndentedBlock)
            else [cst.SimpleStatementLine(body=list(body.body))]  # type: ignore[arg-type]
        )
        for position, statement in enumerate(statements):
            if self.returned:
                self.reporter.warning(
                    self._location(statement),
                    "code after `return` in the controller never runs",
                    "remove it, or move it before the `return`",
                )
                break
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if position == 0 and _is_docstring(small):
                        continue
                    self._small(small, statement)
                    if self.returned:
                        break
                continue
            refused = _REFUSED_STATEMENTS.get(type(statement))
            message, hint = refused or (
                f"`{type(statement).__name__}` statement in a controller",
                "keep the controller to step calls, assignments, prints, asserts and a final return",
            )
            self.reporter.error(self._location(statement), message, hint)
        self._flush()

    def _small(self, small: cst.BaseSmallStatement, line: cst.SimpleStatementLine) -> None:
        refused = _REFUSED_SMALL.get(type(small))
        if refused is not None:
            self.reporter.error(self._location(small), *refused)
            return
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, cst.Return):
            self._return(small, line)
            return
        if (
            isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
            and self._component_of(small.value)
        ):
            self._step_call(small.value)
            return
        if (
            isinstance(small, (cst.Assign, cst.AnnAssign))
            and small.value is not None
            and self._fold_assign(small)
        ):
            return
        self._glue_statement(small, small, _leading(small, line))

    def _return(self, small: cst.Return, line: cst.SimpleStatementLine) -> None:
        value = small.value
        self.returned = True
        if value is None:
            self._flush()
            return
        if (
            isinstance(value, cst.Name)
            and value.value in self.env
            and not isinstance(self.env[value.value], _TupleResult)
        ):
            self._flush()
            symbol = self.env[value.value]
            assert not isinstance(symbol, _TupleResult)
            self.result = symbol
            return
        if isinstance(value, cst.Call) and self._component_of(value) is not None:
            self.result = self._single_output(value)
            return
        self._glue_statement(small, small, _leading(small, line))

    def _fold_assign(self, small: cst.Assign | cst.AnnAssign) -> bool:
        """Assignments decided at compile time: step results, constants, aliases, tuple unpacking."""
        targets = (
            [small.target]
            if isinstance(small, cst.AnnAssign)
            else [t.target for t in small.targets]
        )
        value = small.value
        assert value is not None
        shapes = [_target_names(t) for t in targets]
        if any(s is None for s in shapes):
            return False
        symbol: _Symbol | None
        if isinstance(value, cst.Call) and self._component_of(value) is not None:
            self._flush()
            symbol = self._step_call(value)
            if symbol is None:
                return True
        elif isinstance(value, cst.Name) and value.value in self.env:
            symbol = self.env[value.value]
        elif isinstance(value, cst.Subscript) and (item := self._tuple_item(value)) is not None:
            symbol = item
        elif not self._step_calls(value) and not any(
            k in ("local", "global") for k, _ in self._uses(value, [])
        ):
            literal = read_literal(self.source.code(value))
            if literal is NOT_LITERAL:
                return False
            symbol = Const(literal)
        else:
            return False
        if symbol is None:
            return True
        bindings: list[tuple[str, _Symbol]] = []
        for shape, target in zip(shapes, targets, strict=True):
            assert shape is not None
            if isinstance(shape, str):
                bindings.append((shape, symbol))
                continue
            items: list[_Symbol]
            if isinstance(symbol, _TupleResult):
                items = list(symbol.items)
            elif isinstance(symbol, Const) and isinstance(symbol.value, (tuple, list)):
                items = [Const(v) for v in symbol.value]
            else:
                if isinstance(value, cst.Call):
                    component = self._component_of(value)
                    assert component is not None
                    self.reporter.error(
                        self._location(target),
                        f"step `{component.function_name}` has 1 output but is unpacked into {len(shape)} names",
                        f"declare the outputs: return_values={[n for n in shape]!r}",
                    )
                    return True
                return False  # unpacking a runtime value: glue does it
            if len(items) != len(shape):
                where = (
                    f"step `{symbol.component}`"
                    if isinstance(symbol, _TupleResult)
                    else "the value"
                )
                self.reporter.error(
                    self._location(target),
                    f"{where} has {len(items)} outputs but is unpacked into {len(shape)} names",
                    "unpack into as many names as the step's return_values",
                )
                return True
            bindings.extend(zip(shape, items, strict=False))
        if self.pending.statements:
            self._flush()
        for name, bound in bindings:
            self.env[name] = bound
        return True

    def _glue_statement(
        self,
        small: cst.BaseSmallStatement,
        original: cst.CSTNode,
        leading_lines: tuple[cst.EmptyLine, ...] = (),
        extra_writes: list[str] | None = None,
    ) -> None:
        """Queue a statement for the current glue block, after running the steps it calls."""
        calls = self._step_calls(small)
        replaced: dict[cst.Call, str] = {}
        if calls:
            self._flush()
            for call in calls:
                result = self._single_output(call)
                if result is None:
                    return
                temp = self._temporary(f"{result.node}_{result.output}")
                self.env[temp] = result
                replaced[call] = temp
        statement = small
        if replaced:
            rewritten = small.visit(_CallReplacer(replaced))
            assert isinstance(rewritten, cst.BaseSmallStatement)
            statement = rewritten
        line = cst.SimpleStatementLine(
            body=[statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
            leading_lines=leading_lines,
        )
        self._add_glue(line, original, extra_writes=extra_writes, replaced=replaced)


def _leading(
    small: cst.BaseSmallStatement, line: cst.SimpleStatementLine
) -> tuple[cst.EmptyLine, ...]:
    """The comment lines above a statement, kept when it is the first on its line."""
    return tuple(line.leading_lines) if line.body and line.body[0] is small else ()


def _is_docstring(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def _target_names(target: cst.BaseExpression) -> str | list[str] | None:
    if isinstance(target, cst.Name):
        return target.value
    if isinstance(target, (cst.Tuple, cst.List)):
        names: list[str] = []
        for element in target.elements:
            if isinstance(element, cst.StarredElement) or not isinstance(element.value, cst.Name):
                return None
            names.append(element.value.value)
        return names
    return None


def _within(inner: CodeRange, outer: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line,
        inner.end.column,
    ) <= (outer.end.line, outer.end.column)


def _prune_outputs(nodes: list[Node], result: Binding | None) -> list[Node]:
    """Glue writes only what a later node or the result reads."""
    used: set[tuple[str, str]] = set()
    for node in nodes:
        for _, binding in node.inputs:
            if isinstance(binding, OutputRef):
                used.add((binding.node, binding.output))
    if isinstance(result, OutputRef):
        used.add((result.node, result.output))
    pruned: list[Node] = []
    for node in nodes:
        if isinstance(node, GlueNode):
            keep = tuple(o for o in node.outputs if (node.name, o) in used)
            node = GlueNode(**{**node.__dict__, "outputs": keep})
        pruned.append(node)
    return pruned


def _graph(nodes: list[Node]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in nodes:
        graph.add_node(node.name)
    for node in nodes:
        for _, binding in node.inputs:
            if isinstance(binding, OutputRef):
                graph.add_edge(binding.node, node.name, kind="data")
        for before in node.after:
            if not graph.has_edge(before, node.name):
                graph.add_edge(before, node.name, kind="order")
    if not nx.is_directed_acyclic_graph(
        graph
    ):  # pragma: no cover - the tracer only links backwards
        raise AssertionError("traced graph has a cycle")
    return graph


def trace_controller(
    parsed: ParsedFile,
    components: Mapping[str, Component],
    controller: Decorated,
    parameters: tuple[str, ...],
    reporter: Reporter,
) -> Trace:
    tracer = _Tracer(parsed, components, controller, parameters, reporter)
    tracer.run()
    nodes = _prune_outputs(tracer.nodes, tracer.result)
    return Trace(tuple(nodes), tracer.result, _graph(nodes))
