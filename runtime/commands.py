"""``pipec run`` and ``pipec show``, and the other commands' registration: arguments and wiring.

:func:`register` adds the subcommands to the CLI's argparse subparsers; each handler
takes the parsed arguments and returns the exit code (0 success, 1 the pipeline failed,
2 usage or manifest error, 130 interrupted).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from pipec.backends import (
    BackendError,
    ExecutorChoice,
    add_executor_arguments,
    choose_cache,
    choose_environments,
    choose_executor,
    choose_store,
)
from pipec.cache import default_cache_dir
from pipec.cache_limits import CacheSizeError, cache_max_bytes
from pipec.console import Console
from pipec.executor import Executor, LocalExecutor, stop_leftover_steps
from pipec.html_report import write_report
from pipec.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from pipec.params import ParameterError, resolve_parameters
from pipec.printed import read_printed
from pipec.record import (
    RECORD_NAME,
    RecordError,
    RunRecord,
    read_record,
    record_to_json,
    write_record,
)
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
from pipec.resume_options import check_resume_parameters, inherit_options, order_resume_words
from pipec.runner import ExitCode, PipelineRun, RunOptions
from pipec.runs import (
    LOCK_NAME,
    RunEntry,
    create_run_dir,
    default_runs_dir,
    display_state,
    find_run,
    in_use,
    list_runs,
    remove_leftovers,
    resumable,
)
from pipec.session import (
    ResumeError,
    check_resumable,
    fresh_record,
    resumed_record,
    saved_parameters,
)
from pipec.warm import WarmExecutor, warm_starts_possible

__all__ = ["register"]

_LATEST = "latest"


class UsageError(Exception):
    """A user mistake: printed as ``pipec: error: ...`` and exit status 2."""


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], only_run: bool = False
) -> None:
    """Add the runtime's subcommands to the CLI: run, show, inspect, logs, report, prune, cache.

    ``only_run`` adds `run` alone: `pipec run` then imports none of the other commands' modules,
    which is part of its fixed cost."""
    _register_run(subparsers)
    if only_run:
        return
    from pipec import housekeeping, inspect_command, view_commands

    _register_show(subparsers)
    inspect_command.register(subparsers)
    view_commands.register(subparsers)
    housekeeping.register(subparsers)


def _register_run(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a build on this host",
        description="Run the pipeline a `pipec build` folder describes: independent steps in "
        "parallel, cached steps from the cache, a record of everything in a run folder.",
    )
    run.add_argument(
        "build_dir",
        metavar="BUILD_DIR",
        type=Path,
        nargs="?",
        default=None,
        help="the folder `pipec build` wrote",
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
        "finished steps, its parameters and its options (--no-cache, --workers, ...); RUN is a "
        "run id or a run folder; `pipec run --resume BUILD_DIR [RUN]` works too",
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
        default=None,
        metavar="SECONDS",
        help="wait before the first retry of a failed step; doubles for each further retry "
        "(default 1)",
    )
    add_executor_arguments(run)
    run.add_argument(
        "--verbose",
        action="store_true",
        help="show Python's full tracebacks, pipec's own frames included (as PIPEC_DEBUG=1 does)",
    )
    run.set_defaults(func=run_command)


def _register_show(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pipec import view_commands

    show = subparsers.add_parser(
        "show",
        help="list the runs of a build, show one run's execution details, or draw the DAG",
        description="pipec show BUILD_DIR lists its runs; pipec show RUN shows the execution "
        "details of one run (step, state, duration, cached, attempts, outputs); --graph draws "
        "the DAG (with the run's states), --dot writes it as Graphviz DOT.",
    )
    show.add_argument(
        "target",
        metavar="BUILD_DIR|RUN",
        help="a build folder (its runs), or a run: " + view_commands.RUN_HELP,
    )
    show.add_argument(
        "run_id",
        nargs="?",
        default=None,
        metavar="RUN_ID",
        help="a run of BUILD_DIR: its id or a prefix",
    )
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON instead of a table")
    shown.add_argument(
        "--graph",
        action="store_true",
        help="draw the DAG: one line per node, layer by layer, with what it waits for and, for "
        "a run, its state and duration",
    )
    shown.add_argument("--dot", action="store_true", help="print the DAG as Graphviz DOT")
    show.set_defaults(func=show_command)


# -- pipec run --------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    console = Console()
    if args.verbose:
        os.environ["PIPEC_DEBUG"] = "1"  # the steps inherit it
    try:
        with _stop_signals_as_interrupt():
            return _run(args, console)
    except (
        UsageError,
        ManifestError,
        ParameterError,
        ResumeError,
        ProbeError,
        RecordError,
        BackendError,
        CacheSizeError,
    ) as exc:
        console.block(f"pipec: error: {exc}")
        return ExitCode.USAGE
    except OSError as exc:  # a write of pipec's own failed: a full disk, a read-only folder
        console.block(f"pipec: error: {_os_error_text(exc)}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        console.status("interrupted before any step started")
        return ExitCode.INTERRUPTED


def _run(args: argparse.Namespace, console: Console) -> int:
    resuming: RunEntry | None = None
    if args.resume is not None:
        args.build_dir, args.resume = order_resume_words(args.build_dir, args.resume, _LATEST)
    elif args.build_dir is None:
        raise UsageError(
            "give the build folder: pipec run BUILD_DIR (the folder `pipec build` wrote)"
        )
    manifest = load_manifest(args.build_dir)
    if args.resume is not None:
        runs_dir = (args.runs_dir or default_runs_dir(manifest.build_dir)).resolve()
        resuming = _run_to_resume(runs_dir, args, console)
        # The resumed run is the same run: what the first session chose applies again.
        inherit_options(args, resuming.record.options)
    # A cluster that cannot be reached is found out here, before a run folder exists.
    choice = choose_executor(args, manifest, console.step_output)
    try:
        run, replay = _prepare(args, console, manifest, choice, resuming)
    except BaseException:
        choice.close_unused()
        raise
    # What the kept printing glue of a resumed run printed, so stdout matches an uninterrupted run.
    for printed_before in replay:
        console.replay(printed_before)
    code = int(run.execute())
    try:
        report = write_report(run.run_dir, read_record(run.run_dir), manifest)
        console.status(f"report: {report}")
    except (OSError, RecordError) as exc:  # the run itself is recorded: only say so
        console.status(f"warning: no report.html: {exc}")
    ended = run.program_exit
    if ended is not None and ended.printed is not None:
        # Last, as Python prints it when the program ends.
        console.program_stderr(ended.printed + "\n")
    return code


def _prepare(
    args: argparse.Namespace,
    console: Console,
    manifest: Manifest,
    choice: ExecutorChoice,
    resuming: RunEntry | None,
) -> tuple[PipelineRun, list[bytes]]:
    runs_dir = (args.runs_dir or default_runs_dir(manifest.build_dir)).resolve()
    cache_limit = cache_max_bytes()  # a bad PIPEC_CACHE_MAX stops here, before a run folder
    workers = args.workers if args.workers is not None else choice.workers or _cpu_count()
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
    # With --env venv the steps run in environments built from their requirements (before
    # any run folder exists), so the interpreter's own packages do not matter.
    cache_dir = args.cache_dir or default_cache_dir()
    environments = choose_environments(args, manifest, probe.interpreter, cache_dir, console.status)
    cache = choose_cache(args.cache, cache_dir, console.status, cache_limit)
    if probe.interpreter.cloudpickle is None and not environments.active:
        raise UsageError(
            f"the interpreter {python} lacks cloudpickle, which every step script needs; "
            f"install it with: {python} -m pip install cloudpickle"
        )
    if not args.skip_requirements_check and not environments.active:
        mismatches = find_mismatches(needs, probe.installed)
        if mismatches:
            raise UsageError(format_mismatches(python, mismatches))
    options = RunOptions(
        python=python,
        workers=workers,
        use_cache=not args.no_cache,
        refresh=frozenset(args.refresh),
        retry_backoff=max(0.0, 1.0 if args.retry_backoff is None else args.retry_backoff),
        interpreters=environments.interpreters,
        installed_by_node=environments.installed,
        env_launchers=environments.launchers,
    )
    recorded_options: dict[str, object] = {
        "workers": workers,
        "no_cache": args.no_cache,
        "refresh": sorted(args.refresh),
        "cache_dir": str(cache_dir),
        "abort_on_failure": manifest.pipeline.abort_on_failure,
        "python": python,
        "retry_backoff": options.retry_backoff,
        "cold": bool(args.cold),
        **choice.recorded,
        **environments.recorded(),
        **({} if args.cache is None else {"cache": args.cache}),
    }
    hashes = script_hashes(manifest)
    replay: list[bytes] = []
    if resuming is not None:
        entry = resuming
        check_resume_parameters(manifest.parameters, args.param, entry.record.parameters)
        check_resumable(manifest, entry.record, probe.interpreter)
        store_choice = choose_store(args.store, entry.record.options.get("store"))
        run_dir, parameters = entry.path, saved_parameters(entry.record)
        _hold(run_dir, entry.record.run_id)
        for node in stop_leftover_steps(run_dir / "logs"):
            console.status(f"stopped {node}, which the killed run had left running")
        remove_leftovers(run_dir)
        store, launcher = store_choice.open(run_dir, entry.record.run_id)
        printing = [node.name for node in manifest.nodes if node.effects]
        printed = read_printed(run_dir, printing)
        kept = frozenset(
            reusable_nodes(manifest, entry.record, store, hashes, console.status, set(printed))
        )
        # What the kept printing glue printed, so that stdout matches an uninterrupted run.
        replay = [printed[name] for name in printing if name in kept]
        recorded_options.update(store_choice.recorded())
        record = resumed_record(entry.record, kept, probe.interpreter, recorded_options)
        console.status(
            f"resuming run {record.run_id}: keeping {len(kept)} finished step(s) "
            f"of {len(manifest.nodes)}"
        )
    else:
        parameters = resolve_parameters(manifest.parameters, args.param)
        store_choice = choose_store(args.store)
        run_id, run_dir = _new_run_dir(runs_dir)
        try:
            store, launcher = store_choice.open(run_dir, run_id)
        except BaseException:
            import shutil  # not at import: argparse no longer loads it for pipec

            shutil.rmtree(run_dir, ignore_errors=True)  # no orphan run folder
            raise
        kept = frozenset()
        recorded_options.update(store_choice.recorded())
        record = fresh_record(manifest, run_id, parameters, probe.interpreter, recorded_options)
        _start_record(run_dir, run_id, record)
        console.status(
            f"run {run_id} of {manifest.pipeline.name}: {len(manifest.nodes)} step(s), "
            f"{workers} worker(s); folder {run_dir}"
        )
    cold = bool(args.cold) or _cold_by_environment()
    executor, starts = _executor(choice, launcher, cold, python, console, len(manifest.nodes))
    record = dataclasses.replace(record, options={**record.options, "starts": starts})
    run = PipelineRun(
        manifest=manifest,
        record=record,
        run_dir=run_dir,
        parameters=parameters,
        installed=probe.installed,
        kept=kept,
        hashes=hashes,
        options=dataclasses.replace(options, launcher=launcher),
        executor=executor,
        store=store,
        cache=cache,
        console=console,
    )
    return run, replay


def _run_to_resume(runs_dir: Path, args: argparse.Namespace, console: Console) -> RunEntry:
    """The run ``--resume`` names (or the latest resumable one), checked to be resumable."""
    entry = find_run(runs_dir, None if args.resume == _LATEST else args.resume, console.status)
    if entry is None:
        if args.resume != _LATEST:
            raise UsageError(
                f"no run {args.resume!r} in {runs_dir} to resume; "
                f"start a run with `pipec run {args.build_dir}`"
            )
        busy = [e.record.run_id for e in list_runs(runs_dir) if in_use(e)]
        if busy:
            raise UsageError(
                f"no failed or interrupted run in {runs_dir} to resume: run {busy[-1]} is in use "
                "by another pipec process; wait for it to end"
            )
        raise UsageError(
            f"no failed or interrupted run in {runs_dir} to resume; "
            f"start a run with `pipec run {args.build_dir}`"
        )
    if in_use(entry):
        raise UsageError(
            f"run {entry.record.run_id} is in use by another pipec process; wait for it to end"
        )
    if not resumable(entry.record, entry.path):
        raise UsageError(
            f"run {entry.record.run_id} is {display_state(entry.record, entry.path)}: "
            "nothing to resume"
        )
    return entry


def _new_run_dir(runs_dir: Path) -> tuple[str, Path]:
    try:
        return create_run_dir(runs_dir)
    except OSError as exc:
        raise UsageError(
            f"cannot create a run folder in {runs_dir} ({exc.strerror or exc}); "
            + _os_error_fix(exc)
        ) from None


def _start_record(run_dir: Path, run_id: str, record: RunRecord) -> None:
    """Lock the new run folder and write its first record; on failure leave no folder behind."""
    try:
        _hold(run_dir, run_id)
        write_record(run_dir, record)
    except (OSError, UsageError) as exc:
        _release(run_dir)
        import shutil  # not at import: argparse no longer loads it for pipec

        shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(exc, UsageError):
            raise
        raise UsageError(
            f"cannot write the run record in {run_dir} ({exc.strerror or exc}); "
            + _os_error_fix(exc)
        ) from None


def _os_error_fix(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            "free some space on that disk, or pass --runs-dir DIR (and --cache-dir DIR) on another"
        )
    return "pass --runs-dir DIR to keep the runs in a folder you can write"


def _os_error_text(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot use{where}: {exc.strerror or exc}; {_os_error_fix(exc)}"


def _cold_by_environment() -> bool:
    return os.environ.get("PIPEC_COLD", "") not in ("", "0")


def _executor(
    choice: ExecutorChoice,
    launcher: tuple[str, ...],
    cold: bool,
    python: str,
    console: Console,
    nodes: int,
) -> tuple[Executor, str]:
    """The cluster the flags chose; else steps forked from warm templates, or fresh interpreters.
    With it, how the run starts steps, as run.json's options record it (`starts`)."""
    if choice.cluster is not None:
        return choice.cluster, "cold"
    if cold:
        return LocalExecutor(console.step_output), "cold"
    why_not = warm_starts_possible(python)
    if why_not is None and launcher:
        why_not = "each step stages its files through the --store"
    if why_not is not None:
        console.status(f"note: {why_not}; starting every step in a fresh interpreter")
        return LocalExecutor(console.step_output), f"cold ({why_not})"
    if nodes == 1:
        # A template is an interpreter start plus the imports, then a fork: it pays off from
        # the second node that forks from it. One node starts cheaper in a fresh interpreter.
        return LocalExecutor(console.step_output), "cold (a single node)"
    # Warm where a template serves the node: run.json's node entries say which were.
    return WarmExecutor(console.step_output, console.status), "warm"


_HELD: dict[Path, int] = {}  # lock files of the runs this process works on, open until it exits


def _hold(run_dir: Path, run_id: str) -> None:
    """Lock the run folder for this process, so that two sessions never work on one run."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        return
    descriptor = os.open(run_dir / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o644)
    # A `pipec show` probing the lock holds it shared for a moment: try a few times.
    for attempt in range(10):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if attempt == 9:
                os.close(descriptor)
                raise UsageError(
                    f"run {run_id} is in use by another pipec process; wait for it to end"
                ) from None
            time.sleep(0.02)
    _HELD[run_dir] = descriptor


def _release(run_dir: Path) -> None:
    descriptor = _HELD.pop(run_dir, None)
    if descriptor is not None:
        os.close(descriptor)


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


# Signals that stop a run the way Ctrl-C does: SIGTERM (a service manager, `kill`) and SIGHUP
# (the terminal closed), so that the steps are stopped too and the run stays resumable.
_STOP_SIGNALS = ("SIGTERM", "SIGHUP")


@contextmanager
def _stop_signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop a run the way Ctrl-C does: steps stopped, run resumable."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous: dict[signal.Signals, object] = {}
    try:
        for name in _STOP_SIGNALS:
            if hasattr(signal, name):
                number = signal.Signals[name]
                previous[number] = signal.signal(number, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


# -- pipec show -------------------------------------------------------------------------


def show_command(args: argparse.Namespace) -> int:
    from pipec.references import RunReferenceError, resolve_run
    from pipec.view_commands import show_graph

    target = Path(args.target)
    try:
        if args.graph or args.dot:
            print(show_graph(target, args.run_id, dot=args.dot), end="\n" * args.graph)
            return ExitCode.OK
        is_listing = target.is_dir() and not (target / RECORD_NAME).is_file()
        if args.run_id is not None or not is_listing:
            entry = resolve_run(args.target, args.run_id)
            record = entry.record
            if args.json:
                data = record_to_json(record)
                data["display_state"] = display_state(record, entry.path)
                print(json.dumps(data, indent=2))
            else:
                print(format_run_details(record, entry.path))
            return ExitCode.OK
        target = target.resolve()
        runs_dir = default_runs_dir(target) if (target / MANIFEST_NAME).is_file() else target
        if not target.is_dir():
            raise UsageError(f"{target}: no such build folder or run folder")
        entries = list_runs(runs_dir, lambda text: print(f"pipec: {text}", file=sys.stderr))
        if args.json:
            rows = [
                {
                    "run_id": e.record.run_id,
                    "path": str(e.path),
                    "state": display_state(e.record, e.path),
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
    except (UsageError, RecordError, RunReferenceError, ManifestError) as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
