"""Calls in controller code that set state a module keeps in its process (`random.seed(1)`,
`np.random.seed(0)`, `os.chdir(d)`), read again by a later block of controller code.

A module is imported afresh by every script of a build, so a later block of controller code
(its own process) starts from the module's initial state: `random.seed(1)`, a step call, then
`random.random()` gives another number than Python does. Within one block the call and its
readers run together and the answer is Python's; across blocks the build refuses, naming both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import libcst as cst

from pipec.compiler import rules
from pipec.compiler.module_aliases import qualified_through_aliases
from pipec.compiler.syntax import quoted_code

if TYPE_CHECKING:
    from pipec.compiler.trace_state import Context

__all__ = ["check_module_state"]

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
    for read in reads.found:
        for name in sorted(_imported(t, read)):
            qualified = _implicit_part(name) or name
            for part, (setter_node, text, line) in list(t.module_state.items()):
                inside = qualified == part or qualified.startswith(part + ".")
                if setter_node == node or not (inside or part.startswith(qualified + ".")):
                    continue
                del t.module_state[part]  # one error per setting call
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
    return {
        qualified
        for qualified in t.source.qualified_names(read)
        if "<locals>" not in qualified and not qualified.startswith("builtins.")
    } | qualified_through_aliases(t, read)


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
