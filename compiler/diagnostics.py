"""One diagnostic type and one formatter for everything pipec reports about a user's file."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pipec.manifest import Location

__all__ = [
    "Diagnostic",
    "Location",
    "Reporter",
    "Rule",
    "Severity",
    "UserError",
    "format_all",
    "format_diagnostic",
]


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    severity: Severity
    message: str
    hint: str = ""
    code: str = ""  # the rule's stable code, e.g. "PC201"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(frozen=True)
class Rule:
    """One thing pipec refuses or warns about; `message` and `hint` are `str.format` templates."""

    code: str
    name: str
    severity: Severity
    message: str
    hint: str

    def at(self, location: Location, /, **fields: object) -> Diagnostic:
        return Diagnostic(
            location,
            self.severity,
            self.message.format(**fields),
            self.hint.format(**fields),
            self.code,
        )


class UserError(Exception):
    """Raised to stop a build whose input is wrong; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.message for d in self.diagnostics))


def _source_line(text: str | None, line: int) -> str | None:
    if text is None:
        return None
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None


def format_diagnostic(diagnostic: Diagnostic, source_text: str | None) -> str:
    """`path:line:col: severity[CODE]: message`, the source line, a caret under the column, the hint."""
    loc = diagnostic.location
    # `error[PC201]` as rustc and ruff print it: greppable, and the code can be looked up.
    label = diagnostic.severity.value
    if diagnostic.code:
        label = f"{label}[{diagnostic.code}]"
    out = [f"{loc}: {label}: {diagnostic.message}"]
    line = _source_line(source_text, loc.line)
    if line is not None:
        out.append(f"    {line}")
        # Keep the tabs of the source line so the caret lands under the same character.
        prefix = "".join(ch if ch == "\t" else " " for ch in line[: max(loc.column - 1, 0)])
        out.append(f"    {prefix}^")
    if diagnostic.hint:
        out.append(f"  hint: {diagnostic.hint}")
    return "\n".join(out)


def format_all(diagnostics: Iterable[Diagnostic], sources: dict[str, str]) -> str:
    ordered = sorted(diagnostics, key=lambda d: (d.location, d.severity.value, d.message))
    return "\n".join(format_diagnostic(d, sources.get(d.location.path)) for d in ordered)


class Reporter:
    """Collects the diagnostics of one build so that all of them are shown together."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._warned_once: set[str] = set()
        self._groups: dict[str, _Group] = {}

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self._items:
            self._items.append(diagnostic)

    def report(self, rule: Rule, location: Location, /, **fields: object) -> None:
        self.add(rule.at(location, **fields))

    def report_once(self, key: str, rule: Rule, location: Location, /, **fields: object) -> None:
        """Report `rule` for the first of the places that share `key` (one warning per option)."""
        if key not in self._warned_once:
            self._warned_once.add(key)
            self.report(rule, location, **fields)

    def report_grouped(self, key: str, rule: Rule, location: Location, /, **fields: object) -> None:
        """One diagnostic for all the places that share `key`, at the first of them and naming the
        others in the rule's `{also}` field; the first report's rule and fields are the ones shown.
        """
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = _Group(rule, location, fields, [])
        elif location != group.location and location not in group.others:
            group.others.append(location)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        grouped = (g.rule.at(g.location, also=g.also(), **g.fields) for g in self._groups.values())
        return (*self._items, *grouped)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


@dataclass
class _Group:
    rule: Rule
    location: Location
    fields: dict[str, object]
    others: list[Location]

    def also(self) -> str:
        """` (also at lines 20, 31 and 4 more)`: every other place, or the first few of many."""
        lines = sorted({o.line for o in self.others if o.line != self.location.line})
        if not lines:
            return ""
        shown = [str(n) for n in lines[:_PLACES_SHOWN]]
        rest = len(lines) - len(shown)
        if rest:
            listed = f"{', '.join(shown)} and {rest} more"
        elif len(shown) > 1:
            listed = f"{', '.join(shown[:-1])} and {shown[-1]}"
        else:
            listed = shown[0]
        return f" (also at line{'s' if len(lines) > 1 else ''} {listed})"


_PLACES_SHOWN = 3  # more places than this are counted, not listed
