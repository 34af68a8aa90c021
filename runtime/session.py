"""The run record a session starts from: a fresh run, or a failed/interrupted one resumed."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from pipec.literals import decode_literal, encode_literal
from pipec.manifest import Manifest
from pipec.record import InterpreterInfo, NodeRecord, RunRecord, RunState, timestamp
from pipec.runs import host_name
from pipec.scheduler import split_instance

__all__ = [
    "ResumeError",
    "check_resumable",
    "fresh_record",
    "resumed_record",
    "saved_parameters",
]


class ResumeError(Exception):
    """The chosen run cannot be resumed with this build or interpreter."""


def fresh_record(
    manifest: Manifest,
    run_id: str,
    parameters: Mapping[str, object],
    python: InterpreterInfo,
    options: Mapping[str, object],
) -> RunRecord:
    now = timestamp()
    return RunRecord(
        run_id=run_id,
        build_dir=str(manifest.build_dir),
        manifest_sha256=manifest.sha256,
        pipeline=manifest.pipeline.name,
        state=RunState.RUNNING,
        created=now,
        updated=now,
        ended=None,
        pid=os.getpid(),
        host=host_name(),
        sessions=1,
        python=python,
        parameters={name: encode_literal(value) for name, value in parameters.items()},
        options=dict(options),
        nodes={node.name: NodeRecord() for node in manifest.nodes},
    )


def check_resumable(manifest: Manifest, previous: RunRecord, python: InterpreterInfo) -> None:
    """Refuse a resume that would mix builds or Python versions."""
    nodes = {name for name in previous.nodes if split_instance(name)[1] is None}
    if nodes != set(manifest.node_names):
        raise ResumeError(
            f"the build's nodes changed since run {previous.run_id} (added or removed steps); "
            f"start a new run with `pipec run {manifest.build_dir}`"
        )
    if previous.python.minor != python.minor:
        raise ResumeError(
            f"run {previous.run_id} ran on Python {previous.python.minor}, "
            "and its artifacts only load "
            f"there; resume it with --python {previous.python.executable}, or start a new run"
        )


def saved_parameters(previous: RunRecord) -> dict[str, object]:
    """The parameter values the run was started with."""
    values: dict[str, object] = {}
    for name, encoded in previous.parameters.items():
        if not isinstance(encoded, dict):
            raise ResumeError(
                f"run {previous.run_id}: parameter {name!r} is unreadable in run.json"
            )
        values[name] = decode_literal(encoded).value
    return values


def resumed_record(
    previous: RunRecord,
    kept: frozenset[str],
    python: InterpreterInfo,
    options: Mapping[str, object],
) -> RunRecord:
    """The record of a resumed session: kept nodes as they were, every other node pending.

    Instances of map bodies that are not kept are dropped: the run adds them again once
    their map has (again) expanded.
    """
    nodes = {
        name: node if name in kept else NodeRecord()
        for name, node in previous.nodes.items()
        if name in kept or split_instance(name)[1] is None
    }
    return dataclasses.replace(
        previous,
        state=RunState.RUNNING,
        updated=timestamp(),
        ended=None,
        pid=os.getpid(),
        host=host_name(),
        sessions=previous.sessions + 1,
        python=python,
        options=dict(options),
        nodes=nodes,
        result=None,
    )
