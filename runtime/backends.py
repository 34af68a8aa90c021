"""Where ``pipec run`` runs its steps: ``--executor local|dask`` and ``--scheduler``.

The Dask form lives in :mod:`pipec.dask_executor`, imported only when it is asked for, so
that a host running builds locally needs nothing but the standard library.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from pipec.executor import Executor, LocalExecutor, OutputSink
from pipec.manifest import Manifest

__all__ = ["BackendError", "ExecutorChoice", "add_executor_arguments", "choose_executor"]


class BackendError(Exception):
    """A flag asks for an executor this host cannot provide (a user's mistake: exit 2)."""


def add_executor_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where the steps run: subprocesses of this host (default), or tasks on a Dask "
        "cluster (needs pipec[dask] and --scheduler)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="the Dask scheduler to run on, with --executor dask",
    )


@dataclass
class ExecutorChoice:
    """The executor the flags chose, how many steps it runs at once, and what the record says."""

    recorded: dict[str, object]
    workers: int | None = None  # the default --workers, when the executor knows better
    cluster: Executor | None = None  # the connected Dask executor, if any

    def executor(self, sink: OutputSink | None) -> Executor:
        return self.cluster if self.cluster is not None else LocalExecutor(sink)

    def close_unused(self) -> None:
        """Disconnect from the cluster when the run stops before it starts."""
        if self.cluster is not None:
            self.cluster.close()


def choose_executor(
    args: argparse.Namespace, manifest: Manifest, sink: OutputSink | None
) -> ExecutorChoice:
    """The executor the flags ask for; connects to the cluster (before any step runs)."""
    if args.executor == "local":
        if args.scheduler is not None:
            raise BackendError("--scheduler only applies with --executor dask")
        return ExecutorChoice({})
    if args.scheduler is None:
        raise BackendError(
            "--executor dask needs the scheduler's address: --scheduler tcp://HOST:PORT"
        )
    from pipec.dask_executor import ClusterError, DaskExecutor, connect, resources_of

    try:
        client = connect(args.scheduler)
    except ClusterError as exc:
        raise BackendError(str(exc)) from None
    executor = DaskExecutor(client, sink, resources_of(_queues(manifest)))
    try:
        executor.check_queues()
        workers = executor.total_threads()
    except ClusterError as exc:
        executor.close()
        raise BackendError(str(exc)) from None
    recorded: dict[str, object] = {"executor": "dask", "scheduler": args.scheduler}
    return ExecutorChoice(recorded, workers, executor)


def _queues(manifest: Manifest) -> Mapping[str, str | None]:
    """Each node's queue: its own ``execution_queue``, else the pipeline's default."""
    default = manifest.pipeline.default_queue
    return {node.name: node.queue or default for node in manifest.nodes}
