"""pipec's argument parser: argparse's, with help laid out to the terminal's width as before,
found without importing ``shutil``.

argparse's help formatter imports ``shutil`` (and with it ``bz2``, ``lzma`` and ``zlib``) for
``shutil.get_terminal_size``, and builds a formatter for every option it adds, so every pipec
command paid for them whether or not it printed help.  The width is read the same way here.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["ArgumentParser"]

_FALLBACK_COLUMNS = 80  # shutil.get_terminal_size's fallback


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: $COLUMNS when a positive number, else the
    terminal's width on stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or _FALLBACK_COLUMNS


class _HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2  # argparse's own margin
        super().__init__(prog, indent_increment, max_help_position, width)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose subcommands' parsers are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
