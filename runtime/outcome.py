"""The end of a run: nodes left over settled, map bodies summed up, the outcome told in the terminal."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from pipec.console import Console
from pipec.inputs import Artifact, ResolvedInput, Value, describe_combined
from pipec.literals import encode_literal
from pipec.manifest import Manifest
from pipec.program_exit import ProgramExit
from pipec.record import NodeState, RunRecord, RunState
from pipec.report import control_flow_lines
from pipec.scheduler import instance_name

__all__ = [
    "final_state",
    "report_run",
    "result_entry",
    "settle",
    "summarize_bodies",
    "warn_edited_scripts",
]


def _changed(record: RunRecord, name: str, **changes: object) -> RunRecord:
    node = dataclasses.replace(record.nodes[name], **changes)  # type: ignore[arg-type]
    return record.with_node(name, node)


def settle(
    manifest: Manifest, record: RunRecord, stopping: NodeState | None, why: str = "the run stopped"
) -> RunRecord:
    """The record once the loop is over: nothing left running, map bodies summed up, and
    nodes that never started skipped (left pending when interrupted, to be resumed).

    ``stopping`` is why the run stopped early (ABORTED or INTERRUPTED), or None; ``why`` says
    why nodes that never started did not.
    """
    for name, node in record.nodes.items():
        if node.state is NodeState.RUNNING:  # interrupted before it was handed over
            record = _changed(record, name, state=stopping or NodeState.INTERRUPTED)
    record = summarize_bodies(manifest, record)
    if stopping is NodeState.INTERRUPTED:
        return record
    for name, node in record.nodes.items():
        if node.state is NodeState.PENDING:
            record = _changed(record, name, state=NodeState.SKIPPED, message=f"not started: {why}")
    return record


def summarize_bodies(manifest: Manifest, record: RunRecord) -> RunRecord:
    """A map body node's own record sums up its instances (once they have all finished)."""
    for node in manifest.nodes:
        if node.map is None or record.nodes[node.name].state is not NodeState.PENDING:
            continue
        count = record.nodes[node.map].elements
        if count is None:
            continue
        states = [record.nodes[instance_name(node.name, i)].state for i in range(count)]
        failed = [i for i, state in enumerate(states) if state is NodeState.FAILED]
        if all(state.done for state in states):
            summary = NodeState.SUCCEEDED
            message = f"{count} instance" + ("" if count == 1 else "s")
        elif failed:
            summary = NodeState.FAILED
            message = "failed at element(s) " + ", ".join(map(str, failed))
        elif NodeState.INTERRUPTED in states or NodeState.PENDING in states:
            continue  # left pending: a resumed run finishes it
        else:
            ran = sum(state.done for state in states)
            summary, message = NodeState.SKIPPED, f"{ran} of {count} instance(s) ran"
        record = _changed(record, node.name, state=summary, message=message)
    return record


def final_state(record: RunRecord, stopping: NodeState | None) -> RunState:
    """How a settled run ended (before its result is resolved)."""
    if stopping is NodeState.INTERRUPTED:
        return RunState.INTERRUPTED
    if any(node.state is NodeState.FAILED for node in record.nodes.values()):
        return RunState.FAILED
    return RunState.SUCCEEDED


def result_entry(value: ResolvedInput) -> dict[str, object]:
    """The run record's ``result``: an artifact, a literal, or a combination of them."""
    if isinstance(value, Artifact):
        return {"node": value.node, "output": value.output, "path": value.relative}
    if isinstance(value, Value):
        return encode_literal(value.value)
    return {"combined": describe_combined(value, "relative")}


def report_run(
    console: Console,
    record: RunRecord,
    tracebacks: Mapping[str, str],
    run_dir: Path,
    build_dir: Path,
    elapsed: float,
) -> None:
    """The closing lines: why each step failed, branches taken, counts, result, what next.

    A failed step's traceback was shown live, as it ran (and is in its log): it is not
    printed again, only the cause and where to read the rest.
    """
    for name, node in record.nodes.items():
        if node.state is not NodeState.FAILED or name not in tracebacks:
            continue
        log = run_dir / "logs" / f"{name}.log"
        console.status(f"{name} failed: {node.message}; full log: {log}")
    for line in control_flow_lines(record, reasons=False):
        console.status(line)
    parts = [f"{count} {state.value}" for state, count in record.counts().items() if count]
    console.status(
        f"run {record.run_id} {record.state.value} in {elapsed:.1f}s ({', '.join(parts)})"
    )
    result = record.result
    if result is not None and "node" in result:
        store = record.options.get("store")  # a remote store: the artifact is there
        where = (
            f"{store}/{record.run_id}/{result['path']}" if store else run_dir / str(result["path"])
        )
        console.status(f"result: {result['node']}.{result['output']} in {where}")
    elif result is not None and "combined" in result:
        console.status("result: built from several artifacts (run.json `result`)")
    if record.system_exit is not None:
        ended = ProgramExit.from_json(record.system_exit)
        console.status(
            f"the controller called {ended.call} in {ended.node}: exit status {ended.status}"
        )
    elif record.state in (RunState.FAILED, RunState.INTERRUPTED):
        console.status(f"details: pipec show {run_dir}")
        console.status(
            f"to continue it: pipec run {build_dir} --resume {record.run_id}"
            + _runs_dir_flag(build_dir, run_dir)
        )


def _runs_dir_flag(build: Path, run_dir: Path) -> str:
    return "" if run_dir.parent == build / "runs" else f" --runs-dir {run_dir.parent}"


def warn_edited_scripts(console: Console, manifest: Manifest, hashes: Mapping[str, str]) -> None:
    """A warning for every script that changed since the build wrote it."""
    for node in manifest.nodes:
        if hashes[node.script] != node.code_sha256:
            console.status(
                f"warning: {node.script} changed after the build (its sha256 differs from the "
                "manifest's code_sha256); running it as it is now"
            )
