"""Running step scripts: the ``Executor`` seam and the local subprocess pool.

The run loop submits :class:`StepTask` objects and collects :class:`StepResult` objects;
it never touches a process.  :func:`run_step_process` runs one task to completion and is
the unit a distributed executor ships elsewhere (a Dask executor would
``client.submit(run_step_process, task, ...)`` and turn finished futures into results),
so adding one needs no change to the run loop.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Protocol

from pipec.value_methods import ValueMethods

__all__ = [
    "drain_results",
    "Executor",
    "LocalExecutor",
    "OutputSink",
    "StartProcess",
    "StepProcess",
    "StepResult",
    "StepTask",
    "Stream",
    "run_step_process",
    "start_fresh_process",
]

_TERMINATE_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
_STDERR_TAIL_LINES = 30


class Stream(Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass(frozen=True, eq=False, repr=False)
class StepTask(ValueMethods):
    """One attempt of one node: the full command line and where its log goes."""

    node: str
    attempt: int
    argv: tuple[str, ...]
    log_path: Path
    effects: bool
    env: Mapping[str, str]
    preload: tuple[str, ...] = ()  # modules a warm start may import before the step starts


@dataclass(frozen=True, eq=False, repr=False)
class StepResult(ValueMethods):
    """How one attempt of one node ended, with the end of its stderr."""

    node: str
    attempt: int
    exit_code: int | None  # None: the process could not be started
    started: float  # epoch seconds
    ended: float
    error: str | None = None
    stderr_tail: str = ""  # the last lines the step wrote to stderr: its traceback, usually
    stdout: bytes = b""  # what an effects node printed (the controller's output), else empty
    warm: bool | None = (
        None  # forked from a warm template (True) or a fresh interpreter; None: not started
    )


class OutputSink(Protocol):
    def __call__(self, task: StepTask, stream: Stream, chunk: bytes) -> None:
        """Receive one line (or final partial line) a step wrote."""


class StepProcess(Protocol):
    """A started step: a subprocess, or a child forked from a warm template."""

    pid: int  # also its process group: every step runs in a session of its own
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    def wait(self) -> int:
        """Its exit code, as ``subprocess.Popen.returncode`` gives it (-N: killed by signal N)."""

    def poll(self) -> int | None: ...


StartProcess = Callable[[StepTask], StepProcess]


def start_fresh_process(task: StepTask) -> StepProcess:
    """Start the step's command line in a fresh interpreter."""
    # A session of its own: Ctrl-C in the terminal reaches pipec only, which then stops the
    # steps itself and can tell "interrupted" from "failed".
    return subprocess.Popen(
        list(task.argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(task.env),
        start_new_session=True,
    )


class Executor(Protocol):
    def submit(self, task: StepTask) -> None:
        """Start the task; its result arrives through :meth:`wait`."""

    def prepare(self, task: StepTask, after: StepTask) -> None:
        """Get ready, in the background, to start ``task`` once ``after`` (just submitted, and
        upstream of it) has ended; never required, and a no-op where nothing can be readied."""

    def wait(self, timeout: float | None) -> list[StepResult]:
        """Results that finished since the last call; blocks up to ``timeout`` for the first."""

    def terminate(self) -> None:
        """Stop every running task; their results still arrive through :meth:`wait`."""

    def running(self) -> int:
        """How many submitted tasks have not reported yet."""

    def close(self) -> None:
        """Release resources; called once, after the last result."""


def run_step_process(
    task: StepTask,
    sink: OutputSink | None,
    on_start: Callable[[StepProcess], None] = lambda process: None,
    start: StartProcess = start_fresh_process,
) -> StepResult:
    """Run one step script to completion, appending its output to its log file."""
    task.log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with open(task.log_path, "ab") as log:
        log.write(f"==> pipec: {task.node}, attempt {task.attempt}\n".encode())
        log.flush()
        try:
            process = start(task)
        except OSError as exc:
            message = f"cannot start {task.argv[0]}: {exc}"
            log.write(f"pipec: {message}\n".encode())
            return StepResult(task.node, task.attempt, None, started, time.time(), message)
        on_start(process)
        # Beside the log while the step runs: a resume after pipec itself was killed finds
        # the steps it left running through these files, and stops them.
        pid_path = running_pid_path(task.log_path)
        pid_path.write_text(f"{process.pid}\n", encoding="utf-8")
        lock = threading.Lock()
        tail: deque[bytes] = deque(maxlen=_STDERR_TAIL_LINES)
        printed: list[bytes] | None = [] if task.effects else None
        assert process.stdout is not None and process.stderr is not None
        readers = [
            threading.Thread(
                target=_pump,
                args=(process.stdout, Stream.STDOUT, task, log, lock, sink, printed),
            ),
            threading.Thread(
                target=_pump, args=(process.stderr, Stream.STDERR, task, log, lock, sink, tail)
            ),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        exit_code = process.wait()
        pid_path.unlink(missing_ok=True)
    stderr_tail = b"".join(tail).decode("utf-8", errors="replace")
    stdout = b"".join(printed or [])
    # Only a child of a warm template says it is one (pipec.warm._ForkedStep.warm).
    warm = getattr(process, "warm", False) is True
    return StepResult(
        task.node, task.attempt, exit_code, started, time.time(), None, stderr_tail, stdout, warm
    )


def running_pid_path(log_path: Path) -> Path:
    """Where a running step's process id is kept: `logs/<node>.pid` beside `logs/<node>.log`."""
    return log_path.with_suffix(".pid")


def stop_leftover_steps(logs_dir: Path, grace: float = _TERMINATE_GRACE) -> list[str]:
    """Stop the steps a killed pipec left running in this run; the nodes they belonged to.

    Only a process whose command line still names this run's folder is stopped, so a process
    id that the system has since given to something else is left alone.
    """
    stopped: list[str] = []
    for pid_path in sorted(logs_dir.glob("*.pid")):
        try:
            pid = int(pid_path.read_text(encoding="utf-8").strip())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, ValueError):
            command = b""
        if str(logs_dir.parent).encode() in command:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
                deadline = time.time() + grace
                while time.time() < deadline and _running(pid):
                    time.sleep(0.05)
                os.killpg(pid, signal.SIGKILL)
            stopped.append(pid_path.stem)
        pid_path.unlink(missing_ok=True)
    return stopped


def _running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie waiting to be reaped has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _pump(
    pipe: IO[bytes],
    stream: Stream,
    task: StepTask,
    log: IO[bytes],
    lock: threading.Lock,
    sink: OutputSink | None,
    kept: deque[bytes] | list[bytes] | None,
) -> None:
    with pipe:
        for chunk in iter(pipe.readline, b""):
            with lock:
                log.write(chunk)
                log.flush()
            if kept is not None:
                kept.append(chunk)
            if sink is not None:
                sink(task, stream, chunk)


class LocalExecutor:
    """Each task in a thread that runs the step as a subprocess of this host."""

    def __init__(self, sink: OutputSink | None, start: StartProcess = start_fresh_process) -> None:
        self._sink = sink
        self._start = start
        self._results: queue.Queue[StepResult] = queue.Queue()
        self._processes: dict[tuple[str, int], StepProcess] = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._terminating = False
        self._threads: list[threading.Thread] = []

    def submit(self, task: StepTask) -> None:
        self._pending += 1
        thread = threading.Thread(
            target=self._run, args=(task,), name=f"pipec-{task.node}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def prepare(self, task: StepTask, after: StepTask) -> None:
        """A fresh interpreter cannot be started ahead of its command line: nothing to do."""

    def _run(self, task: StepTask) -> None:
        key = (task.node, task.attempt)

        def remember(process: StepProcess) -> None:
            with self._lock:
                self._processes[key] = process
                if self._terminating:  # started while terminate() ran
                    _signal_group(process, signal.SIGTERM)

        try:
            result = run_step_process(task, self._sink, remember, self._start)
        except Exception as exc:  # a broken log folder must not hang the run loop
            now = time.time()
            result = StepResult(
                task.node, task.attempt, None, now, now, f"pipec could not run it: {exc}"
            )
        with self._lock:
            self._processes.pop(key, None)
        self._results.put(result)

    def wait(self, timeout: float | None) -> list[StepResult]:
        results = drain_results(self._results, timeout)
        self._pending -= len(results)
        return results

    def running(self) -> int:
        return self._pending

    def terminate(self) -> None:
        with self._lock:
            self._terminating = True
            processes = list(self._processes.values())
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        if processes:
            killer = threading.Timer(_TERMINATE_GRACE, _kill_all, args=(processes,))
            killer.daemon = True
            killer.start()

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=1.0)


def _kill_all(processes: list[StepProcess]) -> None:
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGKILL)


def _signal_group(process: StepProcess, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            # A step just forked from a warm template has not made its own group yet.
            os.kill(process.pid, signum)


def drain_results(results: queue.Queue[StepResult], timeout: float | None) -> list[StepResult]:
    """The results that arrive within ``timeout`` (waiting for the first only), oldest first."""
    try:
        found = [results.get(timeout=timeout)]
    except queue.Empty:
        return []
    while True:
        try:
            found.append(results.get_nowait())
        except queue.Empty:
            return found
