"""pipec's help is laid out to the width argparse's own formatter would use."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from pipec.help_formatter import ArgumentParser, _terminal_columns


@pytest.mark.parametrize("columns", [None, "0", "-3", "wide", "57", "200"])
def test_width_is_shutils(monkeypatch: pytest.MonkeyPatch, columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert _terminal_columns() == shutil.get_terminal_size().columns


def _parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = parser_class(prog="demo", description="A description long enough to wrap. " * 4)
    parser.add_argument("--workers", metavar="N", type=int, help="how many at once " * 6)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("run", help="run it " * 8)
    run.add_argument("build_dir", help="the folder " * 9)
    return parser


@pytest.mark.parametrize("columns", ["40", "100"])
def test_help_text_is_argparses(monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    ours, theirs = _parser(ArgumentParser), _parser(argparse.ArgumentParser)
    assert ours.format_help() == theirs.format_help()
    run_ours = ours._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    run_theirs = theirs._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    assert type(run_ours) is ArgumentParser
    assert run_ours.format_help() == run_theirs.format_help()


def test_pipec_run_loads_no_shutil() -> None:
    """argparse's formatter imported shutil (with bz2 and lzma) in every pipec command."""
    probe = (
        "import sys\n"
        "from pipec.compiler.cli import _parser\n"
        "_parser(only_run=True).parse_args(['run', 'build'])\n"
        "print('shutil' in sys.modules, 'bz2' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
