"""The run record while a session works on it: changes batched per turn of the loop, written atomically."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from pipec.record import NodeRecord, RecordEncoder, RunRecord, write_record
from pipec.scheduler import instance_name

__all__ = ["LiveRecord", "with_instances"]


def with_instances(record: RunRecord, body: Sequence[str], count: int) -> RunRecord:
    """The record with an entry for every instance of a map's ``body`` nodes, each after its
    body node; an instance it already has keeps its entry."""
    for member in body:
        added = {
            instance_name(member, i): record.nodes.get(instance_name(member, i), NodeRecord())
            for i in range(count)
        }
        record = record.with_nodes_after(member, added)
    return record


class LiveRecord:
    """``run.json`` of one run: :meth:`update` changes it in memory, :meth:`flush` writes it."""

    def __init__(self, run_dir: Path, record: RunRecord) -> None:
        self._run_dir = run_dir
        self._record = record
        self._dirty = False
        self._encoder = RecordEncoder()

    @property
    def current(self) -> RunRecord:
        return self._record

    def update(self, name: str, **changes: object) -> None:
        """Change one node's entry; written by the next :meth:`flush` or :meth:`save`."""
        # One write per turn of the loop, not one per change: the whole record is rewritten
        # each time.
        node = self._record.nodes[name]
        self._record = self._record.with_node(name, dataclasses.replace(node, **changes))  # type: ignore[arg-type]
        self._dirty = True

    def flush(self) -> None:
        """Write the record if it changed since the last write."""
        if self._dirty:
            self.save(self._record)

    def save(self, record: RunRecord) -> None:
        """Make ``record`` the run's record and write it now."""
        self._record = record
        write_record(self._run_dir, record, self._encoder)
        self._dirty = False
