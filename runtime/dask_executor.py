"""Running step scripts on a Dask cluster: the ``--executor dask`` form of the Executor seam.

Every attempt of every unit becomes one Dask task that runs the step script as a subprocess
on a worker, through :func:`pipec.executor.run_step_process`, exactly as the local executor
does on this host.  pipec keeps every scheduling decision (what is ready, conditions, maps,
skips, retries, the cache): Dask only places tasks on workers, retries a task whose worker
died, and honours queues as worker resources.

A worker starts each step as the local executor does by default: forked from a warm template
(:mod:`pipec.warm`) that has imported the step's modules, when the step's script is a file on
that worker and runs on the worker's own interpreter; otherwise (a staged step, a step
environment, ``--cold``) in a fresh interpreter.  A worker keeps the templates of a run until
the run ends, or until no task of the run has run there for a while.

What a step prints travels back live as Dask events (``Worker.log_event`` on one topic per
run, ``Client.subscribe_topic`` here); this side writes the log file and the console, so
the run folder looks the same as after a local run.  A stopped run cancels its tasks; the
worker side watches its task's state and stops the step's process group when the task is
cancelled, or when this client goes away.

``distributed`` is imported only here, and this module only when ``--executor dask`` is
asked for: the runtime's core stays standard library only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pipec.executor import (
    OutputSink,
    StartProcess,
    StepProcess,
    StepResult,
    StepTask,
    Stream,
    drain_results,
    run_step_process,
    start_fresh_process,
)
from pipec.value_methods import ValueMethods

__all__ = [
    "DEFAULT_QUEUE",
    "ClusterError",
    "DaskExecutor",
    "connect",
    "require_distributed",
    "resources_of",
]

_TERMINATE_GRACE = 5.0  # seconds between SIGTERM and SIGKILL, as on this host
_WATCH_INTERVAL = 0.2  # how often a worker checks whether its task was cancelled
_LOG_DRAIN_TIMEOUT = 10.0  # how long a finished task's last log lines may trail its result
_STAGING_MODULE = "pipec.staging"
_IDLE_TEMPLATES = 120.0  # seconds without a task of its run before a worker ends its templates
DEFAULT_QUEUE = "default"


class ClusterError(Exception):
    """The cluster cannot run this build: no ``distributed``, no scheduler, no matching worker."""


def require_distributed() -> None:
    """Raise :class:`ClusterError` naming the extra to install when Dask is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterError(
            "--executor dask needs Dask distributed, which is not installed; "
            "install it with: pip install 'pipec[dask]'"
        ) from None


def connect(address: str) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    The connection timeout is Dask's ``distributed.comm.timeouts.connect`` setting (environment
    variable ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT``, 30 s by default).
    """
    require_distributed()
    from distributed import Client

    if "://" not in address:
        raise ClusterError(
            f"--scheduler {address!r}: give the scheduler's address as tcp://HOST:PORT"
        )
    try:
        return Client(address, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
            f"`dask scheduler --host HOST --port PORT` and check the address"
        ) from None


@dataclass(frozen=True, eq=False, repr=False)
class _Chunk(ValueMethods):
    """One line a step wrote, as the worker sends it: which invocation, in which order."""

    invocation: str
    seq: int
    stream: str
    data: bytes


@dataclass(frozen=True, eq=False, repr=False)
class _WorkerOutcome(ValueMethods):
    result: StepResult
    invocation: str  # the worker-side run of the task that produced this result
    chunks: int  # how many log events that invocation sent
    worker: str


class DaskExecutor:
    """Each task a Dask task; ``resources`` names, for every node, the worker resources it needs."""

    def __init__(
        self,
        client: Any,
        sink: OutputSink | None,
        resources: Mapping[str, Mapping[str, float]],
        warm: bool = True,
    ) -> None:
        self._client = client
        self._warm = warm
        # The build as the workers that lack it get it: (path here, fingerprint, archive future).
        self._shipped: tuple[str, str, Any] | None = None
        self._sink = sink
        self._resources = resources
        self._topic = f"pipec-log-{uuid.uuid4().hex}"
        self._results: queue.Queue[StepResult] = queue.Queue()
        self._lock = threading.Condition()
        self._futures: dict[str, Any] = {}  # task key -> future
        self._tasks: dict[str, StepTask] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._received: dict[str, tuple[str, int]] = {}  # key -> (invocation, chunks so far)
        self._pending = 0
        # Subscribing goes through the same ordered stream as the submissions that follow,
        # so no line of the first task can arrive before the handler is in place.
        client.subscribe_topic(self._topic, self._on_event)

    def check_queues(self) -> None:
        """Refuse to start when a node's queue matches no worker's resource (it would wait
        forever)."""
        needed = {node: next(iter(res)) for node, res in self._resources.items() if res}
        workers = self._client.scheduler_info().get("workers", {})
        offered = {name for info in workers.values() for name in info.get("resources", {})}
        missing = sorted({queue_name for queue_name in needed.values()} - offered)
        if missing:
            nodes = ", ".join(sorted(node for node, q in needed.items() if q in missing))
            raise ClusterError(
                f"no worker of the cluster offers the resource for queue(s) {', '.join(missing)} "
                f"(needed by {nodes}); start one with "
                f'`dask worker ADDRESS --resources "{missing[0]}=1"`'
            )

    def workers_without_build(self, build_dir: Path) -> list[str]:
        """The workers that do not see this build's files at ``build_dir``."""
        from pipec.build_shipping import build_fingerprint, sees_build

        fingerprint = build_fingerprint(build_dir)
        try:
            answers: dict[str, bool] = self._client.run(
                sees_build, str(build_dir), fingerprint, True
            )
        except Exception as exc:  # noqa: BLE001  # whatever a worker raised, said plainly
            raise ClusterError(
                f"cannot ask the workers whether they have the build ({type(exc).__name__}: "
                f"{exc}); every worker needs the same version of pipec as this host"
            ) from None
        return sorted(address for address, sees in answers.items() if not sees)

    def ship_build(self, build_dir: Path) -> None:
        """Send the build with every task, for the workers that do not have it."""
        from pipec.build_shipping import build_archive, build_fingerprint

        archive = self._client.scatter(build_archive(build_dir), hash=False)
        self._shipped = (str(build_dir), build_fingerprint(build_dir), archive)

    def total_threads(self) -> int:
        """How many tasks the cluster runs at once: the sum of its workers' threads."""
        threads: int = sum(self._client.nthreads().values())
        return max(1, threads)

    def prepare(self, task: StepTask, after: StepTask) -> None:
        """The worker that will run ``task`` is not known yet: nothing to do."""

    def submit(self, task: StepTask) -> None:
        node = task.node.partition("[")[0]
        key = f"pipec-{task.node}-{task.attempt}-{uuid.uuid4().hex[:12]}"
        task.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(task.log_path, "ab")  # noqa: SIM115  # closed once the task has reported
        log.write(f"==> pipec: {task.node}, attempt {task.attempt}\n".encode())
        log.flush()
        # The worker runs the step in its own environment; only what pipec adds travels.
        extra_env = {
            name: value for name, value in task.env.items() if os.environ.get(name) != value
        }
        with self._lock:
            self._pending += 1
            self._tasks[key] = task
            self._logs[key] = log
            future = self._client.submit(
                _run_on_worker,
                task,
                key,
                self._topic,
                extra_env,
                self._warm,
                *(self._shipped or ()),
                key=key,
                pure=False,
                resources=dict(self._resources.get(node, {})) or None,
            )
            self._futures[key] = future
        future.add_done_callback(self._on_done)

    # -- what comes back ----------------------------------------------------------------

    def _on_event(self, event: tuple[float, Any]) -> None:
        _, message = event
        chunk = _Chunk(**message["chunk"])
        key = message["key"]
        with self._lock:
            log, task = self._logs.get(key), self._tasks.get(key)
            if log is None or task is None:
                return  # a stopped task's last words
            invocation, count = self._received.get(key, (chunk.invocation, 0))
            if invocation != chunk.invocation:
                # The first worker died in the middle of the step; Dask runs it again elsewhere.
                log.write(f"==> pipec: {task.node}: its worker was lost; run again\n".encode())
                count = 0
            log.write(chunk.data)
            log.flush()
            self._received[key] = (chunk.invocation, count + 1)
            self._lock.notify_all()
        if self._sink is not None:
            self._sink(task, Stream(chunk.stream), chunk.data)

    def _on_done(self, future: Any) -> None:
        key = future.key
        task = self._tasks[key]
        outcome: _WorkerOutcome | None = None
        if future.status == "finished":
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001  # reported as the step's failure
                result = _failed(task, f"the cluster could not run it: {exc}")
        elif future.status == "cancelled":
            result = _failed(task, "its Dask task was cancelled")
        else:
            result = _failed(task, f"the cluster could not run it: {_task_error(future)}")
        if outcome is not None:
            result = outcome.result
            self._wait_for_log(key, outcome)
        with self._lock:
            log = self._logs.pop(key, None)
            self._tasks.pop(key, None)
            self._futures.pop(key, None)
            self._received.pop(key, None)
        if log is not None:
            if result.error is not None:
                log.write(f"pipec: {result.error}\n".encode())
            log.close()
        self._results.put(result)

    def _wait_for_log(self, key: str, outcome: _WorkerOutcome) -> None:
        """Block until every line the finishing invocation sent has been written."""
        deadline = time.monotonic() + _LOG_DRAIN_TIMEOUT
        with self._lock:
            while (
                self._received.get(key, (outcome.invocation, 0))
                != (
                    outcome.invocation,
                    outcome.chunks,
                )
                and outcome.chunks
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log = self._logs.get(key)
                    if log is not None:
                        log.write(b"pipec: some of the step's output was lost on the way back\n")
                    return
                self._lock.wait(remaining)

    def wait(self, timeout: float | None) -> list[StepResult]:
        results = drain_results(self._results, timeout)
        with self._lock:
            self._pending -= len(results)
        return results

    def running(self) -> int:
        with self._lock:
            return self._pending

    def terminate(self) -> None:
        with self._lock:
            futures = list(self._futures.values())
        if futures:
            # The workers see their tasks cancelled and stop the steps' processes.
            self._client.cancel(futures, force=True)

    def close(self) -> None:
        if self._warm:
            with contextlib.suppress(Exception):  # a worker that is gone has no templates left
                self._client.run(_end_templates, self._topic)
        with contextlib.suppress(Exception):
            self._client.unsubscribe_topic(self._topic)
        with contextlib.suppress(Exception):
            self._client.close()


def _failed(task: StepTask, message: str) -> StepResult:
    now = time.time()
    return StepResult(task.node, task.attempt, None, now, now, message)


def _task_error(future: Any) -> str:
    try:
        return repr(future.exception(timeout=1))
    except Exception as exc:  # noqa: BLE001  # only for the message
        return repr(exc)


# -- on the worker ----------------------------------------------------------------------


def _run_on_worker(
    task: StepTask,
    key: str,
    topic: str,
    extra_env: Mapping[str, str],
    warm: bool = True,
    build_path: str | None = None,
    fingerprint: str | None = None,
    archive: bytes | None = None,
) -> _WorkerOutcome:
    """Run one attempt of one unit on this worker; its lines go back as events on ``topic``.

    With ``build_path`` (the build was shipped), a worker without the build at that path runs
    the step from its unpacked copy of ``archive``."""
    from distributed import get_worker

    worker = get_worker()
    invocation = uuid.uuid4().hex
    scratch = tempfile.mkdtemp(prefix="pipec-task-")
    sent = 0
    sent_lock = threading.Lock()

    def send(task: StepTask, stream: Stream, chunk: bytes) -> None:
        nonlocal sent
        with sent_lock:
            message = _Chunk(invocation, sent, stream.value, chunk)
            sent += 1
            worker.log_event(topic, {"key": key, "chunk": dataclasses.asdict(message)})

    processes: list[StepProcess] = []
    done = threading.Event()
    watcher = threading.Thread(
        target=_stop_when_cancelled, args=(worker, key, processes, done), daemon=True
    )
    watcher.start()
    argv = _worker_argv(task.argv)
    if build_path is not None and fingerprint is not None and archive is not None:
        from pipec.build_shipping import local_build

        argv = _moved(argv, build_path, local_build(build_path, fingerprint, archive))
    local_task = dataclasses.replace(
        task,
        argv=argv,
        env={**os.environ, **extra_env},
        log_path=Path(scratch) / "step.log",
    )
    warm = warm and _may_start_warm(argv)
    start = _templates_of(topic) if warm else start_fresh_process
    try:
        result = run_step_process(local_task, send, processes.append, start)
    finally:
        done.set()
        if warm:
            _task_ended(topic)
        shutil.rmtree(scratch, ignore_errors=True)
    return _WorkerOutcome(result, invocation, sent, str(worker.address))


# -- warm templates on the worker -------------------------------------------------------


@dataclass
class _RunTemplates:
    starts: Any  # pipec.warm.WarmStarts, imported on first use
    running: int = 0
    last_used: float = dataclasses.field(default_factory=time.monotonic)


_templates_lock = threading.Lock()
_templates: dict[str, _RunTemplates] = {}  # run's topic -> its templates on this worker
_reaper: threading.Thread | None = None


def _may_start_warm(argv: tuple[str, ...]) -> bool:
    """Whether a template can start this command: a script file on this worker, run on the
    worker's own interpreter (a staged step or an environment launcher is neither)."""
    from pipec.warm import same_interpreter

    if len(argv) < 2 or argv[1].startswith("-") or not hasattr(os, "fork"):
        return False
    return same_interpreter(argv[0], sys.executable) and os.path.isfile(argv[1])


def _templates_of(topic: str) -> StartProcess:
    """The warm starts of run ``topic`` on this worker, counted as in use until the task ends."""
    global _reaper
    from pipec.warm import WarmStarts

    with _templates_lock:
        found = _templates.get(topic)
        if found is None:
            found = _RunTemplates(WarmStarts(_worker_note))
            _templates[topic] = found
        found.running += 1
        found.last_used = time.monotonic()
        if _reaper is None:
            _reaper = threading.Thread(target=_end_idle_templates, daemon=True)
            _reaper.start()
    starts: StartProcess = found.starts
    return starts


def _task_ended(topic: str) -> None:
    with _templates_lock:
        found = _templates.get(topic)
        if found is not None and found.running > 0:
            found.running -= 1
            found.last_used = time.monotonic()


def _worker_note(text: str) -> None:
    print(f"pipec: {text}", file=sys.stderr, flush=True)  # into the worker's own log


def _end_templates(topic: str) -> None:
    """Run on every worker when a run ends (``Client.run``): its templates are not needed."""
    with _templates_lock:
        found = _templates.pop(topic, None)
    if found is not None:
        found.starts.close()


def _end_idle_templates() -> None:
    """End the templates of runs whose client went away without saying so (killed)."""
    while True:
        time.sleep(_IDLE_TEMPLATES / 4)
        now = time.monotonic()
        with _templates_lock:
            idle = [
                topic
                for topic, found in _templates.items()
                if found.running == 0 and now - found.last_used > _IDLE_TEMPLATES
            ]
        for topic in idle:
            _end_templates(topic)


def _worker_argv(argv: tuple[str, ...]) -> tuple[str, ...]:
    """A staged step (``PY -m pipec.staging ...``) runs under this worker's own pipec."""
    if argv[1:3] == ("-m", _STAGING_MODULE):
        return (sys.executable, *argv[1:])
    return argv


def _moved(argv: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    """The command line with the paths under the build folder ``old`` under ``new``."""
    if old == new:
        return argv
    prefix = old.rstrip("/") + "/"
    return tuple(
        new + "/" + item[len(prefix) :] if item.startswith(prefix) else item for item in argv
    )


def _stop_when_cancelled(
    worker: Any,
    key: str,
    processes: list[StepProcess],
    done: threading.Event,
) -> None:
    """Stop the step's process group once the task is no longer wanted by the scheduler."""
    while not done.wait(_WATCH_INTERVAL):
        state = getattr(worker.state.tasks.get(key), "state", None)
        if state in ("executing", "long-running") or not processes:
            continue
        _signal_all(processes, signal.SIGTERM)
        if not done.wait(_TERMINATE_GRACE):
            _signal_all(processes, signal.SIGKILL)
        return


def _signal_all(processes: list[StepProcess], signum: signal.Signals) -> None:
    for process in processes:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            try:
                os.killpg(process.pid, signum)
            except ProcessLookupError:
                # A step just forked from a template has not made its own group yet.
                os.kill(process.pid, signum)


def resources_of(queues: Mapping[str, str | None]) -> dict[str, dict[str, float]]:
    """The Dask resources of every node: its queue as a resource of one unit.

    ClearML's ``default`` queue is the one every agent serves unless told otherwise; here it
    is every worker, so it asks for no resource.
    """
    return {node: {name: 1.0} for node, name in queues.items() if name and name != DEFAULT_QUEUE}
