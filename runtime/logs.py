"""``pipec logs``: a node's log with every attempt, or every node's, and following a live run.

A log is `logs/<unit>.log` in the run folder: what the step wrote to stdout and stderr, with
one `==> pipec: NODE, attempt N` line before each attempt. A map body node's log is the logs of
its instances (`square[0]`, `square[1]`, ...).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from pipec.record import RecordError, RunRecord, read_record
from pipec.runs import is_stale

__all__ = ["LogError", "follow_logs", "log_files", "print_logs"]

_POLL = 0.2  # seconds between looks at a live run's logs


class LogError(Exception):
    """A node the run does not have: the message lists the ones it has."""


def log_files(run_dir: Path, record: RunRecord, node: str | None) -> list[tuple[str, Path]]:
    """(unit, log file) for NODE (its instances, for a map body node) or for every unit."""
    units = list(record.nodes)
    if node is not None:
        instance = re.compile(re.escape(node) + r"\[\d+\]$")
        chosen = [u for u in units if u == node and not _has_instances(u, units)]
        chosen += [u for u in units if instance.match(u)]
        if not chosen and node not in record.nodes:
            raise LogError(f"run {record.run_id} has no node {node!r}; it has: {', '.join(units)}")
        units = chosen or [node]
    return [(unit, run_dir / "logs" / f"{unit}.log") for unit in units]


def _has_instances(unit: str, units: Sequence[str]) -> bool:
    return any(other.startswith(unit + "[") for other in units)


def print_logs(files: Sequence[tuple[str, Path]], out: TextIO, prefixed: bool) -> None:
    """Each log as it is now; every line prefixed `[unit] ` when several logs are shown."""
    for unit, path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue  # the unit never ran
        _write(out, unit, text, prefixed)


def follow_logs(
    run_dir: Path,
    files: Callable[[RunRecord], Sequence[tuple[str, Path]]],
    out: TextIO,
    prefixed: bool,
) -> None:
    """Print what the logs hold, then what is added to them, until the run is over."""
    offsets: dict[Path, int] = {}
    partial: dict[Path, str] = {}
    while True:
        try:
            record = read_record(run_dir)
        except RecordError:
            record = None
        over = record is None or record.state.value != "running" or is_stale(record)
        for unit, path in files(record) if record is not None else []:
            try:
                with open(path, "rb") as log:
                    log.seek(offsets.get(path, 0))
                    chunk = log.read()
            except FileNotFoundError:
                continue
            if not chunk:
                continue
            offsets[path] = offsets.get(path, 0) + len(chunk)
            text = partial.pop(path, "") + chunk.decode("utf-8", errors="replace")
            complete, _, rest = text.rpartition("\n")
            if rest and not over:
                partial[path] = rest  # wait for the end of the line
                text = complete + "\n" if complete else ""
            _write(out, unit, text, prefixed)
        out.flush()
        if over:
            return
        time.sleep(_POLL)


def _write(out: TextIO, unit: str, text: str, prefixed: bool) -> None:
    if not text:
        return
    if not prefixed:
        out.write(text if text.endswith("\n") else text + "\n")
        return
    for line in text.splitlines():
        out.write(f"[{unit}] {line}\n")
