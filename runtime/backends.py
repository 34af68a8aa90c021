"""Where ``pipec run`` runs its steps and keeps their artifacts: ``--executor local|dask``,
``--scheduler``, ``--store``, and on which interpreters: ``--env current|venv``.

The Dask and fsspec forms live in :mod:`pipec.dask_executor` and :mod:`pipec.fsspec_store`,
imported only when they are asked for, so that a host running builds locally needs nothing
but the standard library.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipec.cache import StepCache
from pipec.executor import Executor, LocalExecutor, OutputSink
from pipec.manifest import Manifest
from pipec.record import InterpreterInfo
from pipec.requirements_check import ProbeError, parse_requirement, probe_interpreter
from pipec.store import ArtifactStore, LocalArtifactStore
from pipec.value_methods import ValueMethods

if TYPE_CHECKING:
    from pipec.dask_executor import DaskExecutor
    from pipec.environments import EnvironmentOptions

__all__ = [
    "BackendError",
    "EnvironmentChoice",
    "ExecutorChoice",
    "StoreChoice",
    "add_executor_arguments",
    "choose_cache",
    "choose_environments",
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
    run.add_argument(
        "--cache",
        default=None,
        metavar="URL",
        help="a step cache shared with other hosts, at an fsspec URL such as "
        "file:///shared/cache or s3://bucket/cache (needs pipec[s3]); the local cache folder "
        "stays in front of it",
    )
    run.add_argument(
        "--env",
        choices=("current", "venv"),
        default="current",
        help="the steps' interpreter: --python as it is (default), or a virtual environment per "
        "requirements set, made from --python and kept in the cache folder",
    )
    run.add_argument(
        "--find-links",
        action="append",
        default=[],
        metavar="DIR",
        help="with --env venv: install from the wheels in DIR (repeatable); without "
        "--index-url, no index is asked, which works offline",
    )
    run.add_argument(
        "--index-url",
        default=None,
        metavar="URL",
        help="with --env venv: the package index to install from (default: pip's or uv's)",
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
    if args.env != "venv" and (args.find_links or args.index_url is not None):
        raise BackendError("--find-links and --index-url only apply with --env venv")
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
    # Workers start steps from warm templates as the local executor does, unless asked not to.
    cold = bool(getattr(args, "cold", False)) or os.environ.get("PIPEC_COLD", "") not in ("", "0")
    executor = DaskExecutor(client, sink, resources_of(_queues(manifest)), warm=not cold)
    try:
        executor.check_queues()
        workers = executor.total_threads()
        _reach_build(executor, manifest, args)
    except ClusterError as exc:
        executor.close()
        raise BackendError(str(exc)) from None
    except BaseException:
        executor.close()
        raise
    recorded: dict[str, object] = {"executor": "dask", "scheduler": args.scheduler}
    return ExecutorChoice(recorded, workers, executor)


def _reach_build(executor: DaskExecutor, manifest: Manifest, args: argparse.Namespace) -> None:
    """Ship the build to the workers that do not have it at its path, when their steps can
    reach the artifacts (a remote --store); otherwise refuse before the run starts."""
    build_dir = manifest.build_dir
    missing = executor.workers_without_build(build_dir)
    if not missing:
        return
    named = ", ".join(missing)
    # A resumed run may have recorded a store (read later): its steps would say so if not.
    if args.store is None and args.resume is None:
        raise BackendError(
            f"worker(s) {named} do not have this build at {build_dir} (or have another "
            "version of it), and without --store they could not reach the run folder "
            "either; put the build and the runs folder on a disk every worker mounts at the "
            "same path, or run with --store s3://BUCKET/PREFIX (any URL every host reaches) "
            "and pipec ships the build to them"
        )
    executor.ship_build(build_dir)
    print(
        f"pipec: shipping the build to worker(s) {named}, which do not have it at {build_dir}",
        file=sys.stderr,
        flush=True,
    )


def _queues(manifest: Manifest) -> Mapping[str, str | None]:
    """Each node's queue: its own ``execution_queue``, else the pipeline's default."""
    default = manifest.pipeline.default_queue
    return {node.name: node.queue or default for node in manifest.nodes}


@dataclass(frozen=True, eq=False, repr=False)
class StoreChoice(ValueMethods):
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
            f"--store {requested}: a memory:// file system lives inside one process, and every "
            "step runs in a process of its own (on a cluster, on another host), so no step "
            "would see another's outputs; use file:///PATH for a store on this host (or a disk "
            "every worker mounts at that path), or s3://BUCKET/PREFIX for one every host reaches"
        )
    from pipec.fsspec_store import RemoteStoreError, check_writable

    try:
        check_writable(requested)
    except RemoteStoreError as exc:
        raise BackendError(str(exc)) from None
    return StoreChoice(requested.rstrip("/"))


@dataclass(frozen=True, eq=False, repr=False)
class EnvironmentChoice(ValueMethods):
    """With ``--env venv``: each node's interpreter and what it has installed."""

    interpreters: Mapping[str, str]
    installed: Mapping[str, Mapping[str, str | None]]
    # On a cluster: what replaces each node's interpreter to build its environment there.
    launchers: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    described: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.interpreters or self.launchers)

    def recorded(self) -> dict[str, object]:
        if not self.active:
            return {}
        described = {**self.described, **self.interpreters}
        return {"env": "venv", "interpreters": dict(sorted(described.items()))}


def choose_environments(
    args: argparse.Namespace,
    manifest: Manifest,
    base: InterpreterInfo,
    cache_dir: Path,
    status: Callable[[str], None],
) -> EnvironmentChoice:
    """The environments ``--env venv`` asks for, built now (before any run folder exists)."""
    if args.env != "venv":
        return EnvironmentChoice({}, {})
    # Imported here: a run on pipec's own interpreter (the default) needs none of it.
    from pipec.environments import EnvironmentError, EnvironmentOptions, prepare_environments

    options = EnvironmentOptions(
        root=cache_dir / "envs",
        base_python=args.python or base.executable,
        base_version=base.version,
        find_links=tuple(
            str(Path(place).resolve()) if "://" not in place else place for place in args.find_links
        ),
        index_url=args.index_url,
        cloudpickle=base.cloudpickle,
        built_with=manifest.python,
        root_given=args.cache_dir is not None,
    )
    if args.executor == "dask":
        return _on_workers(manifest, options)
    try:
        interpreters = prepare_environments(manifest, options, status)
        installed: dict[str, Mapping[str, str | None]] = {}
        probes: dict[str, Mapping[str, str | None]] = {}
        for node in manifest.nodes:
            python = interpreters[node.name]
            if python not in probes:
                names = {parse_requirement(spec).name for spec in node.requirements}
                probes[python] = probe_interpreter(python, names).installed
            installed[node.name] = probes[python]
    except (EnvironmentError, ProbeError) as exc:
        raise BackendError(str(exc)) from None
    return EnvironmentChoice(interpreters, installed)


def choose_cache(
    url: str | None, root: Path, warn: Callable[[str], None], max_bytes: int | None = None
) -> StepCache:
    """The step cache: the folder ``root`` (kept within ``max_bytes``), in front of the shared
    one ``--cache`` names (tried with a small write, so wrong credentials stop the run before
    any step starts)."""
    if url is None:
        return StepCache(root, max_bytes)
    if url.startswith("memory://"):
        raise BackendError(
            f"--cache {url}: a memory:// file system lives inside one process and ends with "
            "it, so no other run or host could use what it caches; give the URL of a cache "
            "every host can reach, such as file:///shared/cache or s3://bucket/cache"
        )
    if "://" not in url:
        raise BackendError(
            f"--cache {url}: give the URL of a cache every host can reach, such as "
            "file:///shared/cache or s3://bucket/cache"
        )
    from pipec.fsspec_store import RemoteStoreError, check_writable
    from pipec.shared_cache import SharedStepCache

    try:
        check_writable(url)
    except RemoteStoreError as exc:
        raise BackendError(str(exc).replace("--store", "--cache")) from None
    return SharedStepCache(root, url, warn, max_bytes)


def _on_workers(manifest: Manifest, options: EnvironmentOptions) -> EnvironmentChoice:
    """Environments built by each Dask worker for the steps it runs (once per host, under its
    cache folder's lock); the cache key counts the versions the requirements pin."""
    from pipec.environments import launcher

    launchers: dict[str, tuple[str, ...]] = {}
    described: dict[str, str] = {}
    installed: dict[str, Mapping[str, str | None]] = {}
    for node in manifest.nodes:
        launchers[node.name] = launcher(
            options.base_python, node.requirements, node.script, options
        )
        wanted = ", ".join(sorted(set(node.requirements))) or "no requirements"
        described[node.name] = (
            f"an environment its Dask worker built from {options.base_python} ({wanted})"
        )
        pinned: dict[str, str | None] = {}
        for spec in node.requirements:
            parsed = parse_requirement(spec)
            exact = [version for op, version in parsed.specifiers if op == "=="]
            pinned[parsed.name] = exact[0] if exact else None
        installed[node.name] = pinned
    return EnvironmentChoice({}, installed, launchers, described)
