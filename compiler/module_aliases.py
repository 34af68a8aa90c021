"""Controller names that stand for an object a module keeps (`env = os.environ`, `p = sys.path`,
`r = random`), and changes made in place to such objects through a method
(`os.environ.update(...)`, `sys.path.append(...)`, `env.pop(k)`).

Each script of a build imports its modules afresh, so a change to an object a module keeps lasts
only as long as the block of controller code that made it: the checks that refuse
`os.environ["K"] = v` (PC613) and `random.seed(1)` read by a later block (PC698) must see the
same change made through another name, or through a method, too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler.call_effects import CHANGING_ONLY_RECEIVER, assigned_into, module_objects
from pipec.compiler.import_kinds import holds_module, mutable_module_value

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = [
    "alias_import",
    "aliases",
    "changed_by_method",
    "changed_through_alias",
    "qualified_through_aliases",
]


def aliases(t: Context) -> dict[str, str]:
    """Controller name -> the dotted name of the module's object it stands for, for each name
    the controller binds only to such objects, and always to the same one."""
    if t.module_aliases is None:
        t.module_aliases = _find_aliases(t)
    return t.module_aliases


def _find_aliases(t: Context) -> dict[str, str]:
    scope = t.controller_scope
    if scope is None:
        return {}
    owners = _module_owners(t)
    targets: dict[str, set[str]] = {}
    counts: dict[str, int] = {}

    class _Assignments(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            reached = _reference(t, node.value, owners)
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    name = target.target.value
                    counts[name] = counts.get(name, 0) + 1
                    targets.setdefault(name, set()).add(reached or "")

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    t.controller.function.body.visit(_Assignments())
    found: dict[str, str] = {}
    for name, reached in targets.items():
        # Bound in no other way (`for`, `with`, `+=`, ...) and never to anything else.
        if len(reached) == 1 and "" not in reached and counts[name] == len(scope.assignments[name]):
            found[name] = next(iter(reached))
    return found


def _module_owners(t: Context) -> set[str]:
    """Names bound at module level by `import` or `class`: what each script makes afresh."""
    return module_objects(t.source.module)


def _reference(t: Context, value: cst.BaseExpression, owners: set[str]) -> str | None:
    """The dotted name `value` reads if it is a module-level import or class, or something
    reached from one by attributes (`os.environ`, `random`, `environ`), else None."""
    parts: list[str] = []
    current = value
    while isinstance(current, cst.Attribute):
        parts.append(current.attr.value)
        current = current.value
    if not isinstance(current, cst.Name) or current.value not in owners:
        return None
    qualified = sorted(q for q in t.source.qualified_names(current) if "<locals>" not in q)
    root = qualified[0] if len(qualified) == 1 else current.value
    return ".".join([root, *reversed(parts)])


def qualified_through_aliases(t: Context, expr: cst.BaseExpression) -> set[str]:
    """The dotted names `expr` reads when a controller alias stands for the module's object
    at its root (`r.seed` for `r = random` is `random.seed`)."""
    parts: list[str] = []
    current = expr
    while isinstance(current, cst.Attribute):
        parts.append(current.attr.value)
        current = current.value
    if not isinstance(current, cst.Name):
        return set()
    reached = aliases(t).get(current.value)
    if reached is None:
        return set()
    return {".".join([reached, *reversed(parts)])}


def changed_by_method(t: Context, statement: cst.CSTNode) -> Iterator[tuple[cst.Call, str, str]]:
    """Each call in `statement` that changes in place an object a module keeps
    (`os.environ.update(...)`, `sys.path.append(p)`, `env.pop(k)` for `env = os.environ`),
    with the code of the object changed and what the module calls it."""
    owners = _module_owners(t) | set(t.imports)
    known = aliases(t)

    class _Calls(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[tuple[cst.Call, str, str]] = []

        def visit_Call(self, node: cst.Call) -> None:
            func = node.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in CHANGING_ONLY_RECEIVER:
                return
            receiver = func.value
            if isinstance(receiver, cst.Name) and receiver.value in known:
                self.found.append((node, receiver.value, known[receiver.value]))
                return
            if isinstance(receiver, cst.Name) and receiver.value in t.frame.env:
                return  # the controller's own value
            reached = _reference(t, receiver, owners)
            if reached is None:
                return
            if isinstance(receiver, cst.Name) and holds_module(t, receiver.value):
                return  # `os.remove(path)`: a function of the module, not a change of it
            if "." in reached and t.modules is not None and t.modules.is_module(reached):
                return
            if mutable_module_value(t, t.source.code(receiver).strip()):
                return  # a local module's list: refused as one (PC606)
            root = receiver
            while isinstance(root, cst.Attribute):
                root = root.value
            assert isinstance(root, cst.Name)  # _reference found one
            self.found.append((node, t.source.code(receiver).strip(), root.value))

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

    finder = _Calls()
    statement.visit(finder)
    yield from finder.found


def changed_through_alias(t: Context, statement: cst.CSTNode) -> list[tuple[cst.CSTNode, str]]:
    """Each assignment or `del` in `statement` into an alias of a module's object
    (`env["K"] = v` for `env = os.environ`), with what the module calls that object."""
    known = aliases(t)
    return [(target, known[name]) for target, name in assigned_into(statement, known)]


def alias_import(t: Context, name: str) -> cst.SimpleStatementLine | None:
    """The import that binds `name` as its alias assignment does (`from os import environ as
    env` for `env = os.environ`), when one can: a module or a module's attribute."""
    reached = aliases(t).get(name)
    if reached is None:
        return None
    root = reached.partition(".")[0]
    imported = [a for a in t.source.global_scope.assignments if a.name == root or a.name == reached]
    if not imported or not all(
        isinstance(getattr(a, "node", None), (cst.Import, cst.ImportFrom)) for a in imported
    ):
        return None
    parent, _, attribute = reached.rpartition(".")
    if parent.count(".") > 0 and not (t.modules is not None and t.modules.is_module(parent)):
        return None  # `a.b.c` with `a.b` no module: nothing to import it from
    code = (
        f"from {parent} import {attribute} as {name}" if parent else f"import {reached} as {name}"
    )
    statement = cst.parse_statement(code + "\n")
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement
