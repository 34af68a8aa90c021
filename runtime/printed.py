"""What the controller's printing glue printed, kept in the run folder for a resumed run.

A resumed run keeps the glue that already ran; to show the same standard output as an
uninterrupted run it prints again what that glue printed.  Each effects unit's output is
kept as ``printed/<unit>.json`` (the bytes and their sha256, written atomically); one that
is missing or does not match its hash is not kept, so the glue runs (and prints) again.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from pipec.atomic import write_json_atomic
from pipec.paths import inside

__all__ = ["keep_printed", "read_printed"]


def _path(run_dir: Path, unit: str) -> Path:
    return inside(run_dir, f"printed/{unit}.json")


def keep_printed(run_dir: Path, unit: str, printed: bytes) -> None:
    """Keep what ``unit`` printed, for a later resume to print again."""
    document = {
        "sha256": hashlib.sha256(printed).hexdigest(),
        "base64": base64.b64encode(printed).decode("ascii"),
    }
    write_json_atomic(_path(run_dir, unit), document)


def read_printed(run_dir: Path, units: Iterable[str]) -> dict[str, bytes]:
    """What each of ``units`` printed, for those whose kept output is intact."""
    found: dict[str, bytes] = {}
    for unit in units:
        try:
            document = json.loads(_path(run_dir, unit).read_bytes())
            printed = base64.b64decode(document["base64"], validate=True)
            intact = hashlib.sha256(printed).hexdigest() == document["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if intact:
            found[unit] = printed
    return found
