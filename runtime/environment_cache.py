"""The step environments under ``<cache>/envs``: what is there, and removing the unused ones.

An environment is in use while some process holds the shared lock on its ``<key>.in-use``
file (``pipec run --env venv`` for the whole run; on a Dask worker, the step itself).  It is
removed only while this process holds that lock alone and the build lock beside it, after
one rename out of its name, so a run never starts on a half-removed environment: a run that
comes later finds no marker and builds it again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipec.environments import IN_USE_SUFFIX, MARKER
from pipec.locks import held_alone
from pipec.value_methods import ValueMethods

__all__ = ["EnvironmentUse", "environment_uses", "remove_environment"]


@dataclass(frozen=True, eq=False, repr=False)
class EnvironmentUse(ValueMethods):
    path: Path
    size: int
    last_used: float  # the modification time of its marker, touched at every use
    in_use: bool


def environment_uses(root: Path) -> list[EnvironmentUse]:
    """Every finished environment under ``root`` (``<cache>/envs``), least recently used first."""
    found: list[EnvironmentUse] = []
    with contextlib.suppress(OSError):
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(".") or not (folder / MARKER).is_file():
                continue
            with contextlib.suppress(OSError):
                last_used = (folder / MARKER).stat().st_mtime
                with _alone(root, folder.name) as alone:
                    in_use = not alone
                found.append(EnvironmentUse(folder, _size(folder), last_used, in_use))
    return sorted(found, key=lambda use: use.last_used)


def remove_environment(root: Path, folder: Path) -> bool:
    """Remove one environment unless a process uses it or builds it; whether it is gone."""
    key = folder.name
    with _alone(root, key) as alone, _alone(root, key, ".lock") as not_building:
        if not (alone and not_building):
            return False
        # A leftover name the next build of this key sweeps up, should this process die now.
        doomed = root / f".{key}.removed-{os.getpid()}.tmp"
        try:
            os.rename(folder, doomed)
        except OSError:
            return False
    shutil.rmtree(doomed, ignore_errors=True)
    return True


def _alone(
    root: Path, key: str, suffix: str = IN_USE_SUFFIX
) -> contextlib.AbstractContextManager[bool]:
    """The exclusive lock of ``<key><suffix>`` while the block runs, if nobody else holds it."""
    return held_alone(root / f"{key}{suffix}")


def _size(folder: Path) -> int:
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(parent, name)).st_size
    return total
