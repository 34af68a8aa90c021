"""Inlining plain module-level helpers that call steps: `def train_all(models): return
[train(m) for m in models]` called from the controller is traced as if its body were written
at the call, under the controller's rules, so its step calls become nodes."""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules, trace_values
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_statements as statements
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.syntax import UnitFinder
from pipec.compiler.trace_state import Context, Symbol
from pipec.manifest import Binding, Literal

__all__ = ["helper_of", "inline_call"]


def helper_of(t: Context, call: cst.Call) -> cst.FunctionDef | None:
    """The module-level helper `call` calls, when that helper (or one it calls) calls steps."""
    func = call.func
    if not isinstance(func, cst.Name) or func.value in t.frame.env:
        return None
    return _helpers(t).get(func.value)


def inline_call(t: Context, call: cst.Call, helper: cst.FunctionDef, what: str) -> Symbol | None:
    name = helper.name.value
    if name in t.inlining:
        t.reporter.report(rules.RECURSIVE_HELPER, t.location(call), helper=name)
        return None
    shape = _straight_body(t, helper)
    if shape is None:
        return None
    rest, returned = shape
    arguments = _bind(t, call, helper)
    if arguments is None:
        return None
    glue.flush(t)  # queued glue reads the caller's names: it runs before the body
    caller_env = t.frame.env
    t.frame.env = arguments
    t.inlining.append(name)
    t.inner_scopes.append(t.source.scopes.get(helper.body))
    result: Symbol | None = Literal.of(None)
    try:
        statements.block(t, cst.IndentedBlock(rest) if rest else None)
        if not t.frame.terminated and returned is not None and returned.value is not None:
            result = trace_values.bind(t, returned.value, what)
        glue.flush(t)
    finally:
        t.inner_scopes.pop()
        t.inlining.pop()
        t.frame.env = caller_env
    return result


def _straight_body(
    t: Context, helper: cst.FunctionDef
) -> tuple[list[cst.BaseStatement], cst.Return | None] | None:
    """The helper's statements before its final `return`, and that `return` (None when it has
    none); a `return` anywhere else, `yield` or a nested function is refused."""
    block = helper.body
    lines = list(block.body) if isinstance(block, cst.IndentedBlock) else []
    if not lines:
        lines = [cst.SimpleStatementLine(body=list(block.body))]  # type: ignore[arg-type]
    last = lines[-1]
    final = (
        last.body[0]
        if isinstance(last, cst.SimpleStatementLine)
        and len(last.body) == 1
        and isinstance(last.body[0], cst.Return)
        else None
    )
    checked = lines[:-1] if final is not None else lines
    finder = _Refused()
    for line in checked:
        line.visit(finder)
    if finder.found is not None:
        t.reporter.report(
            rules.HELPER_NOT_INLINABLE,
            t.location(finder.found),
            helper=helper.name.value,
            what=_WHAT.get(type(finder.found), "a nested function"),
        )
        return None
    return checked, final


_WHAT: dict[type, str] = {
    cst.Return: "a `return` before the helper's last line",
    cst.Yield: "`yield`",
    cst.Await: "`await`",
}


class _Refused(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: cst.CSTNode | None = None

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.found is not None:
            return False
        if isinstance(node, (cst.Return, cst.Yield, cst.Await, cst.FunctionDef, cst.Lambda)):
            self.found = node
            return False
        return True


def _bind(t: Context, call: cst.Call, helper: cst.FunctionDef) -> dict[str, Symbol] | None:
    params = helper.params
    if isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
        t.reporter.report(
            rules.HELPER_NOT_INLINABLE,
            t.location(call),
            helper=helper.name.value,
            what="`*args` or `**kwargs`",
        )
        return None
    if any(a.star for a in call.args):
        _mismatch(t, call, helper)
        return None
    positional = [*params.posonly_params, *params.params]
    named = {p.name.value: p for p in [*positional, *params.kwonly_params]}
    given: dict[str, cst.BaseExpression] = {}
    index = 0
    for argument in call.args:
        if argument.keyword is None:
            if index >= len(positional):
                _mismatch(t, call, helper)
                return None
            given[positional[index].name.value] = argument.value
            index += 1
        elif argument.keyword.value in named and argument.keyword.value not in given:
            given[argument.keyword.value] = argument.value
        else:
            _mismatch(t, call, helper)
            return None
    env: dict[str, Symbol] = {}
    for pname, param in named.items():
        if pname in given:
            binding: Binding | None = trace_values.bind(t, given[pname], pname)
            if binding is None:
                return None
            env[pname] = binding
        elif param.default is not None:
            value = t.fold(param.default)
            if value is NOT_LITERAL:
                t.reporter.report(
                    rules.HELPER_NOT_INLINABLE,
                    t.location(param),
                    helper=helper.name.value,
                    what="a default that is not a constant",
                )
                return None
            env[pname] = Literal.of(value)
        else:
            _mismatch(t, call, helper)
            return None
    return env


def _mismatch(t: Context, call: cst.Call, helper: cst.FunctionDef) -> None:
    t.reporter.report(rules.HELPER_CALL_MISMATCH, t.location(call), helper=helper.name.value)


def _helpers(t: Context) -> dict[str, cst.FunctionDef]:
    if t.helpers is not None:
        return t.helpers
    candidates: dict[str, cst.FunctionDef] = {}
    body = t.source.module.body
    for name, indices in t.source.global_bindings().items():
        statement = body[indices[-1]]
        if (
            isinstance(statement, cst.FunctionDef)
            and statement.name.value == name
            and not statement.decorators
            and name not in t.components
            and name != t.controller.name
        ):
            candidates[name] = statement

    def calls_steps(function: cst.FunctionDef, known: set[str]) -> bool:
        finder = UnitFinder(
            lambda c: (
                isinstance(c.func, cst.Name)
                and (c.func.value in t.components or c.func.value in known)
            )
        )
        function.body.visit(finder)
        return bool(finder.units)

    found: set[str] = set()
    changed = True
    while changed:  # helpers that call helpers that call steps
        changed = False
        for name, function in candidates.items():
            if name not in found and calls_steps(function, found):
                found.add(name)
                changed = True
    t.helpers = {name: candidates[name] for name in found}
    return t.helpers
