"""Why a pipeline parameter's default cannot be known when the file is built.

`str(PROJECT_ROOT / "runs")` looks like a constant, but `PROJECT_ROOT = Path(__file__).parent`
depends on where the file sits when Python runs it; `int(os.getenv("N", "3"))` on the
environment of the process. ClearML records the value the launching process computed; pipec
builds without running the file, so it names what the default depends on, through the
module-level names it reads.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler.source import SourceModule

__all__ = ["why_default_unknown"]

_ENVIRONMENT = frozenset({"os.getenv", "os.environ", "os.environ.get"})


def why_default_unknown(source: SourceModule, default: cst.BaseExpression) -> str:
    """ ": it is built from `__file__`..." (to follow the rule's message), or "" when unsure."""
    body = source.module.body
    bindings = source.global_bindings()
    pending: list[cst.CSTNode] = [default]
    seen: set[int] = set()
    while pending:
        node = pending.pop()
        finder = _Finder(source)
        node.visit(finder)
        if finder.file:
            return (
                ": it is built from `__file__` through an operation pipec does not fold (it folds "
                "path arithmetic: `Path(__file__).parent / 'x'`, `os.path.join(...)`, `str(...)`)"
            )
        if finder.environment:
            return ": it reads an environment variable, which only the running process knows"
        for name in finder.names:
            for index in bindings.get(name, []):
                if index not in seen:
                    seen.add(index)
                    pending.append(body[index])
    return ""


class _Finder(cst.CSTVisitor):
    def __init__(self, source: SourceModule) -> None:
        self._source = source
        self.file = False
        self.environment = False
        self.names: list[str] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__file__":
            self.file = True
        else:
            self.names.append(node.value)
        if self._source.qualified_names(node) & _ENVIRONMENT:
            self.environment = True

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._source.qualified_names(node) & _ENVIRONMENT:
            self.environment = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a function's body runs when it is called, not when the name is bound
