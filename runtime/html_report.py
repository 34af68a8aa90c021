"""``pipec report``: one run as one self-contained HTML page.

Everything is inline (CSS, a few lines of JavaScript, the DAG as SVG): the page opens from a
file with no network. It shows the DAG with each node's state and duration, the execution
details table, the parameters, each node's log (collapsed) and a preview of each artifact.
The previews come from the artifacts' meta files, where the step runner wrote them when it
pickled the value (the repr of a small value, the shape and dtype of an array or a table);
pipec never unpickles anything to draw this page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pipec.atomic import write_bytes_atomic
from pipec.graph_view import STATE_COLOURS, PipelineGraph, pipeline_graph
from pipec.manifest import Manifest, ManifestError, load_manifest
from pipec.record import NodeRecord, RunRecord
from pipec.report import human_duration, human_size
from pipec.runs import display_state
from pipec.store import StoreError, read_meta

__all__ = ["REPORT_NAME", "render_report", "write_report"]

REPORT_NAME = "report.html"
_LOG_LIMIT = 32 * 1024  # the end of each log, in bytes: a page of 500 nodes stays small
_BOX_W, _BOX_H, _GAP_X, _GAP_Y = 170, 38, 60, 14


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}
.dag{overflow:auto;border:1px solid #ddd;max-height:80vh}
.dag rect{stroke:#555;stroke-width:1}.dag text{font-size:12px;pointer-events:none}
.dag path{fill:none;stroke:#999}.dag path.order{stroke-dasharray:4 3}
.dag g.node:hover rect{stroke-width:2.5}
pre{background:#f6f6f6;padding:6px;overflow:auto;max-height:30em}
details summary{cursor:pointer}code{font-size:12px}
.state{padding:0 6px;border-radius:3px}
""" + "".join(f".s-{state}{{background:{colour}}}" for state, colour in STATE_COLOURS.items())

# Clicking a node in the DAG opens its log.
_SCRIPT = """
document.querySelectorAll('.dag g.node').forEach(function (g) {
  g.addEventListener('click', function () {
    var log = document.getElementById('log-' + g.getAttribute('data-node'));
    if (log) { log.open = true; log.scrollIntoView(); }
  });
});
"""


def render_report(record: RunRecord, run_dir: Path, graph: PipelineGraph | None) -> str:
    """The page for one run; ``graph`` is None when the build it ran is gone (no DAG then)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(record.pipeline)} run {_e(record.run_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{_e(record.pipeline)}: run {_e(record.run_id)}</h1>",
        _summary(record, run_dir),
        "<h2>Parameters</h2>",
        _parameters(record.parameters),
        "<h2>Graph</h2>",
        _svg(graph, record) if graph is not None else "<p>The build is gone: no graph.</p>",
        "<h2>Execution details</h2>",
        _table(record, run_dir),
        "<h2>Logs</h2>",
        _logs(record, run_dir),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(
    run_dir: Path, record: RunRecord, manifest: Manifest | None = None, target: Path | None = None
) -> Path:
    """Write the page (to ``run_dir/report.html`` unless ``target`` says where); its path.

    Without ``manifest`` the run's build folder is read for the DAG, if it is still there.
    """
    if manifest is None:
        try:
            manifest = load_manifest(Path(record.build_dir))
        except ManifestError:
            manifest = None
    graph = pipeline_graph(manifest, record) if manifest is not None else None
    path = target if target is not None else run_dir / REPORT_NAME
    write_bytes_atomic(path, render_report(record, run_dir, graph).encode("utf-8"))
    return path


# What `html.escape(text, quote=True)` replaces, `&` first; the `html` module itself loads a
# table of every named character reference, which a run's report never needs.
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


def _e(text: object) -> str:
    escaped = str(text)
    for character, reference in _ESCAPES:
        escaped = escaped.replace(character, reference)
    return escaped


def _summary(record: RunRecord, run_dir: Path) -> str:
    state = display_state(record)
    counts = ", ".join(f"{n} {s.value}" for s, n in record.counts().items())
    rows = [
        ("state", f'<span class="state s-{_e(state)}" id="run-state">{_e(state)}</span>'),
        ("nodes", _e(counts)),
        ("started", _e(record.created)),
        ("ended", _e(record.ended or "-")),
        ("sessions", _e(record.sessions)),
        ("python", _e(f"{record.python.version} ({record.python.executable})")),
        ("build", _e(record.build_dir)),
        ("folder", _e(run_dir)),
    ]
    return _rows(rows)


def _rows(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _parameters(parameters: Mapping[str, object]) -> str:
    if not parameters:
        return "<p>none</p>"
    rows = []
    for name, encoded in parameters.items():
        shown = encoded
        if isinstance(encoded, dict):
            shown = encoded.get("literal", repr(encoded.get("value")))
        rows.append((name, f"<code>{_e(shown)}</code>"))
    return _rows(rows)


def _svg(graph: PipelineGraph, record: RunRecord) -> str:
    """Layers left to right, nodes top to bottom in each; edges as curves between box sides."""
    rows: dict[int, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for node in graph.nodes:
        row = rows.get(node.layer, 0)
        rows[node.layer] = row + 1
        where[node.name] = (
            10 + node.layer * (_BOX_W + _GAP_X),
            10 + row * (_BOX_H + _GAP_Y),
        )
    width = 20 + graph.layers * (_BOX_W + _GAP_X)
    height = 20 + max(rows.values(), default=0) * (_BOX_H + _GAP_Y)
    edges: list[str] = []
    boxes: list[str] = []
    for node in graph.nodes:
        x, y = where[node.name]
        for parent, kind in node.parents:
            if parent not in where:
                continue
            px, py = where[parent]
            x1, y1, x2, y2 = px + _BOX_W, py + _BOX_H // 2, x, y + _BOX_H // 2
            middle = (x1 + x2) // 2
            edges.append(
                f'<path class="{kind.value}" d="M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"/>'
            )
        entry = record.nodes.get(node.name)
        state = entry.state.value if entry is not None else "pending"
        label = node.name if len(node.name) <= 24 else node.name[:23] + "…"
        detail = state + (
            f" · {human_duration(entry.duration)}" if entry and entry.duration is not None else ""
        )
        tip = f"{node.name}: {detail}" + (f" ({node.note})" if node.note else "")
        boxes.append(
            f'<g class="node" data-node="{_e(node.name)}" data-state="{_e(state)}">'
            f"<title>{_e(tip)}</title>"
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="5" '
            f'fill="{STATE_COLOURS.get(state, "#fff")}"/>'
            f'<text x="{x + 6}" y="{y + 15}">{_e(label)}</text>'
            f'<text x="{x + 6}" y="{y + 31}" fill="#555">{_e(detail)}</text></g>'
        )
    return (
        f'<div class="dag"><svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
        + "".join(edges)
        + "".join(boxes)
        + "</svg></div>"
    )


def _table(record: RunRecord, run_dir: Path) -> str:
    head = (
        "<tr><th>node</th><th>state</th><th>duration</th><th>cached</th><th>attempts</th>"
        "<th>outputs</th><th>message</th></tr>"
    )
    rows = [head]
    for name, node in record.nodes.items():
        state = node.state.value
        rows.append(
            f'<tr class="run-row" data-node="{_e(name)}" data-state="{_e(state)}">'
            f"<td>{_e(name)}</td>"
            f'<td><span class="state s-{_e(state)}">{_e(state)}</span></td>'
            f"<td>{_e(human_duration(node.duration))}</td>"
            f"<td>{'yes' if node.cache_hit else 'no'}</td><td>{node.attempts}</td>"
            f"<td>{_outputs(node, run_dir)}</td><td>{_e(node.message or '')}</td></tr>"
        )
    return f'<table id="details">{"".join(rows)}</table>'


def _outputs(node: NodeRecord, run_dir: Path) -> str:
    if node.decision is not None:
        return f"decided {node.decision}"
    if node.elements is not None:
        return f"{node.elements} elements"
    items = []
    for output, info in node.outputs.items():
        preview = _preview(run_dir / info.path)
        shown = f"<br><code>{_e(preview)}</code>" if preview else ""
        items.append(f"<div><b>{_e(output)}</b> ({_e(human_size(info.size))}){shown}</div>")
    return "".join(items) or "-"


def _preview(path: Path) -> str | None:
    try:
        preview = read_meta(path).get("preview")
    except StoreError:
        return None
    return preview if isinstance(preview, str) else None


def _logs(record: RunRecord, run_dir: Path) -> str:
    parts = []
    for name in record.nodes:
        path = run_dir / "logs" / f"{name}.log"
        try:
            with open(path, "rb") as log:
                size = log.seek(0, 2)
                log.seek(max(0, size - _LOG_LIMIT))
                text = log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            continue
        cut = f"(the last {_LOG_LIMIT // 1024} KiB of {path})\n" if size > _LOG_LIMIT else ""
        parts.append(
            f'<details id="log-{_e(name)}"><summary>{_e(name)}</summary>'
            f"<pre>{_e(cut + text)}</pre></details>"
        )
    return "".join(parts) or "<p>no logs</p>"
