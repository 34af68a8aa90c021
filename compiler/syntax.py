"""Small syntax-tree questions the tracer asks about controller code."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst
from libcst.metadata import CodeRange

__all__ = [
    "COMPREHENSIONS",
    "PURE_BUILTINS",
    "ExitFinder",
    "ImpureCallFinder",
    "RunsWithStatement",
    "Replacer",
    "UnitFinder",
    "contains",
    "first_name",
    "import_bound_name",
    "names_in",
    "getattr_names",
    "is_docstring",
    "leading_comments",
    "mutated_names",
    "names_of",
    "target_names",
    "within",
]

# Builtins that neither print nor mutate: glue that calls only these has no side effects to order.
PURE_BUILTINS = frozenset(
    [
        "abs",
        "all",
        "any",
        "bool",
        "bytes",
        "chr",
        "dict",
        "divmod",
        "enumerate",
        "filter",
        "float",
        "format",
        "frozenset",
        "hash",
        "hex",
        "int",
        "isinstance",
        "issubclass",
        "iter",
        "len",
        "list",
        "map",
        "max",
        "min",
        "next",
        "oct",
        "ord",
        "pow",
        "range",
        "repr",
        "reversed",
        "round",
        "set",
        "slice",
        "sorted",
        "str",
        "sum",
        "tuple",
        "type",
        "zip",
    ]
)
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


class UnitFinder(cst.CSTVisitor):
    """Outermost step calls in a piece of code — and comprehensions or conditional expressions
    that contain step calls, which are traced as a whole — in source order."""

    def __init__(self, is_step: Callable[[cst.Call], bool]) -> None:
        self.is_step = is_step
        self.units: list[cst.BaseExpression] = []

    def _contains_step(self, node: cst.CSTNode) -> bool:
        inner = UnitFinder(self.is_step)
        for child in node.children:
            child.visit(inner)
        return bool(inner.units)

    def visit_Call(self, node: cst.Call) -> bool:
        if self.is_step(node):
            self.units.append(node)
            return False
        return True

    def _visit_whole(self, node: cst.BaseExpression) -> bool:
        # Never descend after the check: it has looked at everything inside, and looking again
        # at each level of nested conditional expressions would double the work per level.
        if self._contains_step(node):
            self.units.append(node)
        return False

    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return self._visit_whole(node)

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return self._visit_whole(node)

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return self._visit_whole(node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return self._visit_whole(node)

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        return self._visit_whole(node)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        # A step on the right runs only when the left side lets Python reach it: the whole
        # operation is traced as a decision. Steps on the left alone are ordinary units.
        inner = UnitFinder(self.is_step)
        node.right.visit(inner)
        if inner.units:
            self.units.append(node)
        else:  # the right side holds no unit: only the left one is left to search
            node.left.visit(self)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class RunsWithStatement(cst.CSTVisitor):
    """Visits the code a module-level statement runs when it runs, leaving out the bodies of
    the functions and lambdas it defines (they run when called, if ever) and of its classes
    (a class body does run at once; these checks leave it out, a known gap)."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class ExitFinder(cst.CSTVisitor):
    """`return`, and `break`/`continue` that leave the statement, inside a compound statement."""

    def __init__(self) -> None:
        self.found = False
        self._loops = 0

    def visit_Return(self, node: cst.Return) -> None:
        self.found = True

    def visit_For(self, node: cst.For) -> None:
        self._loops += 1

    def leave_For(self, original_node: cst.For) -> None:
        self._loops -= 1

    def visit_While(self, node: cst.While) -> None:
        self._loops += 1

    def leave_While(self, original_node: cst.While) -> None:
        self._loops -= 1

    def visit_Break(self, node: cst.Break) -> None:
        self.found = self.found or self._loops == 0

    def visit_Continue(self, node: cst.Continue) -> None:
        self.found = self.found or self._loops == 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


class Replacer(cst.CSTTransformer):
    """Replaces given expression nodes (by identity) with names."""

    def __init__(self, replacements: Mapping[cst.CSTNode, str]) -> None:
        self.replacements = replacements

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode:
        name = self.replacements.get(original_node)
        if name is not None:
            return cst.Name(name)
        if isinstance(original_node, cst.FormattedString) and isinstance(
            updated_node, cst.FormattedString
        ):
            return _spell_out_equals(original_node, updated_node)
        return updated_node


def _spell_out_equals(
    original: cst.FormattedString, updated: cst.FormattedString
) -> cst.FormattedString:
    """`f"{step(x)=}"` prints the expression's own text: keep that text where a part of the
    expression was replaced with a name, as plain text before the value."""
    raw = "r" in updated.prefix.lower()
    parts: list[cst.BaseFormattedStringContent] = []
    for before, after in zip(original.parts, updated.parts, strict=True):
        if (
            not isinstance(before, cst.FormattedStringExpression)
            or not isinstance(after, cst.FormattedStringExpression)
            or not isinstance(before.equal, cst.AssignEqual)
            or before.expression.deep_equals(after.expression)
        ):
            parts.append(after)
            continue
        code = cst.Module([]).code_for_node
        text = "".join(
            [
                code(before.whitespace_before_expression),
                code(before.expression),
                code(before.whitespace_after_expression),
                code(before.equal),
            ]
        )
        text = text.replace("{", "{{").replace("}", "}}")
        if not raw:
            quote = updated.end[0]
            text = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
        # Python formats the value with repr() unless a conversion or a format spec is given.
        conversion = before.conversion or (None if before.format_spec else "r")
        parts.append(cst.FormattedStringText(text))
        parts.append(
            after.with_changes(
                equal=None,
                conversion=conversion,
            )
        )
    return updated.with_changes(parts=parts)


class ImpureCallFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.impure = False
        self.prints = False

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "print":
            self.prints = True
        if not (isinstance(node.func, cst.Name) and node.func.value in PURE_BUILTINS):
            self.impure = True


def contains(node: cst.CSTNode, kind: type) -> bool:
    found = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, child: cst.CSTNode) -> bool:
            if isinstance(child, kind):
                found.append(child)
            return not found

    node.visit(Finder())
    return bool(found)


def getattr_names(node: cst.CSTNode) -> list[str]:
    """The string-literal names looked up with `getattr(obj, "name")` inside `node`."""
    names: list[str] = []

    class Finder(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if (
                isinstance(call.func, cst.Name)
                and call.func.value == "getattr"
                and len(call.args) >= 2
                and isinstance(call.args[1].value, cst.SimpleString)
            ):
                value = call.args[1].value.evaluated_value
                if isinstance(value, str):
                    names.append(value)

    node.visit(Finder())
    return names


def leading_comments(
    small: cst.BaseSmallStatement, line: cst.SimpleStatementLine
) -> tuple[cst.EmptyLine, ...]:
    """The comment lines above a statement, kept when it is the first on its line."""
    return tuple(line.leading_lines) if line.body and line.body[0] is small else ()


def is_docstring(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def target_names(target: cst.BaseExpression) -> str | list[str] | None:
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


def first_name(target: cst.BaseExpression) -> str:
    names = target_names(target)
    if isinstance(names, list):
        return names[0] if names else "value"
    return names or "value"


def names_of(target: cst.BaseExpression) -> list[str]:
    names = target_names(target)
    return [names] if isinstance(names, str) else list(names or [])


def within(inner: CodeRange, outer: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        inner.end.line,
        inner.end.column,
    ) <= (outer.end.line, outer.end.column)


def mutated_names(statement: cst.CSTNode) -> list[str]:
    """Names a simple statement changes in place: `x.append(...)`, `x[k] = v`, `x.attr += v`.

    Glue that mutates a controller variable must write it out again, as plain Python's
    later lines see the change.
    """
    if not isinstance(statement, cst.SimpleStatementLine):
        return []
    names: list[str] = []
    for small in statement.body:
        targets: list[cst.BaseExpression] = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            targets = [small.target]
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if isinstance(func, cst.Attribute):
                targets = [func.value]
        elif isinstance(small, cst.Del):
            targets = (
                [e.value for e in small.target.elements]
                if isinstance(small.target, (cst.Tuple, cst.List))
                else [small.target]
            )
        for target in targets:
            base = target
            while isinstance(base, (cst.Subscript, cst.Attribute)):
                base = base.value
            changed_in_place = isinstance(small, cst.Expr) or base is not target
            if isinstance(base, cst.Name) and changed_in_place and base.value not in names:
                names.append(base.value)
    return names


def import_bound_name(alias: cst.ImportAlias) -> str:
    """The name an import alias binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    if alias.asname is not None:
        return cst.ensure_type(alias.asname.name, cst.Name).value
    name: cst.BaseExpression = alias.name
    while isinstance(name, cst.Attribute):
        name = name.value
    return cst.ensure_type(name, cst.Name).value


def names_in(node: cst.CSTNode) -> list[str]:
    """Every `Name` under `node`, in source order: variables, but also attribute and keyword
    names (`a.b` gives `a` and `b`)."""

    class _All(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[str] = []

        def visit_Name(self, name: cst.Name) -> None:
            self.found.append(name.value)

    finder = _All()
    node.visit(finder)
    return finder.found


def quoted_code(code: str, limit: int = 60) -> str:
    """Source code on one line, cut to a length a message can quote."""
    flat = " ".join(code.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
