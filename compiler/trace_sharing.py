"""Which controller values may share an object because glue built one from another.

`d = {"b": files}` run by a glue node makes `d` hold the very list `files` holds; the compiled
controller hands each name its own copy (each output is written on its own), so a later change
through either name would reach the other in Python but not in the compiled run. The tracer
records, for each value a glue node outputs, which earlier values it may hold and how, and
refuses a change in place that the other name would see (PC611).

How a value relates to one it was built from decides which changes the other sees:

- `SAME`: it may be that object itself (`w = r`, or `w` changed in place): every change shows.
- `TOP`: it may hold that object inside it (`w = [r]`): a change of `r`, or of something inside
  `w`, shows; changing `w` itself (`w.pop()`) does not.
- `DEEP`: it may hold that object inside it, but never as its own item (`w = [{"a": r}]`):
  besides what TOP keeps out, a change of one of `w`'s own items (`w[0]["a"] = 5`) does not show.
- `INNER`: it may hold the objects inside it, not it (`w = list(r)`, `w = r + s`): a change of
  `r` itself (`r.pop()`) does not show; a change of something inside either does.
- `NESTED`: it may hold the objects inside it, but never as its own items (`w = [list(r)]`,
  `w = {"b": list(r)}`): besides what INNER keeps out, a change of one of `w`'s own items
  (`w["b"].append(5)`) does not show.
- `ANY`: it may be anything reachable from it (`w = r[0]`, `w = f(r)`): every change shows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.call_effects import (
    FRESH_RESULT_MODULES,
    READING_FUNCTIONS,
    assigned_into,
    dotted_name,
    functions_changing_module_values,
    functions_that_only_read,
    module_objects,
)
from pipec.compiler.import_kinds import holds_module, mutable_module_value
from pipec.compiler.syntax import names_in
from pipec.literals import Literal
from pipec.manifest import Binding, Container, OutputRef, ParamRef, Select

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = [
    "Kind",
    "Sharing",
    "block_sources",
    "compose",
    "held_names",
    "module_value",
    "related",
    "changes_one_item",
    "module_objects_changed",
    "holds_module_value_twice",
    "module_values_changed",
    "record_folded",
    "record_grown",
    "reading_functions",
    "reached_in_block",
    "record_glue",
    "same_object",
    "scalar_parameter",
    "shallow_change",
    "shared_through_glue",
]


class Kind(Enum):
    SAME = "same"
    TOP = "top"
    DEEP = "deep"
    INNER = "inner"
    NESTED = "nested"
    ANY = "any"


def _compose(outer: Kind, inner: Kind) -> Kind:
    """How `w` relates to `s` when `w` relates to `r` as `outer` and `r` to `s` as `inner`."""
    if outer is Kind.SAME:
        return inner
    if inner is Kind.SAME:
        return outer
    if outer is Kind.ANY:
        return Kind.ANY
    if inner is Kind.ANY:
        # Held inside `w` (`w = [r]`, `w = list(r)`), whatever part of `s` it is: a change of
        # `w` itself does not reach it, as with TOP (`xs.append(v)` for `v` in LIMITS).
        return Kind.DEEP if outer is Kind.DEEP else Kind.TOP
    if inner is Kind.DEEP or outer is Kind.DEEP and inner is Kind.TOP:
        return Kind.DEEP  # below one of w's own items at least
    if outer is Kind.DEEP:
        return Kind.NESTED  # s's items below w's own items; s itself is not in w
    if inner is Kind.TOP:
        # r holds s, and w holds r's items (s may be one of w's own) or r itself (s is deeper)
        return Kind.TOP if outer is Kind.INNER else Kind.DEEP
    if outer is Kind.INNER and inner is Kind.INNER:
        return Kind.INNER  # `w = list(r)`, `r = list(s)`: s's items may be w's own items
    # s's items are inside r below r's own items, or r's items inside w below w's own ones.
    return Kind.NESTED


# From the relation that lets the fewest changes through to the one that lets the most (DEEP
# and INNER each let through one the other keeps out: together they are TOP).
_BY_REACH = (Kind.NESTED, Kind.INNER, Kind.DEEP, Kind.TOP, Kind.ANY)


def _merge(one: Kind, other: Kind) -> Kind:
    """A relation that may be either: every change either lets through shows."""
    if one is other:
        return one
    if Kind.SAME in (one, other):
        return Kind.ANY
    if {one, other} == {Kind.DEEP, Kind.INNER}:
        return Kind.TOP
    return max(one, other, key=_BY_REACH.index)


class Sharing:
    """For each value a glue node made: the earlier values it may share objects with, and how."""

    def __init__(self) -> None:
        self._sources: dict[object, dict[object, Kind]] = {}
        self._kept: list[object] = []  # keeps the ids of literal values from being reused
        self.scalar_parameters: frozenset[str] | None = None
        self.reading_functions: frozenset[str] | None = None
        self.module_changers: dict[str, str] | None = None
        self.module_objects: set[str] | None = None

    def key(self, value: object) -> object:
        # A literal list or a list the tracer knows is one object wherever its symbol goes;
        # equal ones are not the same object.
        try:
            hash(value)
            by_identity = isinstance(value, (Literal, Container))
        except TypeError:  # a literal list, or a name an error left unavailable
            by_identity = True
        if by_identity or type(value).__name__ == "TupleResult":
            self._kept.append(value)
            return ("literal", id(value))
        return value

    def add(self, derived: object, source: object, kind: Kind) -> None:
        if derived == source:
            return
        known = self._sources.setdefault(derived, {})
        old = known.get(source)
        known[source] = kind if old is None else _merge(old, kind)

    def sources(self, derived: object) -> Mapping[object, Kind]:
        return self._sources.get(derived, {})


# Builtins whose result holds nothing of their arguments (numbers, strings, booleans).
_SCALAR_CALLS = frozenset(
    [
        "abs",
        "ascii",
        "bool",
        "callable",
        "chr",
        "float",
        "format",
        "hasattr",
        "hash",
        "id",
        "int",
        "isinstance",
        "issubclass",
        "len",
        "ord",
        "repr",
        "round",
        "str",
    ]
)
# Builtins and methods that build a new container of their argument's items.
_COPYING_CALLS = frozenset(
    ["dict", "frozenset", "list", "reversed", "set", "sorted", "sum", "tuple", "enumerate", "zip"]
)
_COPYING_METHODS = frozenset(["copy", "items", "keys", "values"])
_SCALAR_METHODS = frozenset(
    [
        "count",
        "endswith",
        "find",
        "format",
        "index",
        "isdigit",
        "join",
        "lower",
        "lstrip",
        "replace",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "title",
        "upper",
    ]
)
# Methods that change only their receiver and keep their argument (`xs.append(r)`: xs holds r).
_KEEPING_ARGUMENT = frozenset(["add", "append", "insert", "setdefault"])
_KEEPING_ITEMS = frozenset(["extend", "update"])
_CHANGING_ONLY_RECEIVER = frozenset(
    ["clear", "discard", "pop", "popitem", "remove", "reverse", "sort"]
)
_NOT_CHANGING_ARGUMENTS = _KEEPING_ARGUMENT | _KEEPING_ITEMS | _CHANGING_ONLY_RECEIVER
_SCALAR_NODES = (
    cst.BaseNumber,
    cst.BaseString,
    cst.Comparison,
    cst.UnaryOperation,
    cst.Ellipsis,
)


def _held(expr: cst.BaseExpression, context: Kind) -> Iterator[tuple[str, Kind]]:
    """(name, kind) of each name whose object the value of `expr` may hold, seen from a value
    that relates to `expr`'s value as `context`."""
    if isinstance(expr, cst.Name):
        if expr.value not in ("None", "True", "False"):
            yield expr.value, context
    elif isinstance(expr, _SCALAR_NODES):
        return
    elif isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        for element in expr.elements:
            inner = Kind.INNER if isinstance(element, cst.StarredElement) else Kind.TOP
            yield from _held(element.value, _compose(context, inner))
    elif isinstance(expr, cst.Dict):
        for entry in expr.elements:
            kind = Kind.TOP if isinstance(entry, cst.DictElement) else Kind.INNER  # `**other`
            if isinstance(entry, cst.DictElement):
                # A key is held as it is (`{box: 1}`), and a lookup compares with it.
                yield from _held(entry.key, _compose(context, Kind.TOP))
            yield from _held(entry.value, _compose(context, kind))
    elif isinstance(expr, cst.IfExp):
        yield from _held(expr.body, context)
        yield from _held(expr.orelse, context)
    elif isinstance(expr, cst.BooleanOperation):
        yield from _held(expr.left, context)
        yield from _held(expr.right, context)
    elif isinstance(expr, cst.BinaryOperation):
        yield from _held(expr.left, _compose(context, Kind.INNER))
        yield from _held(expr.right, _compose(context, Kind.INNER))
    elif isinstance(expr, cst.Subscript) and all(
        isinstance(s.slice, cst.Slice) for s in expr.slice
    ):
        yield from _held(expr.value, _compose(context, Kind.INNER))
    elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name):
        if expr.func.value in _SCALAR_CALLS:
            return
        kind = Kind.INNER if expr.func.value in _COPYING_CALLS else Kind.ANY
        for argument in expr.args:
            yield from _held(argument.value, _compose(context, kind))
        if kind is Kind.ANY:
            # a callable object may return what it keeps
            yield expr.func.value, _compose(context, Kind.ANY)
    elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        method = expr.func.attr.value
        if method in _SCALAR_METHODS or dotted_name(expr.func.value) in FRESH_RESULT_MODULES:
            return
        if method in _COPYING_METHODS and not expr.args:
            yield from _held(expr.func.value, _compose(context, Kind.INNER))
            return
        for name in _reached_names(expr):
            yield name, _compose(context, Kind.ANY)
    elif isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        yield from _held_by_comprehension(expr, context)
    else:  # a part of a value (`r[0]`, `r.a`), a lambda: anything it reaches
        for name in _reached_names(expr):
            yield name, _compose(context, Kind.ANY)


def _reached_names(expr: cst.CSTNode) -> list[str]:
    """Every name in `expr`, and `m.a` for each attribute read straight off a name (`m.a[0]`,
    `m.a.b`): if `m` is a module, `m.a` is one of its values."""

    class _Reads(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[str] = []

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if isinstance(node.value, cst.Name):
                self.found.append(f"{node.value.value}.{node.attr.value}")

    finder = _Reads()
    expr.visit(finder)
    return [*names_in(expr), *finder.found]


def _held_by_comprehension(
    expr: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp, context: Kind
) -> Iterator[tuple[str, Kind]]:
    """A comprehension holds what its elements hold; an element that is (a copy of) a loop
    variable holds the items of the values looped over (`[r for r in rows]`)."""
    variables: set[str] = set()
    looped: list[cst.BaseExpression] = []
    loop: cst.CompFor | None = expr.for_in
    while loop is not None:
        variables |= set(names_in(loop.target))
        looped.append(loop.iter)
        loop = loop.inner_for_in
    elements = [expr.key, expr.value] if isinstance(expr, cst.DictComp) else [expr.elt]
    for element in elements:
        for name, kind in _held(element, _compose(context, Kind.TOP)):
            if name not in variables:
                yield name, kind
                continue
            through = (
                Kind.INNER
                if kind in (Kind.TOP, Kind.INNER)
                else Kind.NESTED
                if kind in (Kind.DEEP, Kind.NESTED)
                else Kind.ANY
            )
            for values in looped:
                yield from _held(values, through)


class _Sites(cst.CSTVisitor):
    """Where a glue node's statements give `name` its value or change it in place."""

    def __init__(self, name: str, reading: frozenset[str]) -> None:
        self.name = name
        self.reading = reading
        self.held: list[tuple[str, Kind]] = []
        self.unknown = False

    def _root(self, expr: cst.BaseExpression) -> str | None:
        while isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        return expr.value if isinstance(expr, cst.Name) else None

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if value is None:
            return
        if isinstance(target, cst.Name):
            if target.value == self.name:
                self.held.extend(_held(value, Kind.SAME))
        elif isinstance(target, (cst.Attribute, cst.Subscript)):
            if self._root(target) == self.name:
                self.held.extend(_held(value, Kind.TOP))
        elif self.name in names_in(target):  # unpacking: the name gets a part of the value
            self.held.extend((name, Kind.ANY) for name in _reached_names(value))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._target(target.target, node.value)
        # `x = y = []`: each name holds the very object the other does.
        bound = [target.target for target in node.targets]
        if len(bound) > 1 and any(self.name in names_in(one) for one in bound):
            for one in bound:
                if not isinstance(one, cst.Name):
                    self.held.extend((name, Kind.ANY) for name in names_in(one))
                elif one.value != self.name:
                    self.held.append((one.value, Kind.SAME))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._root(node.target) == self.name:
            self.held.extend(_held(node.value, Kind.INNER))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        receiver = self._root(func.value) if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Attribute) and receiver == self.name:
            method = func.attr.value
            if method in _CHANGING_ONLY_RECEIVER:
                return
            kind = (
                Kind.TOP
                if method in _KEEPING_ARGUMENT
                else Kind.INNER
                if method in _KEEPING_ITEMS
                else Kind.ANY
            )
            for argument in node.args:
                self.held.extend(_held(argument.value, kind))
        elif isinstance(func, cst.Name) and (
            func.value in READING_FUNCTIONS or func.value in self.reading
        ):
            return
        elif isinstance(func, cst.Attribute) and func.attr.value in _NOT_CHANGING_ARGUMENTS:
            return  # `xs.append(v)` puts `v` into `xs`, it does not change `v`
        elif any(self.name in names_in(a.value) for a in node.args):
            # A call that may change it may put anything it was given into it.
            self.held.extend((name, Kind.ANY) for name in _reached_names(node))

    def visit_For(self, node: cst.For) -> None:
        if self.name in names_in(node.target):
            self.held.extend((name, Kind.ANY) for name in _reached_names(node.iter))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target, node.value)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and self.name in names_in(node.asname.name):
            self.unknown = True
            self.held.extend((name, Kind.ANY) for name in _reached_names(node.item))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def reading_functions(t: Context) -> frozenset[str]:
    """The module's functions that change nothing their arguments reach (found once)."""
    if t.sharing.reading_functions is None:
        t.sharing.reading_functions = functions_that_only_read(t.source.module)
    return t.sharing.reading_functions


def module_values_changed(
    t: Context, statement: cst.CSTNode
) -> Iterator[tuple[cst.Call, str, str]]:
    """Each call in `statement` to a module-level function that changes a module-level value,
    with the function's name and the value's."""
    if t.sharing.module_changers is None:
        t.sharing.module_changers = functions_changing_module_values(t.source.module)
    changers = t.sharing.module_changers
    if not changers:
        return

    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[tuple[cst.Call, str, str]] = []

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            # A controller variable of the same name shadows the function.
            if (
                isinstance(func, cst.Name)
                and func.value in changers
                and func.value not in t.frame.env
            ):
                self.found.append((node, func.value, changers[func.value]))

    finder = _Calls()
    statement.visit(finder)
    yield from finder.found


def module_objects_changed(t: Context, statement: cst.CSTNode) -> list[tuple[cst.CSTNode, str]]:
    """Each assignment in controller code into an object a module-level `import` or `class`
    binds (`Config.lr = v`, `os.environ["K"] = v`), with that name."""
    if t.sharing.module_objects is None:
        t.sharing.module_objects = module_objects(t.source.module)
    names = {n for n in [*t.sharing.module_objects, *t.imports] if n not in t.frame.env}
    return assigned_into(statement, names)


def _leaves(
    t: Context, binding: object, kind: Kind, top_only: bool = False
) -> Iterator[tuple[object, Kind]]:
    """The values a binding is made of that can change in place, with how the whole relates
    to each (`top_only`: not the items of a list or dict the tracer knows)."""
    if isinstance(binding, Select):
        for option in binding.options:
            yield from _leaves(t, option.binding, kind, top_only)
    elif isinstance(binding, Container) or type(binding).__name__ == "TupleResult":
        # The tracer's list or dict is one object in Python, holding its items.
        yield binding, kind
        if not top_only:
            for item in getattr(binding, "items", ()):
                yield from _leaves(t, item, _compose(kind, Kind.TOP))
    elif isinstance(binding, Literal) and not isinstance(binding.value, (list, dict, set)):
        return  # a number or a string: nothing to change in place
    elif isinstance(binding, ParamRef) and binding.name in _scalar_parameters(t):
        return
    else:
        yield binding, kind


_SCALAR_ANNOTATIONS = frozenset(["int", "float", "str", "bool", "bytes", "complex"])


def scalar_parameter(t: Context, symbol: object) -> bool:
    """Whether `symbol` is a controller parameter annotated or defaulted as a number or a
    string: nothing in it changes in place (`count = a; count += 1` rebinds `count`)."""
    return isinstance(symbol, ParamRef) and symbol.name in _scalar_parameters(t)


def _scalar_parameters(t: Context) -> frozenset[str]:
    """The controller's parameters annotated or defaulted as numbers or strings."""
    if t.sharing.scalar_parameters is None:
        names = []
        for parameter in t.controller.function.params.params:
            annotation = parameter.annotation
            typed = annotation is not None and isinstance(annotation.annotation, cst.Name)
            default = parameter.default
            if (
                typed
                and annotation.annotation.value in _SCALAR_ANNOTATIONS  # type: ignore[union-attr]
                or annotation is None
                and isinstance(default, _SCALAR_NODES)
            ):
                names.append(parameter.name.value)
        t.sharing.scalar_parameters = frozenset(names)
    return t.sharing.scalar_parameters


def _module_value(t: Context, name: str) -> tuple[str, str] | None:
    """The stand-in for module-level list, dict or set `name`, if the controller reads it: one
    of the pipeline file's, or of a local module it imports (`LIMITS`, `config.LIMITS`)."""
    if mutable_module_value(t, name):
        return ("module", name)
    if "." in name or name in t.frame.env or name not in t.source.global_bindings():
        return None
    return ("module", name) if isinstance(t.constant(name), (list, dict, set)) else None


def holds_module_value_twice(t: Context, expr: cst.BaseExpression) -> bool:
    """Whether `expr` may hold one module-level list, dict or set in two places
    (`[DEFAULTS, DEFAULTS]`): folded to a literal, it would hold two copies."""
    itself = (Kind.SAME, Kind.TOP, Kind.DEEP, Kind.ANY)
    names = [name for name, kind in _held(expr, Kind.SAME) if kind in itself]
    return any(names.count(name) > 1 and _module_value(t, name) for name in set(names))


def record_folded(t: Context, expr: cst.BaseExpression, value: Literal) -> None:
    """`value`, folded from `expr` at compile time, holds what `expr` holds of module-level
    lists and dicts (`rows = [LIMITS]`): changing it changes them in Python."""
    for name, kind in _held(expr, Kind.SAME):
        module_value = _module_value(t, name)
        if module_value is not None:
            t.sharing.add(t.sharing.key(value), module_value, kind)


def record_grown(
    t: Context,
    before: object,
    after: object,
    added: cst.BaseExpression | None,
    how: Kind,
) -> None:
    """A list the tracer grew at compile time (`rows.append(LIMITS)`, `rows += [...]`) holds
    what it held before, and what `added` holds of module-level values, as `how` says (TOP:
    one of its own items; INNER: its items are)."""
    sharing = t.sharing
    grown = sharing.key(after)
    for source, kind in list(sharing.sources(sharing.key(before)).items()):
        sharing.add(grown, source, kind)
    if added is None:
        return
    for name, kind in _held(added, how):
        module_value = _module_value(t, name)
        if module_value is not None:
            sharing.add(grown, module_value, kind)


def record_glue(
    t: Context,
    node: str,
    statements: Sequence[cst.BaseStatement],
    inputs: Sequence[tuple[str, Binding]],
    outputs: Sequence[str],
) -> None:
    """Record what each output of glue node `node` may share with the values it read."""
    sharing = t.sharing
    given = dict(inputs)
    held: dict[str, list[tuple[str, Kind]]] = {}
    for output in outputs:
        sites = _Sites(output, reading_functions(t))
        for statement in statements:
            statement.visit(sites)
        found = list(sites.held)
        if sites.unknown:
            found.extend((name, Kind.ANY) for name in given)
        if output in given:  # changed in place or kept when a branch did not assign it
            found.append((output, Kind.SAME))
        held[output] = found
    rebound = _rebound(statements)
    for output in outputs:
        derived = sharing.key(OutputRef(node, output))
        # Outputs of one node share objects as their names did (`inner = list(files)`,
        # `copied = {"b": inner}`): changing `copied["b"]` changes `inner`.
        for sibling, kind in _siblings(output, held, given, rebound, Kind.SAME, set()):
            sharing.add(derived, sharing.key(OutputRef(node, sibling)), kind)
        for source, kind in _resolve(t, output, held, given, Kind.SAME, set()):
            for leaf, leaf_kind in _leaves(t, source, kind):
                leaf_key = sharing.key(leaf)
                sharing.add(derived, leaf_key, leaf_kind)
                for far, far_kind in list(sharing.sources(leaf_key).items()):
                    sharing.add(derived, far, _compose(leaf_kind, far_kind))


def _rebound(statements: Sequence[cst.BaseStatement]) -> set[str]:
    """The names `statements` bind anew (assignment, `+=`, loop, `with`, `:=`)."""

    class _Targets(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: set[str] = set()

        def _add(self, target: cst.CSTNode) -> None:
            if isinstance(target, cst.Name):
                self.found.add(target.value)
            elif isinstance(target, (cst.Tuple, cst.List)):
                for element in target.elements:
                    self._add(element.value)
            elif isinstance(target, cst.StarredElement):
                self._add(target.value)

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._add(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            self._add(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._add(node.target)

        def visit_For(self, node: cst.For) -> None:
            self._add(node.target)

        def visit_AsName(self, node: cst.AsName) -> None:
            self._add(node.name)

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            self._add(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    finder = _Targets()
    for statement in statements:
        statement.visit(finder)
    return finder.found


def _siblings(
    name: str,
    held: Mapping[str, list[tuple[str, Kind]]],
    given: Mapping[str, Binding],
    rebound: Collection[str],
    kind: Kind,
    seen: set[str],
) -> Iterator[tuple[str, Kind]]:
    """The node's other outputs `name` may hold, and how (not an input the node hands on as it
    got it: what `name` shares with that input is recorded as it is for any input)."""
    for source, how in held.get(name, []):
        if source not in held or source == name or source in seen:
            continue
        if source in given and source not in rebound:
            continue
        composed = _compose(kind, how)
        yield source, composed
        yield from _siblings(source, held, given, rebound, composed, seen | {name})


def _resolve(
    t: Context,
    name: str,
    held: Mapping[str, list[tuple[str, Kind]]],
    given: Mapping[str, Binding],
    kind: Kind,
    seen: set[str],
) -> Iterator[tuple[Binding, Kind]]:
    """The node's inputs `name` may hold, through other names the same node assigns."""
    for source, how in held.get(name, []):
        composed = _compose(kind, how)
        if source in given and (source == name or source not in held):
            yield given[source], composed
        elif source in held and source != name and source not in seen:
            yield from _resolve(t, source, held, given, composed, seen | {name})
        elif source not in given and source not in held:
            module_value = _module_value(t, source)
            if module_value is not None:
                yield module_value, composed  # type: ignore[misc]


def reached_in_block(
    t: Context,
    name: str,
    statements: Sequence[cst.BaseStatement],
    assigned: Collection[str],
    shallow: bool,
) -> list[tuple[str, bool]]:
    """The values from before a glue block that a change in place of `name`, which the block
    itself assigned (`rows = [xs]` then `rows[0].append(0)`), reaches in Python: controller
    names and module-level lists and dicts, each with whether the change reaches it as it is
    (`ys = xs`) rather than something inside it. The block's other names (`assigned`) are
    followed to what they hold in turn."""
    reading = reading_functions(t)
    found: dict[str, Kind] = {}
    pending: list[tuple[str, Kind]] = [(name, Kind.SAME)]
    seen: set[tuple[str, Kind]] = set()
    while pending:
        current, kind = pending.pop()
        if (current, kind) in seen:
            continue
        seen.add((current, kind))
        sites = _Sites(current, reading)
        for statement in statements:
            statement.visit(sites)
        # `with open(p) as f`: what the context manager may hand out is taken to be what its
        # expression reaches, not every value the block read (`f.write(...)` would export all)
        for source, how in sites.held:
            composed = _compose(kind, how)
            if source in assigned and source != current:
                pending.append((source, composed))
            # A module is imported afresh by every script: no copy of it to keep in step.
            earlier = (
                source in t.frame.env
                and not holds_module(t, source)
                or _module_value(t, source) is not None
            )
            if earlier and source not in (current, name) and _shows(shallow, composed, True):
                old = found.get(source)
                found[source] = composed if old is None else _merge(old, composed)
    return [(source, kind is Kind.SAME) for source, kind in found.items()]


def _shows(
    change_shallow: bool, kind: Kind, changed_is_derived: bool, item_only: bool = False
) -> bool:
    """Whether a change of one value shows through another it is related to as `kind`;
    `item_only`: the change is of one of the value's own items, nothing inside that item."""
    if item_only and changed_is_derived:
        return kind not in (Kind.NESTED, Kind.DEEP)
    if not change_shallow:
        return True
    if changed_is_derived:
        return kind in (Kind.SAME, Kind.ANY)
    return kind not in (Kind.INNER, Kind.NESTED)


def shared_through_glue(
    t: Context,
    name: str,
    shallow: bool,
    item_only: bool = False,
    still_read: Callable[[str], bool] = lambda _: True,
) -> str | None:
    """Another controller name that would see a change in place of `name` in Python
    (`item_only`: a change of one of its own items, `name["b"].append(5)`; `still_read`: whether
    the controller may read a name again, so that it could tell)."""
    symbol = t.frame.env.get(name)
    if symbol is None or holds_module(t, name):
        return None  # a module is imported afresh by every script, never copied
    if not isinstance(symbol, OutputRef):
        item_only = False  # the tracer's own list or dict: its items are values of their own
    sharing = t.sharing
    changed = [(sharing.key(leaf), kind) for leaf, kind in _leaves(t, symbol, Kind.SAME, shallow)]
    for key, _ in changed:
        for source, kind in sharing.sources(key).items():
            module = isinstance(source, tuple) and source[0] == "module"
            if module and _shows(shallow, kind, True, item_only):
                return str(source[1])  # type: ignore[index]  # in Python the change reaches the module-level value
    for other, held in t.frame.env.items():
        if other == name or held is None or type(held).__name__ == "Unavailable":
            continue
        if not _user_name(t, other) or holds_module(t, other):
            continue  # a value the tracer made for a step call: the step already has its copy
        if not still_read(other):
            continue  # never read again: no run can tell the copies apart
        for leaf, _ in _leaves(t, held, Kind.SAME):
            leaf_key = sharing.key(leaf)
            for key, _ in changed:
                if key == leaf_key:
                    continue  # the same symbol: the tracer's own aliasing check covers it
                if _related(sharing, key, leaf_key, shallow, item_only):
                    return other
    return None


def same_object(t: Context, name: str, other: str) -> bool:
    """Whether glue bound `name` and `other` to the very same object (`x = y = []`)."""
    symbol, held = t.frame.env.get(name), t.frame.env.get(other)
    if symbol is None or held is None:
        return False
    mine, theirs = t.sharing.key(symbol), t.sharing.key(held)
    return Kind.SAME in (t.sharing.sources(mine).get(theirs), t.sharing.sources(theirs).get(mine))


def _user_name(t: Context, name: str) -> bool:
    scopes = [t.controller_scope, *t.inner_scopes]
    return any(scope is not None and name in scope for scope in scopes)


def _related(
    sharing: Sharing, changed: object, other: object, shallow: bool, item_only: bool
) -> bool:
    mine, theirs = sharing.sources(changed), sharing.sources(other)
    if other in mine and _shows(shallow, mine[other], True, item_only):
        return True
    if changed in theirs and _shows(shallow, theirs[changed], False):
        return True
    # Both built from one value: a change shows if the changed one may be (part of) it.
    return any(
        _shows(shallow, kind, True, item_only) for source, kind in mine.items() if source in theirs
    )


def shallow_change(statement: cst.CSTNode, name: str) -> bool:
    """Whether `statement` changes only the object `name` holds, never one inside it:
    `name.append(x)`, `name[k] = v`, `name += v`, `name.pop()` (not `name[k] += v`)."""

    class _Changes(cst.CSTVisitor):
        def __init__(self) -> None:
            self.deep = False

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
                if func.value.value == name:
                    return
            elif isinstance(func, cst.Attribute) and name in names_in(func.value):
                self.deep = True  # `name[0].append(x)`
            if any(name in names_in(a.value) for a in node.args):
                self.deep = True  # `normalize(name)`

        def _target(self, target: cst.BaseExpression) -> None:
            if (
                isinstance(target, (cst.Subscript, cst.Attribute))
                and not isinstance(target.value, cst.Name)
                and name in names_in(target.value)
            ):
                self.deep = True

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._target(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            target = node.target
            # `name[k] += v` adds to the object inside in place (`list.__iadd__`)
            if isinstance(target, (cst.Subscript, cst.Attribute)) and name in names_in(
                target.value
            ):
                self.deep = True

        def visit_Del(self, node: cst.Del) -> None:
            self._target(node.target)

    finder = _Changes()
    statement.visit(finder)
    return not finder.deep


_ITEM_METHODS = _NOT_CHANGING_ARGUMENTS


def changes_one_item(statement: cst.CSTNode, name: str) -> bool:
    """Whether `statement` changes one of `name`'s own items and nothing inside that item, nor
    `name` elsewhere: `name[k].append(x)`, `name[k][j] = v`, `name[k] += v`, `del name[k][j]`."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    if sum(1 for found in names_in(statement) if found == name) != 1:
        return False
    small = statement.body[0]

    def _item(expr: cst.BaseExpression) -> bool:  # `name[k]`
        return (
            isinstance(expr, cst.Subscript)
            and isinstance(expr.value, cst.Name)
            and expr.value.value == name
        )

    def _inside_item(expr: cst.BaseExpression) -> bool:  # `name[k][j]`
        return isinstance(expr, cst.Subscript) and _item(expr.value)

    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        func = small.value.func
        return (
            isinstance(func, cst.Attribute)
            and func.attr.value in _ITEM_METHODS
            and _item(func.value)
        )
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        return _inside_item(small.targets[0].target)
    if isinstance(small, cst.AugAssign):
        return _item(small.target)
    if isinstance(small, cst.Del):
        return _inside_item(small.target)
    return False


def held_names(expr: cst.BaseExpression) -> list[tuple[str, Kind]]:
    """The names whose object the value of `expr` may be or hold, with how the value relates
    to each (`m.a` for an attribute read straight off a name)."""
    return list(dict.fromkeys(_held(expr, Kind.SAME)))


def block_sources(
    t: Context,
    name: str,
    kind: Kind,
    statements: Sequence[cst.BaseStatement],
    given: Collection[str],
) -> list[tuple[str, Kind]]:
    """The names from outside a node's code (its inputs, module-level names) whose objects a
    value relating to `name` as `kind` may be or hold after `statements`, following the names
    they assign in turn."""
    reading = reading_functions(t)
    assigned = _rebound(statements)
    found: list[tuple[str, Kind]] = []
    pending = [(name, kind)]
    seen: set[tuple[str, Kind]] = set()
    while pending:
        current, how = pending.pop()
        if (current, how) in seen:
            continue
        seen.add((current, how))
        if current in given or current not in assigned:
            found.append((current, how))  # an input may keep its value where a branch did not run
        if current not in assigned:
            continue
        sites = _Sites(current, reading)
        for statement in statements:
            statement.visit(sites)
        pending.extend((source, _compose(how, held)) for source, held in sites.held)
        if sites.unknown:
            pending.extend((source, Kind.ANY) for source in given)
    return found


def related(t: Context, one: object, other: object, loose: bool) -> bool:
    """Whether `one` may be `other` in Python because controller code built one from the other
    or both from a third value (a module-level one included); `loose`: whether either may be
    anything inside it, not just itself."""
    mine, theirs = t.sharing.sources(one), t.sharing.sources(other)
    itself = (Kind.SAME, Kind.ANY)
    if loose:
        return other in mine or one in theirs or any(source in theirs for source in mine)
    return (
        mine.get(other) in itself
        or theirs.get(one) in itself
        or any(kind in itself and theirs.get(source) in itself for source, kind in mine.items())
    )


def module_value(t: Context, name: str) -> object | None:
    """The key of module-level list, dict or set `name`, if the controller reads one."""
    return _module_value(t, name)


def compose(outer: Kind, inner: Kind) -> Kind:
    """How `w` relates to `s` when it relates to `r` as `outer` and `r` to `s` as `inner`."""
    return _compose(outer, inner)
