"""Where each line of a generated script came from in the pipeline file.

A script carries copies of the user's code (the step function, the module code it needs, the
controller statements of a glue node) with other indentation and a few rewritten lines. The
runner reads the table this module computes to show a traceback at the user's lines
(`pipeline.py:21, in flaky`) instead of the script's.

Lines are matched by their text without surrounding whitespace, in order, inside the part of
the pipeline file the piece was copied from; a line pipec rewrote (a glue `return`, an `if`
test) takes the place of the next line of that part that was not matched yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CarriedPiece", "LineRange", "map_lines"]


@dataclass(frozen=True)
class CarriedPiece:
    """Code copied into a script: its text as rendered, and where in the source to look for it.

    ``window`` is (first, last) source line, 1-based and inclusive, when the compiler knows it
    (a glue node's statements); None makes the piece find its own place by its text.
    """

    text: str
    window: tuple[int, int] | None = None


@dataclass(frozen=True)
class LineRange:
    """Script lines ``first``..``last`` (1-based, inclusive) came from source lines ``source``..."""

    first: int
    last: int
    source: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.first, self.last, self.source)


def map_lines(script: str, source: str, pieces: Sequence[CarriedPiece]) -> tuple[LineRange, ...]:
    """The script lines that came from the source, as ranges of consecutive lines."""
    script_lines = script.split("\n")
    source_lines = [line.strip() for line in source.split("\n")]
    mapped: dict[int, int] = {}  # script line -> source line, both 1-based
    searched_from = 0
    for piece in pieces:
        piece_lines = piece.text.rstrip("\n").split("\n")
        at = _find_block(script_lines, piece_lines, searched_from)
        if at is None:
            continue
        searched_from = at + len(piece_lines)
        window = piece.window or _find_window(source_lines, piece_lines)
        if window is None:
            continue
        for offset, source_line in _align(piece_lines, source_lines, window).items():
            mapped[at + offset + 1] = source_line
    return _ranges(mapped)


def _find_block(lines: Sequence[str], block: Sequence[str], start: int) -> int | None:
    """The 0-based index where ``block`` appears in ``lines`` (trailing spaces ignored)."""
    wanted = [line.rstrip() for line in block]
    for index in range(start, len(lines) - len(wanted) + 1):
        if all(lines[index + k].rstrip() == wanted[k] for k in range(len(wanted))):
            return index
    return None


def _find_window(source_lines: Sequence[str], piece_lines: Sequence[str]) -> tuple[int, int] | None:
    """Where a piece copied as it was written sits in the source: the best-matching place."""
    content = [line.strip() for line in piece_lines if line.strip()]
    if not content:
        return None
    best: tuple[int, int] | None = None
    best_score = 0
    for index, line in enumerate(source_lines):
        if line != content[0]:
            continue
        window = (index + 1, len(source_lines))
        score = len(_align(piece_lines, source_lines, window, exact=True))
        if score > best_score:
            best, best_score = window, score
    return best


def _align(
    piece_lines: Sequence[str],
    source_lines: Sequence[str],
    window: tuple[int, int],
    exact: bool = False,
) -> dict[int, int]:
    """Piece line offset (0-based) -> source line (1-based), in order, within ``window``.

    With ``exact`` only lines found are mapped, up to the first that is not; else a rewritten
    line takes the next unmatched source line of the window.
    """
    first, last = window
    cursor = first  # the next source line (1-based) a piece line may match
    found: dict[int, int] = {}
    for offset, line in enumerate(piece_lines):
        text = line.strip()
        if not text:
            continue
        match = next(
            (n for n in range(cursor, last + 1) if source_lines[n - 1] == text),
            None,
        )
        if match is not None:
            found[offset] = match
            cursor = match + 1
        elif exact:
            break
        elif not text.startswith("#") and not (offset == 0 and text.startswith("def ")):
            # A comment never runs, and the wrapper's `def` line is pipec's own.
            found[offset] = min(cursor, last)
    return found


def _ranges(mapped: dict[int, int]) -> tuple[LineRange, ...]:
    ranges: list[LineRange] = []
    for line in sorted(mapped):
        source = mapped[line]
        previous = ranges[-1] if ranges else None
        # Lines between two mapped ones are blank or pipec's own and never run, so a range
        # may span them whenever the offset stays the same: a shorter table.
        if previous is not None and previous.source + (line - previous.first) == source:
            ranges[-1] = LineRange(previous.first, line, previous.source)
        else:
            ranges.append(LineRange(line, line, source))
    return tuple(ranges)
