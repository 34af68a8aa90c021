"""Real servers on 127.0.0.1 for the distributed tests: a Dask scheduler with its workers, and
an S3 server (moto), each a separate process that the tests start and stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}:\n{log.read_text(errors='replace')}")


# Runs first in each server's process, then becomes the server (execv keeps the process): the
# kernel kills it when the test process that started it dies, even by SIGKILL, so no server
# outlives a pytest that was killed. The parent-death signal survives execv; a parent that died
# before prctl is caught by the getppid check. Where there is no prctl (not Linux) it only execs.
_DIE_WITH_PARENT = """
import ctypes, os, signal, sys
try:
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv[1]):
    os._exit(1)
os.execvp(sys.argv[2], sys.argv[2:])  # the command may be a bare name (unshare)
"""


def _start(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    # The parent-death signal comes when the thread that started the process ends: the servers
    # are started from fixtures, which run on the main thread.
    launcher = [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid())]
    with open(log, "ab") as handle:
        return subprocess.Popen(
            launcher + list(argv),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes (no nanny: a killed worker stays dead)."""

    folder: Path
    port: int = field(default_factory=free_port)
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.folder / "scheduler.log"
        argv = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
        self.scheduler = _start([*argv, "--no-dashboard"], log)
        _wait_for_port(self.port, self.scheduler, log)

    def add_worker(
        self,
        name: str,
        *,
        resources: str | None = None,
        nthreads: int = 2,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        """Start ``dask worker`` (after ``prefix``, a command that runs the rest of its line)."""
        argv = [*prefix, str(BIN / "dask"), "worker", self.address, "--name", name, "--no-nanny"]
        argv += ["--nthreads", str(nthreads), "--host", "127.0.0.1", "--no-dashboard"]
        argv += ["--local-directory", str(self.folder / name)]
        if resources:
            argv += ["--resources", resources]
        self.workers[name] = _start(
            argv, self.folder / f"{name}.log", {**os.environ, **(env or {})}
        )

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=60)

    def close(self) -> None:
        for worker in self.workers.values():
            stop(worker)
        if self.scheduler is not None:
            stop(self.scheduler)


@contextlib.contextmanager
def dask_cluster(
    folder: Path, workers: dict[str, str | None], env: dict[str, str] | None = None
) -> Iterator[DaskCluster]:
    """A scheduler and one worker per name (with its resources, if any, and ``env`` added to
    its environment), stopped at the end."""
    cluster = DaskCluster(folder)
    try:
        cluster.start()
        for name, resources in workers.items():
            cluster.add_worker(name, resources=resources, env=env)
        cluster.wait_for_workers(len(workers))
        yield cluster
    finally:
        cluster.close()


@dataclass
class S3Server:
    """moto's S3 server; every request is accepted unless ``authenticate`` is set."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def s3_server(folder: Path, *, authenticate: bool = False) -> Iterator[S3Server]:
    port = free_port()
    env = dict(os.environ)
    if authenticate:
        # moto checks credentials against its own IAM after this many requests: none.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    log = folder / f"moto-{port}.log"
    process = _start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], log, env)
    try:
        _wait_for_port(port, process, log)
        yield S3Server(process, port)
    finally:
        stop(process)
