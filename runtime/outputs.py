"""Where a unit writes its outputs and what it wrote, through the ArtifactStore, by node kind."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipec.manifest import Node, NodeKind
from pipec.record import ArtifactInfo, NodeRecord
from pipec.store import ArtifactStore, StoreError
from pipec.value_methods import ValueMethods

__all__ = [
    "WrittenOutputs",
    "elements_summary",
    "output_locations",
    "outputs_intact",
    "read_outputs",
]


@dataclass(frozen=True, eq=False, repr=False)
class WrittenOutputs(ValueMethods):
    """What a finished unit wrote: its outputs, and a condition's decision or a map's elements."""

    outputs: Mapping[str, ArtifactInfo]
    decision: bool | None = None
    elements: tuple[ArtifactInfo, ...] | None = None

    def record_fields(self) -> dict[str, object]:
        """The node record's fields these outputs set (decision and element count if any)."""
        fields: dict[str, object] = {}
        if self.decision is not None:
            fields["decision"] = self.decision
        if self.elements is not None:
            fields["elements"] = len(self.elements)
        return fields

    def summary(self) -> str:
        """What the ``done`` line adds: the decision, or the number of elements."""
        if self.decision is not None:
            return f": decided {self.decision}"
        if self.elements is not None:
            count = len(self.elements)
            return f": {count} element" + ("" if count == 1 else "s")
        return ""


def elements_summary(elements: Sequence[ArtifactInfo], folder: str) -> ArtifactInfo:
    """One record entry for an exploded output: total size, hash of the element hashes."""
    digest = hashlib.sha256("\n".join(e.sha256 for e in elements).encode()).hexdigest()
    return ArtifactInfo(folder, sum(e.size for e in elements), digest)


def output_locations(store: ArtifactStore, unit: str, node: Node) -> dict[str, str]:
    """Where ``unit`` writes each output: a decision file, an elements folder or an artifact."""
    if node.kind is NodeKind.CONDITION:
        locate = store.decision_location
    elif node.kind is NodeKind.MAP:
        locate = store.folder_location
    else:
        locate = store.location
    return {output: locate(unit, output) for output in node.outputs}


def read_outputs(store: ArtifactStore, unit: str, node: Node) -> WrittenOutputs:
    """What ``unit`` wrote; :class:`~pipec.store.StoreError` when an output is not there."""
    if node.kind is NodeKind.CONDITION:
        decision, info = store.read_decision(unit, "decision")
        return WrittenOutputs({"decision": info}, decision=decision)
    if node.kind is NodeKind.MAP:
        folder, elements = store.read_elements(unit, "items")
        return WrittenOutputs(
            {"items": elements_summary(elements, folder)}, elements=tuple(elements)
        )
    return WrittenOutputs({out: store.describe(unit, out) for out in node.outputs})


def outputs_intact(store: ArtifactStore, unit: str, node: Node, old: NodeRecord) -> bool:
    """Whether what ``old`` recorded for ``unit`` is still in the store, unchanged."""
    try:
        if node.kind is NodeKind.CONDITION:
            decision, _ = store.read_decision(unit, "decision")
            return old.decision is decision
        if node.kind is NodeKind.MAP:
            folder, elements = store.read_elements(unit, "items")
            return old.elements == len(elements) and old.outputs.get("items") == (
                elements_summary(elements, folder)
            )
    except StoreError:
        return False
    return set(old.outputs) == set(node.outputs) and all(
        store.intact(unit, name, info) for name, info in old.outputs.items()
    )
