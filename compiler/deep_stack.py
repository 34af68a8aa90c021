"""Run a build on a deep stack, so that pipec compiles every expression Python itself compiles.

libcst and pipec's passes walk syntax trees recursively: a 600-term sum is a tree 600 levels
deep. Rather than each walk counting levels, the whole build runs in a thread with a large
stack and a recursion limit to match; the file is first checked to compile with Python's own
default limits, so what is refused is exactly what Python refuses.
"""

from __future__ import annotations

import ast
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from pipec.compiler import rules
from pipec.compiler.diagnostics import UserError
from pipec.manifest import Location

__all__ = ["call_on_deep_stack", "check_python_compiles"]

_T = TypeVar("_T")

_STACK_BYTES = 1 << 30  # address space only: pages are touched as the stack grows
_RECURSION_LIMIT = 200_000
_PYTHON_DEFAULT_LIMIT = 1000  # the limit a plain `python pipeline.py` compiles under


def call_on_deep_stack(function: Callable[[], _T], path: str) -> _T:
    """`function()`, run in a thread with a deep stack; a RecursionError becomes a refusal."""
    results: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(function())
        except RecursionError:
            errors.append(UserError([rules.TOO_DEEP.at(Location(path, 1, 1), line=1)]))
        except BaseException as error:  # handed to the caller's thread as it is
            errors.append(error)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    try:
        threading.stack_size(_STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
        worker = threading.Thread(target=run, name="pipec-build")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if errors:
        raise errors[0]
    return results[0]


def check_python_compiles(text: str, tree: ast.Module, path: str) -> None:
    """Refuse, at the deepest line, a file Python's compiler rejects as nested too deeply."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_PYTHON_DEFAULT_LIMIT)
    try:
        compile(text, path, "exec", dont_inherit=True)
    except RecursionError:
        line = _deepest_line(tree)
        raise UserError([rules.TOO_DEEP.at(Location(path, line, 1), line=line)]) from None
    except SyntaxError as exc:  # `return` outside a function, ...: Python refuses to run it
        location = Location(path, exc.lineno or 1, exc.offset or 1)
        message = exc.msg or "invalid syntax"
        raise UserError([rules.SYNTAX_ERROR.at(location, message=message)]) from None
    finally:
        sys.setrecursionlimit(limit)


def _deepest_line(tree: ast.Module) -> int:
    best_depth, best_line = 0, 1
    pending: list[tuple[ast.AST, int, int]] = [(tree, 0, 1)]
    while pending:
        node, depth, line = pending.pop()
        line = getattr(node, "lineno", line)
        if depth > best_depth:
            best_depth, best_line = depth, line
        pending.extend((child, depth + 1, line) for child in ast.iter_child_nodes(node))
    return best_line
