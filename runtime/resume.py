"""What a resumed run keeps: units finished with the same script and intact outputs, and what they decided."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.cache import file_sha256
from pipec.manifest import Manifest, NodeKind
from pipec.outputs import outputs_intact
from pipec.record import ArtifactInfo, NodeState, RunRecord
from pipec.record_keeping import with_instances
from pipec.scheduler import instance_name, kept_on_resume, unit_dependencies
from pipec.store import ArtifactStore

__all__ = ["KeptWork", "map_bodies", "restore_kept", "reusable_nodes", "script_hashes"]


def script_hashes(manifest: Manifest) -> dict[str, str]:
    """sha256 of every script and local module file of the build, by relative path."""
    files = {node.script for node in manifest.nodes}
    files |= {module for node in manifest.nodes for module in node.local_modules}
    return {relative: file_sha256(manifest.build_dir / relative) for relative in sorted(files)}


def map_bodies(manifest: Manifest) -> dict[str, list[str]]:
    """Every map node's body nodes, in program order."""
    return {
        node.name: [member.name for member in manifest.body(node.name)]
        for node in manifest.nodes
        if node.kind is NodeKind.MAP
    }


def reusable_nodes(
    manifest: Manifest, previous: RunRecord, store: ArtifactStore, hashes: Mapping[str, str]
) -> set[str]:
    """Nodes and instances a resumed run keeps: finished before with the same script, their
    outputs still in place, and everything upstream of them kept too.

    A map is kept once its script succeeded (even if one of its instances failed), so that a
    resumed run reruns only the instances that did not finish.
    """
    usable: set[str] = set()
    expansions: dict[str, int] = {}
    for node in manifest.nodes:
        units = [node.name]
        if node.map is not None:
            count = expansions.get(node.map, 0)
            units = [instance_name(node.name, i) for i in range(count)]
        for unit in units:
            old = previous.nodes.get(unit)
            if old is None or old.code_sha256 != hashes[node.script]:
                continue
            finished = old.elements is not None if node.kind is NodeKind.MAP else old.state.done
            if finished and outputs_intact(store, unit, node, old):
                usable.add(unit)
                if node.kind is NodeKind.MAP and old.elements is not None:
                    expansions[unit] = old.elements
    graph = unit_dependencies(manifest.dependencies(), map_bodies(manifest), expansions)
    return kept_on_resume(list(graph), graph, usable)


@dataclass(frozen=True)
class KeptWork:
    """What the kept conditions and maps had settled, for the scheduler and the inputs."""

    record: RunRecord  # kept maps succeeded again, with entries for their instances
    decisions: Mapping[str, bool]
    expansions: Mapping[str, int]
    elements: Mapping[str, list[ArtifactInfo]]


def restore_kept(
    manifest: Manifest, record: RunRecord, kept: frozenset[str], store: ArtifactStore
) -> KeptWork:
    """Decisions and expansions of the conditions and maps a resumed run keeps."""
    decisions: dict[str, bool] = {}
    expansions: dict[str, int] = {}
    elements: dict[str, list[ArtifactInfo]] = {}
    for node in manifest.nodes:
        old = record.nodes[node.name]
        if node.name not in kept:
            continue
        if node.kind is NodeKind.CONDITION and old.decision is not None:
            decisions[node.name] = old.decision
        if node.kind is NodeKind.MAP and old.elements is not None:
            elements[node.name] = store.read_elements(node.name, "items")[1]
            expansions[node.name] = old.elements
            if old.state is not NodeState.SUCCEEDED:  # failed by an instance last time
                record = record.with_node(
                    node.name, dataclasses.replace(old, state=NodeState.SUCCEEDED, message=None)
                )
            body = [member.name for member in manifest.body(node.name)]
            record = with_instances(record, body, old.elements)
    return KeptWork(record, decisions, expansions, elements)
