"""The run loop: start the units that are ready, wait for results, record them, decide what next.

The decisions live elsewhere: :mod:`pipec.scheduler` (what may start, what a failure
skips), :mod:`pipec.inputs` (what a unit reads), :mod:`pipec.caching` (whether the cache
serves it), :mod:`pipec.failures` (what a failure leads to), :mod:`pipec.outcome` (how the
run ends).  The work goes through the :class:`~pipec.executor.Executor` and
:class:`~pipec.store.ArtifactStore` seams.  The run record is rewritten atomically once per
turn of the loop, so a run killed at any moment can be resumed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from pipec.cache import StepCache
from pipec.caching import RunCache, is_cacheable, unit_cache_key
from pipec.console import Console
from pipec.executor import Executor, StepResult, StepTask
from pipec.failures import (
    RetryQueue,
    element_note,
    failure_message,
    map_failure_message,
    retry_after,
)
from pipec.inputs import InputError, InputResolver, ResolvedInput, step_argv
from pipec.manifest import Manifest, Node, NodeKind
from pipec.outcome import final_state, report_run, result_entry, settle, warn_edited_scripts
from pipec.outputs import WrittenOutputs, output_locations, read_outputs
from pipec.printed import keep_printed
from pipec.program_exit import ProgramExit, program_exit
from pipec.record import ArtifactInfo, NodeState, RunRecord, RunState, timestamp
from pipec.record_keeping import LiveRecord, with_instances
from pipec.resume import KeptWork, element_ends, map_bodies, restore_kept
from pipec.scheduler import Scheduler, split_instance
from pipec.store import ArtifactStore, StoreError
from pipec.value_methods import ValueMethods
from pipec.warm import preloads

__all__ = ["ExitCode", "PipelineRun", "RunOptions"]


class ExitCode(int, Enum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


_EXIT_CODES = {
    RunState.SUCCEEDED: ExitCode.OK,
    RunState.FAILED: ExitCode.FAILED,
    RunState.INTERRUPTED: ExitCode.INTERRUPTED,
}


@dataclass(frozen=True, eq=False, repr=False)
class RunOptions(ValueMethods):
    """How `pipec run` was asked to run: interpreters, workers, cache, retries."""

    python: str
    workers: int
    use_cache: bool
    refresh: frozenset[str]
    retry_backoff: float
    launcher: tuple[str, ...] = ()  # before every step's command line (a remote store's staging)
    # With --env venv: each node's interpreter, and what that interpreter has installed.
    interpreters: Mapping[str, str] = field(default_factory=dict)
    installed_by_node: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    # With --env venv on a cluster: what builds (once per host) and starts each node's interpreter.
    env_launchers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _scheduler(manifest: Manifest, kept: frozenset[str], restored: KeptWork) -> Scheduler:
    return Scheduler(
        manifest.node_names,
        manifest.dependencies(),
        kept,
        manifest.pipeline.abort_on_failure,
        guards={node.name: node.when for node in manifest.nodes if node.when},
        bodies=map_bodies(manifest),
        decisions=restored.decisions,
        expansions=restored.expansions,
        element_ends=element_ends(manifest),
    )


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
        self.run_dir = run_dir
        self.installed = installed
        self.hashes = hashes
        self.options = options
        self.executor = executor
        self.store = store
        self.console = console
        self.nodes = {node.name: node for node in manifest.nodes}
        self.preloads = preloads(manifest)
        self.successors: dict[str, list[str]] = {node.name: [] for node in manifest.nodes}
        for name, upstream in manifest.dependencies().items():
            for earlier in upstream:
                self.successors[earlier].append(name)
        self.inputs = InputResolver(
            parameters, {node.name: node.map for node in manifest.nodes}, store
        )
        self.cache = RunCache(
            cache, store, console, enabled=options.use_cache, refresh=options.refresh
        )
        restored = restore_kept(manifest, record, kept, store)
        self.record = LiveRecord(run_dir, restored.record)
        self.elements: dict[str, list[ArtifactInfo]] = dict(restored.elements)  # map -> elements
        self.scheduler = _scheduler(manifest, kept, restored)
        self.queued: list[str] = []
        self.retries = RetryQueue()
        self.attempts: dict[str, int] = {}
        self.keys: dict[str, str] = {}  # unit -> its cache key, for cacheable units
        self.tracebacks: dict[str, str] = {}  # failed unit -> the end of its stderr
        self.stopping: NodeState | None = None  # ABORTED or INTERRUPTED once the run stops early
        self.program_exit: ProgramExit | None = None  # the controller's sys.exit, once called
        self.started = time.time()

    # -- the story --------------------------------------------------------------------

    def execute(self) -> int:
        """Run to the end; the exit status of `pipec run` (the program's own, after sys.exit)."""
        warn_edited_scripts(self.console, self.manifest, self.hashes)
        self.record.save(self.record.current)
        try:
            self._loop()
        except KeyboardInterrupt:
            self.console.status("interrupted; stopping the running steps")
            self._stop(NodeState.INTERRUPTED)
            self._drain()
        finally:
            self.executor.close()
            self.record.flush()
        return self._finish()

    def _loop(self) -> None:
        while True:
            self._take_ready()
            if self._start_queued():
                continue  # cache hits and input failures complete at once; more may be ready
            self.record.flush()
            if not self.executor.running() and not self.queued and not self.retries:
                return
            for result in self.executor.wait(self._time_to_next_retry()):
                self._on_result(result)

    def _take_ready(self) -> None:
        self._record_skips()
        self.queued += self.scheduler.take_ready()
        if self.scheduler.stopped:
            self.queued.clear()
        for unit in self.retries.pop_due(time.time()):
            self.queued.insert(0, unit)

    def _time_to_next_retry(self) -> float | None:
        due = self.retries.next_due()
        return None if due is None else max(0.0, due - time.time())

    def _record_skips(self) -> None:
        for skip in self.scheduler.take_skipped():
            if skip.node in self.record.current.nodes:
                self.console.status(f"skip {skip.node} ({skip.reason})")
                self.record.update(skip.node, state=NodeState.SKIPPED, message=skip.reason)

    def _drain(self) -> None:
        while self.executor.running():
            self.record.flush()
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
        """Start queued units while workers are free; whether any completed at once."""
        completed_any = False
        while self.queued and self.executor.running() < self.options.workers:
            unit = self.queued.pop(0)
            node, index = self._node(unit)
            try:
                inputs = self.inputs.inputs_of(node, index, self.record.current, self.elements)
            except (InputError, StoreError) as exc:
                self._fail_without_running(unit, node, f"cannot resolve its inputs: {exc}")
                completed_any = True
                continue
            if is_cacheable(node):
                python = self.record.current.python
                installed = self.options.installed_by_node.get(node.name, self.installed)
                self.keys[unit] = unit_cache_key(node, inputs, self.hashes, python, installed)
                if self._serve_from_cache(unit, node, self.keys[unit]):
                    completed_any = True
                    continue
            self._launch(unit, node, inputs)
        return completed_any

    def _serve_from_cache(self, unit: str, node: Node, key: str) -> bool:
        hit = self.cache.serve(unit, node, key)
        if hit is None:
            return False
        now = timestamp()
        self.record.update(
            unit,
            state=NodeState.CACHED,
            start=now,
            end=now,
            duration=0.0,
            exit_code=None,
            warm=None,
            cache_hit=True,
            cache_key=key,
            code_sha256=self.hashes[node.script],
            outputs=hit.outputs,
            message=None,
        )
        self.console.status(f"cached {unit}")
        if hit.printed is not None and node.effects:
            keep_printed(self.run_dir, unit, hit.printed)
        if hit.printed:
            self.console.replay(hit.printed)
        self.scheduler.succeeded(unit)
        return True

    def _launch(self, unit: str, node: Node, inputs: Mapping[str, ResolvedInput]) -> None:
        attempt = self.attempts.get(unit, 0) + 1
        self.attempts[unit] = attempt
        log = self.run_dir / "logs" / f"{unit}.log"
        script = str(self.manifest.script_path(node))
        outputs = output_locations(self.store, unit, node)
        python = self.options.interpreters.get(node.name, self.options.python)
        argv = step_argv(python, script, unit, inputs, outputs, self.store)
        prefix = self.options.env_launchers.get(node.name)
        if prefix is not None:
            argv = prefix + argv[1:]
        argv = self.options.launcher + argv
        preload = self.preloads[node.name]
        task = StepTask(unit, attempt, argv, log, node.effects, self._env(unit), preload)
        suffix = f" (attempt {attempt} of {node.retry_on_failure + 1})" if attempt > 1 else ""
        self.console.status(f"start {unit}{suffix}")
        self.record.update(
            unit,
            state=NodeState.RUNNING,
            start=timestamp(),
            end=None,
            duration=None,
            exit_code=None,
            warm=None,
            attempts=attempt,
            message=None,
            log=str(log.relative_to(self.run_dir)),
            code_sha256=self.hashes[node.script],
        )
        self.executor.submit(task)
        self._prepare_successors(node, task)

    def _prepare_successors(self, node: Node, task: StepTask) -> None:
        """Let the executor ready the nodes right after this one while it runs (a warm start
        imports their modules meanwhile); their inputs are not known yet, their script is."""
        if self.options.launcher or node.name in self.options.env_launchers:
            return  # steps staged through a store, or in their own environments: not warm
        for name in self.successors[node.name]:
            if name in self.options.env_launchers:
                continue
            later = self.nodes[name]
            python = self.options.interpreters.get(name, self.options.python)
            argv = (python, str(self.manifest.script_path(later)))
            env = self._env(name)
            sketch = StepTask(name, 0, argv, task.log_path, later.effects, env, self.preloads[name])
            self.executor.prepare(sketch, task)

    def _env(self, unit: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # live log streaming; output bytes are unchanged
        env["PIPEC_RUN_ID"] = self.record.current.run_id
        env["PIPEC_NODE"] = unit
        return env

    # -- results ----------------------------------------------------------------------

    def _on_result(self, result: StepResult) -> None:
        unit = result.node
        node, _ = self._node(unit)
        timing = {
            "start": timestamp(result.started),
            "end": timestamp(result.ended),
            "duration": round(result.ended - result.started, 6),
            "exit_code": result.exit_code,
            "warm": result.warm,
        }
        ended = program_exit(result) if node.kind is not NodeKind.STEP else None
        if ended is not None:
            self._on_program_exit(node, ended, timing)
            return
        if result.exit_code != 0:
            self._on_failure(unit, node, result, timing, failure_message(result))
            return
        try:
            written = read_outputs(self.store, unit, node)
        except StoreError as exc:
            message = f"exited 0 but its output is not there: {exc}"
            self._on_failure(unit, node, result, timing, message)
            return
        self._on_success(unit, node, result, timing, written)

    def _on_success(
        self,
        unit: str,
        node: Node,
        result: StepResult,
        timing: Mapping[str, object],
        written: WrittenOutputs,
    ) -> None:
        if node.effects:
            keep_printed(self.run_dir, unit, result.stdout)
        key = self.keys.get(unit)
        if key is not None:
            printed = result.stdout if node.effects else None
            self.cache.remember(unit, node, key, written.outputs, printed)
        self.record.update(
            unit,
            state=NodeState.SUCCEEDED,
            outputs=written.outputs,
            cache_hit=False,
            cache_key=key,
            **written.record_fields(),
            **timing,
        )
        self.console.status(f"done {unit} ({timing['duration']:.1f}s){written.summary()}")
        if written.decision is not None:
            self.scheduler.decided(unit, written.decision)
        if written.elements is not None:
            self.elements[unit] = list(written.elements)
            self.scheduler.expanded(unit, len(written.elements))
            body = [member.name for member in self.manifest.body(unit)]
            self.record.save(with_instances(self.record.current, body, len(written.elements)))
        self.scheduler.succeeded(unit)

    def _on_program_exit(
        self, node: Node, ended: ProgramExit, timing: Mapping[str, object]
    ) -> None:
        """The controller called sys.exit: what comes after the call in program order does not
        start, as it does not run in Python.

        What comes before it still runs (Python ran it before the call), steps already running
        included; when one of them fails, Python failed there and never reached the call (see
        :meth:`_finish`).
        """
        message = f"called {ended.call}: the run ends here with exit status {ended.status}"
        self.console.status(f"{ended.node}: {message}")
        self.record.update(ended.node, state=NodeState.EXITED, message=message, **timing)
        if self.program_exit is None:
            self.program_exit = ended
        if node.map is not None:
            self.record.update(node.map, state=NodeState.EXITED, message=f"{ended.node}: {message}")
        nodes = self.record.current.nodes
        finished = [name for name, known in nodes.items() if known.state is not NodeState.PENDING]
        for name in self.scheduler.ended(ended.node, finished):
            if name in nodes:
                why = f"not started: the run ended at {ended.node} ({ended.call})"
                self.record.update(name, state=NodeState.SKIPPED, message=why)

    def _fail_without_running(self, unit: str, node: Node, message: str) -> None:
        now = time.time()
        result = StepResult(unit, node.retry_on_failure + 1, None, now, now, message)
        timing: dict[str, object] = {"start": timestamp(now), "end": timestamp(now)}
        self._on_failure(unit, node, result, timing, message)

    def _on_failure(
        self,
        unit: str,
        node: Node,
        result: StepResult,
        timing: Mapping[str, object],
        message: str,
    ) -> None:
        if self.stopping is not None:  # not the unit's fault: it was stopped
            self.record.update(unit, state=self.stopping, message=f"stopped: {message}", **timing)
            return
        delay = retry_after(result.attempt, node.retry_on_failure, self.options.retry_backoff)
        if delay is not None:
            self.retries.push(unit, time.time() + delay)
            self.console.status(f"{unit} failed ({message}); retrying in {delay:.1f}s")
            self.record.update(
                unit, state=NodeState.PENDING, message=f"retrying: {message}", **timing
            )
            return
        _, index = split_instance(unit)
        self.console.status(f"FAILED {unit}{element_note(node.map, index)}: {message}")
        self.tracebacks[unit] = result.stderr_tail
        self.record.update(unit, state=NodeState.FAILED, message=message, **timing)
        if node.map is not None and index is not None:
            self._fail_map(node.map, map_failure_message(unit, index, message))
        self._skip_downstream_of(unit)

    def _fail_map(self, map_name: str, message: str) -> None:
        """A failed instance fails its map; the first failed element is the one named."""
        if self.record.current.nodes[map_name].state is not NodeState.FAILED:
            self.console.status(f"FAILED {map_name}: {message}")
            self.record.update(map_name, state=NodeState.FAILED, message=message)

    def _skip_downstream_of(self, unit: str) -> None:
        nodes = self.record.current.nodes
        finished = [name for name, node in nodes.items() if node.state is not NodeState.PENDING]
        decision = self.scheduler.failed(unit, finished)
        for name in decision.skipped:
            if name in self.record.current.nodes:
                self.record.update(
                    name, state=NodeState.SKIPPED, message=f"upstream node {unit!r} failed"
                )
        if decision.abort:
            self.console.status("abort_on_failure is set: stopping the running steps")
            self._stop(NodeState.ABORTED)

    # -- the end ----------------------------------------------------------------------

    def _program_exit_reached(self) -> ProgramExit | None:
        """The controller's sys.exit, unless a node before it in program order failed: Python
        stopped at that failure and never made the call."""
        ended = self.program_exit
        if ended is None:
            return None
        nodes = self.record.current.nodes
        failed = [name for name, node in nodes.items() if node.state is NodeState.FAILED]
        if not failed:
            return ended
        first = next(iter(self.tracebacks), failed[0])  # the unit itself, not its map
        self.console.status(
            f"{ended.node} called {ended.call}, but {first} failed before it in program "
            "order: the run fails there, as the Python program does"
        )
        return None

    def _finish(self) -> int:
        self._record_skips()
        ended = self._program_exit_reached()
        why = (
            "the run stopped" if ended is None else f"the run ended at {ended.node} ({ended.call})"
        )
        record = settle(self.manifest, self.record.current, self.stopping, why)
        state = final_state(record, self.stopping)
        result: dict[str, object] | None = None
        if state is RunState.SUCCEEDED and ended is not None and not ended.succeeded:
            state = RunState.FAILED  # the program exited with an error status
        elif state is RunState.SUCCEEDED and self.manifest.result is not None and ended is None:
            try:
                value = self.inputs.resolve(self.manifest.result, record, self.elements)
                result = result_entry(value)
            except (InputError, StoreError) as exc:
                self.console.status(f"FAILED: the pipeline result cannot be resolved: {exc}")
                state = RunState.FAILED
        self.record.save(
            dataclasses.replace(
                record,
                state=state,
                ended=timestamp(),
                result=result,
                system_exit=None if ended is None else ended.to_json(),
            )
        )
        elapsed = time.time() - self.started
        report_run(
            self.console,
            self.record.current,
            self.tracebacks,
            self.run_dir,
            self.manifest.build_dir,
            elapsed,
        )
        # The program's own exit status, unless a step failing beside it makes a 0 a 1.
        exited_alone = ended is not None and (not ended.succeeded or state is RunState.SUCCEEDED)
        if ended is not None and exited_alone and state is not RunState.INTERRUPTED:
            return ended.status
        return _EXIT_CODES[state]
