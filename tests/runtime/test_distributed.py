"""Runs on a real Dask cluster (``dask scheduler`` and ``dask worker`` processes on 127.0.0.1),
compared with runs on this host: the same printed output, the same result, the same record.

Remote stores are tested against moto's S3 server, also a process on 127.0.0.1.  Skipped only
when the extras are not installed (``pip install 'pipec[dask,s3,test]'``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from buildkit import Node, isolated_env, node_states, out, wait_for, write_build
from servers import DaskCluster, S3Server, dask_cluster, free_port, s3_server
from wheelkit import write_test_wheels

pytest.importorskip("distributed", reason="the dask extra is not installed")
s3fs = pytest.importorskip("s3fs", reason="the s3 extra is not installed")
pytest.importorskip("moto", reason="the test extra (moto) is not installed")

REPO = Path(__file__).resolve().parents[2]
PIPEC = Path(sys.executable).parent / "pipec"

FAN_OUT = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["items"])
def make_items(n: int):
    return list(range(n))


@PipelineDecorator.component(return_values=["square"])
def square(x):
    print(f"squaring {x}")
    return x * x


@PipelineDecorator.pipeline(name="fan", project="tests", version="1")
def controller(n: int = 16):
    squares = []
    for x in make_items(n):
        squares.append(square(x))
    print(f"total {sum(squares)}")
    return squares
"""

ON_A_QUEUE = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["worker_and_warm"], execution_queue="gpu")
def where():
    import os

    # An ancestor of the step (its parent, or its warm template's) is the `dask worker`
    # process that runs it; its --name is in its argv.
    pid = os.getppid()
    while b"--name" not in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0"):
        pid = int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
    argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    # Forked from a warm template (a child of the worker) rather than started by the worker.
    return argv[argv.index(b"--name") + 1].decode(), pid != os.getppid()


@PipelineDecorator.pipeline(name="queued", project="tests", version="1")
def controller():
    names = [where() for _ in range(4)]
    print(sorted(set(names)))
    return names
"""

SLOW = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["value"])
def slow(marker_dir: str, seconds: float):
    import os
    import pathlib
    import sys
    import time

    parent = os.getppid()
    worker = parent  # the `dask worker` among the step's ancestors (a warm template's parent)
    while b"--name" not in open(f"/proc/{worker}/cmdline", "rb").read().split(b"\\0"):
        worker = int(open(f"/proc/{worker}/stat").read().rpartition(")")[2].split()[1])
    print("started", flush=True)
    pathlib.Path(marker_dir, f"{os.getpid()}.pid").write_text(str(worker))
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.05)
        if os.getppid() != parent:
            sys.exit(0)  # its worker (and template) died; the attempt that matters runs elsewhere
    return 42


@PipelineDecorator.pipeline(name="slow", project="tests", version="1")
def controller(marker_dir: str, seconds: float = 3.0):
    value = slow(marker_dir, seconds)
    print(f"value {value}")
    return value
"""


def _call(argv: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**isolated_env(tmp_path), **env},
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def _build(tmp_path: Path, source: str | Path) -> Path:
    if isinstance(source, str):
        file = tmp_path / "pipeline.py"
        file.write_text(textwrap.dedent(source), encoding="utf-8")
    else:
        file = source
    build = tmp_path / "build"
    built = _call([str(PIPEC), "build", str(file), "-o", str(build)], tmp_path)
    assert built.returncode == 0, built.stderr
    return build


def _run(
    tmp_path: Path, build: Path, name: str, *extra: str, **env: str
) -> subprocess.CompletedProcess[str]:
    argv = [str(PIPEC), "run", str(build), "--runs-dir", str(tmp_path / name)]
    return _call([*argv, "--cache-dir", str(tmp_path / f"cache-{name}"), *extra], tmp_path, **env)


def _record(tmp_path: Path, name: str) -> dict[str, object]:
    (run_dir,) = (tmp_path / name).iterdir()
    data: dict[str, object] = json.loads((run_dir / "run.json").read_text())
    return data


def _result(tmp_path: Path, name: str, s3: S3Server | None = None) -> object:
    """The run's result with every artifact replaced by the sha256 of its bytes (read from
    the run folder, or from the S3 store the run recorded)."""
    (run_dir,) = (tmp_path / name).iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    if s3 is None:
        read = lambda relative: (run_dir / relative).read_bytes()  # noqa: E731
    else:
        fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint, key="test", secret="test")
        root = record["options"]["store"].removeprefix("s3://") + "/" + record["run_id"]
        read = lambda relative: fs.cat_file(f"{root}/{relative}")  # noqa: E731
    result = record["result"]
    return _digests(read, result.get("combined", result))


def _digests(read: Callable[[str], bytes], spec: object) -> object:
    if isinstance(spec, dict) and "path" in spec:
        return hashlib.sha256(read(spec["path"])).hexdigest()
    if isinstance(spec, dict):
        return {key: _digests(read, value) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_digests(read, entry) for entry in spec]
    return spec


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server with a bucket `pipec`; the credentials it takes are any."""
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        fs = s3fs.S3FileSystem(endpoint_url=server.endpoint, key="test", secret="test")
        fs.mkdir("pipec")
        yield server


def _s3_env(server: S3Server) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.endpoint,
    }


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[DaskCluster]:
    """A scheduler and two workers that can reach the S3 server; only the second offers the
    `gpu` resource."""
    folder = tmp_path_factory.mktemp("dask")
    with dask_cluster(folder, {"w1": None, "w2": "gpu=1"}, _s3_env(s3)) as started:
        yield started


@pytest.fixture(scope="session")
def iris_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("iris-data") / "iris.pkl"
    maker = REPO / "examples" / "iris" / "make_dataset.py"
    done = subprocess.run([sys.executable, str(maker), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_iris_on_two_workers_with_an_s3_store_prints_and_returns_what_a_local_run_does(
    cluster: DaskCluster, s3: S3Server, iris_url: str, tmp_path: Path
):
    build = _build(tmp_path, REPO / "examples" / "iris" / "pipeline.py")
    local = _run(tmp_path, build, "local", f"--param=url={iris_url}")
    assert local.returncode == 0, local.stderr
    on_dask = _run(
        tmp_path,
        build,
        "dask",
        f"--param=url={iris_url}",
        "--executor=dask",
        f"--scheduler={cluster.address}",
        "--store=s3://pipec/iris",
        **_s3_env(s3),
    )
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.stdout == local.stdout
    local_record, dask_record = _record(tmp_path, "local"), _record(tmp_path, "dask")
    assert node_states(dask_record) == node_states(local_record)
    assert _result(tmp_path, "dask", s3) == _result(tmp_path, "local")
    assert dask_record["options"]["executor"] == "dask"  # type: ignore[index]
    assert dask_record["options"]["store"] == "s3://pipec/iris"  # type: ignore[index]
    # The record names each artifact as in a run folder; the bytes are in the store.
    (run_dir,) = (tmp_path / "dask").iterdir()
    assert not (run_dir / "artifacts").exists()
    # Every step's log is in the run folder, as after a local run.
    assert "attempt 1" in (run_dir / "logs" / "train_model.log").read_text()


def test_a_16_way_map_over_two_workers_and_an_s3_store_runs_like_a_local_run(
    cluster: DaskCluster, s3: S3Server, tmp_path: Path
):
    build = _build(tmp_path, FAN_OUT)
    local = _run(tmp_path, build, "local")
    assert local.returncode == 0, local.stderr
    on_dask = _run(
        tmp_path,
        build,
        "dask",
        "--executor=dask",
        f"--scheduler={cluster.address}",
        "--store=s3://pipec/fan",
        **_s3_env(s3),
    )
    assert on_dask.returncode == 0, on_dask.stderr
    assert on_dask.stdout == local.stdout == "total 1240\n"
    assert _result(tmp_path, "dask", s3) == _result(tmp_path, "local")
    assert node_states(_record(tmp_path, "dask")) == node_states(_record(tmp_path, "local"))
    for index in range(16):
        assert f"[square[{index}]] squaring {index}" in on_dask.stderr


def test_a_queue_runs_only_on_workers_with_that_resource(
    cluster: DaskCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    build = _build(tmp_path, ON_A_QUEUE)
    monkeypatch.delenv("PIPEC_COLD", raising=False)  # warm first, whatever the suite's mode
    # --python names this interpreter as the tests' own path does (bin/python), the workers'
    # scripts as their first line does (bin/python3): the same interpreter, so warm starts.
    done = _run(
        tmp_path,
        build,
        "dask",
        "--executor=dask",
        f"--scheduler={cluster.address}",
        f"--python={sys.executable}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[('w2', True)]\n"  # each step forked from a template on w2
    cold = _run(
        tmp_path, build, "cold", "--executor=dask", f"--scheduler={cluster.address}", "--cold"
    )
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout == "[('w2', False)]\n"  # each step a fresh interpreter the worker started


def test_a_queue_no_worker_serves_is_refused_before_any_step_runs(tmp_path: Path):
    with dask_cluster(tmp_path, {"plain": None}) as plain:
        build = _build(tmp_path, ON_A_QUEUE)
        done = _run(tmp_path, build, "dask", "--executor=dask", f"--scheduler={plain.address}")
    assert done.returncode == 2
    assert "queue(s) gpu" in done.stderr and '--resources "gpu=1"' in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "dask").exists()


def test_an_unreachable_scheduler_is_a_clear_error_before_any_step_runs(tmp_path: Path):
    build = _build(tmp_path, FAN_OUT)
    done = _run(
        tmp_path,
        build,
        "dask",
        "--executor=dask",
        f"--scheduler=tcp://127.0.0.1:{free_port()}",
        DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="2s",
    )
    assert done.returncode == 2
    assert "cannot reach the Dask scheduler" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "dask").exists()


def test_the_executor_flags_are_checked(tmp_path: Path):
    build = _build(tmp_path, FAN_OUT)
    no_address = _run(tmp_path, build, "dask", "--executor=dask")
    assert no_address.returncode == 2
    assert "--scheduler tcp://HOST:PORT" in no_address.stderr
    stray = _run(tmp_path, build, "local", "--scheduler=tcp://127.0.0.1:1")
    assert stray.returncode == 2
    assert "--scheduler only applies with --executor dask" in stray.stderr


def test_a_worker_killed_during_a_step_is_replaced_and_nothing_is_lost(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    with dask_cluster(tmp_path, {"a": None, "b": None}) as own:
        build = _build(tmp_path, SLOW)
        argv = [str(PIPEC), "run", str(build), "--executor=dask", f"--scheduler={own.address}"]
        argv += [f"--param=marker_dir={str(markers)!r}", "--cache-dir", str(tmp_path / "cache")]
        running = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=isolated_env(tmp_path),
        )
        wait_for(lambda: any(markers.iterdir()), "the step to start")
        (first,) = markers.iterdir()
        os.kill(int(first.read_text()), signal.SIGKILL)
        stdout, stderr = running.communicate(timeout=120)
    assert running.returncode == 0, stderr
    assert stdout == "value 42\n"
    assert len(list(markers.iterdir())) == 2  # the step ran again, on the other worker
    (run_dir,) = (build / "runs").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert node_states(record)["slow"] == "succeeded"
    log = (run_dir / "logs" / "slow.log").read_text()
    assert log.count("started") == 2 and "its worker was lost" in log


def test_ctrl_c_cancels_the_clusters_tasks_and_stops_their_processes(
    cluster: DaskCluster, tmp_path: Path
):
    markers = tmp_path / "markers"
    markers.mkdir()
    build = _build(tmp_path, SLOW)
    argv = [str(PIPEC), "run", str(build), "--executor=dask", f"--scheduler={cluster.address}"]
    argv += [f"--param=marker_dir={str(markers)!r}", "--param=seconds=120.0"]
    running = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=isolated_env(tmp_path)
    )
    wait_for(lambda: any(markers.iterdir()), "the step to start")
    (marker,) = markers.iterdir()
    running.send_signal(signal.SIGINT)
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == 130, stderr
    step_pid = int(marker.name.removesuffix(".pid"))
    wait_for(lambda: not Path(f"/proc/{step_pid}").exists(), "the step's process to end", 30)
    (run_dir,) = (build / "runs").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["state"] == "interrupted"
    assert node_states(record)["slow"] == "interrupted"


FLAKY = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["data"])
def make(n: int):
    print("make ran")
    return list(range(n))


@PipelineDecorator.component(return_values=["total"])
def flaky(data, flag: str):
    import os

    if not os.path.exists(flag):
        raise RuntimeError("the flag file is missing")
    return sum(data)


@PipelineDecorator.pipeline(name="flaky", project="tests", version="1")
def controller(flag: str, n: int = 5):
    data = make(n)
    total = flaky(data, flag)
    print(f"total {total}")
    return total
"""


def test_a_resumed_run_against_an_s3_store_redoes_nothing_that_succeeded(
    s3: S3Server, tmp_path: Path
):
    build = _build(tmp_path, FLAKY)
    flag = tmp_path / "flag"
    params = [f"--param=flag={str(flag)!r}", "--no-cache"]
    first = _run(tmp_path, build, "runs", *params, "--store=s3://pipec/resume", **_s3_env(s3))
    assert first.returncode == 1, first.stderr
    assert "[make] make ran" in first.stderr
    flag.write_text("")
    resumed = _run(tmp_path, build, "runs", "--no-cache", "--resume", **_s3_env(s3))
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "total 10\n"
    assert "keeping 1 finished step(s)" in resumed.stderr
    assert "make ran" not in resumed.stderr
    record = _record(tmp_path, "runs")
    assert node_states(record) == {"make": "succeeded", "flaky": "succeeded", "glue_1": "succeeded"}


def test_wrong_s3_credentials_are_a_clear_error_before_any_step_runs(tmp_path: Path):
    with s3_server(tmp_path, authenticate=True) as guarded:
        build = _build(tmp_path, FAN_OUT)
        done = _run(tmp_path, build, "runs", "--store=s3://pipec/x", **_s3_env(guarded))
    assert done.returncode == 2
    assert "refused the credentials" in done.stderr and "AWS_ACCESS_KEY_ID" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()


def test_store_urls_that_cannot_work_are_refused(tmp_path: Path):
    build = _build(tmp_path, FAN_OUT)
    memory = _run(tmp_path, build, "runs", "--store=memory://x")
    assert memory.returncode == 2 and "Traceback" not in memory.stderr
    assert "every step runs in a process of its own" in memory.stderr  # why
    assert "file:///PATH" in memory.stderr and "s3://BUCKET/PREFIX" in memory.stderr  # instead
    memory_cache = _run(tmp_path, build, "runs", "--cache=memory://x")
    assert memory_cache.returncode == 2 and "lives inside one process" in memory_cache.stderr
    bare = _run(tmp_path, build, "runs", f"--store={tmp_path}")
    assert bare.returncode == 2 and "give a URL" in bare.stderr
    assert not (tmp_path / "runs").exists()


def test_env_venv_on_the_cluster_builds_each_environment_on_its_worker(
    cluster: DaskCluster, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
):
    wheels = write_test_wheels(tmp_path_factory.mktemp("wheels"))
    build = write_build(
        tmp_path / "build",
        [
            Node(
                "uses_tiny",
                "def step():\n    import sys, tinypkg\n    return (tinypkg.VALUE, sys.prefix)",
                requirements=("tinypkg==1.0",),
            ),
            Node(
                "say",
                "def step(pair):\n    import sys\n    print(pair[0], pair[1] != sys.prefix)",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"pair": out("uses_tiny")},
            ),
        ],
    )
    done = _run(
        tmp_path,
        build,
        "venv",
        "--executor=dask",
        f"--scheduler={cluster.address}",
        "--env=venv",
        f"--find-links={wheels}",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tiny 1.0 True\n"  # two environments, each built on a worker
    assert "[uses_tiny] pipec: building the environment for steps/uses_tiny.py" in done.stderr
    envs = tmp_path / "cache-venv" / "envs"  # the run's --cache-dir, on the workers too
    assert len([p for p in envs.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2
    interpreters = _record(tmp_path, "venv")["options"]["interpreters"]
    assert "built from" in interpreters["uses_tiny"] and "tinypkg==1.0" in interpreters["uses_tiny"]


def test_inspect_reads_a_run_whose_artifacts_are_in_an_s3_store(s3: S3Server, tmp_path: Path):
    build = _build(tmp_path, FAN_OUT)
    done = _run(tmp_path, build, "runs", "--param=n=4", "--store=s3://pipec/inspect", **_s3_env(s3))
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not (run_dir / "artifacts").exists()  # nothing to read here: only the store has them

    def inspect(*words: str) -> subprocess.CompletedProcess[str]:
        argv = [str(PIPEC), "inspect", str(run_dir), *words]
        return _call(argv, tmp_path, **_s3_env(s3))

    result = inspect("result")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[0, 1, 4, 9]\n"
    items = inspect("make_items")
    assert items.returncode == 0, items.stderr
    assert items.stdout == "[0, 1, 2, 3]\n"
    record = json.loads((run_dir / "run.json").read_text())
    where = f"s3://pipec/inspect/{record['run_id']}/artifacts/make_items/items.pkl"
    assert where in items.stderr and "written by Python" in items.stderr
    listing = inspect("--list")
    assert listing.returncode == 0, listing.stderr
    assert "make_items" in listing.stdout and "[0, 1, 2, 3]" in listing.stdout
    assert "4 elements" in listing.stdout, listing.stdout
    elements = inspect("map_1")
    assert elements.returncode == 0, elements.stderr
    assert elements.stdout == "[0, 1, 2, 3]\n"
    assert "4 elements in s3://pipec/inspect/" in elements.stderr
    one = inspect("square[3]")
    assert one.returncode == 0 and one.stdout == "9\n", one.stderr

    # Bytes that are not the ones the run recorded are never unpickled.
    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint, key="test", secret="test")
    fs.pipe_file(where.removeprefix("s3://"), b"not the artifact")
    changed = inspect("make_items")
    assert changed.returncode == 2
    assert "changed after the run wrote it; refusing to load it" in changed.stderr
    assert "Traceback" not in changed.stderr
    fs.rm_file(where.removeprefix("s3://"))
    gone = inspect("make_items")
    assert gone.returncode == 2 and "is gone from the store" in gone.stderr


def _can_hide_folders() -> bool:
    """Whether a process can get a mount namespace of its own here (root, or user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_hide_folders(), reason="needs `unshare -m` to hide the build")
def test_a_worker_that_lacks_the_build_gets_it_shipped_with_a_remote_store(
    s3: S3Server, tmp_path: Path
):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    file = tmp_path / "pipeline.py"
    file.write_text(textwrap.dedent(FAN_OUT), encoding="utf-8")
    build = hidden / "build"
    built = _call([str(PIPEC), "build", str(file), "-o", str(build)], tmp_path)
    assert built.returncode == 0, built.stderr
    local = _run(tmp_path, build, "local", "--param=n=4")
    assert local.returncode == 0, local.stderr

    own = DaskCluster(tmp_path / "dask")
    own.folder.mkdir()
    # The worker runs with an empty folder mounted over `hidden`: the build is not there.
    blind = ["unshare", "-m", "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"', str(hidden)]
    try:
        own.start()
        # Its unpacked copy of the build goes to its temporary folder: this test's.
        worker_tmp = tmp_path / "worker-tmp"
        worker_tmp.mkdir()
        own.add_worker("blind", env={**_s3_env(s3), "TMPDIR": str(worker_tmp)}, prefix=blind)
        own.wait_for_workers(1)
        dask = ("--executor=dask", f"--scheduler={own.address}", "--param=n=4")
        refused = _run(tmp_path, build, "refused", *dask)
        shipped = _run(
            tmp_path, build, "shipped", *dask, "--store=s3://pipec/shipped", **_s3_env(s3)
        )
    finally:
        own.close()
    assert refused.returncode == 2, refused.stderr
    assert f"do not have this build at {build}" in refused.stderr
    assert "--store s3://BUCKET/PREFIX" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "refused").exists()

    assert shipped.returncode == 0, shipped.stderr
    assert "shipping the build to worker(s) tcp://127.0.0.1:" in shipped.stderr
    assert shipped.stdout == local.stdout == "total 14\n"
    assert _result(tmp_path, "shipped", s3) == _result(tmp_path, "local")
    (unpacked,) = (worker_tmp / "pipec-builds").iterdir()  # one copy, for all four steps
    assert (unpacked / "manifest.json").read_bytes() == (build / "manifest.json").read_bytes()
