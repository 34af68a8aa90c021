"""Names a script reads that Python binds only once the pipeline has run.

`python pipeline.py` calls the pipeline inside the `if __name__ == "__main__":` block, so a name
that only code after that block binds, or only a line of the block after the pipeline call, is
not defined yet while the steps and the controller run: Python stops with NameError, and so
does the compiled script, which carries no such line. The build goes on, as the same answer as
Python, but says so at each line that reads the name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from libcst.metadata import CodeRange

from pipec.compiler import rules
from pipec.compiler.diagnostics import Location, Reporter
from pipec.compiler.source import SourceModule

__all__ = ["LateBinding", "names_bound_after_main", "report_late_reads"]

_AFTER_BLOCK = "after the `__main__` block"
_AFTER_CALL = "in the `__main__` block after the pipeline call"


@dataclass(frozen=True)
class LateBinding:
    """Where Python first binds a name, later than the pipeline runs."""

    location: Location
    in_main_block: bool  # a line of the block after the pipeline call, not code after the block

    @property
    def where(self) -> str:
        return _AFTER_CALL if self.in_main_block else _AFTER_BLOCK

    @property
    def move_above(self) -> str:
        return "the pipeline call" if self.in_main_block else '`if __name__ == "__main__":`'


def names_bound_after_main(source: SourceModule, main_index: int | None) -> frozenset[str]:
    """Module-level names that only statements after the `__main__` block bind."""
    if main_index is None:
        return frozenset()
    return frozenset(
        name
        for name, indices in source.global_bindings().items()
        if indices and all(index > main_index for index in indices)
    )


def report_late_reads(
    source: SourceModule,
    late: Mapping[str, LateBinding],
    readers: Iterable[CodeRange],
    reporter: Reporter,
) -> None:
    """Warn at the first read of each late name in each of `readers` (the code a script runs)."""
    if not late:
        return
    for reader in readers:
        reported: set[str] = set()
        for use in source.uses_within(reader):
            binding = late.get(use.name)
            # A module-level read above every binding of the name resolves to no scope.
            read_at_module_level = use.scope is None and not use.builtin
            if binding is None or use.name in reported:
                continue
            if use.scope is not source.global_scope and not read_at_module_level:
                continue
            reported.add(use.name)
            where = source.location(use.node)
            reporter.report_once(
                f"bound-after-main:{use.name}:{where.line}:{where.column}",
                rules.BOUND_AFTER_MAIN,
                where,
                name=use.name,
                line=binding.location.line,
                where=binding.where,
                move_above=binding.move_above,
            )
