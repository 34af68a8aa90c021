"""``pipec run --cache URL``: two hosts (two local cache folders) share cached steps through an
S3 server (moto, on loopback)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

s3fs = pytest.importorskip("s3fs")

from buildkit import Node, node_states, out, pipec_argv, record, runs, write_build  # noqa: E402
from servers import S3Server, s3_server  # noqa: E402


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3-cache")) as server:
        fs = s3fs.S3FileSystem(endpoint_url=server.endpoint, key="test", secret="test")
        fs.mkdir("shared")
        yield server


def _run(
    tmp_path: Path, host: str, s3: S3Server, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PIPEC_CACHE_DIR"] = str(tmp_path / f"cache-{host}")  # each host its own folder
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=s3.endpoint,
    )
    return subprocess.run(
        pipec_argv(*args), capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_a_step_cached_on_one_host_is_served_on_another(tmp_path: Path, s3: S3Server):
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "expensive",
                "def step():\n    print('computing')\n    return list(range(5))",
                cache=True,
            ),
            Node(
                "say",
                "def step(xs):\n    print(sum(xs))",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"xs": out("expensive")},
            ),
        ],
    )
    url = f"s3://shared/{tmp_path.name}"
    first = _run(tmp_path, "a", s3, "run", build, "--cache", url)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "10\n" and "[expensive] computing" in first.stderr
    second = _run(tmp_path, "b", s3, "run", build, "--cache", url)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "10\n"
    assert "[expensive] computing" not in second.stderr  # served from the shared cache
    latest = runs(build)[-1]
    assert node_states(record(latest))["expensive"] == "cached"
    assert record(latest)["options"]["cache"] == url
    # Without the shared cache, host b's own folder now has the entry too.
    third = _run(tmp_path, "b", s3, "run", build)
    assert "[expensive] computing" not in third.stderr


def test_a_shared_cache_that_refuses_the_credentials_stops_before_any_run(
    tmp_path: Path, s3: S3Server
):
    build = write_build(tmp_path / "build", [Node("a")])
    done = _run(tmp_path, "a", s3, "run", build, "--cache", "s3://no-such-bucket/c")
    assert done.returncode == 2
    assert "--cache s3://no-such-bucket/c" in done.stderr and "Traceback" not in done.stderr
    assert runs(build) == []
