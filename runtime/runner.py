"""The run loop: ask the scheduler what may start, start it (or serve it from the cache),
collect results, record every transition.

This module is the I/O edge of a run; the decisions live in :mod:`pipec.scheduler`
(what may start, what a failure skips), :mod:`pipec.cache` (the key) and the
executor and store seams do the work.  The run record is rewritten atomically after
every change, so a run killed at any moment can be resumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TypeAlias

from pipec.atomic import write_json_atomic
from pipec.cache import CacheKeyParts, StepCache, cache_key, file_sha256
from pipec.console import Console
from pipec.executor import Executor, StepResult, StepTask
from pipec.literals import Literal, encode_literal
from pipec.manifest import (
    Binding,
    Container,
    Gather,
    Guard,
    ItemRef,
    Manifest,
    Node,
    NodeKind,
    OutputRef,
    ParamRef,
    Select,
)
from pipec.record import (
    ArtifactInfo,
    NodeRecord,
    NodeState,
    RunRecord,
    RunState,
    timestamp,
    write_record,
)
from pipec.report import control_flow_lines
from pipec.requirements_check import parse_requirement
from pipec.scheduler import (
    Scheduler,
    instance_name,
    kept_on_resume,
    retry_delay,
    split_instance,
    unit_dependencies,
)
from pipec.store import ArtifactStore, StoreError

__all__ = ["ExitCode", "RunOptions", "PipelineRun", "reusable_nodes", "script_hashes"]


class ExitCode(int, Enum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


@dataclass(frozen=True)
class RunOptions:
    python: str
    workers: int
    use_cache: bool
    refresh: frozenset[str]
    retry_backoff: float


_EXIT_MEANINGS = {
    1: "the step raised an exception or returned the wrong number of outputs",
    2: "the script rejected its command line (a pipec version mismatch?)",
    3: "an input was written by another Python or cloudpickle version",
}


# -- what a node's input is, once the run knows it ----------------------------------------


@dataclass(frozen=True)
class _Artifact:
    """An output file of a node (or an instance, or a map element)."""

    path: str  # absolute, for the script's command line
    relative: str  # relative to the run folder, for the record
    sha256: str
    node: str
    output: str


@dataclass(frozen=True)
class _Value:
    source: str  # Python literal source, read by the script with ast.literal_eval
    value: object


@dataclass(frozen=True)
class _Combined:
    """A list, tuple or dict that the script builds from an ``@FILE`` JSON description."""

    kind: str  # "list" | "tuple" | "dict"
    entries: tuple[_Input, ...]
    keys: tuple[str, ...] = ()


_Input: TypeAlias = _Artifact | _Value | _Combined


class _InputError(Exception):
    """An input that cannot be resolved (a build that breaks its own contract)."""


def _describe_combined(value: _Input, leaf: str) -> dict[str, object]:
    """The ``@FILE`` JSON of a resolved input; ``leaf`` picks the artifact form."""
    if isinstance(value, _Artifact):
        if leaf == "path":
            return {"path": value.path}
        if leaf == "relative":
            return {"path": value.relative}
        return {"artifact": value.sha256}
    if isinstance(value, _Value):
        return {"literal": value.source}
    entries = [_describe_combined(entry, leaf) for entry in value.entries]
    if value.kind == "dict":
        return {"dict": [[key, entry] for key, entry in zip(value.keys, entries, strict=True)]}
    return {value.kind: entries}


def script_hashes(manifest: Manifest) -> dict[str, str]:
    """sha256 of every script and local module file of the build, by relative path."""
    files = {node.script for node in manifest.nodes}
    files |= {module for node in manifest.nodes for module in node.local_modules}
    return {relative: file_sha256(manifest.build_dir / relative) for relative in sorted(files)}


def _bodies(manifest: Manifest) -> dict[str, list[str]]:
    return {
        node.name: [member.name for member in manifest.body(node.name)]
        for node in manifest.nodes
        if node.kind is NodeKind.MAP
    }


def _elements_summary(elements: list[ArtifactInfo], folder: str) -> ArtifactInfo:
    """One record entry for an exploded output: total size, hash of the element hashes."""
    digest = hashlib.sha256("\n".join(e.sha256 for e in elements).encode()).hexdigest()
    return ArtifactInfo(folder, sum(e.size for e in elements), digest)


def _outputs_intact(node: Node, unit: str, old: NodeRecord, store: ArtifactStore) -> bool:
    try:
        if node.kind is NodeKind.CONDITION:
            decision, _ = store.read_decision(unit, "decision")
            return old.decision is decision
        if node.kind is NodeKind.MAP:
            folder, elements = store.read_elements(unit, "items")
            return old.elements == len(elements) and old.outputs.get("items") == (
                _elements_summary(elements, folder)
            )
    except StoreError:
        return False
    return set(old.outputs) == set(node.outputs) and all(
        store.intact(unit, name, info) for name, info in old.outputs.items()
    )


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
            if finished and _outputs_intact(node, unit, old, store):
                usable.add(unit)
                if node.kind is NodeKind.MAP and old.elements is not None:
                    expansions[unit] = old.elements
    graph = unit_dependencies(manifest.dependencies(), _bodies(manifest), expansions)
    return kept_on_resume(list(graph), graph, usable)


class PipelineRun:
    """One session of one run (a fresh run, or a resumed one)."""

    def __init__(
        self,
        manifest: Manifest,
        record: RunRecord,
        run_dir: Path,
        parameters: Mapping[str, object],
        installed: Mapping[str, str | None],
        kept: frozenset[str],
        hashes: Mapping[str, str],
        options: RunOptions,
        executor: Executor,
        store: ArtifactStore,
        cache: StepCache,
        console: Console,
    ) -> None:
        self.manifest = manifest
        self.record = record
        self.record_dirty = False
        self.run_dir = run_dir
        self.parameters = parameters
        self.installed = installed
        self.options = options
        self.executor = executor
        self.store = store
        self.cache = cache
        self.console = console
        self.hashes = hashes
        self.nodes = {node.name: node for node in manifest.nodes}
        self.elements: dict[str, list[ArtifactInfo]] = {}  # map -> its elements, in order
        self.queued: list[str] = []
        self.retries: list[tuple[float, str]] = []
        self.attempts: dict[str, int] = {}
        self.keys: dict[str, str] = {}
        self.tracebacks: dict[str, str] = {}  # failed node -> the end of its stderr
        self.stopping: NodeState | None = None  # ABORTED or INTERRUPTED once the run stops early
        self.started = time.time()
        decisions, expansions = self._restore_kept(kept)
        self.scheduler = Scheduler(
            manifest.node_names,
            manifest.dependencies(),
            kept,
            manifest.pipeline.abort_on_failure,
            guards={node.name: node.when for node in manifest.nodes if node.when},
            bodies=_bodies(manifest),
            decisions=decisions,
            expansions=expansions,
        )

    def _restore_kept(self, kept: frozenset[str]) -> tuple[dict[str, bool], dict[str, int]]:
        """Decisions and expansions of the conditions and maps a resumed run keeps."""
        decisions: dict[str, bool] = {}
        expansions: dict[str, int] = {}
        for node in self.manifest.nodes:
            old = self.record.nodes[node.name]
            if node.name not in kept:
                continue
            if node.kind is NodeKind.CONDITION and old.decision is not None:
                decisions[node.name] = old.decision
            if node.kind is NodeKind.MAP and old.elements is not None:
                self.elements[node.name] = self.store.read_elements(node.name, "items")[1]
                expansions[node.name] = old.elements
                if old.state is not NodeState.SUCCEEDED:  # failed by an instance last time
                    self.record = self.record.with_node(
                        node.name, dataclasses.replace(old, state=NodeState.SUCCEEDED, message=None)
                    )
                self._add_instances(node.name, old.elements)
        return decisions, expansions

    # -- the loop ---------------------------------------------------------------------

    def execute(self) -> ExitCode:
        self._warn_edited_scripts()
        self._save(self.record)
        try:
            self._loop()
        except KeyboardInterrupt:
            self.console.status("interrupted; stopping the running steps")
            self._stop(NodeState.INTERRUPTED)
            self._drain()
        finally:
            self.executor.close()
            self._flush_record()
        return self._finish()

    def _loop(self) -> None:
        while True:
            self._record_skips()
            self.queued += self.scheduler.take_ready()
            if self.scheduler.stopped:
                self.queued.clear()
            self._start_due_retries()
            if self._start_queued():
                continue  # cache hits and input failures complete at once; more may be ready
            self._flush_record()
            if not self.executor.running() and not self.queued and not self.retries:
                return
            timeout = max(0.0, self.retries[0][0] - time.time()) if self.retries else None
            for result in self.executor.wait(timeout):
                self._on_result(result)

    def _record_skips(self) -> None:
        for skip in self.scheduler.take_skipped():
            if skip.node in self.record.nodes:
                self.console.status(f"skip {skip.node} ({skip.reason})")
                self._update(skip.node, state=NodeState.SKIPPED, message=skip.reason)

    def _drain(self) -> None:
        while self.executor.running():
            self._flush_record()
            try:
                for result in self.executor.wait(1.0):
                    self._on_result(result)
            except KeyboardInterrupt:
                self.console.status("still stopping the running steps (they get SIGKILL after 5 s)")

    def _stop(self, why: NodeState) -> None:
        if self.stopping is None:
            self.stopping = why
        self.scheduler.stop()
        self.queued.clear()
        self.retries.clear()
        self.executor.terminate()

    # -- starting ---------------------------------------------------------------------

    def _node(self, unit: str) -> tuple[Node, int | None]:
        """The manifest node a unit (a node, or an instance ``node[i]``) runs, and its index."""
        name, index = split_instance(unit)
        return self.nodes[name], index

    def _start_queued(self) -> bool:
        completed_any = False
        while self.queued and self.executor.running() < self.options.workers:
            unit = self.queued.pop(0)
            node, index = self._node(unit)
            try:
                inputs = {
                    arg: self._resolve(binding, node.map, index)
                    for arg, binding in node.inputs.items()
                }
            except (_InputError, StoreError) as exc:
                self._fail_without_running(unit, node, f"cannot resolve its inputs: {exc}")
                completed_any = True
                continue
            if self._serve_from_cache(unit, node, inputs):
                completed_any = True
            else:
                self._launch(unit, node, inputs)
        return completed_any

    def _start_due_retries(self) -> None:
        now = time.time()
        while self.retries and self.retries[0][0] <= now:
            _, name = heapq.heappop(self.retries)
            self.queued.insert(0, name)

    def _launch(self, unit: str, node: Node, inputs: Mapping[str, _Input]) -> None:
        attempt = self.attempts.get(unit, 0) + 1
        self.attempts[unit] = attempt
        log = self.run_dir / "logs" / f"{unit}.log"
        argv = self._argv(unit, node, inputs)
        task = StepTask(unit, attempt, argv, log, node.effects, self._env(unit))
        suffix = f" (attempt {attempt} of {node.retry_on_failure + 1})" if attempt > 1 else ""
        self.console.status(f"start {unit}{suffix}")
        self._update(
            unit,
            state=NodeState.RUNNING,
            start=timestamp(),
            end=None,
            duration=None,
            exit_code=None,
            attempts=attempt,
            message=None,
            log=str(log.relative_to(self.run_dir)),
            code_sha256=self.hashes[node.script],
        )
        self.executor.submit(task)

    def _argv(self, unit: str, node: Node, inputs: Mapping[str, _Input]) -> tuple[str, ...]:
        argv = [self.options.python, str(self.manifest.script_path(node))]
        for argument, value in inputs.items():
            if isinstance(value, _Artifact):
                argv += ["--input", f"{argument}={value.path}"]
            elif isinstance(value, _Value):
                argv += ["--value", f"{argument}={value.source}"]
            else:
                spec = self.run_dir / "inputs" / unit / f"{argument}.json"
                write_json_atomic(spec, _describe_combined(value, "path"))
                argv += ["--input", f"{argument}=@{spec}"]
        for output in node.outputs:
            argv += ["--output", f"{output}={self._output_location(unit, node, output)}"]
        return tuple(argv)

    def _output_location(self, unit: str, node: Node, output: str) -> str:
        if node.kind is NodeKind.CONDITION:
            return self.store.decision_location(unit, output)
        if node.kind is NodeKind.MAP:
            return self.store.folder_location(unit, output)
        return self.store.location(unit, output)

    def _env(self, unit: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # live log streaming; output bytes are unchanged
        env["PIPEC_RUN_ID"] = self.record.run_id
        env["PIPEC_NODE"] = unit
        return env

    # -- inputs -----------------------------------------------------------------------

    def _resolve(self, binding: Binding, body_of: str | None, index: int | None) -> _Input:
        """What a binding means now, for an instance of element ``index`` of map ``body_of``."""
        if isinstance(binding, ParamRef):
            value = self.parameters[binding.name]
            return _Value(repr(value), value)
        if isinstance(binding, Literal):
            return _Value(binding.source, binding.value)
        if isinstance(binding, OutputRef):
            producer = binding.node
            if index is not None and self.nodes[producer].map == body_of:
                producer = instance_name(producer, index)
            return self._artifact(producer, binding.output)
        if isinstance(binding, Container):
            entries = tuple(self._resolve(entry, body_of, index) for entry in binding.items)
            return _Combined(binding.kind.value, entries, binding.keys)
        if isinstance(binding, Select):
            for option in binding.options:
                if all(self._holds(guard) for guard in option.when):
                    return self._resolve(option.binding, body_of, index)
            raise _InputError("no option of a select binding holds")
        if isinstance(binding, ItemRef):
            if index is None:
                raise _InputError(f"an element of {binding.map} read outside its body")
            return self._element(binding.map, index)
        if isinstance(binding, Gather):
            count = self.record.nodes[binding.map].elements
            if count is None:
                raise _InputError(f"map {binding.map} has not expanded")
            entries = tuple(
                self._artifact(instance_name(binding.node, i), binding.output) for i in range(count)
            )
            return _Combined("list", entries)
        raise AssertionError(f"unknown binding {binding!r}")

    def _holds(self, guard: Guard) -> bool:
        record = self.record.nodes[guard.node]
        return record.state.done and record.decision is guard.value

    def _artifact(self, producer: str, output: str) -> _Artifact:
        record = self.record.nodes.get(producer)
        if record is None or not record.state.done or output not in record.outputs:
            state = "missing" if record is None else record.state.value
            raise _InputError(f"{producer}.{output} is not available ({producer} is {state})")
        info = record.outputs[output]
        path = self.store.location(producer, output)
        return _Artifact(path, info.path, info.sha256, producer, output)

    def _element(self, map_name: str, index: int) -> _Artifact:
        info = self.elements[map_name][index]
        path = self.store.element_location(map_name, "items", index)
        return _Artifact(path, info.path, info.sha256, map_name, f"items[{index}]")

    # -- the cache --------------------------------------------------------------------

    def _cacheable(self, node: Node) -> bool:
        # An effects node's printing is kept in its entry and replayed on a hit; conditions
        # and maps are cheap and write files the cache does not keep.
        return node.cache and node.kind in (NodeKind.STEP, NodeKind.GLUE)

    def _key(self, node: Node, inputs: Mapping[str, _Input]) -> str:
        described: dict[str, dict[str, str]] = {}
        for argument, value in inputs.items():
            if isinstance(value, _Artifact):
                described[argument] = {"artifact": value.sha256}
            elif isinstance(value, _Value):
                described[argument] = {"value": value.source}
            else:
                combined = _describe_combined(value, "artifact")
                described[argument] = {"combined": json.dumps(combined, sort_keys=True)}
        names = [parse_requirement(spec).name for spec in node.requirements if _readable(spec)]
        python = self.record.python
        return cache_key(
            CacheKeyParts(
                script_sha256=self.hashes[node.script],
                local_modules={module: self.hashes[module] for module in node.local_modules},
                function=node.function,
                inputs=described,
                outputs=node.outputs,
                python=f"{python.implementation}-{python.version}",
                cloudpickle=python.cloudpickle,
                requirements=node.requirements,
                installed={name: self.installed.get(name) for name in names},
            )
        )

    def _serve_from_cache(self, unit: str, node: Node, inputs: Mapping[str, _Input]) -> bool:
        if not self._cacheable(node):
            return False
        key = self._key(node, inputs)
        self.keys[unit] = key
        if not self.options.use_cache or self._refreshed(unit):
            return False
        lookup = self.cache.lookup(key, node.outputs)
        if lookup.problem:
            self.console.status(f"{unit}: {lookup.problem}; recomputing")
        if lookup.files is None or (node.effects and lookup.printed is None):
            return False
        try:
            outputs = {out: self.store.adopt(unit, out, path) for out, path in lookup.files.items()}
        except (OSError, StoreError) as exc:
            self.console.status(f"{unit}: cannot use the cache entry ({exc}); recomputing")
            return False
        now = timestamp()
        self._update(
            unit,
            state=NodeState.CACHED,
            start=now,
            end=now,
            duration=0.0,
            exit_code=None,
            cache_hit=True,
            cache_key=key,
            code_sha256=self.hashes[node.script],
            outputs=outputs,
            message=None,
        )
        self.console.status(f"cached {unit}")
        if lookup.printed:
            self.console.replay(lookup.printed)
        self.scheduler.succeeded(unit)
        return True

    def _refreshed(self, unit: str) -> bool:
        return unit in self.options.refresh or split_instance(unit)[0] in self.options.refresh

    # -- results ----------------------------------------------------------------------

    def _on_result(self, result: StepResult) -> None:
        unit = result.node
        node, _ = self._node(unit)
        timing = {
            "start": timestamp(result.started),
            "end": timestamp(result.ended),
            "duration": round(result.ended - result.started, 6),
            "exit_code": result.exit_code,
        }
        if result.exit_code != 0:
            self._on_failure(unit, node, result, timing, self._failure_message(result))
            return
        extra: dict[str, object] = {}
        done = f"done {unit} ({timing['duration']:.1f}s)"
        try:
            if node.kind is NodeKind.CONDITION:
                decision, info = self.store.read_decision(unit, "decision")
                outputs = {"decision": info}
                extra["decision"] = decision
                done += f": decided {decision}"
            elif node.kind is NodeKind.MAP:
                folder, elements = self.store.read_elements(unit, "items")
                outputs = {"items": _elements_summary(elements, folder)}
                extra["elements"] = len(elements)
                done += f": {len(elements)} element" + ("" if len(elements) == 1 else "s")
            else:
                outputs = {out: self.store.describe(unit, out) for out in node.outputs}
        except StoreError as exc:
            message = f"exited 0 but its output is not there: {exc}"
            self._on_failure(unit, node, result, timing, message)
            return
        self._remember_in_cache(unit, node, outputs, result.stdout if node.effects else None)
        self._update(
            unit,
            state=NodeState.SUCCEEDED,
            outputs=outputs,
            cache_hit=False,
            cache_key=self.keys.get(unit),
            **extra,
            **timing,
        )
        self.console.status(done)
        if "decision" in extra:
            self.scheduler.decided(unit, bool(extra["decision"]))
        if node.kind is NodeKind.MAP:
            self.elements[unit] = elements
            self.scheduler.expanded(unit, len(elements))
            self._add_instances(unit, len(elements))
        self.scheduler.succeeded(unit)

    def _add_instances(self, map_name: str, count: int) -> None:
        """Pending records for every instance of a map's body, each after its body node."""
        for member in self.manifest.body(map_name):
            added = {
                instance_name(member.name, i): self.record.nodes.get(
                    instance_name(member.name, i), NodeRecord()
                )
                for i in range(count)
            }
            self.record = self.record.with_nodes_after(member.name, added)
        self._save(self.record)

    def _fail_without_running(self, unit: str, node: Node, message: str) -> None:
        now = time.time()
        result = StepResult(unit, node.retry_on_failure + 1, None, now, now, message)
        timing: dict[str, object] = {"start": timestamp(now), "end": timestamp(now)}
        self._on_failure(unit, node, result, timing, message)

    def _on_failure(
        self, unit: str, node: Node, result: StepResult, timing: dict[str, object], message: str
    ) -> None:
        if self.stopping is not None:
            self._update(unit, state=self.stopping, message=f"stopped: {message}", **timing)
            return
        if result.attempt <= node.retry_on_failure:
            delay = retry_delay(result.attempt, self.options.retry_backoff)
            heapq.heappush(self.retries, (time.time() + delay, unit))
            self.console.status(f"{unit} failed ({message}); retrying in {delay:.1f}s")
            self._update(unit, state=NodeState.PENDING, message=f"retrying: {message}", **timing)
            return
        _, index = split_instance(unit)
        where = f" (element {index} of map {node.map})" if node.map and index is not None else ""
        self.console.status(f"FAILED {unit}{where}: {message}")
        self.tracebacks[unit] = result.stderr_tail
        self._update(unit, state=NodeState.FAILED, message=message, **timing)
        if node.map is not None and index is not None:
            self._fail_map(node.map, unit, index, message)
        finished = [n for n, r in self.record.nodes.items() if r.state is not NodeState.PENDING]
        decision = self.scheduler.failed(unit, finished)
        for name in decision.skipped:
            if name in self.record.nodes:
                self._update(
                    name, state=NodeState.SKIPPED, message=f"upstream node {unit!r} failed"
                )
        if decision.abort:
            self.console.status("abort_on_failure is set: stopping the running steps")
            self._stop(NodeState.ABORTED)

    def _fail_map(self, map_name: str, unit: str, index: int, message: str) -> None:
        """A failed instance fails its map; the map's message names the element."""
        current = self.record.nodes[map_name]
        if current.state is NodeState.FAILED:
            return  # the first failed element is the one named
        text = f"element {index} failed: {unit}: {message}"
        self.console.status(f"FAILED {map_name}: {text}")
        self._update(map_name, state=NodeState.FAILED, message=text)

    def _failure_message(self, result: StepResult) -> str:
        if result.exit_code is None:
            return result.error or "could not be started"
        if result.exit_code < 0:
            return f"killed by signal {-result.exit_code}"
        meaning = _EXIT_MEANINGS.get(result.exit_code, "the script failed")
        lines = [line.strip() for line in result.stderr_tail.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        return f"exit {result.exit_code}, {meaning}" + (f": {last}" if last else "")

    def _remember_in_cache(
        self,
        unit: str,
        node: Node,
        outputs: Mapping[str, ArtifactInfo],
        printed: bytes | None = None,
    ) -> None:
        key = self.keys.get(unit)
        if key is None or not self.options.use_cache:
            return
        files = {out: self.store.local_file(unit, out) for out in node.outputs}
        hashes = {out: info.sha256 for out, info in outputs.items()}
        try:
            self.cache.save(
                key, unit, files, hashes, replace=self._refreshed(unit), printed=printed
            )
        except OSError as exc:
            self.console.status(f"{unit}: could not store in the cache ({exc}); continuing")

    # -- the end ----------------------------------------------------------------------

    def _finish(self) -> ExitCode:
        self._record_skips()
        for name, node in self.record.nodes.items():
            if node.state is NodeState.RUNNING:  # interrupted before it was handed over
                self._update(name, state=self.stopping or NodeState.INTERRUPTED)
        self._summarize_bodies()
        for name, node in self.record.nodes.items():
            if node.state is NodeState.PENDING and self.stopping is not NodeState.INTERRUPTED:
                # An interrupted run leaves them pending, to be resumed.
                self._update(name, state=NodeState.SKIPPED, message="not started: the run stopped")
        failed = [n for n, r in self.record.nodes.items() if r.state is NodeState.FAILED]
        result: dict[str, object] | None = None
        if self.stopping is NodeState.INTERRUPTED:
            state, code = RunState.INTERRUPTED, ExitCode.INTERRUPTED
        elif failed:
            state, code = RunState.FAILED, ExitCode.FAILED
        else:
            state, code = RunState.SUCCEEDED, ExitCode.OK
            try:
                result = self._result()
            except (_InputError, StoreError) as exc:
                self.console.status(f"FAILED: the pipeline result cannot be resolved: {exc}")
                state, code = RunState.FAILED, ExitCode.FAILED
        self._save(dataclasses.replace(self.record, state=state, ended=timestamp(), result=result))
        self._report(state, failed, result)
        return code

    def _summarize_bodies(self) -> None:
        """A map body node's own record sums up its instances."""
        for node in self.manifest.nodes:
            if node.map is None or self.record.nodes[node.name].state is not NodeState.PENDING:
                continue
            count = self.record.nodes[node.map].elements
            if count is None:
                continue
            states = [self.record.nodes[instance_name(node.name, i)].state for i in range(count)]
            failed = [i for i, state in enumerate(states) if state is NodeState.FAILED]
            if all(state.done for state in states):
                summary = NodeState.SUCCEEDED
                message = f"{count} instance" + ("" if count == 1 else "s")
            elif failed:
                summary = NodeState.FAILED
                message = "failed at element(s) " + ", ".join(map(str, failed))
            elif NodeState.INTERRUPTED in states or NodeState.PENDING in states:
                continue  # left pending: a resumed run finishes it
            else:
                ran = sum(state.done for state in states)
                summary, message = NodeState.SKIPPED, f"{ran} of {count} instance(s) ran"
            self._update(node.name, state=summary, message=message)

    def _result(self) -> dict[str, object] | None:
        binding = self.manifest.result
        if binding is None:
            return None
        value = self._resolve(binding, None, None)
        if isinstance(value, _Artifact):
            return {"node": value.node, "output": value.output, "path": value.relative}
        if isinstance(value, _Value):
            return encode_literal(value.value)
        return {"combined": _describe_combined(value, "relative")}

    def _report(
        self, state: RunState, failed: list[str], result: Mapping[str, object] | None
    ) -> None:
        for name in failed:
            if name not in self.tracebacks:
                continue
            log = self.run_dir / "logs" / f"{name}.log"
            text = self.tracebacks.get(name, "").rstrip() or "(it wrote nothing to stderr)"
            self.console.block(f"---- {name} failed; its stderr ends with (full log: {log}) ----")
            self.console.block(text)
        for line in control_flow_lines(self.record, reasons=False):
            self.console.status(line)
        counts = self.record.counts()
        parts = [f"{count} {node_state.value}" for node_state, count in counts.items() if count]
        elapsed = time.time() - self.started
        summary = f"run {self.record.run_id} {state.value} in {elapsed:.1f}s ({', '.join(parts)})"
        self.console.status(summary)
        if result is not None and "node" in result:
            where = self.run_dir / str(result["path"])
            self.console.status(f"result: {result['node']}.{result['output']} in {where}")
        elif result is not None and "combined" in result:
            self.console.status("result: built from several artifacts (run.json `result`)")
        if state in (RunState.FAILED, RunState.INTERRUPTED):
            build = self.manifest.build_dir
            self.console.status(f"details: pipec show {self.run_dir}")
            self.console.status(
                f"to continue it: pipec run {build} --resume {self.record.run_id}"
                + _runs_dir_flag(build, self.run_dir)
            )

    # -- the record -------------------------------------------------------------------

    def _update(self, name: str, **changes: object) -> None:
        # Written out by _flush_record before the loop waits: one write per turn of the loop,
        # not one per change (the whole record is rewritten each time).
        current = self.record.nodes[name]
        self.record = self.record.with_node(name, dataclasses.replace(current, **changes))  # type: ignore[arg-type]
        self.record_dirty = True

    def _flush_record(self) -> None:
        if self.record_dirty:
            self._save(self.record)

    def _save(self, record: RunRecord) -> None:
        self.record = record
        write_record(self.run_dir, record)
        self.record_dirty = False

    def _warn_edited_scripts(self) -> None:
        for node in self.manifest.nodes:
            if self.hashes[node.script] != node.code_sha256:
                self.console.status(
                    f"warning: {node.script} changed after the build (its sha256 differs from the "
                    "manifest's code_sha256); running it as it is now"
                )


def _runs_dir_flag(build: Path, run_dir: Path) -> str:
    return "" if run_dir.parent == build / "runs" else f" --runs-dir {run_dir.parent}"


def _readable(spec: str) -> bool:
    try:
        parse_requirement(spec)
    except ValueError:
        return False
    return True
