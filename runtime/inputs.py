"""What a unit's input bindings mean once the run knows them, and the step's command line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from pipec.literals import Literal, literal_source
from pipec.manifest import (
    Binding,
    Container,
    Gather,
    ItemRef,
    Node,
    OutputRef,
    ParamRef,
    Select,
)
from pipec.record import ArtifactInfo, RunRecord
from pipec.scheduler import instance_name
from pipec.store import ArtifactStore
from pipec.value_methods import ValueMethods

__all__ = [
    "Artifact",
    "Combined",
    "InputError",
    "InputResolver",
    "ResolvedInput",
    "Value",
    "describe_combined",
    "step_argv",
]


@dataclass(frozen=True, eq=False, repr=False)
class Artifact(ValueMethods):
    """An output file of a node (or an instance, or a map element)."""

    path: str  # as the store names it, for the script's command line
    relative: str  # relative to the run folder, for the record
    sha256: str
    node: str
    output: str


@dataclass(frozen=True, eq=False, repr=False)
class Value(ValueMethods):
    """An input passed on the command line as a Python literal."""

    source: str  # Python literal source, read by the script with ast.literal_eval
    value: object


@dataclass(frozen=True, eq=False, repr=False)
class Combined(ValueMethods):
    """A list, tuple or dict that the script builds from an ``@FILE`` JSON description."""

    kind: str  # "list" | "tuple" | "dict"
    entries: tuple[ResolvedInput, ...]
    keys: tuple[str, ...] = ()


ResolvedInput: TypeAlias = Artifact | Value | Combined


class InputError(Exception):
    """An input that cannot be resolved (a build that breaks its own contract)."""


def describe_combined(value: ResolvedInput, leaf: str) -> dict[str, object]:
    """The ``@FILE`` JSON of a resolved input; ``leaf`` picks the artifact form:
    ``"path"`` (for the script), ``"relative"`` (for the record) or ``"artifact"`` (its hash)."""
    if isinstance(value, Artifact):
        if leaf == "path":
            return {"path": value.path}
        if leaf == "relative":
            return {"path": value.relative}
        return {"artifact": value.sha256}
    if isinstance(value, Value):
        return {"literal": value.source}
    entries = [describe_combined(entry, leaf) for entry in value.entries]
    if value.kind == "dict":
        return {"dict": [[key, entry] for key, entry in zip(value.keys, entries, strict=True)]}
    return {value.kind: entries}


class InputResolver:
    """Resolves bindings against the run as it stands: its parameters, its record, its store."""

    def __init__(
        self,
        parameters: Mapping[str, object],
        map_of: Mapping[str, str | None],
        store: ArtifactStore,
    ) -> None:
        """``map_of`` names, for every node, the map whose body it belongs to (or None)."""
        self._parameters = parameters
        self._map_of = map_of
        self._store = store

    def resolve(
        self,
        binding: Binding,
        record: RunRecord,
        elements: Mapping[str, Sequence[ArtifactInfo]],
        body_of: str | None = None,
        index: int | None = None,
    ) -> ResolvedInput:
        """What ``binding`` means now, for the instance of element ``index`` of map ``body_of``.

        ``elements`` holds each expanded map's elements, in order.  Raises :class:`InputError`
        (or :class:`~pipec.store.StoreError`) when the binding cannot be resolved yet.
        """
        return self._resolution(record, elements, body_of, index).resolve(binding)

    def inputs_of(
        self,
        node: Node,
        index: int | None,
        record: RunRecord,
        elements: Mapping[str, Sequence[ArtifactInfo]],
    ) -> dict[str, ResolvedInput]:
        """Every input of ``node`` (of its instance ``index`` in a map body), by argument."""
        resolution = self._resolution(record, elements, node.map, index)
        return {argument: resolution.resolve(binding) for argument, binding in node.inputs.items()}

    def _resolution(
        self,
        record: RunRecord,
        elements: Mapping[str, Sequence[ArtifactInfo]],
        body_of: str | None,
        index: int | None,
    ) -> _Resolution:
        return _Resolution(
            self._parameters, self._map_of, self._store, record, elements, body_of, index
        )


@dataclass(frozen=True, eq=False, repr=False)
class _Resolution(ValueMethods):
    """What resolving the bindings of one unit needs to know."""

    parameters: Mapping[str, object]
    map_of: Mapping[str, str | None]
    store: ArtifactStore
    record: RunRecord
    elements: Mapping[str, Sequence[ArtifactInfo]]
    body_of: str | None
    index: int | None

    def resolve(self, binding: Binding) -> ResolvedInput:
        if isinstance(binding, ParamRef):
            value = self.parameters[binding.name]
            return Value(literal_source(value), value)
        if isinstance(binding, Literal):
            return Value(binding.source, binding.value)
        if isinstance(binding, OutputRef):
            producer = binding.node
            if self.index is not None and self.map_of.get(producer) == self.body_of:
                producer = instance_name(producer, self.index)
            return self.artifact(producer, binding.output)
        if isinstance(binding, Container):
            entries = tuple(self.resolve(entry) for entry in binding.items)
            return Combined(binding.kind.value, entries, binding.keys)
        if isinstance(binding, Select):
            for option in binding.options:
                if all(self.holds(guard.node, guard.value) for guard in option.when):
                    return self.resolve(option.binding)
            raise InputError("no option of a select binding holds")
        if isinstance(binding, ItemRef):
            if self.index is None:
                raise InputError(f"an element of {binding.map} read outside its body")
            return self.element(binding.map, self.index)
        if isinstance(binding, Gather):
            count = self.record.nodes[binding.map].elements
            if count is None:
                raise InputError(f"map {binding.map} has not expanded")
            entries = tuple(
                self.artifact(instance_name(binding.node, i), binding.output) for i in range(count)
            )
            return Combined("list", entries)
        raise AssertionError(f"unknown binding {binding!r}")

    def holds(self, condition: str, value: bool) -> bool:
        record = self.record.nodes[condition]
        return record.state.done and record.decision is value

    def artifact(self, producer: str, output: str) -> Artifact:
        record = self.record.nodes.get(producer)
        if record is None or not record.state.done or output not in record.outputs:
            state = "missing" if record is None else record.state.value
            raise InputError(f"{producer}.{output} is not available ({producer} is {state})")
        info = record.outputs[output]
        path = self.store.location(producer, output)
        return Artifact(path, info.path, info.sha256, producer, output)

    def element(self, map_name: str, index: int) -> Artifact:
        info = self.elements[map_name][index]
        path = self.store.element_location(map_name, "items", index)
        return Artifact(path, info.path, info.sha256, map_name, f"items[{index}]")


def step_argv(
    python: str,
    script: str,
    unit: str,
    inputs: Mapping[str, ResolvedInput],
    outputs: Mapping[str, str],
    store: ArtifactStore,
) -> tuple[str, ...]:
    """The command line that runs ``script`` for ``unit``; ``outputs`` maps each output to
    where the store wants it written.  A combined input goes through a JSON file the store
    keeps beside the run (``--input NAME=@FILE``)."""
    argv = [python, script]
    for argument, value in inputs.items():
        if isinstance(value, Artifact):
            argv += ["--input", f"{argument}={value.path}"]
        elif isinstance(value, Value):
            argv += ["--value", f"{argument}={value.source}"]
        else:
            spec = store.write_input_spec(unit, argument, describe_combined(value, "path"))
            argv += ["--input", f"{argument}=@{spec}"]
    for output, location in outputs.items():
        argv += ["--output", f"{output}={location}"]
    return tuple(argv)
