"""Tracing `import` inside the controller: the names it binds are imported again by each glue
script that reads them, since a module cannot travel between processes as a value."""

from __future__ import annotations

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.module_aliases import alias_import
from pipec.compiler.syntax import import_bound_name
from pipec.compiler.trace_state import REPORTED, Context, Unavailable

__all__ = ["alias_assignment", "controller_import", "hoisted_import"]


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


def alias_assignment(t: Context, small: cst.Assign) -> bool:
    """`env = os.environ` binds a module's object, as `from os import environ as env` would:
    each block of controller code that reads `env` binds it so again (the object cannot be
    handed from one process to the next). True if `small` was traced so."""
    if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
        return False
    if t.frame.guards or t.frame.map is not None:
        return False  # bound only on some paths: glue binds it where Python would
    name = small.targets[0].target.value
    line = alias_import(t, name)
    if line is None:
        return False
    t.imports[name] = line
    marker = _marker(name)
    t.frame.env[name] = marker
    t.import_markers[name] = marker
    return True


def hoisted_import(t: Context, name: str) -> cst.SimpleStatementLine | None:
    """The import line to run before glue that reads `name`, when `name` still holds what a
    controller `import` bound."""
    line = t.imports.get(name)
    if line is None or t.frame.env.get(name) != _marker(name):
        return None
    return line


def _marker(name: str) -> Unavailable:
    return Unavailable(rules.IMPORTED_NAME_PASSED_ON, {"name": name})
