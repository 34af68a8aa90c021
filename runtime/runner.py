"""The run loop: ask the scheduler what may start, start it (or serve it from the cache),
collect results, record every transition.

This module is the I/O edge of a run; the decisions live in :mod:`pipec.scheduler`
(what may start, what a failure skips), :mod:`pipec.cache` (the key) and the
executor and store seams do the work.  The run record is rewritten atomically after
every change, so a run killed at any moment can be resumed.
"""

from __future__ import annotations

import dataclasses
import heapq
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pipec.cache import CacheKeyParts, StepCache, cache_key, file_sha256
from pipec.console import Console
from pipec.executor import Executor, StepResult, StepTask
from pipec.literals import Literal, encode_literal
from pipec.manifest import Binding, Manifest, Node, OutputRef, ParamRef
from pipec.record import (
    ArtifactInfo,
    NodeState,
    RunRecord,
    RunState,
    timestamp,
    write_record,
)
from pipec.requirements_check import parse_requirement
from pipec.scheduler import Scheduler, kept_on_resume, retry_delay
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


def script_hashes(manifest: Manifest) -> dict[str, str]:
    """sha256 of every script file the build holds, by path relative to the build folder."""
    scripts = {node.script for node in manifest.nodes}
    folders = {(manifest.build_dir / script).parent for script in scripts}
    found = {str(manifest.build_dir / s): s for s in scripts}
    for folder in folders:
        for path in folder.rglob("*.py"):
            found.setdefault(str(path), str(path.relative_to(manifest.build_dir)))
    return {relative: file_sha256(Path(absolute)) for absolute, relative in found.items()}


def reusable_nodes(
    manifest: Manifest, previous: RunRecord, store: ArtifactStore, hashes: Mapping[str, str]
) -> set[str]:
    """Nodes a resumed run keeps: succeeded before, same script now, artifacts still in place."""
    usable = set()
    for node in manifest.nodes:
        old = previous.nodes.get(node.name)
        if old is None or not old.state.done or old.code_sha256 != hashes[node.script]:
            continue
        if set(old.outputs) == set(node.outputs) and all(
            store.intact(node.name, name, info) for name, info in old.outputs.items()
        ):
            usable.add(node.name)
    return kept_on_resume(manifest.node_names, manifest.dependencies(), usable)


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
        self.run_dir = run_dir
        self.parameters = parameters
        self.installed = installed
        self.options = options
        self.executor = executor
        self.store = store
        self.cache = cache
        self.console = console
        self.hashes = hashes
        node_scripts = {node.script for node in manifest.nodes}
        self.local_modules = {p: h for p, h in self.hashes.items() if p not in node_scripts}
        self.scheduler = Scheduler(
            manifest.node_names, manifest.dependencies(), kept, manifest.pipeline.abort_on_failure
        )
        self.queued: list[str] = []
        self.retries: list[tuple[float, str]] = []
        self.attempts: dict[str, int] = {}
        self.keys: dict[str, str] = {}
        self.tracebacks: dict[str, str] = {}  # failed node -> the end of its stderr
        self.stopping: NodeState | None = None  # ABORTED or INTERRUPTED once the run stops early
        self.started = time.time()

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
        return self._finish()

    def _loop(self) -> None:
        while True:
            self.queued += self.scheduler.take_ready()
            if self.scheduler.stopped:
                self.queued.clear()
            self._start_due_retries()
            if self._start_queued():
                continue  # cache hits completed synchronously; more may be ready
            if not self.executor.running() and not self.queued and not self.retries:
                return
            timeout = max(0.0, self.retries[0][0] - time.time()) if self.retries else None
            for result in self.executor.wait(timeout):
                self._on_result(result)

    def _drain(self) -> None:
        while self.executor.running():
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

    def _start_queued(self) -> bool:
        completed_any = False
        while self.queued and self.executor.running() < self.options.workers:
            name = self.queued.pop(0)
            node = self.manifest.node(name)
            if self._serve_from_cache(node):
                completed_any = True
            else:
                self._launch(node)
        return completed_any

    def _start_due_retries(self) -> None:
        now = time.time()
        while self.retries and self.retries[0][0] <= now:
            _, name = heapq.heappop(self.retries)
            self.queued.insert(0, name)

    def _launch(self, node: Node) -> None:
        attempt = self.attempts.get(node.name, 0) + 1
        self.attempts[node.name] = attempt
        log = self.run_dir / "logs" / f"{node.name}.log"
        task = StepTask(node.name, attempt, self._argv(node), log, node.effects, self._env(node))
        suffix = f" (attempt {attempt} of {node.retry_on_failure + 1})" if attempt > 1 else ""
        self.console.status(f"start {node.name}{suffix}")
        self._update(
            node.name,
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

    def _argv(self, node: Node) -> tuple[str, ...]:
        argv = [self.options.python, str(self.manifest.script_path(node))]
        for argument, binding in node.inputs.items():
            if isinstance(binding, OutputRef):
                argv += [
                    "--input",
                    f"{argument}={self.store.location(binding.node, binding.output)}",
                ]
            else:
                argv += ["--value", f"{argument}={self._literal_source(binding)}"]
        for output in node.outputs:
            argv += ["--output", f"{output}={self.store.location(node.name, output)}"]
        return tuple(argv)

    def _literal_source(self, binding: Binding) -> str:
        if isinstance(binding, ParamRef):
            return repr(self.parameters[binding.name])
        assert isinstance(binding, Literal)
        return binding.source

    def _env(self, node: Node) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # live log streaming; output bytes are unchanged
        env["PIPEC_RUN_ID"] = self.record.run_id
        env["PIPEC_NODE"] = node.name
        return env

    # -- the cache --------------------------------------------------------------------

    def _cacheable(self, node: Node) -> bool:
        # An effects node's value is its printing, which a cache entry would not replay.
        return node.cache and not node.effects

    def _key(self, node: Node) -> str:
        inputs: dict[str, dict[str, str]] = {}
        for argument, binding in node.inputs.items():
            if isinstance(binding, OutputRef):
                info = self.record.nodes[binding.node].outputs[binding.output]
                inputs[argument] = {"artifact": info.sha256}
            else:
                inputs[argument] = {"value": self._literal_source(binding)}
        names = [parse_requirement(spec).name for spec in node.requirements if _readable(spec)]
        python = self.record.python
        return cache_key(
            CacheKeyParts(
                script_sha256=self.hashes[node.script],
                local_modules=self.local_modules,
                function=node.function,
                inputs=inputs,
                outputs=node.outputs,
                python=f"{python.implementation}-{python.version}",
                cloudpickle=python.cloudpickle,
                requirements=node.requirements,
                installed={name: self.installed.get(name) for name in names},
            )
        )

    def _serve_from_cache(self, node: Node) -> bool:
        if not self._cacheable(node):
            return False
        key = self._key(node)
        self.keys[node.name] = key
        if not self.options.use_cache or node.name in self.options.refresh:
            return False
        lookup = self.cache.lookup(key, node.outputs)
        if lookup.problem:
            self.console.status(f"{node.name}: {lookup.problem}; recomputing")
        if lookup.files is None:
            return False
        try:
            outputs = {
                out: self.store.adopt(node.name, out, path) for out, path in lookup.files.items()
            }
        except (OSError, StoreError) as exc:
            self.console.status(f"{node.name}: cannot use the cache entry ({exc}); recomputing")
            return False
        now = timestamp()
        self._update(
            node.name,
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
        self.console.status(f"cached {node.name}")
        self.scheduler.succeeded(node.name)
        return True

    # -- results ----------------------------------------------------------------------

    def _on_result(self, result: StepResult) -> None:
        node = self.manifest.node(result.node)
        timing = {
            "start": timestamp(result.started),
            "end": timestamp(result.ended),
            "duration": round(result.ended - result.started, 6),
            "exit_code": result.exit_code,
        }
        if result.exit_code == 0:
            try:
                outputs = {out: self.store.describe(node.name, out) for out in node.outputs}
            except StoreError as exc:
                self._on_failure(
                    node, result, timing, f"exited 0 but its output is not there: {exc}"
                )
                return
            self._remember_in_cache(node, outputs)
            self._update(
                node.name,
                state=NodeState.SUCCEEDED,
                outputs=outputs,
                cache_hit=False,
                cache_key=self.keys.get(node.name),
                **timing,
            )
            self.console.status(f"done {node.name} ({timing['duration']:.1f}s)")
            self.scheduler.succeeded(node.name)
            return
        self._on_failure(node, result, timing, self._failure_message(result))

    def _on_failure(
        self, node: Node, result: StepResult, timing: dict[str, object], message: str
    ) -> None:
        if self.stopping is not None:
            self._update(node.name, state=self.stopping, message=f"stopped: {message}", **timing)
            return
        if result.attempt <= node.retry_on_failure:
            delay = retry_delay(result.attempt, self.options.retry_backoff)
            heapq.heappush(self.retries, (time.time() + delay, node.name))
            self.console.status(f"{node.name} failed ({message}); retrying in {delay:.1f}s")
            self._update(
                node.name, state=NodeState.PENDING, message=f"retrying: {message}", **timing
            )
            return
        self.console.status(f"FAILED {node.name}: {message}")
        self.tracebacks[node.name] = result.stderr_tail
        self._update(node.name, state=NodeState.FAILED, message=message, **timing)
        finished = [n for n, r in self.record.nodes.items() if r.state is not NodeState.PENDING]
        decision = self.scheduler.failed(node.name, finished)
        for name in decision.skipped:
            self._update(
                name, state=NodeState.SKIPPED, message=f"upstream node {node.name!r} failed"
            )
        if decision.abort:
            self.console.status("abort_on_failure is set: stopping the running steps")
            self._stop(NodeState.ABORTED)

    def _failure_message(self, result: StepResult) -> str:
        if result.exit_code is None:
            return result.error or "could not be started"
        if result.exit_code < 0:
            return f"killed by signal {-result.exit_code}"
        meaning = _EXIT_MEANINGS.get(result.exit_code, "the script failed")
        lines = [line.strip() for line in result.stderr_tail.splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        return f"exit {result.exit_code}, {meaning}" + (f": {last}" if last else "")

    def _remember_in_cache(self, node: Node, outputs: Mapping[str, ArtifactInfo]) -> None:
        key = self.keys.get(node.name)
        if key is None or not self.options.use_cache:
            return
        files = {out: self.store.local_file(node.name, out) for out in node.outputs}
        hashes = {out: info.sha256 for out, info in outputs.items()}
        try:
            refreshed = node.name in self.options.refresh
            self.cache.save(key, node.name, files, hashes, replace=refreshed)
        except OSError as exc:
            self.console.status(f"{node.name}: could not store in the cache ({exc}); continuing")

    # -- the end ----------------------------------------------------------------------

    def _finish(self) -> ExitCode:
        for name, node in self.record.nodes.items():
            if node.state is NodeState.RUNNING:  # interrupted before it was handed over
                self._update(name, state=self.stopping or NodeState.INTERRUPTED)
            elif node.state is NodeState.PENDING and self.stopping is not NodeState.INTERRUPTED:
                # An interrupted run leaves them pending, to be resumed.
                self._update(name, state=NodeState.SKIPPED, message="not started: the run stopped")
        failed = [n for n, r in self.record.nodes.items() if r.state is NodeState.FAILED]
        if self.stopping is NodeState.INTERRUPTED:
            state, code = RunState.INTERRUPTED, ExitCode.INTERRUPTED
        elif failed:
            state, code = RunState.FAILED, ExitCode.FAILED
        else:
            state, code = RunState.SUCCEEDED, ExitCode.OK
        result = self._result() if state is RunState.SUCCEEDED else None
        self._save(dataclasses.replace(self.record, state=state, ended=timestamp(), result=result))
        self._report(state, failed, result)
        return code

    def _result(self) -> dict[str, object] | None:
        binding = self.manifest.result
        if binding is None:
            return None
        if isinstance(binding, OutputRef):
            info = self.record.nodes[binding.node].outputs[binding.output]
            return {"node": binding.node, "output": binding.output, "path": info.path}
        if isinstance(binding, ParamRef):
            return encode_literal(self.parameters[binding.name])
        return encode_literal(binding.value)

    def _report(
        self, state: RunState, failed: list[str], result: Mapping[str, object] | None
    ) -> None:
        for name in failed:
            log = self.run_dir / "logs" / f"{name}.log"
            text = self.tracebacks.get(name, "").rstrip() or "(it wrote nothing to stderr)"
            self.console.block(f"---- {name} failed; its stderr ends with (full log: {log}) ----")
            self.console.block(text)
        counts = self.record.counts()
        parts = [f"{count} {node_state.value}" for node_state, count in counts.items() if count]
        elapsed = time.time() - self.started
        summary = f"run {self.record.run_id} {state.value} in {elapsed:.1f}s ({', '.join(parts)})"
        self.console.status(summary)
        if result is not None and "node" in result:
            where = self.run_dir / str(result["path"])
            self.console.status(f"result: {result['node']}.{result['output']} in {where}")
        if state in (RunState.FAILED, RunState.INTERRUPTED):
            build = self.manifest.build_dir
            self.console.status(f"details: pipec show {self.run_dir}")
            self.console.status(
                f"to continue it: pipec run {build} --resume {self.record.run_id}"
                + _runs_dir_flag(build, self.run_dir)
            )

    # -- the record -------------------------------------------------------------------

    def _update(self, name: str, **changes: object) -> None:
        current = self.record.nodes[name]
        self._save(self.record.with_node(name, dataclasses.replace(current, **changes)))  # type: ignore[arg-type]

    def _save(self, record: RunRecord) -> None:
        self.record = record
        write_record(self.run_dir, record)

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
