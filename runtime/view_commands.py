"""``pipec logs``, ``pipec report`` and ``pipec show --graph/--dot``: looking at a run.

Each handler takes the parsed arguments and returns the exit code (0, or 2 for a mistake).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipec.graph_view import format_dot, format_graph, pipeline_graph
from pipec.html_report import write_report
from pipec.logs import LogError, follow_logs, log_files, print_logs
from pipec.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from pipec.record import RECORD_NAME, RecordError, RunRecord
from pipec.references import RunReferenceError, resolve_run, split_run_words

__all__ = ["RUN_HELP", "register", "show_graph"]

RUN_HELP = (
    "the run: its folder; a build folder (its latest run); a build folder and a run id or "
    "a unique prefix of one; or a run id alone (looked up under ./build)"
)
_USER_ERRORS = (RunReferenceError, RecordError, ManifestError, LogError)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``logs`` and ``report`` to the CLI."""
    logs = subparsers.add_parser(
        "logs",
        help="print a run's logs: one node's (every attempt) or all nodes', interleaved",
        description="Print the log of one node of a run, with every attempt, or of every node "
        "with its name before each line. -f follows a live run until it ends.",
    )
    logs.add_argument(
        "words",
        nargs="+",
        metavar="RUN [RUN_ID] [NODE]",
        help=RUN_HELP + "; then the node (default: every node)",
    )
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing what is added until the run ends"
    )
    logs.set_defaults(func=logs_command)

    report = subparsers.add_parser(
        "report",
        help="write one run as a self-contained HTML page",
        description="Write a run as one HTML file with no outside resources: the DAG with each "
        "node's state and duration, the execution details, the parameters, each node's log "
        "and a preview of each artifact. Every run also writes runs/<id>/report.html at its end.",
    )
    report.add_argument("words", nargs="+", metavar="RUN [RUN_ID]", help=RUN_HELP)
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="where to write the page (default: report.html in the run folder)",
    )
    report.set_defaults(func=report_command)


def logs_command(args: argparse.Namespace) -> int:
    try:
        words = split_run_words(args.words)
        if len(words.rest) > 1:
            raise RunReferenceError(
                f"expected RUN [RUN_ID] [NODE], got {len(args.words)} words: {' '.join(args.words)}"
            )
        node = words.rest[0] if words.rest else None
        entry = resolve_run(words.target, words.run_id)
        files = log_files(entry.path, entry.record, node)
    except _USER_ERRORS as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2
    prefixed = node is None or len(files) > 1
    if args.follow:

        def current(record: RunRecord) -> list[tuple[str, Path]]:
            # A map's instances appear as the run goes: ask the record each time.
            return log_files(entry.path, record, node)

        follow_logs(entry.path, current, sys.stdout, prefixed)
    else:
        print_logs(files, sys.stdout, prefixed)
    return 0


def report_command(args: argparse.Namespace) -> int:
    try:
        words = split_run_words(args.words)
        if words.rest:
            raise RunReferenceError(f"unexpected words after the run: {' '.join(words.rest)}")
        entry = resolve_run(words.target, words.run_id)
        path = write_report(entry.path, entry.record, target=args.output)
    except _USER_ERRORS as exc:
        print(f"pipec: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pipec: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


def show_graph(target: Path, run_id: str | None, dot: bool) -> str:
    """The DAG of a build (no states) or of a run (with its states), as text or DOT."""
    record: RunRecord | None = None
    manifest: Manifest
    if (target / MANIFEST_NAME).is_file() and run_id is None:
        manifest = load_manifest(target)
    else:
        entry = resolve_run(str(target), run_id)
        record = entry.record
        try:
            manifest = load_manifest(Path(record.build_dir))
        except ManifestError as exc:
            raise RunReferenceError(
                f"run {record.run_id}'s build {record.build_dir} cannot be read, and the graph "
                f"comes from it: {exc}"
            ) from None
    graph = pipeline_graph(manifest, record)
    return format_dot(graph) if dot else format_graph(graph)


def is_run_folder(path: Path) -> bool:
    return (path / RECORD_NAME).is_file()
