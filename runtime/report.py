"""Text for ``pipec show``: the runs of a build, and one run's execution details.

Pure functions from run records to strings; the command prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipec.program_exit import ProgramExit
from pipec.record import NodeState, RunRecord, parse_timestamp
from pipec.runs import RunEntry, display_state

__all__ = [
    "active_time",
    "control_flow_lines",
    "format_run_details",
    "format_run_list",
    "format_table",
    "human_duration",
    "human_size",
]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, a dashed rule under the headers."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def _span(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    return parse_timestamp(end) - parse_timestamp(start)


def active_time(record: RunRecord) -> float | None:
    """How long the run's sessions worked: the time some node was running, so the idle hours
    between a failed session and its resume do not count; the whole span if no node ran."""
    spans = sorted(
        (parse_timestamp(node.start), parse_timestamp(node.end))
        for node in record.nodes.values()
        if node.start is not None and node.end is not None
    )
    if not spans:
        return _span(record.created, record.ended)
    total, (low, high) = 0.0, spans[0]
    for start, end in spans[1:]:
        if start > high:
            total += high - low
            low, high = start, end
        else:
            high = max(high, end)
    return total + high - low


def format_run_list(entries: Sequence[RunEntry]) -> str:
    if not entries:
        return "no runs yet"
    rows = []
    for entry in entries:
        record = entry.record
        counts = ", ".join(f"{n} {state.value}" for state, n in record.counts().items())
        rows.append(
            [
                record.run_id,
                display_state(record, entry.path),
                record.created[:19].replace("T", " "),
                human_duration(active_time(record)),
                counts,
                _parameters_text(record),
            ]
        )
    return format_table(["run", "state", "started (UTC)", "wall time", "steps", "parameters"], rows)


def format_run_details(record: RunRecord, run_dir: Path) -> str:
    lines = [
        f"run:        {record.run_id} ({record.pipeline})",
        f"state:      {display_state(record, run_dir)}",
        f"build:      {record.build_dir}",
        f"folder:     {run_dir}",
        f"started:    {record.created}" + (f"   ended: {record.ended}" if record.ended else ""),
        f"python:     {record.python.version} ({record.python.executable})",
        f"starts:     {_starts_text(record)}",
        f"parameters: {_parameters_text(record) or '(none)'}",
    ]
    if record.system_exit is not None:
        ended = ProgramExit.from_json(record.system_exit)
        lines.append(f"ended by:   {ended.call} in {ended.node} (exit status {ended.status})")
    lines.append("")
    rows = []
    for name, node in record.nodes.items():
        outputs = ", ".join(
            f"{out} ({human_size(info.size)})" for out, info in node.outputs.items()
        )
        if node.decision is not None:
            outputs = f"decided {node.decision}"
        elif node.elements is not None:
            outputs = _plural(node.elements, "element")
        elif not outputs and node.state is NodeState.SUCCEEDED and node.message:
            outputs = node.message  # a map body node: how many instances it had
        rows.append(
            [
                name,
                node.state.value,
                human_duration(node.duration),
                "yes" if node.cache_hit else "no",
                str(node.attempts),
                outputs or "-",
            ]
        )
    lines.append(format_table(["step", "state", "duration", "cached", "attempts", "outputs"], rows))
    notes = [
        f"  {name}: {node.message}" + (f" (log: {run_dir / node.log})" if node.log else "")
        for name, node in record.nodes.items()
        if node.message and node.state in (NodeState.FAILED, NodeState.ABORTED)
    ]
    if notes:
        lines += ["", "failures:", *notes]
    flow = control_flow_lines(record)
    if flow:
        lines += ["", "control flow:", *(f"  {line}" for line in flow)]
    if record.result is not None and "path" in record.result:
        lines += ["", f"result: {record.result['node']}.{record.result['output']}"]
    return "\n".join(lines)


def _starts_text(record: RunRecord) -> str:
    """How the run started its steps: the mode it chose, and how many nodes ran warm or cold."""
    mode = record.options.get("starts")
    warm = sum(node.warm is True for node in record.nodes.values())
    cold = sum(node.warm is False for node in record.nodes.values())
    counted = f"{warm} warm, {cold} cold"
    return f"{mode} ({counted})" if isinstance(mode, str) else counted


def _parameters_text(record: RunRecord) -> str:
    parts = []
    for name, encoded in record.parameters.items():
        shown = (
            encoded.get("literal") if isinstance(encoded, dict) and "literal" in encoded else None
        )
        if shown is None and isinstance(encoded, dict):
            shown = repr(encoded.get("value"))
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def control_flow_lines(record: RunRecord, reasons: bool = True) -> list[str]:
    """What control flow did in a run: which way each condition decided, how wide each map
    expanded, and which nodes were skipped (with the reason, unless ``reasons`` is False)."""
    lines = []
    for name, node in record.nodes.items():
        if node.decision is not None:
            lines.append(f"{name}: decided {node.decision}")
        if node.elements is not None:
            lines.append(f"{name}: {_plural(node.elements, 'element')}")
    skipped = [
        (name, node.message or "")
        for name, node in record.nodes.items()
        if node.state is NodeState.SKIPPED
    ]
    if skipped and reasons:
        lines += [f"skipped {name}: {why}" for name, why in skipped]
    elif skipped:
        lines.append("skipped: " + ", ".join(name for name, _ in skipped))
    return lines


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
