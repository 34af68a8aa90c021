"""Timing primitives: run a command and time it, repeat cases interleaved, take medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CommandFailed", "Sample", "interleave", "median", "run_command"]


class CommandFailed(Exception):
    """A measured command exited with a non-zero status."""


@dataclass(frozen=True)
class Sample:
    """One measured run: wall-clock seconds and peak resident memory, in KiB.

    ``rss_kib`` is the measured process's own peak (for a plain command: the largest process
    of its tree); ``children_rss_kib`` the largest process it started, when known apart.
    """

    seconds: float
    rss_kib: int
    children_rss_kib: int = 0


def run_command(
    argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Sample:
    """Run ``argv`` to completion with its output discarded; raise when it fails.

    ``os.wait4`` gives the child's resource usage, which on Linux covers the processes it
    waited for in turn, so ``rss_kib`` is the largest process of the whole tree.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()  # read before waiting: a full pipe would block the child
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        raise CommandFailed(
            f"{' '.join(argv[:3])} ... exited {process.returncode}: " + _gist(stderr)
        )
    return Sample(seconds, usage.ru_maxrss)


def _gist(stderr: bytes) -> str:
    """The lines of a failed command's stderr that say what went wrong."""
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    failures = [line for line in lines if "FAILED" in line or "error:" in line]
    return " | ".join(failures[:3] or lines[-3:])


def interleave(
    cases: Mapping[str, Callable[[], Sample]], repetitions: int, warm_up: bool
) -> dict[str, list[Sample]]:
    """Run every case once per round, ``repetitions`` rounds, starting each round one case later.

    Alternating the cases spreads the machine's slow moments over all of them, and the
    rotation keeps any one case from always running first (on a cold page cache) or last.
    With ``warm_up``, one untimed round comes first (bytecode caches, page cache).
    """
    names = list(cases)
    if warm_up:
        for name in names:
            cases[name]()
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_index in range(repetitions):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(cases[name]())
    return samples


def median(samples: Sequence[Sample]) -> Sample:
    """The median of each figure over several samples."""
    return Sample(
        statistics.median(sample.seconds for sample in samples),
        int(statistics.median(sample.rss_kib for sample in samples)),
        int(statistics.median(sample.children_rss_kib for sample in samples)),
    )
