"""Failure policy: whether a failed attempt is retried and after how long, and how a failure is told."""

from __future__ import annotations

import heapq
import re
import signal

from pipec.executor import StepResult
from pipec.scheduler import retry_delay

__all__ = [
    "RetryQueue",
    "element_note",
    "failure_message",
    "map_failure_message",
    "retry_after",
]

# The exit statuses a step script's runner (pipec/step_runner.py, `_pipec_main`) uses; the
# runner is copied into scripts and never imported, so the numbers are written twice.
_RAISED = 1
_EXIT_MEANINGS = {
    2: "the script rejected its command line (a pipec version mismatch?)",
    3: "an input was written by another Python or cloudpickle version",
    4: "wrong number of outputs",
    5: "missing input",
    6: "an output cannot be pickled",
}
# `  pipeline.py:21, in flaky`: a frame as the runner shows it.
_FRAME = r"^  (?P<where>\S.*:\d+, in \S+)$"  # compiled (and kept by re) once a step fails


def retry_after(attempt: int, retry_on_failure: int, backoff: float) -> float | None:
    """Seconds to wait before retrying a node whose attempt number ``attempt`` (from 1)
    failed, or None when it has used its ``retry_on_failure`` retries: it failed for good.
    ``backoff`` is the wait before the first retry; it doubles for each further one."""
    if attempt <= retry_on_failure:
        return retry_delay(attempt, backoff)
    return None


def failure_message(result: StepResult) -> str:
    """Why an attempt failed, in one line: the exception and where the user's code raised it,
    the wrong number of outputs, the missing input, the signal that killed it."""
    if result.exit_code is None:
        return result.error or "could not be started"
    if result.exit_code < 0:
        return _signal_text(-result.exit_code)
    lines = [line.rstrip() for line in result.stderr_tail.splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if result.exit_code == _RAISED and last:
        if last.startswith("MemoryError"):
            last = f"out of memory ({last})"
        frames = [m["where"] for m in (re.match(_FRAME, line) for line in lines) if m]
        return last + (f" (at {frames[-1]})" if frames else "")
    meaning = _EXIT_MEANINGS.get(result.exit_code, "the script failed")
    if result.exit_code == 4 and last:
        return f"{meaning}: {last.removeprefix('error: ')}"
    if result.exit_code in (5, 6) and last:
        return last.removeprefix("error: ")
    return f"exit {result.exit_code}, {meaning}" + (f": {last}" if last else "")


def _signal_text(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"killed by signal {number}"
    if number == signal.SIGKILL:
        # The kernel's out-of-memory killer sends SIGKILL; so does `kill -9`.
        return f"killed by signal {number} ({name}: out of memory, or killed by hand)"
    return f"killed by signal {number} ({name})"


def element_note(map_name: str | None, index: int | None) -> str:
    """`` (element 2 of map m)`` for an instance of a map body, else nothing."""
    return f" (element {index} of map {map_name})" if map_name and index is not None else ""


def map_failure_message(unit: str, index: int, message: str) -> str:
    """The message a map gets when the instance ``unit`` of its element ``index`` failed."""
    return f"element {index} failed: {unit}: {message}"


class RetryQueue:
    """Units waiting to be retried, each with the time (epoch seconds) it is due."""

    def __init__(self) -> None:
        self._waiting: list[tuple[float, str]] = []

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def push(self, unit: str, due: float) -> None:
        heapq.heappush(self._waiting, (due, unit))

    def pop_due(self, now: float) -> list[str]:
        """The units due by ``now``, earliest first; they leave the queue."""
        due: list[str] = []
        while self._waiting and self._waiting[0][0] <= now:
            due.append(heapq.heappop(self._waiting)[1])
        return due

    def next_due(self) -> float | None:
        return self._waiting[0][0] if self._waiting else None

    def clear(self) -> None:
        self._waiting.clear()
