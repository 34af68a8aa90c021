"""Whether a value a node reads may hold something of one kind that controller code or a step
made: an `id(...)`, an object of a class whose `==` is identity.

A node's output holds such a thing when the code that gives it its value makes one
(`i = id(xs)`, `box = Box(1)`), or reads a value that holds one (`ids = [i]`, `d = {box: 1}`,
`seen.add(i)`); a step's output when the step's code makes one or it was given one (a step
called as a function may return its argument). Values the build worked out and parameters are
numbers, strings and containers of them: they hold none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.ir import GlueNode, StepNode
from pipec.compiler.syntax import names_in, names_of
from pipec.manifest import Binding, Container, Gather, ItemRef, OutputRef, Select

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["Origin", "given_to", "may_hold"]

_SCALARS = frozenset(["bool", "bytes", "complex", "float", "int", "str"])
# Methods that put their arguments into their receiver (`seen.add(id(x))`).
_STORING_METHODS = frozenset(["add", "append", "extend", "insert", "setdefault", "update"])


@dataclass(frozen=True)
class Origin:
    """A kind of value to follow: `makes` says whether code makes one, `step_makes` whether
    the step of that function name may."""

    name: str
    makes: Callable[[cst.CSTNode], bool]
    step_makes: Callable[[str], bool]
    number: bool = False  # whether it is a number, which a step returning `int` may return


def may_hold(t: Context, binding: Binding, origin: Origin) -> bool:
    """Whether `binding` may be or hold a value of `origin`'s kind."""
    return _may_hold(t, binding, origin)


def given_to(t: Context, binding: Binding) -> tuple[str, tuple[Binding, ...]] | None:
    """For a value a step made, or an element a fan-out hands its body: the node, and the values
    it may be (or be inside of) in Python, where nothing is copied: a step's output may be its
    arguments (`return b`), each output a fan-out gathers those of its instance, and an element
    is inside the values looped over."""
    if isinstance(binding, (OutputRef, Gather)) and binding.node in t.step_arguments:
        if _returns_scalar(t, binding.node):
            return binding.node, ()
        return binding.node, t.step_arguments[binding.node]
    if isinstance(binding, ItemRef):
        node = _node(t, binding.map)
        if isinstance(node, GlueNode):
            return node.name, tuple(given for _, given in node.inputs)
    return None


def _returns_scalar(t: Context, step: str) -> bool:
    """Whether step node `step`'s function says it returns a number, a string or a bool
    (`def pick(xs) -> int`): then it returns none of its arguments' objects."""
    node = _node(t, step)
    if not isinstance(node, StepNode):
        return False
    for statement in t.source.module.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == node.component:
            returns = statement.returns
            return (
                returns is not None
                and isinstance(returns.annotation, cst.Name)
                and returns.annotation.value in _SCALARS
            )
    return False


def _node(t: Context, name: str) -> object:
    return next((n for n in t.graph.nodes if n.name == name), None)


def _may_hold(t: Context, binding: Binding, origin: Origin) -> bool:
    if isinstance(binding, Select):
        return any(_may_hold(t, option.binding, origin) for option in binding.options)
    if isinstance(binding, Container):
        return any(_may_hold(t, item, origin) for item in binding.items)
    if isinstance(binding, ItemRef):
        passed = given_to(t, binding)
        return passed is not None and any(_may_hold(t, v, origin) for v in passed[1])
    if isinstance(binding, Gather):
        binding = OutputRef(binding.node, binding.output)
    if not isinstance(binding, OutputRef):
        return False
    key = (origin.name, binding.node, binding.output)
    if key not in t.value_origins:
        t.value_origins[key] = False  # a value that leads back to itself is not decided by it
        t.value_origins[key] = _output_holds(t, binding, origin)
    return t.value_origins[key]


def _output_holds(t: Context, binding: OutputRef, origin: Origin) -> bool:
    node = _node(t, binding.node)
    if isinstance(node, StepNode):
        if not origin.number and _returns_scalar(t, node.name):
            return False
        if origin.step_makes(node.component):
            return True
        arguments = t.step_arguments.get(binding.node, ())
        return any(_may_hold(t, argument, origin) for argument in arguments)
    if not isinstance(node, GlueNode):
        return False
    holding = {name for name, given in node.inputs if _may_hold(t, given, origin)}
    # Follow the node's own names to a fixed point: `i = id(xs)`, then `ids = [i]`.
    while True:
        grown = holding | _storing(node.statements, holding, origin.makes)
        if grown == holding:
            return binding.output in holding
        holding = grown


def _storing(
    statements: Sequence[cst.BaseStatement],
    holding: set[str],
    makes: Callable[[cst.CSTNode], bool],
) -> set[str]:
    """The names `statements` give a value that may hold one made there or one of
    `holding`'s."""

    def holds(expr: cst.CSTNode) -> bool:
        return makes(expr) or any(name in holding for name in names_in(expr))

    class _Stores(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: set[str] = set()

        def _root(self, target: cst.BaseExpression) -> None:
            while isinstance(target, (cst.Subscript, cst.Attribute)):
                target = target.value
            self.found.update(names_of(target))

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if holds(node.value) or holds(target.target):  # `seen[id(x)] = 1`
                    self._root(target.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            if node.value is not None and holds(node.value):
                self._root(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if holds(node.value):
                self._root(node.target)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            if holds(node.value):
                self._root(node.target)

        def visit_For(self, node: cst.For) -> None:
            if holds(node.iter):
                self._root(node.target)

        def visit_Call(self, call: cst.Call) -> None:
            func = call.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in _STORING_METHODS
                and any(holds(argument.value) for argument in call.args)
            ):
                self._root(func.value)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    finder = _Stores()
    for statement in statements:
        statement.visit(finder)
    return finder.found
