"""Run directories: naming, listing, and finding the run to resume.

Runs live in ``<build>/runs/<run-id>/`` unless ``--runs-dir`` says otherwise.  A run id
is the UTC start time plus a random suffix, so ids sort by age.  A run whose record
says ``running`` while its process is gone was killed; it can be resumed like a failed one.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipec.record import RECORD_NAME, RecordError, RunRecord, RunState, read_record

__all__ = [
    "RunEntry",
    "default_runs_dir",
    "display_state",
    "find_run",
    "is_stale",
    "list_runs",
    "new_run_id",
    "resumable",
]


@dataclass(frozen=True)
class RunEntry:
    path: Path
    record: RunRecord


def default_runs_dir(build_dir: Path) -> Path:
    return build_dir / "runs"


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-mmmxx``: UTC time to the millisecond, then two random hex digits."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}" + secrets.token_hex(1)


def list_runs(runs_dir: Path) -> list[RunEntry]:
    """Readable runs under ``runs_dir``, oldest first."""
    return sorted(_entries(runs_dir), key=lambda entry: (entry.record.created, entry.path.name))


def _entries(runs_dir: Path) -> Iterator[RunEntry]:
    if not runs_dir.is_dir():
        return
    for child in runs_dir.iterdir():
        if (child / RECORD_NAME).is_file():
            try:
                yield RunEntry(child, read_record(child))
            except RecordError:
                continue


def is_stale(record: RunRecord) -> bool:
    """A ``running`` record whose pipec process no longer exists on this host (it was killed)."""
    if record.state is not RunState.RUNNING:
        return False
    if record.host != socket.gethostname():
        return False  # cannot tell from here; treat as live
    return not _process_exists(record.pid)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def resumable(record: RunRecord) -> bool:
    return record.state in (RunState.FAILED, RunState.INTERRUPTED) or is_stale(record)


def display_state(record: RunRecord) -> str:
    """The run's state as a user should read it: a killed run shows as such."""
    return "killed" if is_stale(record) else record.state.value


def find_run(runs_dir: Path, wanted: str | None) -> RunEntry | None:
    """The run named ``wanted`` (an id or a path), or the latest resumable one when None."""
    if wanted is not None:
        for candidate in (Path(wanted), runs_dir / wanted):
            if (candidate / RECORD_NAME).is_file():
                return RunEntry(candidate, read_record(candidate))
        return None
    for entry in reversed(list_runs(runs_dir)):
        if resumable(entry.record):
            return entry
    return None
