"""What a user may type where a command takes a run.

A run folder; a build folder (its latest run) or a folder of run folders (the latest one);
either of those followed by a run id or a unique prefix of one (`pipec show build/iris 2025`);
or a run id or prefix alone, looked up in the builds under `./build`, where `pipec build` puts
them. Run ids start with a digit and node names cannot, so `RUN NODE` and `BUILD RUN_ID NODE`
are told apart by the second word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipec.manifest import MANIFEST_NAME
from pipec.record import RECORD_NAME, read_record
from pipec.runs import RunEntry, default_runs_dir, list_runs
from pipec.value_methods import ValueMethods

__all__ = ["RunReferenceError", "RunWords", "resolve_run", "split_run_words"]


class RunReferenceError(Exception):
    """The words do not name exactly one run; the message says what was found and what to type."""


@dataclass(frozen=True, eq=False, repr=False)
class RunWords(ValueMethods):
    target: str
    run_id: str | None
    rest: tuple[str, ...]


def split_run_words(words: Sequence[str]) -> RunWords:
    """``RUN [RUN_ID] REST...``: the second word is a run id when it starts with a digit."""
    if not words:
        raise RunReferenceError("name a run: a run folder, a build folder, or a run id")
    if len(words) > 1 and words[1][:1].isdigit():
        return RunWords(words[0], words[1], tuple(words[2:]))
    return RunWords(words[0], None, tuple(words[1:]))


def resolve_run(target: str, run_id: str | None = None, cwd: Path | None = None) -> RunEntry:
    """The one run that ``target`` (and ``run_id``) name."""
    path = Path(target)
    if run_id is None and (path / RECORD_NAME).is_file():
        return RunEntry(path.resolve(), read_record(path))
    if path.is_dir():
        runs_dir = default_runs_dir(path) if (path / MANIFEST_NAME).is_file() else path
        return _pick(list_runs(runs_dir), run_id, str(runs_dir))
    if run_id is None and target[:1].isdigit():
        builds = (cwd or Path.cwd()) / "build"
        folders = sorted(p for p in builds.glob("*/runs") if p.is_dir())
        entries = [entry for folder in folders for entry in list_runs(folder)]
        return _pick(entries, target, f"the builds under {builds}")
    raise RunReferenceError(
        f"{target}: no such build folder or run folder, nor a run id; "
        "`pipec show BUILD_DIR` lists a build's runs"
    )


def _pick(entries: Sequence[RunEntry], run_id: str | None, where: str) -> RunEntry:
    if not entries:
        raise RunReferenceError(f"no runs in {where}; start one with `pipec run BUILD_DIR`")
    if run_id is None:
        return entries[-1]
    exact = [e for e in entries if e.record.run_id == run_id]
    matches = exact or [e for e in entries if e.record.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunReferenceError(
            f"no run {run_id!r} in {where}; `pipec show BUILD_DIR` lists the runs"
        )
    ids = ", ".join(e.record.run_id for e in matches[:5])
    raise RunReferenceError(
        f"{run_id!r} matches {len(matches)} runs in {where} ({ids}"
        f"{', ...' if len(matches) > 5 else ''}); give more of the id"
    )
