"""Run directories: naming, listing, and finding the run to resume.

Runs live in ``<build>/runs/<run-id>/`` unless ``--runs-dir`` says otherwise.  A run id
is the UTC start time plus a random suffix, so ids sort by age.  A session holds
``run.lock`` (``flock``) while it works on a run, so a run whose record says ``running``
while nobody holds its lock was killed (even if its process id now belongs to another
process); it can be resumed like a failed one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipec.atomic import is_leftover
from pipec.record import RECORD_NAME, RecordError, RunRecord, RunState, read_record
from pipec.value_methods import ValueMethods

__all__ = [
    "LOCK_NAME",
    "RunEntry",
    "create_run_dir",
    "default_runs_dir",
    "display_state",
    "find_run",
    "host_name",
    "in_use",
    "is_stale",
    "lock_held",
    "list_runs",
    "new_run_id",
    "remove_leftovers",
    "resumable",
]


LOCK_NAME = "run.lock"


@dataclass(frozen=True, eq=False, repr=False)
class RunEntry(ValueMethods):
    """A run folder and its record, as listings read them."""

    path: Path
    record: RunRecord


def host_name() -> str:
    """This host's name, as `socket.gethostname()` gives it (without importing socket, part of
    `pipec run`'s fixed cost)."""
    return os.uname().nodename


def default_runs_dir(build_dir: Path) -> Path:
    return build_dir / "runs"


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-mmmxx``: UTC time to the millisecond, then two random hex digits."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y%m%d-%H%M%S-") + f"{now.microsecond // 1000:03d}" + os.urandom(1).hex()


def create_run_dir(runs_dir: Path, new_id: Callable[[], str] = new_run_id) -> tuple[str, Path]:
    """A new, empty run folder under ``runs_dir`` and its id; an id already taken (two runs
    started in the same millisecond drew the same suffix) is drawn again."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    for _ in range(1000):
        run_id = new_id()
        path = runs_dir / run_id
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return run_id, path
    raise FileExistsError(errno.EEXIST, "no free run id after 1000 tries", str(runs_dir))


def list_runs(runs_dir: Path, warn: Callable[[str], None] | None = None) -> list[RunEntry]:
    """Readable runs under ``runs_dir``, oldest first; ``warn`` hears of each damaged record."""
    return sorted(
        _entries(runs_dir, warn), key=lambda entry: (entry.record.created, entry.path.name)
    )


def _entries(runs_dir: Path, warn: Callable[[str], None] | None) -> Iterator[RunEntry]:
    if not runs_dir.is_dir():
        return
    for child in runs_dir.iterdir():
        if (child / RECORD_NAME).is_file():
            try:
                yield RunEntry(child, read_record(child))
            except RecordError as exc:
                if warn is not None:
                    warn(f"skipping run {child.name}: {exc}")


def remove_leftovers(run_dir: Path) -> int:
    """Delete the temporary files of writes a killed session never finished; how many.

    Call it only while holding the run's lock, with the run's leftover steps stopped: then
    nothing else writes in the folder.
    """
    removed = 0
    for path in run_dir.rglob(".*"):
        if is_leftover(path.name) and path.is_file() and not path.is_symlink():
            try:
                path.unlink()
            except OSError:
                continue
            removed += 1
    return removed


def lock_held(run_dir: Path) -> bool | None:
    """Whether a pipec session holds the run's lock now; None when this cannot be told (no
    lock file, or no ``flock`` here)."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        descriptor = os.open(run_dir / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        # A shared lock is granted only while no session holds its exclusive one.
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(descriptor)  # closing releases the probe's lock
    return False


def is_stale(record: RunRecord, run_dir: Path | None = None) -> bool:
    """A ``running`` record that no live pipec session of this host works on (it was killed)."""
    if record.state is not RunState.RUNNING:
        return False
    if record.host != host_name():
        return False  # cannot tell from here; treat as live
    held = None if run_dir is None else lock_held(run_dir)
    if held is not None:
        return not held
    return not _process_exists(record.pid)


def in_use(entry: RunEntry) -> bool:
    """Whether a live pipec session works on the run now."""
    return entry.record.state is RunState.RUNNING and not is_stale(entry.record, entry.path)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def resumable(record: RunRecord, run_dir: Path | None = None) -> bool:
    return record.state in (RunState.FAILED, RunState.INTERRUPTED) or is_stale(record, run_dir)


def display_state(record: RunRecord, run_dir: Path | None = None) -> str:
    """The run's state as a user should read it: a killed run shows as such."""
    return "killed" if is_stale(record, run_dir) else record.state.value


def find_run(
    runs_dir: Path, wanted: str | None, warn: Callable[[str], None] | None = None
) -> RunEntry | None:
    """The run named ``wanted`` (an id or a path), or the latest resumable one when None.

    A damaged record raises :class:`~pipec.record.RecordError` when it is the one asked for;
    while looking for the latest, it is skipped (``warn`` hears of it).
    """
    if wanted is not None:
        for candidate in (Path(wanted), runs_dir / wanted):
            if (candidate / RECORD_NAME).is_file():
                return RunEntry(candidate, read_record(candidate))
        return None
    for entry in reversed(list_runs(runs_dir, warn)):
        if resumable(entry.record, entry.path):
            return entry
    return None
