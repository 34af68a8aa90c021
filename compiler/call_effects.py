"""Which names a call in a controller statement may change in place.

`normalize(d)` may change `d`, `random.Random(0).shuffle(xs)` changes `xs`, `y = xs.pop()`
changes `xs`: the code after the statement must see the change, so a glue node exports every
name a call it makes may have changed. The answer over-approximates: a call pipec knows
nothing about may change every name passed to it; only builtins and methods known to read
their arguments are trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import libcst as cst

from pipec.compiler.syntax import PURE_BUILTINS, names_in

__all__ = [
    "CHANGING_ONLY_RECEIVER",
    "changed_places",
    "FRESH_RESULT_MODULES",
    "READING_FUNCTIONS",
    "assigned_into",
    "module_objects",
    "dotted_name",
    "functions_changing_module_values",
    "functions_that_only_read",
    "names_calls_may_change",
]

# Builtins that never change their arguments (print only writes them out).
READING_FUNCTIONS = PURE_BUILTINS | {"print", "ascii", "callable", "getattr", "hasattr", "id"}

# Methods of list, dict and set that change only the object they are called on, never their
# arguments.
CHANGING_ONLY_RECEIVER = frozenset(
    [
        "add",
        "append",
        "clear",
        "discard",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "reverse",
        "setdefault",
        "sort",
        "update",
    ]
)

# Methods of the builtin types that change neither the object nor their arguments, and the
# logging methods, whose effect is outside the program's values, like print's.
_READING_METHODS = frozenset(
    [
        "copy",
        "count",
        "critical",
        "debug",
        "error",
        "exception",
        "info",
        "warning",
        "endswith",
        "find",
        "format",
        "get",
        "index",
        "isdigit",
        "items",
        "join",
        "keys",
        "lower",
        "lstrip",
        "replace",
        "rstrip",
        "split",
        "startswith",
        "strip",
        "title",
        "upper",
        "values",
    ]
)


# Standard modules whose functions neither change their arguments nor return an object they
# were given: their results are new numbers, strings or containers (`json.dumps(files)`).
FRESH_RESULT_MODULES = frozenset(
    [
        "base64",
        "fnmatch",
        "hashlib",
        "json",
        "math",
        "os.path",
        "re",
        "shlex",
        "statistics",
        "textwrap",
    ]
)


def dotted_name(expression: cst.BaseExpression) -> str | None:
    """`os.path` for the expression `os.path`, if it is a dotted name."""
    if isinstance(expression, cst.Name):
        return expression.value
    if isinstance(expression, cst.Attribute):
        base = dotted_name(expression.value)
        return None if base is None else f"{base}.{expression.attr.value}"
    return None


def _root(expression: cst.BaseExpression) -> str | None:
    """The name an expression reaches into (`d` for `d["a"].b`), if it is one."""
    while isinstance(expression, (cst.Attribute, cst.Subscript)):
        expression = expression.value
    return expression.value if isinstance(expression, cst.Name) else None


class _Finder(cst.CSTVisitor):
    def __init__(self, reading: Collection[str] = frozenset()) -> None:
        self.names: list[str] = []
        self.reading = reading

    def _add(self, expression: cst.BaseExpression) -> None:
        name = _root(expression)
        if name is not None and name not in self.names:
            self.names.append(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name):
            if func.value in READING_FUNCTIONS or func.value in self.reading:
                return
        elif isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _READING_METHODS or dotted_name(func.value) in FRESH_RESULT_MODULES:
                return
            if _root(func.value) is None:
                # The receiver is a value computed here (`d.setdefault(k, xs).append(1)`,
                # `(w := xs).append(1)`): it may be any object its expression reaches.
                for name in sorted(set(names_in(func.value))):
                    if name not in self.names:
                        self.names.append(name)
            self._add(func.value)
            if method in CHANGING_ONLY_RECEIVER:
                return
        for argument in node.args:
            self._add(argument.value)

    # A function or lambda defined here runs later, if ever; its calls are its own.
    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


def names_calls_may_change(
    statement: cst.CSTNode, reading: Collection[str] = frozenset()
) -> list[str]:
    """The names whose objects a call in `statement` may change, in order of appearance;
    `reading`: functions known to change none of their arguments."""
    finder = _Finder(reading)
    statement.visit(finder)
    return finder.names


class _Changes(cst.CSTVisitor):
    """Whether a function body may change an object one of `names` reaches; `copies` are
    names bound to shallow copies of those (`d = dict(CONFIG)`): changing one itself is fine,
    changing an object inside it is not."""

    def __init__(
        self, names: set[str], reading: Collection[str], copies: Collection[str] = ()
    ) -> None:
        self.names = names
        self.reading = reading
        self.copies = copies
        self.changes = False

    def _reaches(self, expression: cst.BaseExpression) -> bool:
        """Whether changing `expression` in place changes an object `names` reach."""
        root = _root(expression)
        if root in self.names:
            return True
        return root in self.copies and not isinstance(expression, cst.Name)

    def visit_Call(self, node: cst.Call) -> None:
        finder = _Finder(self.reading)
        finder.visit_Call(node)
        if any(name in self.names for name in finder.names):
            self.changes = True
        func = node.func
        if isinstance(func, cst.Attribute) and any(n in self.copies for n in finder.names):
            receiver_only = func.attr.value in CHANGING_ONLY_RECEIVER
            if not (receiver_only and isinstance(func.value, cst.Name)):
                self.changes = True
        elif any(name in self.copies for name in finder.names):
            self.changes = True

    def _target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Subscript, cst.Attribute)) and self._reaches(target.value):
            self.changes = True
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._reaches(node.target):
            self.changes = True  # `items += [x]` extends the caller's list

    def visit_Del(self, node: cst.Del) -> None:
        self._target(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        self.changes = True

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.changes = True


def _mentions(node: cst.CSTNode, names: set[str]) -> bool:
    class _Mentions(cst.CSTVisitor):
        found = False

        def visit_Name(self, name: cst.Name) -> None:
            if name.value in names:
                self.found = True

    finder = _Mentions()
    node.visit(finder)
    return finder.found


class _Aliases(cst.CSTVisitor):
    """Names a function body binds to what its parameters reach (`q = p`, `for x in p`)."""

    def __init__(self, names: set[str], copies: set[str]) -> None:
        self.names = names
        self.copies = copies

    def _bind(self, target: cst.CSTNode, value: cst.CSTNode) -> None:
        if not _mentions(value, self.names):
            return
        if _is_copy(value) and isinstance(target, cst.Name):
            self.copies.add(target.value)
        else:
            self.names |= set(names_in(target))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target, node.iter)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, node.item)


_COPYING = frozenset(["copy.copy", "copy.deepcopy", "dict", "list", "set", "sorted", "tuple"])


def _is_copy(value: cst.CSTNode) -> bool:
    """Whether `value` is a new container (`dict(x)`, `list(x)`, `copy.copy(x)`)."""
    return isinstance(value, cst.Call) and dotted_name(value.func) in _COPYING


def _module_values(module: cst.Module) -> set[str]:
    """Names the module binds by assignment (not by `import`, `def` or `class`)."""
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                    targets = small.targets if isinstance(small, cst.Assign) else [small]
                    for target in targets:
                        names |= set(names_in(target.target))
    return names


def _plain_functions(module: cst.Module) -> dict[str, cst.FunctionDef]:
    """The module's functions that run where they are called (not steps or pipelines)."""
    return {
        s.name.value: s
        for s in module.body
        if isinstance(s, cst.FunctionDef)
        and not s.asynchronous
        and not any("PipelineDecorator" in names_in(d.decorator) for d in s.decorators)
    }


def _parameters(function: cst.FunctionDef) -> set[str]:
    params = function.params
    names = {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
    if isinstance(params.star_arg, cst.Param):
        names.add(params.star_arg.name.value)
    if params.star_kwarg is not None:
        names.add(params.star_kwarg.name.value)
    return names


def _changes(function: cst.FunctionDef, names: set[str], reading: Collection[str]) -> bool:
    """Whether `function` may change an object one of `names` (or a local alias) reaches."""
    names = set(names)
    copies: set[str] = set()
    size = -1
    while size != len(names) + len(copies):
        size = len(names) + len(copies)
        function.body.visit(_Aliases(names, copies))
    changes = _Changes(names, reading, copies - names)
    function.body.visit(changes)
    return changes.changes


def _fixpoint(
    functions: Mapping[str, cst.FunctionDef], changes: Callable[[str, set[str]], bool]
) -> set[str]:
    """The functions for which `changes(name, trusted)` is False, where `trusted` are the
    functions still believed not to change anything (a call to one is harmless)."""
    trusted = set(functions)
    changed = True
    while changed:  # a function that calls one that changes something changes it too
        changed = False
        for name in sorted(trusted):
            if changes(name, trusted - {name}):
                trusted.discard(name)
                changed = True
    return trusted


def functions_that_only_read(module: cst.Module) -> frozenset[str]:
    """Module-level functions that change none of the objects their arguments reach (nor any
    module-level value): a call to one changes nothing the controller holds."""
    functions = _plain_functions(module)
    module_values = _module_values(module)
    trusted = _fixpoint(
        functions,
        lambda name, trusted: _changes(
            functions[name], module_values | _parameters(functions[name]), trusted
        ),
    )
    return frozenset(trusted)


def functions_changing_module_values(module: cst.Module) -> dict[str, str]:
    """Module-level functions that may change a module-level value (`CONFIG["lr"] = v`,
    `global COUNT`, `Config.lr = v`, `os.environ["K"] = v`), each with the value's name (or
    the function it calls that does)."""
    functions = _plain_functions(module)
    module_values = _module_values(module)
    reading = functions_that_only_read(module)
    objects = module_objects(module)
    changed: dict[str, str] = {}

    def changes(name: str, trusted: set[str]) -> bool:
        function = functions[name]
        declared = [n.name.value for g in _globals(function) for n in g.names]
        if declared:
            changed[name] = declared[0]
            return True
        # A name the function assigns or takes as a parameter is its own, not the module's.
        own = _parameters(function) | _assigned(function)
        for value in sorted(module_values - own):
            if _changes(function, {value}, reading):
                changed[name] = value
                return True
        into = assigned_into(function.body, objects - own)
        if into:
            changed[name] = into[0][1]
            return True
        for callee in sorted(set(functions) - trusted - {name}):
            if callee in _called_names(function):
                changed[name] = changed.get(callee, callee)
                return True
        return False

    safe = _fixpoint(functions, changes)
    return {name: value for name, value in changed.items() if name not in safe}


def module_objects(module: cst.Module) -> set[str]:
    """Names the module binds by `import` or `class`: objects every script makes afresh."""
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, cst.ClassDef):
            names.add(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(
                    small.names, cst.ImportStar
                ):
                    for alias in small.names:
                        bound: cst.BaseExpression = (
                            alias.asname.name if alias.asname else alias.name
                        )
                        while isinstance(bound, cst.Attribute):  # `import os.path` binds `os`
                            bound = bound.value
                        if isinstance(bound, cst.Name):
                            names.add(bound.value)
    return names


def assigned_into(node: cst.CSTNode, names: Collection[str]) -> list[tuple[cst.CSTNode, str]]:
    """Each assignment or `del` in `node` into an attribute or item of an object one of `names`
    holds (`Config.lr = v`, `os.environ["K"] = v`), with that name."""

    class _Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[tuple[cst.CSTNode, str]] = []

        def _target(self, target: cst.BaseExpression) -> None:
            if isinstance(target, (cst.Subscript, cst.Attribute)):
                root = _root(target)
                if root is not None and root in names:
                    self.found.append((target, root))
            elif isinstance(target, (cst.Tuple, cst.List)):
                for element in target.elements:
                    self._target(element.value)

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._target(node.target)

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            self._target(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._target(node.target)

        def visit_Del(self, node: cst.Del) -> None:
            self._target(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    finder = _Finder()
    node.visit(finder)
    return finder.found


def _globals(function: cst.FunctionDef) -> list[cst.Global]:
    class _Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[cst.Global] = []

        def visit_Global(self, node: cst.Global) -> None:
            self.found.append(node)

    finder = _Finder()
    function.body.visit(finder)
    return finder.found


def _assigned(function: cst.FunctionDef) -> set[str]:
    """Names the function binds to whole new values (`x = ...`): local to it."""

    class _Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: set[str] = set()

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Name):
                self.found.add(node.target.value)

    finder = _Finder()
    function.body.visit(finder)
    return finder.found


def _called_names(function: cst.FunctionDef) -> set[str]:
    class _Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: set[str] = set()

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name):
                self.found.add(node.func.value)

    finder = _Finder()
    function.body.visit(finder)
    return finder.found


def changed_places(
    small: cst.BaseSmallStatement,
) -> tuple[list[cst.BaseExpression], list[cst.BaseExpression]]:
    """What a statement may change: its assignment targets (`x[k] = v`, `x.a += v`, `del x[k]`),
    and the objects a method that changes only its receiver is called on (`x.append(v)`)."""
    if isinstance(small, cst.Assign):
        return [t.target for t in small.targets], []
    if isinstance(small, (cst.AugAssign, cst.AnnAssign, cst.Del)):
        return [small.target], []
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        func = small.value.func
        if isinstance(func, cst.Attribute) and func.attr.value in CHANGING_ONLY_RECEIVER:
            return [], [func.value]
    return [], []
