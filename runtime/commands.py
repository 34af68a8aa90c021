"""``pipec run``, ``pipec show`` and ``pipec inspect``: argument parsing and wiring.

:func:`register` adds the subcommands to the CLI's argparse subparsers; each handler
takes the parsed arguments and returns the exit code (0 success, 1 the pipeline failed,
2 usage or manifest error, 130 interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from pipec.cache import StepCache, default_cache_dir
from pipec.console import Console
from pipec.executor import Executor, LocalExecutor, stop_leftover_steps
from pipec.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from pipec.params import ParameterError, resolve_parameters
from pipec.record import RECORD_NAME, RecordError, read_record, record_to_json
from pipec.report import format_run_details, format_run_list
from pipec.requirements_check import (
    ProbeError,
    Requirement,
    find_mismatches,
    format_mismatches,
    parse_requirement,
    probe_interpreter,
)
from pipec.resume import reusable_nodes, script_hashes
from pipec.runner import ExitCode, PipelineRun, RunOptions
from pipec.runs import default_runs_dir, display_state, find_run, list_runs, new_run_id, resumable
from pipec.session import (
    ResumeError,
    check_resumable,
    fresh_record,
    resumed_record,
    saved_parameters,
)
from pipec.store import META_SUFFIX, LocalArtifactStore, StoreError, read_meta
from pipec.warm import WarmExecutor, warm_starts_possible

__all__ = ["register"]

_LATEST = "latest"


class UsageError(Exception):
    """A user mistake: printed as ``pipec: error: ...`` and exit status 2."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run``, ``show`` and ``inspect`` to the CLI."""
    run = subparsers.add_parser(
        "run",
        help="run a build on this host",
        description="Run the pipeline a `pipec build` folder describes: independent steps in "
        "parallel, cached steps from the cache, a record of everything in a run folder.",
    )
    run.add_argument(
        "build_dir", metavar="BUILD_DIR", type=Path, help="the folder `pipec build` wrote"
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a pipeline parameter, as a Python literal (--param n=12 --param tags='[\"a\"]'); "
        "text parameters also take bare text",
    )
    run.add_argument(
        "--workers", type=int, default=None, metavar="N", help="steps at once (default: the CPUs)"
    )
    run.add_argument("--no-cache", action="store_true", help="neither read nor fill the step cache")
    run.add_argument(
        "--refresh",
        action="append",
        default=[],
        metavar="NODE",
        help="recompute NODE even if cached (repeatable); the fresh result replaces the entry",
    )
    run.add_argument(
        "--resume",
        nargs="?",
        const=_LATEST,
        default=None,
        metavar="RUN",
        help="continue a failed, interrupted or killed run (default: the latest one), keeping its "
        "finished steps and its parameters; RUN is a run id or a run folder",
    )
    run.add_argument(
        "--runs-dir", type=Path, default=None, help="where run folders go (default: BUILD_DIR/runs)"
    )
    run.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="the step cache (default: $PIPEC_CACHE_DIR, else $XDG_CACHE_HOME/pipec, "
        "else ~/.cache/pipec)",
    )
    run.add_argument(
        "--python",
        default=None,
        metavar="PATH",
        help="the interpreter that runs the steps (default: the one running pipec)",
    )
    run.add_argument(
        "--cold",
        action="store_true",
        help="start every step in a fresh interpreter, as does PIPEC_COLD=1 in the environment "
        "(default: fork it from a process that has already imported its modules, where the "
        "platform allows)",
    )
    run.add_argument(
        "--skip-requirements-check",
        action="store_true",
        help="start even if the interpreter lacks a step's requirements",
    )
    run.add_argument(
        "--retry-backoff",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="wait before the first retry of a failed step; doubles for each further retry "
        "(default 1)",
    )
    run.set_defaults(func=run_command)

    show = subparsers.add_parser(
        "show",
        help="list the runs of a build, or show one run's execution details",
        description="pipec show BUILD_DIR lists its runs; pipec show RUN_DIR shows the execution "
        "details of one run (step, state, duration, cached, attempts, outputs).",
    )
    show.add_argument("target", metavar="BUILD_DIR|RUN", type=Path)
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show.set_defaults(func=show_command)

    inspect = subparsers.add_parser(
        "inspect",
        help="print one artifact of a run (this unpickles it)",
        description="Load one output of a run in the run's interpreter and print it. "
        "Unpickling runs code from the artifact: only inspect runs you trust.",
    )
    inspect.add_argument("run", metavar="RUN", type=Path, help="a run folder")
    inspect.add_argument("artifact", metavar="NODE[.OUTPUT]")
    inspect.add_argument(
        "--python", default=None, metavar="PATH", help="load it with this interpreter instead"
    )
    inspect.set_defaults(func=inspect_command)


# -- pipec run --------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    console = Console()
    try:
        with _sigterm_as_interrupt():
            return _run(args, console)
    except (UsageError, ManifestError, ParameterError, ResumeError, ProbeError, RecordError) as exc:
        console.block(f"pipec: error: {exc}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        console.status("interrupted before any step started")
        return ExitCode.INTERRUPTED


def _run(args: argparse.Namespace, console: Console) -> int:
    manifest = load_manifest(args.build_dir)
    runs_dir = (args.runs_dir or default_runs_dir(manifest.build_dir)).resolve()
    workers = args.workers if args.workers is not None else _cpu_count()
    if workers < 1:
        raise UsageError(f"--workers {workers}: give at least 1")
    unknown = sorted(set(args.refresh) - set(manifest.node_names))
    if unknown:
        raise UsageError(
            f"--refresh {', '.join(unknown)}: no such node; "
            f"the nodes are: {', '.join(manifest.node_names)}"
        )
    python = args.python or sys.executable
    needs = _requirements(manifest)
    probe = probe_interpreter(python, {r.name for reqs in needs.values() for r in reqs})
    if probe.interpreter.cloudpickle is None:
        raise UsageError(
            f"the interpreter {python} lacks cloudpickle, which every step script needs; "
            f"install it with: {python} -m pip install cloudpickle"
        )
    if not args.skip_requirements_check:
        mismatches = find_mismatches(needs, probe.installed)
        if mismatches:
            raise UsageError(format_mismatches(python, mismatches))
    options = RunOptions(
        python=python,
        workers=workers,
        use_cache=not args.no_cache,
        refresh=frozenset(args.refresh),
        retry_backoff=max(0.0, args.retry_backoff),
    )
    recorded_options: dict[str, object] = {
        "workers": workers,
        "no_cache": args.no_cache,
        "refresh": sorted(args.refresh),
        "cache_dir": str(args.cache_dir or default_cache_dir()),
        "abort_on_failure": manifest.pipeline.abort_on_failure,
    }
    hashes = script_hashes(manifest)
    if args.resume is not None:
        if args.param:
            raise UsageError("--resume keeps the parameters of the run it continues; drop --param")
        entry = find_run(runs_dir, None if args.resume == _LATEST else args.resume)
        if entry is None:
            which = (
                "failed or interrupted run" if args.resume == _LATEST else f"run {args.resume!r}"
            )
            raise UsageError(
                f"no {which} in {runs_dir} to resume; start a run with `pipec run {args.build_dir}`"
            )
        if not resumable(entry.record):
            raise UsageError(
                f"run {entry.record.run_id} is {display_state(entry.record)}: nothing to resume"
            )
        check_resumable(manifest, entry.record, probe.interpreter)
        run_dir, parameters = entry.path, saved_parameters(entry.record)
        _hold(run_dir, entry.record.run_id)
        for node in stop_leftover_steps(run_dir / "logs"):
            console.status(f"stopped {node}, which the killed run had left running")
        store = LocalArtifactStore(run_dir)
        kept = frozenset(reusable_nodes(manifest, entry.record, store, hashes))
        record = resumed_record(entry.record, kept, probe.interpreter, recorded_options)
        console.status(
            f"resuming run {record.run_id}: keeping {len(kept)} finished step(s) "
            f"of {len(manifest.nodes)}"
        )
    else:
        parameters = resolve_parameters(manifest.parameters, args.param)
        run_id = new_run_id()
        run_dir = runs_dir / run_id
        run_dir.mkdir(parents=True)
        _hold(run_dir, run_id)
        store = LocalArtifactStore(run_dir)
        kept = frozenset()
        record = fresh_record(manifest, run_id, parameters, probe.interpreter, recorded_options)
        console.status(
            f"run {run_id} of {manifest.pipeline.name}: {len(manifest.nodes)} step(s), "
            f"{workers} worker(s); folder {run_dir}"
        )
    run = PipelineRun(
        manifest=manifest,
        record=record,
        run_dir=run_dir,
        parameters=parameters,
        installed=probe.installed,
        kept=kept,
        hashes=hashes,
        options=options,
        executor=_executor(args.cold or _cold_by_environment(), python, console),
        store=store,
        cache=StepCache(args.cache_dir or default_cache_dir()),
        console=console,
    )
    return int(run.execute())


def _cold_by_environment() -> bool:
    return os.environ.get("PIPEC_COLD", "") not in ("", "0")


def _executor(cold: bool, python: str, console: Console) -> Executor:
    if cold:
        return LocalExecutor(console.step_output)
    why_not = warm_starts_possible(python)
    if why_not is not None:
        console.status(f"note: {why_not}; starting every step in a fresh interpreter")
        return LocalExecutor(console.step_output)
    return WarmExecutor(console.step_output, console.status)


_HELD: list[int] = []  # lock files of the runs this process works on, open until it exits


def _hold(run_dir: Path, run_id: str) -> None:
    """Lock the run folder for this process, so that two sessions never work on one run."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        return
    descriptor = os.open(run_dir / "run.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        raise UsageError(
            f"run {run_id} is in use by another pipec process; wait for it to end"
        ) from None
    _HELD.append(descriptor)


def _requirements(manifest: Manifest) -> dict[str, list[Requirement]]:
    needs: dict[str, list[Requirement]] = {}
    problems: list[str] = []
    for node in manifest.nodes:
        needs[node.name] = []
        for spec in node.requirements:
            try:
                needs[node.name].append(parse_requirement(spec))
            except ValueError as exc:
                problems.append(f"node {node.name!r}: {exc}")
    if problems:
        raise ManifestError("\n".join(problems) + "\nfix the step's `packages=` and rebuild")
    return needs


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run the way Ctrl-C does: steps stopped, run resumable."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- pipec show -------------------------------------------------------------------------


def show_command(args: argparse.Namespace) -> int:
    target: Path = args.target.resolve()
    try:
        if (target / RECORD_NAME).is_file():
            record = read_record(target)
            if args.json:
                data = record_to_json(record)
                data["display_state"] = display_state(record)
                print(json.dumps(data, indent=2))
            else:
                print(format_run_details(record, target))
            return ExitCode.OK
        runs_dir = default_runs_dir(target) if (target / MANIFEST_NAME).is_file() else target
        if not target.is_dir():
            raise UsageError(f"{target}: no such build folder or run folder")
        entries = list_runs(runs_dir)
        if args.json:
            rows = [
                {
                    "run_id": e.record.run_id,
                    "path": str(e.path),
                    "state": display_state(e.record),
                    "created": e.record.created,
                    "ended": e.record.ended,
                    "nodes": {s.value: n for s, n in e.record.counts().items()},
                }
                for e in entries
            ]
            print(json.dumps(rows, indent=2))
        else:
            print(format_run_list(entries))
        return ExitCode.OK
    except (UsageError, RecordError) as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE


# -- pipec inspect ----------------------------------------------------------------------

_LOADER = r"""
import json, pprint, sys
path = sys.argv[1]
try:
    with open(path + ".meta.json", encoding="utf-8") as handle:
        meta = json.load(handle)
except FileNotFoundError:
    meta = {}
here = "%d.%d" % sys.version_info[:2]
if meta.get("python") not in (None, here):
    sys.exit("pipec inspect: %s was written by Python %s; this is Python %s: pass --python "
             "with a Python %s interpreter" % (path, meta["python"], here, meta["python"]))
try:
    import cloudpickle as loader
except ImportError:
    import pickle as loader
with open(path, "rb") as handle:
    value = loader.load(handle)
pprint.pp(value, width=100)
"""


def inspect_command(args: argparse.Namespace) -> int:
    try:
        record = read_record(args.run)
        node, _, output = str(args.artifact).partition(".")
        if node not in record.nodes:
            raise UsageError(
                f"run {record.run_id} has no node {node!r}; it has: {', '.join(record.nodes)}"
            )
        outputs = record.nodes[node].outputs
        if not outputs:
            raise UsageError(
                f"node {node!r} has no outputs in this run "
                f"(state: {record.nodes[node].state.value})"
            )
        if not output:
            if len(outputs) > 1:
                choices = ", ".join(f"{node}.{name}" for name in outputs)
                raise UsageError(f"node {node!r} has several outputs; name one of: {choices}")
            output = next(iter(outputs))
        if output not in outputs:
            raise UsageError(
                f"node {node!r} has no output {output!r}; it has: {', '.join(outputs)}"
            )
        path = args.run / outputs[output].path
        if not path.is_file():
            raise UsageError(f"{path} is gone")
    except (UsageError, RecordError) as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    python = args.python or _run_interpreter(record.python.executable)
    meta = _describe_meta(path)
    print(f"pipec: {node}.{output}: {path}{meta}", file=sys.stderr)
    sys.stdout.flush()
    done = subprocess.run([python, "-c", _LOADER, str(path)], stdin=subprocess.DEVNULL, check=False)
    return ExitCode.OK if done.returncode == 0 else ExitCode.FAILED


def _run_interpreter(recorded: str) -> str:
    return recorded if Path(recorded).exists() else sys.executable


def _describe_meta(path: Path) -> str:
    try:
        meta = read_meta(path)
    except StoreError:
        return f" (no readable {path.name}{META_SUFFIX})"
    return (
        f" ({meta.get('size')} bytes, sha256 {str(meta.get('sha256'))[:12]}..., "
        f"Python {meta.get('python')}, cloudpickle {meta.get('cloudpickle')})"
    )
