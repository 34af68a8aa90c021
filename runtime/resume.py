"""What a resumed run keeps: units finished with the same script and outputs whose bytes still
hash to what the record says, and what they decided."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from pipec.cache import file_sha256
from pipec.manifest import Manifest, Node, NodeKind
from pipec.outputs import outputs_intact
from pipec.record import ArtifactInfo, NodeRecord, NodeState, RunRecord
from pipec.record_keeping import with_instances
from pipec.scheduler import instance_name, kept_on_resume, unit_dependencies
from pipec.store import ArtifactStore, StoreError
from pipec.value_methods import ValueMethods

__all__ = [
    "KeptWork",
    "element_ends",
    "map_bodies",
    "restore_kept",
    "reusable_nodes",
    "script_hashes",
]


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


def element_ends(manifest: Manifest) -> dict[str, str]:
    """Every map whose body has glue, to the body's last glue node: the next element waits for
    it, as any glue may raise or call sys.exit (see :class:`~pipec.scheduler.Scheduler`)."""
    ends: dict[str, str] = {}
    for node in manifest.nodes:
        if node.map is not None and node.kind is not NodeKind.STEP:
            ends[node.map] = node.name
    return ends


def reusable_nodes(
    manifest: Manifest,
    previous: RunRecord,
    store: ArtifactStore,
    hashes: Mapping[str, str],
    report: Callable[[str], None] | None = None,
    printed: AbstractSet[str] | None = None,
    sha256_of: Callable[[Path], str | None] | None = None,
) -> set[str]:
    """Nodes and instances a resumed run keeps: finished before with the same script, their
    outputs still in place with the bytes the record describes, and everything upstream of
    them kept too.

    A map is kept once its script succeeded (even if one of its instances failed), so that a
    resumed run reruns only the instances that did not finish.  ``report`` hears of every
    unit whose outputs changed since they were written.  ``printed`` names the printing
    glue units whose output the run kept (see :mod:`pipec.printed`); others are rerun.
    ``sha256_of`` hashes a local file (None when it cannot be read).
    """
    usable: set[str] = set()
    expansions: dict[str, int] = {}
    expected: dict[str, list[tuple[Path, str]]] = {}  # unit -> its files and their sha256
    for node in manifest.nodes:
        units = [node.name]
        if node.map is not None:
            count = expansions.get(node.map, 0)
            units = [instance_name(node.name, i) for i in range(count)]
        for unit in units:
            old = previous.nodes.get(unit)
            if old is None or old.code_sha256 != hashes[node.script]:
                continue
            if node.effects and printed is not None and unit not in printed:
                continue
            finished = old.elements is not None if node.kind is NodeKind.MAP else old.state.done
            if finished and outputs_intact(store, unit, node, old):
                try:
                    expected[unit] = _files_to_verify(store, unit, node, old)
                except StoreError:
                    continue
                usable.add(unit)
                if node.kind is NodeKind.MAP and old.elements is not None:
                    expansions[unit] = old.elements
    for unit, problem in _content_mismatches(expected, sha256_of or _sha256_or_none).items():
        usable.discard(unit)
        expansions.pop(unit, None)
        if report is not None:
            report(f"{unit}: {problem}; running it again")
    graph = unit_dependencies(
        manifest.dependencies(), map_bodies(manifest), expansions, element_ends(manifest)
    )
    return kept_on_resume(list(graph), graph, usable)


def _files_to_verify(
    store: ArtifactStore, unit: str, node: Node, old: NodeRecord
) -> list[tuple[Path, str]]:
    """The files a kept unit's readers will load, with the sha256 each must have."""
    if node.kind is NodeKind.CONDITION:
        return []  # the decision was read from the file's bytes just now
    if node.kind is NodeKind.MAP:
        _, elements = store.read_elements(unit, "items")
        return [
            (store.local_element_file(unit, "items", index), info.sha256)
            for index, info in enumerate(elements)
        ]
    return [(store.local_file(unit, name), info.sha256) for name, info in old.outputs.items()]


def _content_mismatches(
    expected: Mapping[str, list[tuple[Path, str]]], sha256_of: Callable[[Path], str | None]
) -> dict[str, str]:
    """Units with a file whose bytes no longer hash to the recorded sha256, and why.

    Every file is hashed, in threads (hashlib releases the GIL on large buffers), so that a
    file altered in place to the same size is never kept.
    """
    files = [(unit, path, sha256) for unit, found in expected.items() for path, sha256 in found]
    if not files:
        return {}
    from concurrent.futures import ThreadPoolExecutor  # only a resume hashes: not loaded otherwise

    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        actual = list(pool.map(sha256_of, [path for _, path, _ in files]))
    problems: dict[str, str] = {}
    for (unit, path, sha256), found in zip(files, actual, strict=True):
        if found != sha256 and unit not in problems:
            what = (
                "cannot be read" if found is None else "no longer has the bytes it was written with"
            )
            problems[unit] = f"{path.name} {what}"
    return problems


def _sha256_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


@dataclass(frozen=True, eq=False, repr=False)
class KeptWork(ValueMethods):
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
