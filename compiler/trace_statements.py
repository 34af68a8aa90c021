"""Tracing statements: the controller body in program order, assignments, `return`, and refused statements."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from pipec.compiler import clearml_handles, local_shadows, rules, trace_values
from pipec.compiler import trace_branches as branches
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_imports as imports
from pipec.compiler import trace_loops as loops
from pipec.compiler import trace_match as match
from pipec.compiler.diagnostics import Rule
from pipec.compiler.ir import RETURN_OUTPUT
from pipec.compiler.syntax import (
    first_name,
    is_docstring,
    leading_comments,
    names_of,
    target_names,
)
from pipec.compiler.trace_state import (
    REPORTED,
    UNBOUND,
    Context,
    LoopExit,
    Symbol,
    TupleResult,
)
from pipec.manifest import (
    Binding,
    Container,
    Literal,
    OutputRef,
    Select,
    SelectOption,
)

__all__ = [
    "assign",
    "block",
    "fold_assign",
    "loop_exit",
    "poison",
    "return_",
    "run",
    "small_statement",
]


_REFUSED_STATEMENTS: dict[type, Rule] = {
    cst.While: rules.WHILE_LOOP,
    cst.Try: rules.TRY_STATEMENT,
    cst.With: rules.WITH_STATEMENT,
    cst.FunctionDef: rules.FUNCTION_IN_CONTROLLER,
    cst.ClassDef: rules.CLASS_IN_CONTROLLER,
}
# How a refused statement is written in Python, for the message (libcst's class names are not).
_STATEMENT_WORDS: dict[type, str] = {cst.TryStar: "try/except*"}
_REFUSED_SMALL: dict[type, Rule] = {
    cst.Global: rules.GLOBAL_STATEMENT,
    cst.Nonlocal: rules.NONLOCAL_STATEMENT,
}


def run(t: Context) -> Binding | None:
    _refuse_step_names_made_local(t)
    local_shadows.refuse_reads_before_local_assignment(t)
    block(t, t.controller.function.body, top=True)
    glue.flush(t)
    if not t.frame.terminated:
        t.returns.append(SelectOption(t.frame.guards, Literal.of(None)))
    if len(t.returns) == 1 and not t.returns[0].when:
        result = t.returns[0].binding
        return None if result == Literal.of(None) else result
    return Select(tuple(t.returns))


def _refuse_step_names_made_local(t: Context) -> None:
    """`total = total(xs)`: the assignment makes `total` local everywhere in the controller."""
    scope = t.controller_scope
    if scope is None:
        return
    parameters = {p.name.value for p in t.controller.function.params.params}
    assigned = {a.name for a in scope.assignments} - parameters
    shadowed = assigned & set(t.components)
    if not shadowed:
        return
    calls: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value in shadowed:
                calls.append(node)

    t.controller.function.body.visit(_Calls())
    reported: set[str] = set()
    for call in calls:
        name = cst.ensure_type(call.func, cst.Name).value
        if name not in reported:
            reported.add(name)
            t.reporter.report(rules.STEP_NAME_ASSIGNED, t.location(call), name=name)


def block(t: Context, block: cst.BaseSuite | cst.Else | cst.If | None, top: bool = False) -> None:
    if block is None:
        return
    if isinstance(block, cst.If):  # an `elif`
        branches.if_(t, block)
        return
    if isinstance(block, cst.Else):
        block = block.body
    statements: list[cst.BaseStatement] = (
        list(block.body)
        if isinstance(block, cst.IndentedBlock)
        else [cst.SimpleStatementLine(body=list(block.body))]  # type: ignore[arg-type]
    )
    for position, statement in enumerate(statements):
        if t.frame.terminated:
            if not t.warned_unreachable:
                t.warned_unreachable = True
                t.reporter.report(rules.UNREACHABLE_CODE, t.location(statement))
            return
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if top and position == 0 and is_docstring(small):
                    continue
                small_statement(t, small, statement)
                if t.frame.terminated:
                    break
        elif isinstance(statement, cst.If):
            branches.if_(t, statement)
        elif isinstance(statement, cst.For):
            loops.for_(t, statement)
        elif isinstance(statement, cst.Match):
            match.match_(t, statement)
        else:
            rule = _REFUSED_STATEMENTS.get(type(statement), rules.UNSUPPORTED_STATEMENT)
            kind = _STATEMENT_WORDS.get(type(statement), type(statement).__name__)
            t.reporter.report(rule, t.location(statement), kind=kind)
            poison(t, statement)


def small_statement(
    t: Context, small: cst.BaseSmallStatement, line: cst.SimpleStatementLine
) -> None:
    refused = _REFUSED_SMALL.get(type(small))
    if refused is not None:
        t.reporter.report(refused, t.location(small))
        poison(t, small)
        return
    if isinstance(small, cst.Pass):
        return
    if isinstance(small, (cst.Import, cst.ImportFrom)):
        imports.controller_import(t, small)
        return
    if isinstance(small, cst.Assign) and imports.alias_assignment(t, small):
        return
    if isinstance(small, cst.Del):
        delete(t, small, line)
        return
    if isinstance(small, (cst.Break, cst.Continue)):
        loop_exit(t, small)
        return
    if isinstance(small, cst.Return):
        return_(t, small, line)
        return
    if isinstance(small, cst.Raise):
        if t.frame.map is not None:
            t.reporter.report(rules.RAISE_IN_RUNTIME_LOOP, t.location(small))
            return
        glue.glue_statement(t, small, small, leading_comments(small, line))
        glue.flush(t)
        t.frame.terminated = True
        return
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        if t.component_of(small.value) is not None:
            trace_values.step_call(t, small.value)
            return
        if trace_values.accumulate_call(t, small.value):
            return
    folded = isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None
    if folded and fold_assign(t, small):  # type: ignore[arg-type]
        return
    if isinstance(small, cst.AugAssign) and trace_values.accumulate_augmented(t, small):
        return
    glue.glue_statement(t, small, small, leading_comments(small, line))


def delete(t: Context, small: cst.Del, line: cst.SimpleStatementLine) -> None:
    """`del name` unbinds the name (a later read fails as Python's does); `del d[k]`,
    `del obj.attr` change a value in place, in glue."""
    targets = (
        [e.value for e in small.target.elements]
        if isinstance(small.target, (cst.Tuple, cst.List))
        else [small.target]
    )
    names = [target for target in targets if isinstance(target, cst.Name)]
    if names and len(names) < len(targets):
        t.reporter.report(rules.DEL_STATEMENT, t.location(small))
        return
    if not names:
        glue.glue_statement(t, small, small, leading_comments(small, line))
        return
    for name in names:
        # Queued glue reads the name's binding when it becomes a node: it must still see the
        # value the name had before this `del`.
        pending = t.graph.pending
        if name.value in pending.writes or name.value in pending.reads:
            glue.flush(t)
        # Deleting a name that is not bound raises, as reading it would. A Logger is never
        # handed on (clearml_handles): deleting it only unbinds it.
        symbol = t.frame.env.get(name.value)
        if isinstance(symbol, Select) and trace_values.split_unbound(symbol) is not None:
            # Bound on some paths only: the `del` runs in glue, which fails where Python's does.
            glue.glue_statement(t, small, small, leading_comments(small, line))
            if name.value not in t.graph.pending.reads:
                t.graph.pending.reads.append(name.value)
            if name.value in t.graph.pending.writes:
                t.graph.pending.writes.remove(name.value)
            glue.flush(t)
            t.frame.env[name.value] = OutputRef(UNBOUND, name.value)
            continue
        if (
            not clearml_handles.holds_logger(t, name.value)
            and trace_values.binding_of(t, symbol, name, name.value) is None
        ):
            return
        t.frame.env[name.value] = OutputRef(UNBOUND, name.value)


def poison(t: Context, node: cst.CSTNode) -> None:
    """After an error in `node`, later uses of the names it assigns stay quiet."""
    for name in t.writes(node):
        t.frame.env[name] = REPORTED
    if isinstance(node, (cst.Assign, cst.AnnAssign)):
        targets = (
            [node.target] if isinstance(node, cst.AnnAssign) else [t.target for t in node.targets]
        )
        for target in targets:
            for name in names_of(target):
                t.frame.env[name] = REPORTED


def loop_exit(t: Context, small: cst.Break | cst.Continue) -> None:
    word = "break" if isinstance(small, cst.Break) else "continue"
    if not t.loop_guards and t.frame.map is None:
        return  # a syntax error caught by the parser
    if t.frame.map is not None and word == "continue":
        # No `if` decided at run time reaches here inside a map body: this `continue` ends
        # every element's body (or an inner unrolled loop's turn) at this line.
        glue.flush(t)
        raise LoopExit(word)
    if t.frame.map is not None:
        t.reporter.report(rules.BREAK_IN_RUNTIME_LOOP, t.location(small), word=word)
        return
    if t.loop_guards[-1] != t.frame.guards:
        t.reporter.report(rules.BREAK_UNDER_RUNTIME_CONDITION, t.location(small), word=word)
        return
    glue.flush(t)
    raise LoopExit(word)


def return_(t: Context, small: cst.Return, line: cst.SimpleStatementLine) -> None:
    if t.frame.map is not None:
        t.reporter.report(rules.RETURN_IN_RUNTIME_LOOP, t.location(small))
        return
    binding: Binding | None
    if small.value is None:
        binding = Literal.of(None)
    else:
        symbol = trace_values.structured(t, small.value, "result")
        if symbol is not None:
            binding = trace_values.binding_of(t, symbol, small.value, "result")
        else:
            glue.glue_statement(t, small, small, leading_comments(small, line))
            name = glue.flush(t)
            binding = OutputRef(name, RETURN_OUTPUT) if name is not None else None
    glue.flush(t)
    if binding is not None:
        t.returns.append(SelectOption(t.frame.guards, binding))
    t.frame.terminated = True


def assign(t: Context, target: cst.BaseExpression, symbol: Symbol, anchor: cst.CSTNode) -> bool:
    """Bind a target (a name or a tuple of names) at compile time; False when it cannot be."""
    if isinstance(target, cst.Name):
        t.frame.env[target.value] = symbol
        return True
    if not isinstance(target, (cst.Tuple, cst.List)):
        return False
    items: Sequence[Symbol]
    if isinstance(symbol, TupleResult) or trace_values.is_sequence(symbol):
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
            if isinstance(symbol, TupleResult)
            else f"the value has {len(items)} items"
        )
        t.reporter.report(
            rules.UNPACK_COUNT_MISMATCH, t.location(target), what=what, count=len(elements)
        )
        for name in names_of(target):
            t.frame.env[name] = REPORTED
        return True
    return all(assign(t, e.value, item, anchor) for e, item in zip(elements, items, strict=True))


def _mutable(symbol: Symbol) -> bool:
    """Whether `symbol` is a list, dict or set the tracer knows (one object in Python)."""
    if isinstance(symbol, Literal):
        return isinstance(symbol.value, (list, dict, set))
    return isinstance(symbol, Container)


def fold_assign(t: Context, small: cst.Assign | cst.AnnAssign) -> bool:
    """Assignments decided at compile time: step results, constants, aliases, containers."""
    targets = (
        [small.target] if isinstance(small, cst.AnnAssign) else [t.target for t in small.targets]
    )
    if not all(target_names(t) is not None for t in targets):
        return trace_values.accumulate_item(t, small)
    value = small.value
    assert value is not None
    component = t.component_of(value) if isinstance(value, cst.Call) else None
    unpacked = any(isinstance(target_names(target), list) for target in targets)
    if component is not None and len(component.return_values) == 1 and unpacked:
        # One output whose value is unpacked: Python unpacks it when the line runs (and raises
        # ValueError there when the counts differ), so glue does it.
        return False
    if isinstance(value, cst.Call) and component is not None:
        glue.flush(t)
        symbol: Symbol | None = trace_values.step_call(t, value)
    else:
        symbol = trace_values.structured(t, value, first_name(targets[0]))
    if symbol is None:
        return False
    if len(targets) > 1 and _mutable(symbol):
        # `x = y = []`: one list under two names. Glue keeps it one object for as long as both
        # names stay in its block; a later change through one name is refused (PC605).
        return False
    if (
        any(isinstance(t, (cst.Tuple, cst.List)) for t in targets)
        and not isinstance(symbol, (TupleResult, Literal))
        and not trace_values.is_sequence(symbol)
    ):
        return False  # unpacking a run-time value: glue does it
    glue.flush(t)
    return all(assign(t, target, symbol, small) for target in targets)
