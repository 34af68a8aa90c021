"""Names that only an installed package's star import could define, gathered from the steps and
the controller's glue alike and reported in one warning per build (PC614).

pipec never imports an installed package while it builds, so it cannot tell which names
`from numpy import *` binds: such names are taken on trust. A trusted name may still be a typo
of a name pipec does know (`sqroot` beside `from math import *`); the warning says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipec.compiler import rules
from pipec.compiler.diagnostics import Reporter
from pipec.manifest import Location

__all__ = ["TrustedReads", "known_names"]


@dataclass
class TrustedReads:
    """Each name read on trust, where it is first read, and what it may be a typo of."""

    modules: tuple[str, ...]  # the installed packages star-imported, in the file's order
    _first: dict[str, Location] = field(default_factory=dict)
    _close: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, location: Location, known: Mapping[str, str]) -> None:
        """Record a read of `name`; `known` maps the names the reader can see to where each
        comes from ("" for the file itself). Builtins are left out of `known`: a package's own
        names often extend one (`Environment`, `EnvironmentError`)."""
        first = self._first.get(name)
        if first is None or location < first:
            self._first[name] = location
        if name not in self._close:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
            if close:
                source = known[close[0]]
                self._close[name] = f"`{close[0]}`" + (f" from `{source}`" if source else "")

    def report(self, reporter: Reporter) -> None:
        if not self._first:
            return
        modules = self.modules
        names = sorted(self._first, key=lambda n: (self._first[n], n))
        listed = ", ".join(
            f"`{n}` (did you mean {self._close[n]}?)" if n in self._close else f"`{n}`"
            for n in names
        )
        reporter.report(
            rules.STAR_IMPORT_TRUSTED,
            self._first[names[0]],
            count=f"{len(names)} name{'s' if len(names) > 1 else ''}",
            names=listed,
            imports=" or ".join(f"`from {m} import *`" for m in modules),
            module=modules[0],
            name=next((n for n in names if n not in self._close), names[0]),
        )


def known_names(read: Mapping[str, frozenset[str]], own: Iterable[str]) -> dict[str, str]:
    """The names a reader can see: `own` (the file's) and those of each star module
    pipec could read (`read`), the latter with the module they come from."""
    known = {name: module for module, names in read.items() for name in names}
    known.update(dict.fromkeys(own, ""))
    return known
