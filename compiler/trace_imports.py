"""Tracing `import` inside the controller: the names it binds are imported again by each glue
script that reads them, since a module cannot travel between processes as a value."""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.syntax import import_bound_name
from pipec.compiler.trace_state import REPORTED, Context, Unavailable

__all__ = ["controller_import", "hoisted_import"]


def controller_import(t: Context, small: cst.Import | cst.ImportFrom) -> None:
    if isinstance(small.names, cst.ImportStar):
        return  # `import *` in a function is a syntax error, which Python reports first
    if isinstance(small, cst.ImportFrom) and small.relative:
        # A relative import has no package to be relative to once the controller is split
        # into scripts.
        t.reporter.report(rules.IMPORT_IN_CONTROLLER, t.location(small))
        for alias in small.names:
            t.frame.env[import_bound_name(alias)] = REPORTED  # later uses stay quiet
        return
    for alias in small.names:
        alone = alias.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        line = cst.SimpleStatementLine(
            [small.with_changes(names=[alone], semicolon=cst.MaybeSentinel.DEFAULT)]
        )
        bound = import_bound_name(alias)
        t.imports[bound] = line
        marker = _marker(bound)
        t.frame.env[bound] = marker
        t.import_markers[bound] = marker


def hoisted_import(t: Context, name: str) -> cst.SimpleStatementLine | None:
    """The import line to run before glue that reads `name`, when `name` still holds what a
    controller `import` bound."""
    line = t.imports.get(name)
    if line is None or t.frame.env.get(name) != _marker(name):
        return None
    return line


def _marker(name: str) -> Unavailable:
    return Unavailable(rules.IMPORTED_NAME_PASSED_ON, {"name": name})
