"""Failure policy: retries with backoff, the retry queue, and how a failure is told."""

from __future__ import annotations

import pytest

from pipec.executor import StepResult
from pipec.failures import (
    RetryQueue,
    element_note,
    failure_message,
    map_failure_message,
    retry_after,
)


def test_a_node_is_retried_as_often_as_it_asks_with_a_doubling_wait():
    assert [retry_after(attempt, 3, backoff=0.5) for attempt in (1, 2, 3, 4)] == [
        0.5,
        1.0,
        2.0,
        None,
    ]
    assert retry_after(1, 0, backoff=1.0) is None


def test_the_wait_between_retries_is_capped():
    assert retry_after(20, 100, backoff=1.0) == 60.0
    assert retry_after(5, 100, backoff=0.0) == 0.0


def _result(exit_code: int | None, stderr: str = "", error: str | None = None) -> StepResult:
    return StepResult("f", 1, exit_code, 0.0, 1.0, error, stderr)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            _result(None, error="cannot start python9: no such file"),
            "cannot start python9: no such file",
        ),
        (_result(None), "could not be started"),
        (_result(-9), "killed by signal 9 (SIGKILL: out of memory, or killed by hand)"),
        (_result(-15), "killed by signal 15 (SIGTERM)"),
        (
            _result(1, "Traceback (most recent call last):\n  ...\nValueError: bad row\n\n"),
            "ValueError: bad row",
        ),
        (
            _result(
                1,
                "Traceback (most recent call last):\n  pipeline.py:15, in flaky\n"
                "    return check(total)\n  pipeline.py:8, in check\n    raise ValueError()\n"
                "ValueError: too big\n",
            ),
            "ValueError: too big (at pipeline.py:8, in check)",
        ),
        (_result(1, "Traceback ...\nMemoryError\n"), "out of memory (MemoryError)"),
        (
            _result(4, "error: pair returned 5 values but return_values names 2: a, b\n"),
            "wrong number of outputs: pair returned 5 values but return_values names 2: a, b",
        ),
        (
            _result(5, "error: missing input x: no such file /r/x.pkl\n"),
            "missing input x: no such file /r/x.pkl",
        ),
        (_result(2), "exit 2, the script rejected its command line (a pipec version mismatch?)"),
        (
            _result(3, "error: input x was written by Python 3.12"),
            "exit 3, an input was written by another Python or cloudpickle version: "
            "error: input x was written by Python 3.12",
        ),
        (_result(7, "boom"), "exit 7, the script failed: boom"),
    ],
)
def test_the_failure_message_says_what_the_exit_status_means(result: StepResult, message: str):
    assert failure_message(result) == message


def test_a_failed_instance_names_its_element_and_map():
    assert element_note("m", 2) == " (element 2 of map m)"
    assert element_note(None, None) == ""
    assert map_failure_message("sq[2]", 2, "exit 1") == "element 2 failed: sq[2]: exit 1"


def test_the_retry_queue_hands_out_units_once_they_are_due_earliest_first():
    queue = RetryQueue()
    assert not queue and queue.next_due() is None
    queue.push("late", 30.0)
    queue.push("early", 10.0)
    queue.push("middle", 20.0)
    assert queue.next_due() == 10.0
    assert queue.pop_due(5.0) == []
    assert queue.pop_due(20.0) == ["early", "middle"]
    assert queue and queue.next_due() == 30.0
    queue.clear()
    assert not queue and queue.pop_due(100.0) == []
