"""How a run uses the step cache: a unit's key from its resolved inputs, hits served, results kept."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.cache import CacheKeyParts, StepCache, cache_key
from pipec.console import Console
from pipec.data_paths import data_stamp
from pipec.inputs import Artifact, Combined, ResolvedInput, Value, describe_combined
from pipec.manifest import Node, NodeKind
from pipec.record import ArtifactInfo, InterpreterInfo
from pipec.requirements_check import parse_requirement
from pipec.scheduler import split_instance
from pipec.store import ArtifactStore, StoreError
from pipec.value_methods import ValueMethods

__all__ = ["CacheHit", "RunCache", "is_cacheable", "unit_cache_key"]


def is_cacheable(node: Node) -> bool:
    """Whether a node's results may come from the cache (``cache=True`` steps and glue)."""
    # An effects node's printing is kept in its entry and replayed on a hit; conditions
    # and maps are cheap and write files the cache does not keep.
    return node.cache and node.kind in (NodeKind.STEP, NodeKind.GLUE)


def unit_cache_key(
    node: Node,
    inputs: Mapping[str, ResolvedInput],
    hashes: Mapping[str, str],
    python: InterpreterInfo,
    installed: Mapping[str, str | None],
) -> str:
    """The cache key of running ``node`` on ``inputs``: artifacts count by their content hash.

    ``hashes`` holds the sha256 of the build's scripts and local modules as they are now;
    ``installed`` the versions the step interpreter has, by distribution name.
    """
    described: dict[str, dict[str, str]] = {}
    for argument, value in inputs.items():
        if isinstance(value, Artifact):
            described[argument] = {"artifact": value.sha256}
        elif isinstance(value, Value):
            described[argument] = {"value": value.source}
        else:
            combined = describe_combined(value, "artifact")
            described[argument] = {"combined": json.dumps(combined, sort_keys=True)}
        # A string that names a local file or folder: changed data must miss the cache.
        stamps = [stamp for text in _strings(value) if (stamp := data_stamp(text)) is not None]
        if stamps:
            described[argument]["data"] = ",".join(stamps)
    names = [parse_requirement(spec).name for spec in node.requirements if _readable(spec)]
    return cache_key(
        CacheKeyParts(
            script_sha256=hashes[node.script],
            local_modules={module: hashes[module] for module in node.local_modules},
            function=node.function,
            inputs=described,
            outputs=node.outputs,
            python=f"{python.implementation}-{python.version}",
            cloudpickle=python.cloudpickle,
            requirements=node.requirements,
            installed={name: installed.get(name) for name in names},
        )
    )


def _strings(value: ResolvedInput) -> list[str]:
    """The text values in an input, a composite's leaves included."""
    if isinstance(value, Value):
        return _texts_in(value.value, 0)
    if isinstance(value, Combined):
        return [text for entry in value.entries for text in _strings(entry)]
    return []


def _texts_in(value: object, depth: int) -> list[str]:
    """The strings in a literal (``["a.csv", "b.csv"]``), a few levels and entries deep."""
    if isinstance(value, str):
        return [value]
    if depth >= 4:
        return []
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [text for item in list(items)[:1000] for text in _texts_in(item, depth + 1)]
    return []


def _readable(spec: str) -> bool:
    try:
        parse_requirement(spec)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, eq=False, repr=False)
class CacheHit(ValueMethods):
    """A unit served from the cache: its outputs, now in the store, and what it printed."""

    outputs: Mapping[str, ArtifactInfo]
    printed: bytes | None


class RunCache:
    """The step cache as one run uses it: ``--no-cache`` and ``--refresh`` applied."""

    def __init__(
        self,
        cache: StepCache,
        store: ArtifactStore,
        console: Console,
        *,
        enabled: bool,
        refresh: frozenset[str],
    ) -> None:
        self._cache = cache
        self._store = store
        self._console = console
        self._enabled = enabled
        self._refresh = refresh

    def refreshed(self, unit: str) -> bool:
        """Whether ``--refresh`` names the unit (or the node it is an instance of)."""
        return unit in self._refresh or split_instance(unit)[0] in self._refresh

    def serve(self, unit: str, node: Node, key: str) -> CacheHit | None:
        """The unit's outputs put in place from the entry under ``key``, or None: compute it."""
        if not self._enabled or self.refreshed(unit):
            return None
        lookup = self._cache.lookup(key, node.outputs)
        if lookup.problem:
            self._console.status(f"{unit}: {lookup.problem}; recomputing")
        if lookup.files is None or (node.effects and lookup.printed is None):
            return None
        try:
            outputs = {
                out: self._store.adopt(unit, out, path) for out, path in lookup.files.items()
            }
        except (OSError, StoreError) as exc:
            self._console.status(f"{unit}: cannot use the cache entry ({exc}); recomputing")
            return None
        return CacheHit(outputs, lookup.printed)

    def remember(
        self,
        unit: str,
        node: Node,
        key: str,
        outputs: Mapping[str, ArtifactInfo],
        printed: bytes | None,
    ) -> None:
        """Keep a freshly computed unit's outputs under ``key``; a failure only warns."""
        if not self._enabled:
            return
        files = {out: self._store.local_file(unit, out) for out in node.outputs}
        hashes = {out: info.sha256 for out, info in outputs.items()}
        try:
            self._cache.save(
                key, unit, files, hashes, replace=self.refreshed(unit), printed=printed
            )
        except OSError as exc:
            self._console.status(f"{unit}: could not store in the cache ({exc}); continuing")
