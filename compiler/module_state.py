"""Calls in controller code that set state a module keeps in its process (`random.seed(1)`,
`np.random.seed(0)`, `os.chdir(d)`), read again by a later block of controller code.

A module is imported afresh by every script of a build, so a later block of controller code
(its own process) starts from the module's initial state: `random.seed(1)`, a step call, then
`random.random()` gives another number than Python does. Within one block the call and its
readers run together and the answer is Python's; across blocks the build refuses, naming both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.module_aliases import qualified_through_aliases
from pipec.compiler.syntax import quoted_code

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["check_module_state", "check_step_state"]

# Functions whose effect is state their module keeps for the rest of the process -> the part of
# the package whose later use may depend on it.
_STATE_SETTERS = {
    "logging.basicConfig": "logging",
    "numpy.random.seed": "numpy.random",
    "numpy.set_printoptions": "numpy",
    "os.chdir": "os",
    "os.putenv": "os",
    "os.umask": "os",
    "pandas.set_option": "pandas",
    "random.seed": "random",
    "random.setstate": "random",
    "sys.setrecursionlimit": "sys",
    "tensorflow.random.set_seed": "tensorflow",
    "torch.cuda.manual_seed": "torch",
    "torch.cuda.manual_seed_all": "torch",
    "torch.manual_seed": "torch",
    "torch.set_default_dtype": "torch",
    "torch.use_deterministic_algorithms": "torch",
    "warnings.filterwarnings": "warnings",
    "warnings.simplefilter": "warnings",
    "decimal.setcontext": "decimal",
    "locale.setlocale": "locale",
    "matplotlib.rc": "matplotlib",
    "matplotlib.use": "matplotlib",
    "numpy.random.set_state": "numpy.random",
    "numpy.seterr": "numpy",
    "socket.setdefaulttimeout": "socket",
    "torch.set_num_threads": "torch",
    "torch.set_printoptions": "torch",
}
# Modules that draw numbers from one generator they keep, so that every draw changes what the
# next one gives -> their functions that make no draw from it.
_STREAMS = {
    "random": frozenset({"Random", "SystemRandom", "seed", "getstate", "setstate"}),
    "numpy.random": frozenset(
        {
            "BitGenerator",
            "Generator",
            "MT19937",
            "PCG64",
            "PCG64DXSM",
            "Philox",
            "RandomState",
            "SFC64",
            "SeedSequence",
            "default_rng",
            "get_state",
            "seed",
            "set_state",
        }
    ),
}
# Modules any call of which may draw on or configure state the process keeps: pyplot's current
# figure and axes (`plt.figure()`, `plt.plot(xs)`, `sns.histplot(df)` draw on them, `plt.savefig`
# writes them) -> the part of the package that state belongs to.
_IMPLICIT_STATE = {
    "matplotlib.pyplot": "matplotlib.pyplot",
    "pylab": "matplotlib.pyplot",
    "seaborn": "matplotlib.pyplot",
}


def check_module_state(t: Context, node: str, originals: Sequence[cst.CSTNode]) -> None:
    """Record the state-setting calls of glue node `node` (made of `originals`), and refuse its
    reads of what an earlier node set state in (`random.random()`, `np.random.rand()`, or
    `choice(...)` after `from random import choice`)."""
    reads = _Reads()
    for original in originals:
        original.visit(reads)
    draws = []
    for read, part, text, line, stream in _state_reads(t, node, reads, _imported, set()):
        if part is None:
            draws.append((stream, read))
            continue
        t.reporter.report(
            rules.MODULE_STATE_ACROSS_BLOCKS,
            t.location(read),
            module=part,
            read=t.source.code(read).strip(),
            call=text,
            line=line,
        )
    for call in reads.calls:
        called = t.source.qualified_names(call.func) | qualified_through_aliases(t, call.func)
        parts = {_STATE_SETTERS[setter] for setter in called & _STATE_SETTERS.keys()}
        parts |= {state for qualified in called if (state := _implicit_part(qualified))}
        for part in sorted(parts):
            short = quoted_code(t.source.code(call), limit=50)
            t.module_state[part] = (node, short, t.location(call).line)
    # A draw from a seeded generator (`random.random()` after `random.seed(3)`) changes what
    # the next draw gives, in whichever node it is.
    for stream, read in draws:
        short = quoted_code(t.source.code(read), limit=50)
        t.module_state[stream] = (node, short, t.location(read).line)


def check_step_state(t: Context, node: str, function_name: str, call: cst.Call) -> None:
    """Refuse step node `node` (a call of `function_name` at `call`) reading process state an
    earlier node changed, and record the state it changes itself for the nodes after it.

    A step script starts from what the file's module-level code leaves, as every script does:
    `random.seed(3)` at module level, then one step that draws, is Python's answer. A seed set in
    controller code or in another step, and the draws another step or block made from a seeded
    generator, are not there: in Python the step goes on from them.
    """
    functions = _functions_called(t.source.module, function_name)
    if not functions:
        return
    reads = _Reads()
    for function in functions:
        function.visit(reads)
    changes = _StateChanges(t)
    for function in functions:
        function.visit(changes)
    own = {_STATE_SETTERS[q] for c in reads.calls for q in _called(t, c) & _STATE_SETTERS.keys()}
    own |= {part for part, _ in changes.found}
    draws = []
    for read, part, text, line, stream in _state_reads(t, node, reads, _step_imported, own):
        if part is None:
            draws.append((stream, read))
            continue
        t.reporter.report(
            rules.STEP_READS_PROCESS_STATE,
            t.source.location(read),
            module=part,
            read=quoted_code(t.source.code(read), limit=50),
            call=text,
            line=line,
            step=function_name,
            called=t.location(call).line,
        )
    if t.frame.map is not None:
        for stream, read in draws:
            if stream not in own:
                t.reporter.report(
                    rules.STEP_DRAWS_IN_RUNTIME_LOOP,
                    t.source.location(read),
                    module=stream,
                    read=quoted_code(t.source.code(read), limit=50),
                    step=function_name,
                    called=t.location(call).line,
                )
                break
    # What this step leaves changed, for the nodes after it.
    for found in reads.calls:
        for part in sorted({_STATE_SETTERS[q] for q in _called(t, found) & _STATE_SETTERS.keys()}):
            short = quoted_code(t.source.code(found), limit=50)
            t.module_state[part] = (node, short, t.source.location(found).line)
    for part, where in changes.found:
        short = quoted_code(t.source.code(where), limit=50)
        t.module_state[part] = (node, short, t.source.location(where).line)
    for stream, read in draws:
        short = quoted_code(t.source.code(read), limit=50)
        t.module_state[stream] = (node, short, t.source.location(read).line)


def _state_reads(
    t: Context,
    node: str,
    reads: _Reads,
    imported: Callable[[Context, cst.BaseExpression], set[str]],
    own: set[str],
) -> Iterator[tuple[cst.BaseExpression, str | None, str, int, str]]:
    """For each read of node `node` of state an earlier node changed (not one of the `own`
    parts, which the node sets itself): (the read, the part, the change's text and line, "").
    Each change is told once and then forgotten. A draw from a generator seeded at import or
    by an earlier node comes as (the read, None, "", 0, the generator's module)."""
    seeded = _set_at_import(t) | t.module_state.keys()
    for read in reads.found:
        for name in sorted(imported(t, read)):
            qualified = _state_read(name)
            stream = _drawn_stream(name)
            if stream is not None and stream in seeded:
                yield read, None, "", 0, stream
            for part, (setter_node, text, line) in list(t.module_state.items()):
                inside = qualified == part or qualified.startswith(part + ".")
                if setter_node == node or part in own:
                    continue
                if not (inside or part.startswith(qualified + ".")):
                    continue
                del t.module_state[part]  # one error per change
                yield read, part, text, line, ""


def _functions_called(module: cst.Module, name: str) -> list[cst.FunctionDef]:
    """The module-level function `name` and the module-level functions it calls, transitively
    (by plain name: `helper(x)`)."""
    functions = {s.name.value: s for s in module.body if isinstance(s, cst.FunctionDef)}
    found: dict[str, cst.FunctionDef] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        function = functions.get(current)
        if function is None or current in found:
            continue
        found[current] = function
        calls = _Reads()
        function.body.visit(calls)
        pending.extend(c.func.value for c in calls.calls if isinstance(c.func, cst.Name))
    return list(found.values())


def _called(t: Context, call: cst.Call) -> set[str]:
    return set(t.source.qualified_names(call.func))


def _step_imported(t: Context, read: cst.BaseExpression) -> set[str]:
    """What an imported name or dotted name read in a step's code is; a step has no names for
    modules of the controller's (`r = random`)."""
    return {
        qualified
        for qualified in t.source.qualified_names(read)
        if "<locals>" not in qualified and not qualified.startswith("builtins.")
    }


def _state_read(qualified: str) -> str:
    """The state a read of `qualified` depends on: `os.getenv` reads `os.environ`."""
    if qualified in ("os.getenv", "os.getenvb", "os.environb"):
        return "os.environ"
    return _implicit_part(qualified) or qualified


def _drawn_stream(qualified: str) -> str | None:
    """The module whose generator a call of `qualified` draws from (`random.randint` ->
    `random`); None for functions that make no draw (`random.Random`, `np.random.default_rng`)."""
    module, _, function = qualified.rpartition(".")
    not_draws = _STREAMS.get(module)
    if not_draws is None or function in not_draws or function.startswith("_"):
        return None
    return module


def _set_at_import(t: Context) -> set[str]:
    """The parts of modules whose state the file's module-level code sets (`random.seed(3)`)."""
    if t.state_set_at_import is None:
        finder = _Reads()
        for statement in t.source.module.body:
            if not isinstance(statement, cst.FunctionDef | cst.ClassDef):
                statement.visit(finder)
        t.state_set_at_import = frozenset(
            _STATE_SETTERS[q] for c in finder.calls for q in _called(t, c) & _STATE_SETTERS.keys()
        )
    return set(t.state_set_at_import)


class _StateChanges(cst.CSTVisitor):
    """Changes to `os.environ` (`os.environ[k] = v`, `del os.environ[k]`, `.update(...)`)."""

    _METHODS = ("update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__")

    def __init__(self, t: Context) -> None:
        self.t = t
        self.found: list[tuple[str, cst.CSTNode]] = []

    def _environ(self, node: cst.BaseExpression) -> bool:
        return "os.environ" in self.t.source.qualified_names(node)

    def _subscripted(self, target: cst.BaseExpression) -> bool:
        return isinstance(target, cst.Subscript) and self._environ(target.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(self._subscripted(target.target) for target in node.targets):
            self.found.append(("os.environ", node))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._subscripted(node.target):
            self.found.append(("os.environ", node))

    def visit_Del(self, node: cst.Del) -> None:
        if self._subscripted(node.target):
            self.found.append(("os.environ", node))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in self._METHODS:
            if self._environ(func.value):
                self.found.append(("os.environ", node))
        elif {"os.putenv", "os.unsetenv"} & self.t.source.qualified_names(func):
            self.found.append(("os.environ", node))


def _implicit_part(qualified: str) -> str | None:
    """The state a name of a module in `_IMPLICIT_STATE` belongs to (`seaborn.histplot` ->
    `matplotlib.pyplot`); None for other names."""
    for module, part in _IMPLICIT_STATE.items():
        if qualified == module or qualified.startswith(module + "."):
            return part
    return None


def _imported(t: Context, read: cst.BaseExpression) -> set[str]:
    """What an imported name or dotted name read here is (`numpy.random.rand` for
    `np.random.rand`, `random.random` for `r.random` after `r = random`); nothing for the
    controller's other names."""
    return _step_imported(t, read) | qualified_through_aliases(t, read)


class _Reads(cst.CSTVisitor):
    """The names and dotted names code reads (`np.random.rand` whole, not `np` in it), and the
    calls it makes."""

    def __init__(self) -> None:
        self.found: list[cst.BaseExpression] = []
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        base: cst.BaseExpression = node
        while isinstance(base, cst.Attribute):
            base = base.value
        if isinstance(base, cst.Name):
            self.found.append(node)
            return False
        return True  # `f().x`: read what is inside

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(node)
