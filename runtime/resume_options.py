"""What a resumed run keeps of the run it continues: its options and its parameters.

A resume is the same run, finished later: every option the first session recorded in
``run.json`` (``--no-cache``, ``--refresh``, ``--workers``, ``--cache-dir``, ``--python``,
``--retry-backoff``, ``--cold``, the executor) applies again unless the command line says
otherwise, and ``--param`` may repeat the run's values but not change them.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipec.literals import encode_literal
from pipec.manifest import MANIFEST_NAME, Parameter
from pipec.params import resolve_parameters
from pipec.session import ResumeError

__all__ = ["check_resume_parameters", "inherit_options", "order_resume_words"]


def order_resume_words(build_dir: Path | None, resume: str | None, latest: str) -> tuple[Path, str]:
    """The build folder and the run to resume, whichever order they were written in.

    ``--resume`` takes an optional value, so ``pipec run --resume BUILD`` hands it the build
    folder; a value that is a build folder (it holds a manifest) is taken as one.
    """
    assert resume is not None
    if resume != latest and (Path(resume) / MANIFEST_NAME).is_file():
        if build_dir is None:
            return Path(resume), latest
        if not (build_dir / MANIFEST_NAME).is_file():
            return Path(resume), str(build_dir)  # pipec run --resume BUILD RUN
    if build_dir is None:
        raise ResumeError(
            "--resume needs the build folder: pipec run BUILD_DIR --resume [RUN] "
            "(or pipec run --resume BUILD_DIR)"
        )
    return build_dir, resume


def inherit_options(args: argparse.Namespace, recorded: Mapping[str, object]) -> None:
    """Fill every option the command line left unset with the value the run recorded."""
    if args.workers is None and isinstance(recorded.get("workers"), int):
        args.workers = recorded["workers"]
    if recorded.get("no_cache") is True:
        args.no_cache = True
    refresh = recorded.get("refresh")
    if isinstance(refresh, list):
        args.refresh = sorted({*args.refresh, *(str(node) for node in refresh)})
    if args.cache_dir is None and isinstance(recorded.get("cache_dir"), str):
        args.cache_dir = Path(str(recorded["cache_dir"]))
    if args.python is None and isinstance(recorded.get("python"), str):
        python = Path(str(recorded["python"]))
        if python.exists():  # an interpreter that is gone is not worth an error: use this one
            args.python = str(python)
    backoff = recorded.get("retry_backoff")
    if args.retry_backoff is None and isinstance(backoff, (int, float)):
        args.retry_backoff = float(backoff)
    if recorded.get("cold") is True:
        args.cold = True
    # "local" is the default --executor, so it cannot tell an explicit choice from none.
    if args.executor == "local" and args.scheduler is None and recorded.get("executor") == "dask":
        args.executor = "dask"
        scheduler = recorded.get("scheduler")
        args.scheduler = scheduler if isinstance(scheduler, str) else None


def check_resume_parameters(
    declared: Sequence[Parameter], given: Sequence[str], saved: Mapping[str, object]
) -> None:
    """Accept ``--param`` values equal to the run's own; refuse different ones, naming them."""
    if not given:
        return
    optional = [dataclasses.replace(param, required=False) for param in declared]
    values = resolve_parameters(optional, given)
    named = {item.partition("=")[0].strip() for item in given}
    differing = [
        f"{name} (the run has {_shown(saved.get(name))}, --param gives {_shown(encode_literal(values[name]))})"
        for name in sorted(named)
        if encode_literal(values[name]) != saved.get(name)
    ]
    if differing:
        raise ResumeError(
            "--resume continues a run with its own parameters, and these differ: "
            + "; ".join(differing)
            + ". Drop those --param flags, or start a new run without --resume"
        )


def _shown(encoded: object) -> str:
    if isinstance(encoded, dict):
        if "value" in encoded:
            return repr(encoded["value"])
        if "literal" in encoded:
            return str(encoded["literal"])
    return repr(encoded)
