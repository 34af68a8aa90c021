"""Where ``pipec run`` runs its steps and keeps their artifacts: ``--executor local|dask``,
``--scheduler`` and ``--store``.

The Dask and fsspec forms live in :mod:`pipec.dask_executor` and :mod:`pipec.fsspec_store`,
imported only when they are asked for, so that a host running builds locally needs nothing
but the standard library.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipec.executor import Executor, LocalExecutor, OutputSink
from pipec.manifest import Manifest
from pipec.store import ArtifactStore, LocalArtifactStore

__all__ = [
    "BackendError",
    "ExecutorChoice",
    "StoreChoice",
    "add_executor_arguments",
    "choose_executor",
    "choose_store",
]


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
    run.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help="where artifacts live: the run folder (default), or an fsspec URL such as "
        "file:///shared/path or s3://bucket/prefix (needs pipec[s3]), which every worker reads "
        "and writes",
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


@dataclass(frozen=True)
class StoreChoice:
    """Where a run's artifacts live: the run folder (``url`` None) or a URL's file system."""

    url: str | None

    def recorded(self) -> dict[str, object]:
        return {} if self.url is None else {"store": self.url}

    def open(self, run_dir: Path, run_id: str) -> tuple[ArtifactStore, tuple[str, ...]]:
        """The store of run ``run_id``, and what goes before each step's command line."""
        if self.url is None:
            return LocalArtifactStore(run_dir), ()
        from pipec.fsspec_store import FsspecArtifactStore, RemoteStoreError
        from pipec.staging import launcher

        try:
            store = FsspecArtifactStore(self.url, run_id, run_dir / "fetched")
        except RemoteStoreError as exc:
            raise BackendError(str(exc)) from None
        return store, launcher(store.url)


def choose_store(requested: str | None, recorded: object = None) -> StoreChoice:
    """The store ``--store`` asks for (or, on a resume, the one the run used); a remote store
    is tried with a small write, so wrong credentials stop the run before any step starts."""
    if recorded is not None:
        if requested is not None and requested != recorded:
            raise BackendError(
                f"this run keeps its artifacts in {recorded}; resume it with --store {recorded} "
                "(or without --store)"
            )
        requested = str(recorded)
    if requested is None:
        return StoreChoice(None)
    if "://" not in requested:
        raise BackendError(
            f"--store {requested}: give a URL, such as file:///shared/path or s3://bucket/prefix"
        )
    if requested.startswith("memory://"):
        raise BackendError(
            "--store memory:// lives inside one process, and every step runs in its own; "
            "use file:///PATH for a store on this host"
        )
    from pipec.fsspec_store import RemoteStoreError, check_writable

    try:
        check_writable(requested)
    except RemoteStoreError as exc:
        raise BackendError(str(exc)) from None
    return StoreChoice(requested.rstrip("/"))
