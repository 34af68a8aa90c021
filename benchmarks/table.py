"""Rows of results, goals, and the plain-text table they print as."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Goal", "Row", "format_table", "megabytes", "seconds"]


@dataclass(frozen=True)
class Goal:
    """An upper bound on a figure: a ratio (``unit`` "x") or a time (``unit`` "s")."""

    limit: float
    unit: str

    def describe(self) -> str:
        return f"<= {self.limit:g}{' s' if self.unit == 's' else 'x'}"


@dataclass(frozen=True)
class Row:
    """One line of the table.

    ``checked`` is the figure the goal bounds (the ratio, or the seconds for a time goal).
    A row whose measurement could not be taken carries ``failure`` instead of figures; one
    that was not measured on purpose (an optional part) carries ``note``.
    """

    label: str
    value: str = ""
    baseline: str = ""
    ratio: float | None = None
    goal: Goal | None = None
    checked: float | None = None
    failure: str | None = None
    note: str | None = None

    def status(self) -> str:
        if self.failure is not None:
            return "FAILED: " + self.failure
        if self.note is not None:
            return self.note
        if self.goal is None or self.checked is None:
            return ""
        if self.checked <= self.goal.limit:
            return "met"
        return f"MISSED by {100 * (self.checked / self.goal.limit - 1):.0f}%"


def seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def megabytes(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


_HEADINGS = ("benchmark", "median", "baseline (median)", "ratio", "goal", "status")


def _cells(row: Row) -> tuple[str, ...]:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
    goal = row.goal.describe() if row.goal is not None else ""
    return (row.label, row.value, row.baseline, ratio, goal, row.status())


def format_table(rows: Sequence[Row]) -> str:
    """Left-aligned columns; the status column is last so a long failure message can run on."""
    lines = [_HEADINGS, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(_HEADINGS) - 1)]
    rendered = []
    for index, line in enumerate(lines):
        text = "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        rendered.append(f"{text}  {line[-1]}".rstrip())
        if index == 0:
            rendered.append("-" * len(rendered[0]))
    return "\n".join(rendered)
