"""Failure policy: whether a failed attempt is retried and after how long, and how a failure is told."""

from __future__ import annotations

import heapq

from pipec.executor import StepResult
from pipec.scheduler import retry_delay

__all__ = [
    "RetryQueue",
    "element_note",
    "failure_message",
    "map_failure_message",
    "retry_after",
]

_EXIT_MEANINGS = {
    1: "the step raised an exception or returned the wrong number of outputs",
    2: "the script rejected its command line (a pipec version mismatch?)",
    3: "an input was written by another Python or cloudpickle version",
}


def retry_after(attempt: int, retry_on_failure: int, backoff: float) -> float | None:
    """Seconds to wait before retrying a node whose attempt number ``attempt`` (from 1)
    failed, or None when it has used its ``retry_on_failure`` retries: it failed for good.
    ``backoff`` is the wait before the first retry; it doubles for each further one."""
    if attempt <= retry_on_failure:
        return retry_delay(attempt, backoff)
    return None


def failure_message(result: StepResult) -> str:
    """Why an attempt failed, in one line: its exit status, what that means, its last words."""
    if result.exit_code is None:
        return result.error or "could not be started"
    if result.exit_code < 0:
        return f"killed by signal {-result.exit_code}"
    meaning = _EXIT_MEANINGS.get(result.exit_code, "the script failed")
    lines = [line.strip() for line in result.stderr_tail.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return f"exit {result.exit_code}, {meaning}" + (f": {last}" if last else "")


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
