"""pipec's benchmark suite: build and run times, overheads and memory, as a table with goals.

    python benchmarks/run.py [--quick] [--only SUITE ...] [--repetitions N] [--kfp-python PATH]

Every figure is the median of several repetitions in which each measured thing alternates
with its baseline, and every ratio compares figures taken in the same run.  Everything
the suite writes goes to a temporary folder that it removes.  This is not a test: nothing
here asserts, and CI never runs it.  See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from machine import describe_machine
from measure import CommandFailed
from suites import SUITES, Settings
from table import Row, format_table

REPOSITORY = Path(__file__).resolve().parent.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions and smaller sizes (about a minute)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SUITES),
        metavar="SUITE",
        help=f"run only this suite (repeatable): {', '.join(SUITES)}",
    )
    parser.add_argument(
        "--repetitions", type=int, metavar="N", help="rounds per suite (default: 5, quick: 2)"
    )
    parser.add_argument(
        "--kfp-python",
        metavar="PATH",
        help="an interpreter with kfp installed, for the Kubeflow comparison "
        "(default: this one; the comparison is skipped when it cannot import kfp)",
    )
    return parser


def _run_suite(name: str, settings: Settings) -> list[Row]:
    started = time.perf_counter()
    print(f"benchmark {name} ...", file=sys.stderr, flush=True)
    try:
        rows = SUITES[name](settings)
    except CommandFailed as exc:
        rows = [Row(name, failure=str(exc))]
    print(f"benchmark {name}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return rows


def _busy_warning() -> str | None:
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    if load > 0.5 * cores:
        return (
            f"warning: the load average was {load:.2f} on {cores} cores at the start: other "
            "work shares this machine and the figures are noisy; re-measure on a quiet machine"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    chosen = args.only or list(SUITES)
    repetitions = args.repetitions or (2 if args.quick else 5)
    machine = describe_machine(REPOSITORY)
    warning = _busy_warning()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="pipec-bench-") as workdir:
        settings = Settings(args.quick, repetitions, Path(workdir), REPOSITORY, args.kfp_python)
        for name in chosen:
            rows += _run_suite(name, settings)
    width = max(len(label) for label, _ in machine)
    for label, value in machine:
        print(f"{label.ljust(width)}  {value}")
    mode = "quick" if args.quick else "full"
    print(f"{'mode'.ljust(width)}  {mode}, medians of {repetitions} interleaved repetitions")
    if warning:
        print(warning)
    print()
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
