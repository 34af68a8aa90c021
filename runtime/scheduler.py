"""Pure scheduling decisions over the DAG: what may start, what a failure skips, when to retry.

No processes, no files: :class:`Scheduler` wraps :class:`graphlib.TopologicalSorter`
(``prepare``/``get_ready``/``done``) and the run loop tells it what happened.  A failed
node is never marked done, so its descendants never become ready; they are reported
as skipped.  With ``abort_on_failure`` the first failure stops every new start.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["FailureDecision", "Scheduler", "descendants", "kept_on_resume", "retry_delay"]


@dataclass(frozen=True)
class FailureDecision:
    """What a final failure of ``node`` means: these nodes will not run; stop the others?"""

    skipped: tuple[str, ...]
    abort: bool


class Scheduler:
    def __init__(
        self,
        order: Sequence[str],
        dependencies: Mapping[str, Iterable[str]],
        completed: Iterable[str] = (),
        abort_on_failure: bool = False,
    ) -> None:
        self._order = {name: index for index, name in enumerate(order)}
        self._dependencies = {name: frozenset(deps) for name, deps in dependencies.items()}
        self._abort_on_failure = abort_on_failure
        self._completed = set(completed)
        self._ready: list[str] = []
        self._stopped = False
        self._sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
            self._dependencies
        )
        self._sorter.prepare()
        self._pull()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def take_ready(self) -> list[str]:
        """Nodes that may start now, in program order; each is handed out once."""
        if self._stopped:
            return []
        ready, self._ready = sorted(self._ready, key=self._order.__getitem__), []
        return ready

    def succeeded(self, node: str) -> None:
        self._sorter.done(node)
        self._pull()

    def failed(self, node: str, finished: Iterable[str]) -> FailureDecision:
        """Record a final failure; ``finished`` are nodes already out of the picture."""
        if self._abort_on_failure:
            self._stopped = True
        out = set(finished)
        skipped = tuple(n for n in descendants(node, self._dependencies) if n not in out)
        return FailureDecision(tuple(sorted(skipped, key=self._order.__getitem__)), self._stopped)

    def stop(self) -> None:
        """Start nothing more (Ctrl-C)."""
        self._stopped = True

    def _pull(self) -> None:
        # Nodes kept from an earlier run are done as soon as they are ready.
        while True:
            batch = self._sorter.get_ready()
            if not batch:
                return
            kept = [n for n in batch if n in self._completed]
            self._ready += [n for n in batch if n not in self._completed]
            for name in kept:
                self._sorter.done(name)
            if not kept:
                return


def descendants(node: str, dependencies: Mapping[str, Iterable[str]]) -> list[str]:
    """Every node downstream of ``node``."""
    children: dict[str, list[str]] = {}
    for name, deps in dependencies.items():
        for dep in deps:
            children.setdefault(dep, []).append(name)
    found: list[str] = []
    stack = list(children.get(node, ()))
    while stack:
        current = stack.pop()
        if current not in found:
            found.append(current)
            stack += children.get(current, ())
    return found


def kept_on_resume(
    order: Sequence[str],
    dependencies: Mapping[str, Iterable[str]],
    reusable: Iterable[str],
) -> set[str]:
    """Nodes a resumed run keeps: reusable themselves and every ancestor kept too."""
    usable = set(reusable)
    kept: set[str] = set()
    sorter = graphlib.TopologicalSorter({n: set(dependencies.get(n, ())) for n in order})
    for name in sorter.static_order():
        if name in usable and all(dep in kept for dep in dependencies.get(name, ())):
            kept.add(name)
    return kept


def retry_delay(attempt: int, base: float, cap: float = 60.0) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``base``, then doubling, at most ``cap``."""
    return min(cap, base * 2.0 ** max(0, attempt - 1))
