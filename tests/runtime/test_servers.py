"""The tests' servers (tests/runtime/servers.py) die with the test process that started them,
even when it is killed and has no chance to stop them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from buildkit import alive, wait_for

pytest.importorskip("distributed")
pytest.importorskip("moto")

_HERE = Path(__file__).resolve().parent

# A test session that starts a Dask scheduler with a worker and an S3 server, says their
# process ids, and then waits to be killed.
_STARTS_SERVERS = """
import json, sys, time
from pathlib import Path

sys.path.insert(0, {here!r})
from servers import dask_cluster, s3_server


def test_starts_servers(tmp_path):
    with s3_server(tmp_path) as s3, dask_cluster(tmp_path, {{"w": None}}) as cluster:
        pids = [s3.process.pid, cluster.scheduler.pid, *(w.pid for w in cluster.workers.values())]
        Path({pids!r}).write_text(json.dumps(pids))
        time.sleep(600)
"""


def test_servers_die_with_a_killed_pytest(tmp_path: Path):
    pids_file = tmp_path / "pids.json"
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(
        textwrap.dedent(_STARTS_SERVERS.format(here=str(_HERE), pids=str(pids_file)))
    )
    inner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: pids_file.exists() or inner.poll() is not None, "the servers to start")
        assert pids_file.exists(), f"the inner pytest ended with {inner.returncode}"
        pids = json.loads(pids_file.read_text())
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
        os.kill(inner.pid, signal.SIGKILL)  # no fixture teardown, no atexit: only the kernel
        inner.wait()
        wait_for(lambda: not any(alive(pid) for pid in pids), "the servers to die")
    finally:
        if inner.poll() is None:
            os.killpg(inner.pid, signal.SIGKILL)
            inner.wait()
        # Should the test fail, it leaves no server behind either.
        for pid in json.loads(pids_file.read_text()) if pids_file.exists() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
