"""Pure scheduling decisions over the DAG: what may start, what is skipped, when to retry.

No processes, no files: :class:`Scheduler` wraps :class:`graphlib.TopologicalSorter`
(``prepare``/``get_ready``/``done``) and the run loop tells it what happened.

Control flow is decided here too.  A node whose guards do not hold (its condition node
decided the other way, or was itself skipped) is *skipped*, which counts as finished.
The body of a map node runs once per element: each map has a unit ``<map>[*]`` in the
graph, standing for all of its instances, that depends on the map and on every other
input of its body; once it is ready the instances ``<node>[<i>]`` get a sorter of their
own, and ``<map>[*]`` is done when the last of them is.  A failed node is never done, so
its descendants never become ready; they are reported as skipped.  With
``abort_on_failure`` the first failure stops every new start.

Elements of a map whose body has glue run in program order as far as Python would notice:
every instance of element ``i`` also waits for element ``i - 1``'s instance of the body's
last glue node (its *element end*).  Glue may raise or call ``sys.exit``, and Python would
run nothing of a later element after that; steps of one element still overlap with the
glue-free part of the next.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipec.manifest import Guard
from pipec.value_methods import ValueMethods

__all__ = [
    "FailureDecision",
    "Scheduler",
    "Skip",
    "descendants",
    "instance_name",
    "kept_on_resume",
    "retry_delay",
    "split_instance",
    "unit_dependencies",
]

_INSTANCE = re.compile(r"^(?P<node>.+)\[(?P<index>\d+)\]$")


def instance_name(node: str, index: int) -> str:
    """The run-time name of element ``index``'s instance of body node ``node``."""
    return f"{node}[{index}]"


def split_instance(unit: str) -> tuple[str, int | None]:
    """``("square", 2)`` for ``square[2]``; ``(name, None)`` for a node that is not an instance."""
    found = _INSTANCE.match(unit)
    return (found["node"], int(found["index"])) if found else (unit, None)


def _fanout(map_name: str) -> str:
    return f"{map_name}[*]"


@dataclass(frozen=True, eq=False, repr=False)
class FailureDecision(ValueMethods):
    """What a final failure of ``node`` means: these nodes will not run; stop the others?"""

    skipped: tuple[str, ...]
    abort: bool


@dataclass(frozen=True, eq=False, repr=False)
class Skip(ValueMethods):
    """A node that will not run because control flow went elsewhere, and why."""

    node: str
    reason: str


class Scheduler:
    def __init__(
        self,
        order: Sequence[str],
        dependencies: Mapping[str, Iterable[str]],
        completed: Iterable[str] = (),
        abort_on_failure: bool = False,
        *,
        guards: Mapping[str, Sequence[Guard]] | None = None,
        bodies: Mapping[str, Sequence[str]] | None = None,
        decisions: Mapping[str, bool] | None = None,
        expansions: Mapping[str, int] | None = None,
        element_ends: Mapping[str, str] | None = None,
    ) -> None:
        """``bodies`` maps each map node to its body nodes, ``element_ends`` each map whose body
        has glue to its last glue node; ``completed``, ``decisions`` and ``expansions``
        (element counts) come from the run being resumed."""
        self._order = {name: index for index, name in enumerate(order)}
        self._dependencies = {name: frozenset(deps) for name, deps in dependencies.items()}
        self._abort_on_failure = abort_on_failure
        self._completed = set(completed)
        self._guards = {name: tuple(found) for name, found in (guards or {}).items()}
        self._bodies = {name: tuple(body) for name, body in (bodies or {}).items()}
        self._map_of = {node: name for name, body in self._bodies.items() for node in body}
        self._decisions = dict(decisions or {})
        self._expansions = dict(expansions or {})
        self._element_ends = dict(element_ends or {})
        self._skipped: set[str] = set()
        self._ready: list[str] = []
        self._skips: list[Skip] = []
        self._stopped = False
        self._instances: dict[str, graphlib.TopologicalSorter[str]] = {}
        self._unfinished: dict[str, int] = {}  # map -> instances not finished yet
        self._sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
            self._static_graph()
        )
        self._sorter.prepare()
        self._pull()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def take_ready(self) -> list[str]:
        """Nodes and instances that may start now, in program order; each is handed out once."""
        if self._stopped:
            return []
        ready, self._ready = sorted(self._ready, key=self._rank), []
        return ready

    def take_skipped(self) -> list[Skip]:
        """Nodes skipped by control flow since the last call (already finished here)."""
        skips, self._skips = self._skips, []
        return skips

    def decided(self, condition: str, value: bool) -> None:
        """Record a condition node's decision; call before :meth:`succeeded`."""
        self._decisions[condition] = value

    def expanded(self, map_name: str, count: int) -> list[str]:
        """Record how many elements a map has; returns the instance names, in program order."""
        self._expansions[map_name] = count
        return self.instances(map_name)

    def instances(self, map_name: str) -> list[str]:
        count = self._expansions.get(map_name, 0)
        return [instance_name(node, i) for node in self._bodies[map_name] for i in range(count)]

    def succeeded(self, node: str) -> None:
        self._finish(node)
        self._pull()

    def failed(self, node: str, finished: Iterable[str]) -> FailureDecision:
        """Record a final failure; ``finished`` are nodes already out of the picture."""
        if self._abort_on_failure:
            self._stopped = True
        return FailureDecision(self._downstream(node, finished), self._stopped)

    def ended(self, node: str, finished: Iterable[str]) -> tuple[str, ...]:
        """Record that ``node`` ended the program (``sys.exit``): what comes after it in program
        order will not run, the rest (what Python ran before it) goes on."""
        return self._downstream(node, finished)

    def _downstream(self, node: str, finished: Iterable[str]) -> tuple[str, ...]:
        out = set(finished)
        graph = unit_dependencies(
            self._dependencies, self._bodies, self._expansions, self._element_ends
        )
        return tuple(sorted((n for n in descendants(node, graph) if n not in out), key=self._rank))

    def stop(self) -> None:
        """Start nothing more (Ctrl-C)."""
        self._stopped = True

    # -- inside ----------------------------------------------------------------------

    def _static_graph(self) -> dict[str, set[str]]:
        """Nodes outside map bodies, plus one ``<map>[*]`` unit per map for its instances."""
        graph: dict[str, set[str]] = {}
        for name, deps in self._dependencies.items():
            if name not in self._map_of:
                graph[name] = {self._static_unit(dep) for dep in deps} - {_fanout(name)}
        for map_name, body in self._bodies.items():
            outside = {
                self._static_unit(dep)
                for node in body
                for dep in self._dependencies.get(node, ())
                if self._map_of.get(dep) != map_name
            }
            graph[_fanout(map_name)] = outside | {map_name}
        return graph

    def _static_unit(self, node: str) -> str:
        owner = self._map_of.get(node)
        return node if owner is None else _fanout(owner)

    def _rank(self, unit: str) -> tuple[int, int, int]:
        """Program order as Python runs it: a map's instances element by element."""
        node, index = split_instance(unit)
        last = len(self._order)
        if index is None:
            return (self._order.get(node, last), -1, 0)
        owner = self._map_of.get(node, node)
        return (self._order.get(owner, last), index, self._order.get(node, last))

    def _finish(self, unit: str) -> None:
        node, index = split_instance(unit)
        owner = self._map_of.get(node)
        if index is None or owner is None:
            self._sorter.done(unit)
            return
        self._instances[owner].done(unit)
        self._unfinished[owner] -= 1
        if self._unfinished[owner] == 0:
            self._sorter.done(_fanout(owner))

    def _skip(self, unit: str, reason: str) -> None:
        self._skipped.add(unit)
        self._skips.append(Skip(unit, reason))
        self._finish(unit)

    def _pull(self) -> None:
        # Loop: kept and skipped nodes finish at once, which may make more nodes ready.
        progress = True
        while progress:
            progress = False
            for unit in self._sorter.get_ready():
                progress = True
                if unit.endswith("[*]"):
                    self._open(unit[: -len("[*]")])
                else:
                    self._consider(unit, unit)
            for sorter in list(self._instances.values()):
                for unit in sorter.get_ready():
                    progress = True
                    self._consider(unit, split_instance(unit)[0])

    def _consider(self, unit: str, node: str) -> None:
        if unit in self._completed:
            self._finish(unit)
            return
        reason = self._unmet(self._guards.get(node, ()))
        if reason is not None:
            self._skip(unit, reason)
        else:
            self._ready.append(unit)

    def _unmet(self, guards: Sequence[Guard]) -> str | None:
        """Why the guards do not all hold, or None when they do."""
        for guard in guards:
            if guard.node in self._skipped:
                return f"{guard.node} was skipped"
            decision = self._decisions.get(guard.node)
            if decision is None:
                return f"{guard.node} made no decision"
            if decision is not guard.value:
                return f"branch not taken: {guard.node} decided {decision}"
        return None

    def _open(self, map_name: str) -> None:
        """The map and every other input of its body are finished: start its instances."""
        body = self._bodies[map_name]
        if map_name in self._skipped or map_name not in self._expansions:
            for node in body:
                self._skipped.add(node)
                self._skips.append(Skip(node, f"its map {map_name} was skipped"))
            self._sorter.done(_fanout(map_name))
            return
        count = self._expansions[map_name]
        if count == 0:
            self._sorter.done(_fanout(map_name))
            return
        graph = {
            instance_name(node, i): {
                instance_name(dep, i)
                for dep in self._dependencies.get(node, ())
                if self._map_of.get(dep) == map_name
            }
            | _previous_end(self._element_ends.get(map_name), i)
            for node in body
            for i in range(count)
        }
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        self._instances[map_name] = sorter
        self._unfinished[map_name] = len(graph)


def _previous_end(element_end: str | None, index: int) -> set[str]:
    """What element ``index``'s instances wait for besides their own element's inputs."""
    if element_end is None or index == 0:
        return set()
    return {instance_name(element_end, index - 1)}


def unit_dependencies(
    dependencies: Mapping[str, Iterable[str]],
    bodies: Mapping[str, Sequence[str]],
    expansions: Mapping[str, int],
    element_ends: Mapping[str, str] | None = None,
) -> dict[str, set[str]]:
    """Predecessors of every node and every instance of the expanded maps.

    A gather over an expanded map depends on each instance of the gathered node; an
    instance depends on the same element's instances of its body siblings, and on the
    previous element's end when its map has one (see ``element_ends`` of :class:`Scheduler`).
    """
    ends = element_ends or {}
    map_of = {node: name for name, body in bodies.items() for node in body}

    def outside(dep: str) -> set[str]:
        owner = map_of.get(dep)
        if owner is None or owner not in expansions:
            return {dep}
        return {instance_name(dep, i) for i in range(expansions[owner])}

    graph: dict[str, set[str]] = {}
    for name, deps in dependencies.items():
        owner = map_of.get(name)
        if owner is None:
            graph[name] = set().union(*(outside(dep) for dep in deps))
            continue
        graph[name] = set(deps)
        for i in range(expansions.get(owner, 0)):
            graph[instance_name(name, i)] = {
                instance_name(dep, i) if map_of.get(dep) == owner else dep for dep in deps
            } | _previous_end(ends.get(owner), i)
    return graph


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
    graph = {n: set(dependencies.get(n, ())) for n in order}
    for name in graphlib.TopologicalSorter(graph).static_order():
        if name in usable and all(dep in kept for dep in graph.get(name, ())):
            kept.add(name)
    return kept


def retry_delay(attempt: int, base: float, cap: float = 60.0) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``base``, then doubling, at most ``cap``."""
    return min(cap, base * 2.0 ** max(0, attempt - 1))
