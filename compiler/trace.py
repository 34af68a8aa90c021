"""Pass 4: symbolic execution of the controller body into a DAG of step, glue, condition and map nodes.

The tracer walks the controller's statements in program order with an environment that maps
each controller variable to what it holds at that point: a parameter, a step output, a constant,
a container of these, or a choice between branches. Step calls become step nodes; other code
becomes glue nodes that run the user's own statements; loops over constants are unrolled; `if`
on run-time values becomes a condition node whose decision guards the nodes of each branch;
loops over run-time values become map nodes that the runtime expands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.analyse import Component, ParameterKind, collect_support, literal_of
from pipec.compiler.dag import build_graph, prune_outputs
from pipec.compiler.diagnostics import Reporter, Rule
from pipec.compiler.fold import MAX_UNROLL, fold
from pipec.compiler.ir import RETURN_OUTPUT, GlueNode, Node, StepNode, Trace
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.parse import Decorated, ParsedFile
from pipec.compiler.source import SourceModule
from pipec.compiler.syntax import (
    COMPREHENSIONS,
    ExitFinder,
    ImpureCallFinder,
    Replacer,
    UnitFinder,
    contains,
    first_name,
    getattr_names,
    is_docstring,
    leading_comments,
    mutated_names,
    names_of,
    target_names,
    within,
)
from pipec.manifest import (
    Binding,
    Container,
    ContainerKind,
    Gather,
    Guard,
    ItemRef,
    Literal,
    Location,
    NodeKind,
    OutputRef,
    ParamRef,
    Select,
    SelectOption,
    binding_sources,
)

__all__ = ["trace_controller"]


@dataclass(frozen=True)
class _TupleResult:
    """The whole result of a multi-output step call, before it is unpacked."""

    items: tuple[OutputRef, ...]
    component: str


@dataclass(frozen=True)
class _Unavailable:
    """A name whose value the compiled pipeline cannot provide here; using it is an error."""

    rule: Rule | None
    fields: Mapping[str, object] = field(default_factory=dict)


# Stands for the names a refused statement assigns: its error is reported once, not again at
# every later use.
_REPORTED = _Unavailable(None)

_Symbol = Binding | _TupleResult | _Unavailable


class _LoopExit(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


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


_REFUSED_STATEMENTS: dict[type, Rule] = {
    cst.While: rules.WHILE_LOOP,
    cst.Try: rules.TRY_STATEMENT,
    cst.With: rules.WITH_STATEMENT,
    cst.FunctionDef: rules.FUNCTION_IN_CONTROLLER,
    cst.ClassDef: rules.CLASS_IN_CONTROLLER,
}
_REFUSED_SMALL: dict[type, Rule] = {
    cst.Global: rules.GLOBAL_STATEMENT,
    cst.Nonlocal: rules.NONLOCAL_STATEMENT,
    cst.Import: rules.IMPORT_IN_CONTROLLER,
    cst.ImportFrom: rules.IMPORT_IN_CONTROLLER,
    cst.Del: rules.DEL_STATEMENT,
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
        self.names: set[str] = set(components)
        self.counters: dict[str, int] = {}
        self.pending = _PendingGlue()
        self.last_effects: tuple[str, ...] = ()
        self.barriers: tuple[str, ...] = ()
        self.guards: tuple[Guard, ...] = ()
        self.map: str | None = None
        self.map_gathers: dict[str, Gather] = {}
        self.map_env: dict[str, _Symbol] = {}  # the environment a map body started from
        self.loop_guards: list[tuple[Guard, ...]] = []
        self.returns: list[SelectOption] = []
        self.terminated = False
        self.warned_unreachable = False
        self.controller_scope = self.source.scopes.get(controller.function.body)
        self.step_names: set[str] = set()

    # ---- names -------------------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        """`base`, then `base_1`, `base_2`, ... as ClearML names repeated calls of a step."""
        candidate = base
        n = self.counters.get(base, 0)
        while (
            candidate in self.names
            and candidate not in self.components
            or candidate in self.step_names
        ):
            n += 1
            candidate = f"{base}_{n}"
        self.counters[base] = n
        self.names.add(candidate)
        self.step_names.add(candidate)
        return candidate

    def _numbered(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}_{n}"
            if candidate not in self.names:
                self.counters[prefix] = n
                self.names.add(candidate)
                self.step_names.add(candidate)
                return candidate

    def _temporary(self, what: str) -> str:
        candidate, n = what, 0
        while candidate in self.env or candidate in self.components:
            n += 1
            candidate = f"{what}_{n}"
        return candidate

    # ---- classification ----------------------------------------------------------------------

    def _component_of(self, call: cst.Call) -> Component | None:
        func = call.func
        if not isinstance(func, cst.Name) or func.value not in self.components:
            return None
        if func.value in self.env:  # shadowed by a controller variable
            return None
        return self.components[func.value]

    def _units(self, node: cst.CSTNode) -> list[cst.BaseExpression]:
        finder = UnitFinder(lambda c: self._component_of(c) is not None)
        node.visit(finder)
        return finder.units

    def _structural(self, node: cst.CSTNode) -> bool:
        """Whether a compound statement must be traced (it calls steps or leaves the controller)."""
        if self._units(node):
            return True
        exits = ExitFinder()
        node.visit(exits)
        return exits.found

    def _uses(self, node: cst.CSTNode, skip: Sequence[CodeRange]) -> Iterator[tuple[str, str]]:
        """(kind, name) of each name `node` reads: local, global, builtin or undefined."""
        for kind, use in self._name_uses(node, skip):
            yield kind, use.value

    def _name_uses(
        self, node: cst.CSTNode, skip: Sequence[CodeRange]
    ) -> Iterator[tuple[str, cst.Name]]:
        if node not in self.source.positions:
            return
        for use in self.source.uses_within(self.source.extent(node), skip):
            if use.builtin:
                yield "builtin", use.node
            elif use.scope is None:
                yield "undefined", use.node
            elif use.scope is self.source.global_scope:
                yield "global", use.node
            elif use.scope is self.controller_scope:
                yield "local", use.node
            # names of comprehensions and lambdas inside the statement are its own business

    def _writes(self, node: cst.CSTNode) -> list[str]:
        scope = self.controller_scope
        if scope is None or node not in self.source.positions:
            return []
        where = self.source.extent(node)
        names: list[str] = []
        for assignment in scope.assignments:
            target = getattr(assignment, "node", None)
            if target is None or target not in self.source.positions:
                continue
            if within(self.source.positions[target], where) and assignment.name not in names:
                names.append(assignment.name)
        return names

    def _location(self, node: cst.CSTNode) -> Location:
        if node in self.source.positions:
            return self.source.location(node)
        return self.source.location(self.controller.function)

    def _constant(self, name: str) -> Any:
        symbol = self.env.get(name)
        if isinstance(symbol, Literal):
            return symbol.value
        if symbol is None and name in self.source.global_bindings():
            return literal_of(self.source, cst.Name(name))
        return NOT_LITERAL

    def _fold(self, expr: cst.BaseExpression) -> Any:
        return fold(expr, self._constant)

    def _fold_is_constant(self, expr: cst.BaseExpression) -> bool:
        return self._fold(expr) is not NOT_LITERAL

    # ---- values ------------------------------------------------------------------------------

    def _binding_of(self, symbol: _Symbol | None, node: cst.CSTNode, name: str) -> Binding | None:
        if symbol is None:
            self.reporter.report(rules.USED_BEFORE_ASSIGNED, self._location(node), name=name)
            return None
        if isinstance(symbol, _TupleResult):
            return Container.of_tuple(symbol.items)
        if isinstance(symbol, _Unavailable):
            if symbol.rule is not None:
                self.reporter.report(symbol.rule, self._location(node), **symbol.fields)
            return None
        return symbol

    def _structured(self, expr: cst.BaseExpression, what: str) -> _Symbol | None:
        """The value of `expr` when it is known without running controller code, else None."""
        if isinstance(expr, cst.Name) and expr.value in self.env:
            return self.env[expr.value]
        if isinstance(expr, cst.Call) and self._component_of(expr) is not None:
            return self._step_call(expr)
        if isinstance(expr, COMPREHENSIONS) and self._units(expr):
            return self._comprehension(expr, what)
        if isinstance(expr, cst.IfExp) and self._units(expr):
            return self._if_expression(expr, what)
        if isinstance(expr, cst.Subscript):
            item = self._item(expr)
            if item is not None:
                return item
        if not self._units(expr) and not any(k == "local" for k, _ in self._uses(expr, [])):
            value = self._fold(expr)
            if value is not NOT_LITERAL:
                return Literal.of(value)
        if isinstance(expr, (cst.List, cst.Tuple)) and not any(
            isinstance(e, cst.StarredElement) for e in expr.elements
        ):
            items = [self._structured(e.value, what) for e in expr.elements]
            if all(i is not None and not isinstance(i, _Unavailable) for i in items):
                bound = tuple(
                    _as_binding(i)
                    for i in items
                    if i is not None and not isinstance(i, _Unavailable)
                )
                return Container(
                    ContainerKind.TUPLE if isinstance(expr, cst.Tuple) else ContainerKind.LIST,
                    bound,
                )
        return None

    def _bind(self, expr: cst.BaseExpression, what: str, in_map: bool = False) -> Binding | None:
        """The binding of a value the pipeline passes on, creating nodes as needed."""
        symbol = self._structured(expr, what)
        if symbol is not None:
            binding = self._binding_of(symbol, expr, what)
            if binding is None or not in_map or _made_in(binding, self):
                return binding
        # Anything else is computed by a glue node of its own.
        temp = self._temporary(what)
        assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(temp))], value=expr)
        self._flush()
        self._glue_statement(assign, expr, extra_writes=[temp])
        self._flush()
        symbol = self.env.get(temp)
        return (
            symbol
            if symbol is not None and not isinstance(symbol, (_TupleResult, _Unavailable))
            else None
        )

    def _item(self, expr: cst.Subscript) -> _Symbol | None:
        """`results[0]` of a multi-output step or a compile-time list, with a constant index."""
        if not isinstance(expr.value, cst.Name) or len(expr.slice) != 1:
            return None
        symbol = self.env.get(expr.value.value)
        index = expr.slice[0].slice
        if not isinstance(index, cst.Index):
            return None
        items: Sequence[Binding]
        if isinstance(symbol, _TupleResult) or _is_sequence(symbol):
            items = symbol.items  # type: ignore[union-attr]
        elif isinstance(symbol, Container):
            key = self._fold(index.value)
            return next((v for k, v in symbol.entries() if k == key), None)
        else:
            return None
        value = self._fold(index.value)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and -len(items) <= value < len(items)
        ):
            return items[value]
        return None

    # ---- step calls --------------------------------------------------------------------------

    def _step_call(self, call: cst.Call) -> OutputRef | _TupleResult | None:
        component = self._component_of(call)
        assert component is not None
        name = component.function_name
        signature = f"{name}({', '.join(p.name for p in component.parameters)})"
        bound: dict[str, cst.BaseExpression] = {}
        positional = [
            p for p in component.parameters if p.kind is ParameterKind.POSITIONAL_OR_KEYWORD
        ]
        ok = True
        index = 0
        for arg in call.args:
            if arg.star:
                self.reporter.report(
                    rules.STAR_ARGS_IN_STEP_CALL, self._location(arg), star=arg.star, step=name
                )
                ok = False
            elif arg.keyword is None:
                if index >= len(positional):
                    self.reporter.report(
                        rules.TOO_MANY_POSITIONAL,
                        self._location(arg),
                        step=name,
                        count=len(positional),
                        s="s" if len(positional) != 1 else "",
                        signature=signature,
                    )
                    ok = False
                else:
                    bound[positional[index].name] = arg.value
                    index += 1
            elif component.parameter(arg.keyword.value) is None:
                self.reporter.report(
                    rules.UNKNOWN_KEYWORD,
                    self._location(arg),
                    step=name,
                    keyword=arg.keyword.value,
                    signature=signature,
                )
                ok = False
            elif arg.keyword.value in bound:
                self.reporter.report(
                    rules.ARGUMENT_GIVEN_TWICE,
                    self._location(arg),
                    step=name,
                    keyword=arg.keyword.value,
                )
                ok = False
            else:
                bound[arg.keyword.value] = arg.value
        missing = [p.name for p in component.parameters if p.required and p.name not in bound]
        if missing and not any(arg.star for arg in call.args):
            self.reporter.report(
                rules.MISSING_ARGUMENT,
                self._location(call),
                step=name,
                s="s" if len(missing) > 1 else "",
                listed=", ".join(f"`{m}`" for m in missing),
                names=", ".join(missing),
                signature=signature,
            )
            ok = False
        inputs: list[tuple[str, Binding]] = []
        for parameter in component.parameters:
            if parameter.name in bound:
                binding = self._bind(bound[parameter.name], f"{name}_{parameter.name}")
                if binding is None:
                    ok = False
                else:
                    inputs.append((parameter.name, binding))
        if not ok:
            # Keep tracing with a stand-in so later lines are checked without knock-on errors.
            stand_in = tuple(OutputRef("<invalid>", o) for o in component.return_values)
            return stand_in[0] if len(stand_in) == 1 else _TupleResult(stand_in, name)
        self._flush()
        node_name = self._unique(component.step_name)
        after = self._ordering(self._parents(component), inputs)
        self.nodes.append(
            StepNode(
                node_name,
                name,
                tuple(inputs),
                tuple(after),
                self.guards,
                self.map,
                self._location(call),
            )
        )
        outputs = tuple(OutputRef(node_name, o) for o in component.return_values)
        return outputs[0] if len(outputs) == 1 else _TupleResult(outputs, name)

    def _parents(self, component: Component) -> list[str]:
        after: list[str] = []
        for parent in component.parents:
            matches = [
                n.name
                for n in self.nodes
                if isinstance(n, StepNode)
                and (n.name == parent or self.components[n.component].step_name == parent)
            ]
            if not matches:
                self.reporter.report(
                    rules.PARENT_NOT_CALLED_BEFORE,
                    component.options["parents"].location,
                    parent=parent,
                    step=component.function_name,
                )
            after.extend(matches)
        return after

    def _ordering(self, after: list[str], inputs: Sequence[tuple[str, Binding]]) -> list[str]:
        fed: set[str] = set()
        for _, binding in inputs:
            fed |= binding_sources(binding)[0]
        after = [*after, *self.barriers]
        return [a for a in dict.fromkeys(after) if a not in fed]

    # ---- glue --------------------------------------------------------------------------------

    def _add_glue(
        self,
        statement: cst.BaseStatement,
        original: cst.CSTNode,
        extra_writes: Sequence[str] = (),
        replaced: Mapping[cst.CSTNode, str] | None = None,
    ) -> None:
        replaced = replaced or {}
        skip = [self.source.extent(unit) for unit in replaced if unit in self.source.positions]
        pending = self.pending
        for kind, use in self._name_uses(original, skip):
            name = use.value
            if kind == "local":
                pending.reads.append(name)
            elif kind == "global":
                if not self._dynamic_use(name, use):
                    pending.globals.add(name)
            elif kind == "undefined":
                self.reporter.report(rules.UNDEFINED_NAME, self._location(use), name=name)
        pending.reads.extend(replaced.values())
        for name in getattr_names(statement):
            if name in self.components:
                self.reporter.report(rules.STEP_FROM_GETATTR, self._location(original), step=name)
        for written in [*extra_writes, *self._writes(original), *mutated_names(statement)]:
            if written not in pending.writes:
                pending.writes.append(written)
        finder = ImpureCallFinder()
        statement.visit(finder)
        pending.effects = pending.effects or finder.impure
        if finder.prints and self.map is not None:
            self.reporter.report(rules.PRINT_IN_RUNTIME_LOOP, self._location(original))
        body = statement.body if isinstance(statement, cst.SimpleStatementLine) else []
        if any(isinstance(s, (cst.Assert, cst.Raise)) for s in body) or contains(
            statement, cst.Raise
        ):
            pending.barrier = True
        if any(isinstance(s, cst.Return) for s in body):
            pending.returns = True
        pending.statements.append(statement)
        pending.originals.append(original)

    def _dynamic_use(self, name: str, anchor: cst.CSTNode) -> bool:
        """Report a step or the controller used as a value rather than called by name."""
        if name in self.components:
            self.reporter.report(rules.STEP_USED_AS_VALUE, self._location(anchor), step=name)
            return True
        if name == self.controller.name:
            self.reporter.report(rules.RECURSIVE_CONTROLLER, self._location(anchor))
            return True
        return False

    def _inputs(
        self, reads: Sequence[str], writes: Sequence[str], anchor: cst.CSTNode
    ) -> list[tuple[str, Binding]] | None:
        inputs: list[tuple[str, Binding]] = []
        ok = True
        for read in dict.fromkeys(reads):
            symbol = self.env.get(read)
            if symbol is None and read in writes:
                continue  # assigned earlier in the same block
            binding = self._binding_of(symbol, anchor, read)
            if binding is None:
                ok = False
            else:
                inputs.append((read, binding))
        return inputs if ok else None

    def _flush(self) -> str | None:
        """Turn the queued glue statements into one glue node; its name, if one was made."""
        pending = self.pending
        if not pending.statements:
            return None
        self.pending = _PendingGlue()
        if pending.barrier and self.map is not None:
            self.reporter.report(rules.CHECK_IN_RUNTIME_LOOP, self._location(pending.originals[0]))
        inputs = self._inputs(pending.reads, pending.writes, pending.originals[0])
        if inputs is None:
            return None
        outputs = list(pending.writes)
        if pending.returns:
            outputs.append(RETURN_OUTPUT)
        name = self._numbered("glue")
        self._add_node(
            name,
            NodeKind.GLUE,
            tuple(pending.statements),
            None,
            inputs,
            tuple(outputs),
            pending.originals,
            pending.globals,
            pending.effects,
        )
        if pending.barrier:
            self.barriers = (name,)
        for written in pending.writes:
            self.env[written] = OutputRef(name, written)
        return name

    def _add_node(
        self,
        name: str,
        kind: NodeKind,
        statements: tuple[cst.BaseStatement, ...],
        expression: cst.BaseExpression | None,
        inputs: list[tuple[str, Binding]],
        outputs: tuple[str, ...],
        originals: Sequence[cst.CSTNode],
        globals_read: set[str],
        effects: bool,
    ) -> None:
        after = list(self.last_effects) if effects and self.map is None else []
        after = self._ordering(after, inputs)
        first, last = originals[0], originals[-1]
        code = "".join(
            self.source.code(o) if isinstance(o, cst.BaseStatement) else self.source.code(o) + "\n"
            for o in originals
            if o in self.source.positions
        )
        own: list[cst.CSTNode] = list(statements) if expression is None else [expression]
        support = collect_support(
            self.source, self.parsed, globals_read, own, self.reporter, "controller code"
        )
        end = self.source.extent(last) if last in self.source.positions else None
        location = self._location(first)
        for reached in support.components:
            self.reporter.report(rules.STEP_REACHED_THROUGH_MODULE_CODE, location, step=reached)
        self.nodes.append(
            GlueNode(
                name=name,
                kind=kind,
                statements=statements,
                expression=expression,
                inputs=tuple(inputs),
                outputs=outputs,
                after=tuple(after),
                when=self.guards,
                map=self.map,
                effects=effects,
                location=location,
                end_line=end.end.line if end else location.line,
                source_code=code,
                support=support,
            )
        )
        if effects and self.map is None:
            self.last_effects = (name,)

    def _hoist(self, node: cst.CSTNode) -> dict[cst.CSTNode, str] | None:
        """Trace the step calls inside `node` first; map each to the name that replaces it."""
        units = self._units(node)
        replaced: dict[cst.CSTNode, str] = {}
        if units:
            self._flush()
        for unit in units:
            base = (
                f"{self._component_of(unit).step_name}_result"  # type: ignore[union-attr]
                if isinstance(unit, cst.Call)
                else "values"
            )
            symbol = self._structured(unit, base)
            binding = self._binding_of(symbol, unit, base) if symbol is not None else None
            if binding is None:
                return None
            temp = self._temporary(base)
            self.env[temp] = binding
            replaced[unit] = temp
        return replaced

    def _glue_statement(
        self,
        small: cst.BaseSmallStatement | cst.BaseCompoundStatement,
        original: cst.CSTNode,
        leading_lines: Sequence[cst.EmptyLine] = (),
        extra_writes: Sequence[str] = (),
    ) -> None:
        """Queue a statement for the current glue block, after tracing the steps it calls."""
        replaced = self._hoist(small)
        if replaced is None:
            self._poison(original)  # the error is reported; later uses stay quiet
            return
        statement: cst.CSTNode = small
        if replaced:
            statement = cst.ensure_type(small.visit(Replacer(replaced)), type(small))
        line: cst.BaseStatement
        if isinstance(statement, cst.BaseSmallStatement):
            line = cst.SimpleStatementLine(
                body=[statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
                leading_lines=leading_lines,
            )
        else:
            assert isinstance(statement, cst.BaseCompoundStatement)
            line = statement
        self._add_glue(line, original, extra_writes=extra_writes, replaced=replaced)

    # ---- statements --------------------------------------------------------------------------

    def run(self) -> Binding | None:
        self._block(self.controller.function.body, top=True)
        self._flush()
        if not self.terminated:
            self.returns.append(SelectOption(self.guards, Literal.of(None)))
        if len(self.returns) == 1 and not self.returns[0].when:
            result = self.returns[0].binding
            return None if result == Literal.of(None) else result
        return Select(tuple(self.returns))

    def _block(self, block: cst.BaseSuite | cst.Else | cst.If | None, top: bool = False) -> None:
        if block is None:
            return
        if isinstance(block, cst.If):  # an `elif`
            self._if(block)
            return
        if isinstance(block, cst.Else):
            block = block.body
        statements: list[cst.BaseStatement] = (
            list(block.body)
            if isinstance(block, cst.IndentedBlock)
            else [cst.SimpleStatementLine(body=list(block.body))]  # type: ignore[arg-type]
        )
        for position, statement in enumerate(statements):
            if self.terminated:
                if not self.warned_unreachable:
                    self.warned_unreachable = True
                    self.reporter.report(rules.UNREACHABLE_CODE, self._location(statement))
                return
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if top and position == 0 and is_docstring(small):
                        continue
                    self._small(small, statement)
                    if self.terminated:
                        break
            elif isinstance(statement, cst.If):
                self._if(statement)
            elif isinstance(statement, cst.For):
                self._for(statement)
            else:
                rule = _REFUSED_STATEMENTS.get(type(statement), rules.UNSUPPORTED_STATEMENT)
                self.reporter.report(rule, self._location(statement), kind=type(statement).__name__)
                self._poison(statement)

    def _small(self, small: cst.BaseSmallStatement, line: cst.SimpleStatementLine) -> None:
        refused = _REFUSED_SMALL.get(type(small))
        if refused is not None:
            self.reporter.report(refused, self._location(small))
            self._poison(small)
            return
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, (cst.Break, cst.Continue)):
            self._loop_exit(small)
            return
        if isinstance(small, cst.Return):
            self._return(small, line)
            return
        if isinstance(small, cst.Raise):
            if self.map is not None:
                self.reporter.report(rules.RAISE_IN_RUNTIME_LOOP, self._location(small))
                return
            self._glue_statement(small, small, leading_comments(small, line))
            self._flush()
            self.terminated = True
            return
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            if self._component_of(small.value) is not None:
                self._step_call(small.value)
                return
            if self._accumulate_call(small.value):
                return
        folded = isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None
        if folded and self._fold_assign(small):  # type: ignore[arg-type]
            return
        if isinstance(small, cst.AugAssign) and self._accumulate_augmented(small):
            return
        self._glue_statement(small, small, leading_comments(small, line))

    def _poison(self, node: cst.CSTNode) -> None:
        """After an error in `node`, later uses of the names it assigns stay quiet."""
        for name in self._writes(node):
            self.env[name] = _REPORTED
        if isinstance(node, (cst.Assign, cst.AnnAssign)):
            targets = (
                [node.target]
                if isinstance(node, cst.AnnAssign)
                else [t.target for t in node.targets]
            )
            for target in targets:
                for name in names_of(target):
                    self.env[name] = _REPORTED

    def _loop_exit(self, small: cst.Break | cst.Continue) -> None:
        word = "break" if isinstance(small, cst.Break) else "continue"
        if not self.loop_guards and self.map is None:
            return  # a syntax error caught by the parser
        if self.map is not None:
            self.reporter.report(rules.BREAK_IN_RUNTIME_LOOP, self._location(small), word=word)
            return
        if self.loop_guards[-1] != self.guards:
            self.reporter.report(
                rules.BREAK_UNDER_RUNTIME_CONDITION, self._location(small), word=word
            )
            return
        self._flush()
        raise _LoopExit(word)

    def _return(self, small: cst.Return, line: cst.SimpleStatementLine) -> None:
        if self.map is not None:
            self.reporter.report(rules.RETURN_IN_RUNTIME_LOOP, self._location(small))
            return
        binding: Binding | None
        if small.value is None:
            binding = Literal.of(None)
        else:
            symbol = self._structured(small.value, "result")
            if symbol is not None:
                binding = self._binding_of(symbol, small.value, "result")
            else:
                self._glue_statement(small, small, leading_comments(small, line))
                name = self._flush()
                binding = OutputRef(name, RETURN_OUTPUT) if name is not None else None
        self._flush()
        if binding is not None:
            self.returns.append(SelectOption(self.guards, binding))
        self.terminated = True

    def _assign(self, target: cst.BaseExpression, symbol: _Symbol, anchor: cst.CSTNode) -> bool:
        """Bind a target (a name or a tuple of names) at compile time; False when it cannot be."""
        if isinstance(target, cst.Name):
            self.env[target.value] = symbol
            return True
        if not isinstance(target, (cst.Tuple, cst.List)):
            return False
        items: Sequence[_Symbol]
        if isinstance(symbol, _TupleResult) or _is_sequence(symbol):
            items = symbol.items  # type: ignore[union-attr]
        elif isinstance(symbol, Literal) and isinstance(symbol.value, (tuple, list)):
            items = [Literal.of(v) for v in symbol.value]
        else:
            return False
        elements = target.elements
        if any(isinstance(e, cst.StarredElement) for e in elements):
            return False
        if len(items) != len(elements):
            what = (
                f"step `{symbol.component}` has {len(items)} outputs"
                if isinstance(symbol, _TupleResult)
                else f"the value has {len(items)} items"
            )
            self.reporter.report(
                rules.UNPACK_COUNT_MISMATCH, self._location(target), what=what, count=len(elements)
            )
            for name in names_of(target):
                self.env[name] = _REPORTED
            return True
        return all(
            self._assign(e.value, item, anchor) for e, item in zip(elements, items, strict=True)
        )

    def _fold_assign(self, small: cst.Assign | cst.AnnAssign) -> bool:
        """Assignments decided at compile time: step results, constants, aliases, containers."""
        targets = (
            [small.target]
            if isinstance(small, cst.AnnAssign)
            else [t.target for t in small.targets]
        )
        if not all(target_names(t) is not None for t in targets):
            return self._accumulate_item(small)
        value = small.value
        assert value is not None
        if isinstance(value, cst.Call) and self._component_of(value) is not None:
            self._flush()
            component = self._component_of(value)
            assert component is not None
            symbol: _Symbol | None = self._step_call(value)
            if symbol is not None and len(component.return_values) == 1:
                for target in targets:
                    names = target_names(target)
                    if isinstance(names, list):
                        self.reporter.report(
                            rules.SINGLE_OUTPUT_UNPACKED,
                            self._location(target),
                            step=component.function_name,
                            count=len(names),
                            names=names,
                        )
                        self._poison(small)
                        return True
        else:
            symbol = self._structured(value, first_name(targets[0]))
        if symbol is None:
            return False
        if (
            any(isinstance(t, (cst.Tuple, cst.List)) for t in targets)
            and not isinstance(symbol, (_TupleResult, Literal))
            and not _is_sequence(symbol)
        ):
            return False  # unpacking a run-time value: glue does it
        self._flush()
        return all(self._assign(target, symbol, small) for target in targets)

    # ---- accumulation ------------------------------------------------------------------------

    def _accumulate_call(self, call: cst.Call) -> bool:
        """`results.append(x)` / `results.extend([...])` on a list whose shape is known."""
        func = call.func
        if not (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.attr.value in ("append", "extend")
            and len(call.args) == 1
            and call.args[0].keyword is None
            and not call.args[0].star
        ):
            return False
        name = func.value.value
        container = self.env.get(name)
        if _extended(container, ()) is None:
            return False
        argument = call.args[0].value
        if self.map is not None:
            return self._gather(name, func.attr.value, argument, call)
        if func.attr.value == "append":
            value = self._bind(argument, f"{name}_item")
            if value is None:
                return True
            extra_items: tuple[Binding, ...] = (value,)
        else:
            listed = _list_items(self._structured(argument, f"{name}_items"))
            if listed is None:
                return False
            extra_items = listed
        self._flush()
        grown = _extended(container, extra_items)
        assert grown is not None  # checked above with no extra items
        self.env[name] = grown
        return True

    def _accumulate_augmented(self, small: cst.AugAssign) -> bool:
        if not (isinstance(small.target, cst.Name) and isinstance(small.operator, cst.AddAssign)):
            return False
        name = small.target.value
        container = self.env.get(name)
        if _extended(container, ()) is None or self.map is not None:
            return False
        extra = _list_items(self._structured(small.value, f"{name}_items"))
        if extra is None:
            return False
        self._flush()
        grown = _extended(container, extra)
        assert grown is not None  # checked above with no extra items
        self.env[name] = grown
        return True

    def _accumulate_item(self, small: cst.Assign | cst.AnnAssign) -> bool:
        """`scores[key] = value` on a dict or list whose shape is known, with a constant key."""
        if not isinstance(small, cst.Assign) or len(small.targets) != 1 or self.map is not None:
            return False
        target = small.targets[0].target
        if not (
            isinstance(target, cst.Subscript)
            and isinstance(target.value, cst.Name)
            and len(target.slice) == 1
            and isinstance(target.slice[0].slice, cst.Index)
        ):
            return False
        name = target.value.value
        container = self.env.get(name)
        key = self._fold(target.slice[0].slice.value)
        if key is NOT_LITERAL:
            return False
        if isinstance(container, Literal) and isinstance(container.value, dict):
            entries: dict[Any, Binding] = {k: Literal.of(v) for k, v in container.value.items()}
        elif isinstance(container, Container) and not container.is_sequence:
            entries = dict(container.entries())
        elif _list_items(container) is not None and isinstance(key, int):
            items = list(_list_items(container) or ())
            if not -len(items) <= key < len(items):
                return False
            value = self._bind(small.value, f"{name}_item")
            if value is not None:
                self._flush()
                items[key] = value
                self.env[name] = _make_list(tuple(items))
            return True
        else:
            return False
        value = self._bind(small.value, f"{name}_item")
        if value is not None:
            self._flush()
            entries[key] = value
            self.env[name] = _make_dict(entries)
        return True

    def _gather(self, name: str, method: str, argument: cst.BaseExpression, call: cst.Call) -> bool:
        """`results.append(step(x))` inside a map body: after the loop, results holds them all."""
        if (
            method != "append"
            or name in self.map_gathers
            or self.map_env.get(name) != Literal.of([])
        ):
            self.reporter.report(
                rules.UNSUPPORTED_GATHER, self._location(call), name=name, method=method
            )
            return True
        value = self._bind(argument, f"{name}_item", in_map=True)
        if isinstance(value, OutputRef) and self.map is not None:
            self.map_gathers[name] = Gather(self.map, value.node, value.output)
        return True

    # ---- branches ----------------------------------------------------------------------------

    def _if(self, node: cst.If) -> None:
        decided = self._fold(node.test)
        if decided is not NOT_LITERAL and not any(
            k == "local" and not isinstance(self.env.get(n), Literal)
            for k, n in self._uses(node.test, [])
        ):
            self._block(node.body if decided else node.orelse)
            return
        if not self._structural(node):
            self._glue_statement(node, node)
            return
        if self.map is not None:
            self.reporter.report(rules.IF_IN_RUNTIME_LOOP, self._location(node))
            return
        condition = self._condition(node.test)
        if condition is None:
            return
        self._branches(
            condition,
            lambda: self._block(node.body),
            lambda: self._block(node.orelse),
        )

    def _condition(self, test: cst.BaseExpression) -> str | None:
        """A condition node that computes `bool(test)` at run time."""
        replaced = self._hoist(test)
        if replaced is None:
            return None
        self._flush()
        expression = test.visit(Replacer(replaced)) if replaced else test
        assert isinstance(expression, cst.BaseExpression)
        skip = [self.source.extent(u) for u in replaced if u in self.source.positions]
        reads = [n for k, n in self._uses(test, skip) if k == "local"] + list(replaced.values())
        globals_read = {n for k, n in self._uses(test, skip) if k == "global"}
        for kind, name in self._uses(test, skip):
            if kind == "undefined":
                self.reporter.report(rules.UNDEFINED_NAME, self._location(test), name=name)
                return None
        inputs = self._inputs(reads, [], test)
        if inputs is None:
            return None
        name = self._numbered("if")
        self._add_node(
            name,
            NodeKind.CONDITION,
            (),
            expression,
            inputs,
            ("decision",),
            [test],
            globals_read,
            False,
        )
        return name

    def _branches(
        self, condition: str, on_true: Callable[[], None], on_false: Callable[[], None]
    ) -> None:
        saved_env, saved_guards = dict(self.env), self.guards
        saved_effects, saved_barriers = self.last_effects, self.barriers
        outcomes = []
        for decision, trace in ((True, on_true), (False, on_false)):
            self.env = dict(saved_env)
            self.guards = (*saved_guards, Guard(condition, decision))
            self.terminated = False
            self.last_effects, self.barriers = saved_effects, saved_barriers
            trace()
            self._flush()
            outcomes.append(
                (self.env, self.terminated, self.last_effects, self.barriers, self.guards)
            )
        (
            (env_t, ended_t, effects_t, barriers_t, guards_t),
            (env_f, ended_f, effects_f, barriers_f, guards_f),
        ) = outcomes
        self.last_effects = tuple(dict.fromkeys((*effects_t, *effects_f)))
        self.barriers = tuple(dict.fromkeys((*barriers_t, *barriers_f)))
        self.terminated = ended_t and ended_f
        if ended_t and ended_f:
            self.env, self.guards = saved_env, saved_guards
        elif ended_t:
            self.env, self.guards = env_f, guards_f
        elif ended_f:
            self.env, self.guards = env_t, guards_t
        else:
            self.guards = saved_guards
            self.env = _merge(env_t, guards_t, env_f, guards_f)

    def _if_expression(self, expr: cst.IfExp, what: str) -> _Symbol | None:
        """`a(x) if test else b(x)`: a constant test picks one side; a run-time one branches."""
        decided = self._fold(expr.test)
        if decided is not NOT_LITERAL:
            return self._structured(expr.body if decided else expr.orelse, what)
        if self.map is not None:
            self.reporter.report(rules.CONDITIONAL_STEP_IN_RUNTIME_LOOP, self._location(expr))
            return None
        self._flush()
        condition = self._condition(expr.test)
        if condition is None:
            return None
        temp = self._temporary(what)

        def side(value: cst.BaseExpression) -> Callable[[], None]:
            def trace() -> None:
                binding = self._bind(value, what)
                if binding is not None:
                    self.env[temp] = binding

            return trace

        self._branches(condition, side(expr.body), side(expr.orelse))
        return self.env.pop(temp, None)

    # ---- loops -------------------------------------------------------------------------------

    def _iteration(self, expr: cst.BaseExpression) -> list[_Symbol] | None:
        """The values a `for` runs over, when they are known at compile time."""
        if isinstance(expr, (cst.List, cst.Tuple)) and not self._fold_is_constant(expr):
            # A list written out in place, whose items are step outputs: known at compile time.
            listed = self._structured(expr, "values")
            if _is_sequence(listed):
                return list(listed.items)  # type: ignore[union-attr]
        if isinstance(expr, cst.Name):
            symbol = self.env.get(expr.value)
            if isinstance(symbol, _TupleResult):
                return list(symbol.items)
            if _is_sequence(symbol):
                return list(symbol.items)  # type: ignore[union-attr]
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Name)
            and expr.func.value in ("enumerate", "zip")
            and not any(a.keyword or a.star for a in expr.args)
        ):
            sequences = [self._iteration(a.value) for a in expr.args]
            if sequences and all(s is not None for s in sequences):
                if expr.func.value == "enumerate" and len(sequences) == 1:
                    return [
                        Container.of_tuple((Literal.of(i), _as_binding(v)))
                        for i, v in enumerate(sequences[0] or [])
                    ]
                if expr.func.value == "zip":
                    return [
                        Container.of_tuple(tuple(_as_binding(v) for v in group))
                        for group in zip(*[s or [] for s in sequences], strict=False)
                    ]
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in ("items", "keys", "values")
            and not expr.args
        ):
            mapping = self._structured(expr.func.value, "mapping")
            entries: list[tuple[Any, Binding]] | None = None
            if isinstance(mapping, Container) and not mapping.is_sequence:
                entries = list(mapping.entries())
            elif isinstance(mapping, Literal) and isinstance(mapping.value, dict):
                entries = [(k, Literal.of(v)) for k, v in mapping.value.items()]
            if entries is not None:
                method = expr.func.attr.value
                if method == "keys":
                    return [Literal.of(k) for k, _ in entries]
                if method == "values":
                    return [v for _, v in entries]
                return [Container.of_tuple((Literal.of(k), v)) for k, v in entries]
        value = self._fold(expr)
        if value is NOT_LITERAL or isinstance(value, (set, frozenset)):
            return None
        if isinstance(value, dict):
            value = list(value)
        if not isinstance(value, (list, tuple, str)):
            return None
        return [Literal.of(v) for v in value]

    def _for(self, node: cst.For) -> None:
        values = self._iteration(node.iter)
        if not self._structural(node):
            self._glue_statement(node, node)
            return
        if values is None:
            self._map_loop(node)
            return
        if len(values) > MAX_UNROLL:
            self.reporter.report(
                rules.TOO_MANY_ITERATIONS,
                self._location(node.iter),
                count=len(values),
                limit=MAX_UNROLL,
            )
            return
        self.loop_guards.append(self.guards)
        broke = False
        try:
            for value in values:
                self._flush()
                if not self._assign(node.target, value, node):
                    self.reporter.report(
                        rules.LOOP_VALUES_NOT_UNPACKABLE, self._location(node.target)
                    )
                    return
                try:
                    self._block(node.body)
                except _LoopExit as exit_:
                    if exit_.kind == "break":
                        broke = True
                        break
                if self.terminated:
                    return
        finally:
            self.loop_guards.pop()
        if not broke and node.orelse is not None:
            self._block(node.orelse)

    def _map_loop(self, node: cst.For) -> None:
        if node.orelse is not None:
            self.reporter.report(rules.FOR_ELSE_OVER_RUNTIME_VALUE, self._location(node.orelse))
            return

        def body() -> None:
            self._block(node.body)

        self._map(node.iter, node.target, body, node)

    def _map(
        self,
        iterable: cst.BaseExpression,
        target: cst.BaseAssignTargetExpression,
        body: Callable[[], None],
        anchor: cst.CSTNode,
    ) -> str | None:
        """A fan-out decided at run time: one map node, and body nodes expanded per element."""
        if self.map is not None:
            self.reporter.report(rules.NESTED_RUNTIME_LOOPS, self._location(anchor))
            return None
        if not isinstance(target, cst.Name):
            self.reporter.report(rules.UNPACKING_IN_RUNTIME_LOOP, self._location(target))
            return None
        over = self._bind(iterable, "items")
        if over is None:
            return None
        self._flush()
        name = self._numbered("map")
        self._add_node(
            name,
            NodeKind.MAP,
            (),
            cst.Name("over"),
            [("over", over)],
            ("items",),
            [iterable],
            set(),
            False,
        )
        saved_env = dict(self.env)
        self.map_env = saved_env
        self.map, self.map_gathers = name, {}
        self.env[target.value] = ItemRef(name)
        try:
            body()
            self._flush()
        except _LoopExit:
            pass
        body_env, gathers = self.env, self.map_gathers
        self.map, self.map_gathers = None, {}
        self.env = saved_env
        for key, symbol in body_env.items():
            if saved_env.get(key) != symbol and key not in gathers:
                self.env[key] = _Unavailable(rules.CARRIED_OUT_OF_RUNTIME_LOOP, {"name": key})
        self.env.update(gathers)
        return name

    def _comprehension(self, expr: cst.BaseExpression, what: str) -> _Symbol | None:
        """A list or dict comprehension that calls steps."""
        assert isinstance(expr, COMPREHENSIONS)
        if isinstance(expr, cst.SetComp):
            self.reporter.report(rules.SET_COMPREHENSION_OF_STEPS, self._location(expr))
            return None
        clause = expr.for_in
        values = self._iteration(clause.iter)
        if values is None:
            return self._map_comprehension(expr, what)
        results: list[Binding] | dict[Any, Binding] = {} if isinstance(expr, cst.DictComp) else []
        saved = dict(self.env)
        self._comprehension_clause(expr, clause, values, results, what)
        for name in names_of(clause.target):
            if name in saved:
                self.env[name] = saved[name]
            else:
                self.env.pop(name, None)
        return _make_dict(results) if isinstance(results, dict) else _make_list(tuple(results))

    def _comprehension_clause(
        self,
        expr: cst.ListComp | cst.DictComp | cst.GeneratorExp | cst.SetComp,
        clause: cst.CompFor,
        values: list[_Symbol],
        results: list[Binding] | dict[Any, Binding],
        what: str,
    ) -> None:
        for value in values:
            self._flush()
            if not self._assign(clause.target, value, clause):
                self.reporter.report(
                    rules.COMPREHENSION_VALUES_NOT_UNPACKABLE, self._location(clause.target)
                )
                return
            keep = True
            for condition in clause.ifs:
                decided = self._fold(condition.test)
                if decided is NOT_LITERAL:
                    self.reporter.report(
                        rules.RUNTIME_COMPREHENSION_FILTER, self._location(condition)
                    )
                    return
                keep = keep and bool(decided)
            if not keep:
                continue
            if clause.inner_for_in is not None:
                inner = self._iteration(clause.inner_for_in.iter)
                if inner is None:
                    self.reporter.report(
                        rules.NESTED_RUNTIME_COMPREHENSION, self._location(clause.inner_for_in)
                    )
                    return
                self._comprehension_clause(expr, clause.inner_for_in, inner, results, what)
                continue
            if isinstance(expr, cst.DictComp):
                key = self._fold(expr.key)
                if key is NOT_LITERAL:
                    self.reporter.report(rules.RUNTIME_DICT_KEY, self._location(expr.key))
                    return
                item = self._bind(expr.value, what)
                if item is not None and isinstance(results, dict):
                    results[key] = item
            else:
                item = self._bind(expr.elt, what)
                if item is not None and isinstance(results, list):
                    results.append(item)

    def _map_comprehension(self, expr: cst.BaseExpression, what: str) -> _Symbol | None:
        if (
            not isinstance(expr, (cst.ListComp, cst.GeneratorExp))
            or expr.for_in.ifs
            or expr.for_in.inner_for_in
        ):
            self.reporter.report(rules.UNSUPPORTED_MAP_COMPREHENSION, self._location(expr))
            return None
        collected: dict[str, Gather] = {}

        def body() -> None:
            value = self._bind(expr.elt, what, in_map=True)
            if isinstance(value, OutputRef) and self.map is not None:
                collected["value"] = Gather(self.map, value.node, value.output)

        self._map(expr.for_in.iter, expr.for_in.target, body, expr)
        return collected.get("value")


def _made_in(binding: Binding, tracer: _Tracer) -> bool:
    """Whether `binding` is an output of a node in the tracer's current map body."""
    if not isinstance(binding, OutputRef):
        return False
    return any(n.name == binding.node and n.map == tracer.map for n in tracer.nodes)


def _is_sequence(symbol: object) -> bool:
    return isinstance(symbol, Container) and symbol.is_sequence


def _as_binding(symbol: _Symbol) -> Binding:
    if isinstance(symbol, _TupleResult):
        return Container.of_tuple(symbol.items)
    assert not isinstance(symbol, _Unavailable)
    return symbol


def _list_items(symbol: _Symbol | None) -> tuple[Binding, ...] | None:
    if isinstance(symbol, Literal) and isinstance(symbol.value, list):
        return tuple(Literal.of(v) for v in symbol.value)
    if isinstance(symbol, Container) and symbol.kind is ContainerKind.LIST:
        return symbol.items
    return None


def _extended(symbol: _Symbol | None, extra: tuple[Binding, ...]) -> Binding | None:
    """A list known at compile time with `extra` appended — in every branch it may come from."""
    items = _list_items(symbol)
    if items is not None:
        return _make_list((*items, *extra))
    if isinstance(symbol, Select):
        options = []
        for option in symbol.options:
            grown = _extended(option.binding, extra)
            if grown is None:
                return None
            options.append(SelectOption(option.when, grown))
        return Select(tuple(options))
    return None


def _make_list(items: tuple[Binding, ...]) -> Binding:
    if all(isinstance(i, Literal) for i in items):
        return Literal.of([i.value for i in items])  # type: ignore[union-attr]
    return Container.of_list(items)


def _make_dict(entries: Mapping[Any, Binding]) -> Binding:
    if all(isinstance(v, Literal) for v in entries.values()):
        return Literal.of({k: v.value for k, v in entries.items()})  # type: ignore[union-attr]
    return Container.of_dict(entries)


def _merge(
    env_a: dict[str, _Symbol],
    guards_a: tuple[Guard, ...],
    env_b: dict[str, _Symbol],
    guards_b: tuple[Guard, ...],
) -> dict[str, _Symbol]:
    """After an `if`: names bound alike keep their value; the others choose by branch."""
    merged: dict[str, _Symbol] = {}
    for name in sorted(env_a.keys() | env_b.keys()):
        a, b = env_a.get(name), env_b.get(name)
        if a == b and a is not None:
            merged[name] = a
            continue
        if isinstance(a, _Unavailable) or isinstance(b, _Unavailable):
            merged[name] = a if isinstance(a, _Unavailable) else b  # type: ignore[assignment]
            continue
        options = tuple(
            SelectOption(guards, _as_binding(symbol))
            for guards, symbol in ((guards_a, a), (guards_b, b))
            if symbol is not None
        )
        merged[name] = Select(options)
    return merged


def trace_controller(
    parsed: ParsedFile,
    components: Mapping[str, Component],
    controller: Decorated,
    parameters: tuple[str, ...],
    reporter: Reporter,
) -> Trace:
    tracer = _Tracer(parsed, components, controller, parameters, reporter)
    result = tracer.run()
    nodes = prune_outputs(tracer.nodes, result)
    return Trace(tuple(nodes), result, build_graph(nodes, result))
