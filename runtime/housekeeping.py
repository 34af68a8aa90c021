"""``pipec prune`` and ``pipec cache info|clear``: keeping runs and the cache from piling up.

A run is removed only while this process holds its ``run.lock``, so a run a session works
on (or starts to resume while pruning goes on) is never removed.  The cache commands never
delete what this user cannot read: in a shared cache, another user's entries are theirs; nor
a step environment (``--env venv``) that a running run uses.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

from pipec.cache import default_cache_dir
from pipec.cache_limits import (
    DEFAULT_CACHE_MAX,
    CacheSizeError,
    cache_entries,
    cache_max_bytes,
    format_size,
    remove_entry,
)
from pipec.environment_cache import environment_uses, remove_environment
from pipec.locks import held_alone
from pipec.manifest import MANIFEST_NAME
from pipec.runs import LOCK_NAME, RunEntry, default_runs_dir, display_state, in_use, list_runs

__all__ = ["parse_duration", "register"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class _Refused(Exception):
    """A user's mistake: exit status 2."""


def parse_duration(text: str) -> float:
    """Seconds from ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` or a sum such as ``1d12h``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise _Refused(
            f"--older-than {text!r}: write a number and a unit (s, m, h, d, w), such as "
            "12h, 7d or 1d12h"
        )
    return sum(float(number) * _SECONDS[unit] for number, unit in parts)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``prune`` and ``cache`` to the CLI."""
    prune = subparsers.add_parser(
        "prune",
        help="remove old runs of a build",
        description="Remove the run folders of a build that --keep and --older-than select "
        "(with both, a run must be selected by both). A running run, or one a pipec session "
        "holds, is never removed.",
    )
    prune.add_argument(
        "build_dir",
        metavar="BUILD_DIR",
        type=Path,
        help="the build folder (its runs/), or a folder of run folders (--runs-dir)",
    )
    prune.add_argument("--keep", type=int, default=None, metavar="N", help="keep the N newest runs")
    prune.add_argument(
        "--older-than",
        default=None,
        metavar="DURATION",
        help="remove runs last active more than DURATION ago (90m, 12h, 7d, 2w)",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be removed, remove nothing"
    )
    prune.set_defaults(func=prune_command)

    cache = subparsers.add_parser(
        "cache",
        help="the step cache: its size and limit, or clear it",
        description="pipec cache info shows where the step cache is, its size, its limit "
        f"(PIPEC_CACHE_MAX, default {DEFAULT_CACHE_MAX}), its entries and the step "
        "environments of --env venv; pipec cache clear removes every entry this user can read "
        "and every environment no running run uses (with --older-than: only those last used "
        "longer ago).",
    )
    actions = cache.add_subparsers(
        dest="action",
        required=True,
        metavar="info|clear",
        help="info: its place, size, limit and entries; clear: remove its entries",
    )
    for name, text in (
        ("info", "where the cache is, how big, its limit, its entries and environments"),
        (
            "clear",
            "remove every entry and every environment not in use (another user's unreadable "
            "entries stay)",
        ),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--cache-dir",
            type=Path,
            default=None,
            help="the step cache (default: $PIPEC_CACHE_DIR, else $XDG_CACHE_HOME/pipec, "
            "else ~/.cache/pipec)",
        )
        if name == "clear":
            action.add_argument(
                "--older-than",
                default=None,
                metavar="DURATION",
                help="remove only the entries and environments last used more than DURATION "
                "ago (90m, 12h, 7d, 2w): the least recently used",
            )
        action.set_defaults(func=cache_command)


# -- pipec prune ------------------------------------------------------------------------


def prune_command(args: argparse.Namespace) -> int:
    try:
        return _prune(args)
    except _Refused as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2


def _prune(args: argparse.Namespace) -> int:
    if args.keep is None and args.older_than is None:
        raise _Refused(
            "say which runs to remove: --keep N (the newest N stay), --older-than DURATION, or both"
        )
    if args.keep is not None and args.keep < 0:
        raise _Refused(f"--keep {args.keep}: give 0 or more")
    age = None if args.older_than is None else parse_duration(args.older_than)
    folder: Path = args.build_dir
    if not folder.is_dir():
        raise _Refused(f"{folder}: no such build folder")
    runs_dir = default_runs_dir(folder) if (folder / MANIFEST_NAME).is_file() else folder
    entries = list_runs(runs_dir, lambda text: print(f"pipec: {text}", file=sys.stderr))
    selected = entries if args.keep is None else entries[: max(0, len(entries) - args.keep)]
    if age is not None:
        now = time.time()
        selected = [entry for entry in selected if now - _last_active(entry) > age]
    removed = 0
    for entry in selected:
        run_id = entry.record.run_id
        if in_use(entry):
            print(f"pipec: kept {run_id}: it is running", file=sys.stderr)
            continue
        if args.dry_run:
            print(f"would remove {run_id} ({display_state(entry.record, entry.path)})")
            continue
        with held_alone(entry.path / LOCK_NAME) as held:
            if not held:
                print(f"pipec: kept {run_id}: a pipec session holds it", file=sys.stderr)
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
        if entry.path.exists():
            print(f"pipec: could not remove all of {entry.path}", file=sys.stderr)
            continue
        removed += 1
        print(f"removed {run_id} ({display_state(entry.record)})")
    left = len(entries) - removed
    verb = "would remove" if args.dry_run else "removed"
    count = len(selected) if args.dry_run else removed
    print(
        f"pipec: {verb} {count} run(s); {left if not args.dry_run else len(entries)} in {runs_dir}",
        file=sys.stderr,
    )
    return 0


def _last_active(entry: RunEntry) -> float:
    """When the run was last written: its record's ``updated`` time."""
    for stamp in (entry.record.updated, entry.record.ended, entry.record.created):
        if stamp:
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(stamp).timestamp()
    return entry.path.stat().st_mtime


# -- pipec cache ------------------------------------------------------------------------


def cache_command(args: argparse.Namespace) -> int:
    root: Path = args.cache_dir or default_cache_dir()
    try:
        limit = cache_max_bytes()
    except CacheSizeError as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2
    if args.action == "info":
        return _info(root, limit)
    try:
        age = None if args.older_than is None else parse_duration(args.older_than)
    except _Refused as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2
    return _clear(root, age)


def _info(root: Path, limit: int) -> int:
    entries = list(cache_entries(root))
    total = sum(entry.size for entry in entries)
    others = sum(1 for entry in entries if not entry.readable)
    leftovers = _tmp_leftovers(root)
    print(f"cache:    {root}")
    print(f"entries:  {len(entries)}" + (f" ({others} another user's)" if others else ""))
    print(f"size:     {format_size(total)}")
    print(f"limit:    {format_size(limit)} (PIPEC_CACHE_MAX; least recently used go first)")
    if entries:
        used = sorted(entry.last_used for entry in entries)
        print(f"used:     {_when(used[0])} (least recent) to {_when(used[-1])} (most recent)")
    if leftovers:
        print(f"tmp:      {leftovers} leftover(s) of killed writers, removed by the next run")
    environments = environment_uses(root / "envs")
    if environments:
        busy = sum(1 for env in environments if env.in_use)
        size = format_size(sum(env.size for env in environments))
        print(
            f"envs:     {len(environments)} step environment(s), {size}"
            + (f", {busy} in use by a running run" if busy else "")
            + f" ({root / 'envs'})"
        )
        first, last = environments[0].last_used, environments[-1].last_used
        print(f"          used {_when(first)} (least recent) to {_when(last)} (most recent)")
    return 0


def _clear(root: Path, age: float | None = None) -> int:
    removed = kept = 0
    freed = 0
    now = time.time()
    for entry in cache_entries(root):
        if age is not None and now - entry.last_used <= age:
            continue
        if not entry.readable:
            kept += 1
            continue
        if remove_entry(root, entry.path):
            removed += 1
            freed += entry.size
        else:
            kept += 1
    # A writer stages an entry in tmp/ for seconds: what is older belongs to a killed one.
    swept = 0
    with contextlib.suppress(OSError):
        for leftover in (root / "tmp").iterdir():
            with contextlib.suppress(OSError):
                old = now - leftover.lstat().st_mtime > _STAGING_AGE
                if (old or leftover.name.startswith("discarded.")) and os.access(leftover, os.R_OK):
                    _remove(leftover)
                    swept += 1
    print(
        f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} "
        f"({format_size(freed)}) from {root}"
    )
    if swept:
        print(f"removed {swept} leftover(s) in {root / 'tmp'}")
    if kept:
        print(
            f"kept {kept} entr{'y' if kept == 1 else 'ies'} this user cannot remove "
            "(another user's)"
        )
    _clear_environments(root / "envs", age, now)
    return 0


def _clear_environments(envs: Path, age: float | None, now: float) -> None:
    """Remove the step environments no running run uses (least recently used first)."""
    removed = busy = 0
    freed = 0
    for env in environment_uses(envs):
        if age is not None and now - env.last_used <= age:
            continue
        if remove_environment(envs, env.path):
            removed += 1
            freed += env.size
        else:
            busy += 1
    if removed:
        print(f"removed {removed} step environment(s) ({format_size(freed)}) from {envs}")
    if busy:
        print(f"kept {busy} step environment(s) in use by a running run (or being built)")


_STAGING_AGE = 600.0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _tmp_leftovers(root: Path) -> int:
    with contextlib.suppress(OSError):
        return sum(1 for _ in (root / "tmp").iterdir())
    return 0


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
