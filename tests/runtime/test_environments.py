"""``pipec run --env venv``: an environment per requirements set, built offline from wheels.

No network: the wheels come from a folder the test fills.  ``tinypkg`` is a package written
here; cloudpickle's wheel is made from the files of the cloudpickle installed in the test's
own interpreter (pure Python, so its files are a valid wheel's contents), which keeps the
environments isolated from this interpreter's site-packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from buildkit import (
    Node,
    isolated_env,
    out,
    pipec,
    pipec_argv,
    record,
    runs,
    wait_for,
    write_build,
)
from wheelkit import write_test_wheels

# uv comes with the test extra, beside this interpreter.
_UV_FOLDER = str(Path(sys.executable).parent)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX virtual environments")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_wheels(tmp_path_factory.mktemp("wheels"))


def _build(tmp_path: Path, pin: str = "tinypkg==1.0") -> Path:
    return write_build(
        tmp_path / "build",
        [
            Node(
                "uses_tiny",
                "def step():\n    import sys, tinypkg\n    return (tinypkg.VALUE, sys.prefix)",
                requirements=(pin,),
            ),
            Node(
                "plain",
                "def step(pair):\n    import sys\n    return (pair[0], pair[1], sys.prefix)",
                inputs={"pair": out("uses_tiny")},
            ),
            Node(
                "say",
                "def step(triple):\n    print(triple[0], triple[1] != triple[2])",
                kind="glue",
                effects=True,
                outputs=(),
                inputs={"triple": out("plain")},
            ),
        ],
    )


def _path_without_uv(tmp_path: Path) -> dict[str, str]:
    """The test's environment with no ``uv`` on PATH: environments are built with pip."""
    env = isolated_env(tmp_path)
    folders = env.get("PATH", "").split(os.pathsep)
    env["PATH"] = os.pathsep.join(f for f in folders if not (Path(f) / "uv").exists())
    return env


def test_each_requirements_set_gets_its_own_environment_built_once(tmp_path: Path, wheels: Path):
    # The test's interpreter lacks tinypkg: only its environment can run the first step.
    assert subprocess.run([sys.executable, "-c", "import tinypkg"], check=False).returncode != 0
    build = _build(tmp_path)
    argv = pipec_argv("run", build, "--env", "venv", "--find-links", wheels)
    # Two runs at once need the same environments: each is built once, under a lock.
    first, second = (
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_path_without_uv(tmp_path),
        )
        for _ in range(2)
    )
    outcomes = [process.communicate(timeout=300) for process in (first, second)]
    for process, (stdout, stderr) in zip((first, second), outcomes, strict=True):
        assert process.returncode == 0, stderr
        assert stdout == "tiny 1.0 True\n"  # the two steps ran in different environments
    stderr_both = outcomes[0][1] + outcomes[1][1]
    assert stderr_both.count("building the environment for steps/uses_tiny.py") == 1
    assert stderr_both.count("building the environment for steps/plain.py, steps/say.py") == 1
    envs = tmp_path / "cache" / "envs"
    finished = sorted(p.name for p in envs.iterdir() if p.is_dir())
    assert len(finished) == 2 and not any(name.startswith(".") for name in finished)

    interpreters = {}
    for run_dir in runs(build):
        options = record(run_dir)["options"]
        assert options["env"] == "venv"
        interpreters = options["interpreters"]
    assert set(interpreters) == {"uses_tiny", "plain", "say"}
    assert interpreters["plain"] == interpreters["say"] != interpreters["uses_tiny"]
    assert all(Path(path).is_relative_to(envs) for path in interpreters.values())
    for folder in finished:  # made by the venv module, not by uv
        assert "uv = " not in (envs / folder / "pyvenv.cfg").read_text(encoding="utf-8")

    again = pipec(tmp_path, "run", build, "--env", "venv", "--find-links", wheels, "--no-cache")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "tiny 1.0 True\n"
    assert "building the environment" not in again.stderr


def test_a_pin_no_wheel_satisfies_is_a_clear_error_before_any_run(tmp_path: Path, wheels: Path):
    build = _build(tmp_path, pin="tinypkg==2.0")
    done = pipec(tmp_path, "run", build, "--env", "venv", "--find-links", wheels)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot install tinypkg==2.0 (needed by steps/uses_tiny.py)" in done.stderr
    assert "into an environment of " + sys.executable in done.stderr
    assert "--pins compatible" in done.stderr
    assert runs(build) == []  # no run folder
    envs = tmp_path / "cache" / "envs"
    # the environment without tinypkg was built; the failed one left nothing behind
    assert not [p for p in envs.iterdir() if p.name.startswith(".") and p.is_dir()]


def test_find_links_without_env_venv_is_refused(tmp_path: Path, wheels: Path):
    build = _build(tmp_path)
    done = pipec(tmp_path, "run", build, "--find-links", wheels)
    assert done.returncode == 2
    assert "--find-links and --index-url only apply with --env venv" in done.stderr
    assert runs(build) == []


@pytest.mark.skipif(shutil.which("uv", path=_UV_FOLDER) is None, reason="uv is not installed")
def test_uv_builds_the_environments_when_it_is_on_path(tmp_path: Path, wheels: Path):
    build = _build(tmp_path)
    env = isolated_env(tmp_path)
    env["PATH"] = _UV_FOLDER + os.pathsep + env.get("PATH", "")
    env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")  # not the user's
    done = subprocess.run(
        pipec_argv("run", build, "--env", "venv", "--find-links", wheels),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tiny 1.0 True\n"
    envs = tmp_path / "cache" / "envs"
    made = [p for p in envs.iterdir() if p.is_dir()]
    assert len(made) == 2
    for folder in made:
        assert "uv = " in (folder / "pyvenv.cfg").read_text(encoding="utf-8")


def test_without_uv_and_without_pip_beside_python_the_venv_module_brings_its_own_pip(
    tmp_path: Path, wheels: Path
):
    # An interpreter with no pip at all (a virtual environment made --without-pip): the
    # environments get pip from the venv module's bundled copy (ensurepip), offline.
    base = tmp_path / "base"
    made = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(base)], check=False)
    assert made.returncode == 0
    python = base / "bin" / "python"
    assert subprocess.run([python, "-c", "import pip"], capture_output=True).returncode != 0
    build = _build(tmp_path)
    done = subprocess.run(
        pipec_argv("run", build, "--env", "venv", "--python", python, "--find-links", wheels),
        capture_output=True,
        text=True,
        env=_path_without_uv(tmp_path),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tiny 1.0 True\n"
    envs = tmp_path / "cache" / "envs"
    made_envs = [p for p in envs.iterdir() if p.is_dir()]
    assert len(made_envs) == 2
    for folder in made_envs:
        assert "uv = " not in (folder / "pyvenv.cfg").read_text(encoding="utf-8")
        assert (folder / "bin" / "pip").exists()  # its own pip, which installed its packages


def test_cache_clear_removes_the_environments_no_running_run_uses(tmp_path: Path, wheels: Path):
    env = _path_without_uv(tmp_path)
    first = subprocess.run(
        pipec_argv("run", _build(tmp_path), "--env", "venv", "--find-links", wheels),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    envs = tmp_path / "cache" / "envs"
    tiny_env, plain_env = (
        Path(record(run_dir)["options"]["interpreters"][node]).parents[1]
        for run_dir in runs(tmp_path / "build")
        for node in ("uses_tiny", "plain")
    )
    # A second build whose step needs the tinypkg environment and waits while the test clears.
    started, release = tmp_path / "started", tmp_path / "release"
    waiting = write_build(
        tmp_path / "waiting",
        [
            Node(
                "uses_tiny",
                "def step():\n    import os, pathlib, time, tinypkg\n"
                f"    pathlib.Path({str(started)!r}).touch()\n"
                f"    while not os.path.exists({str(release)!r}):\n"
                "        time.sleep(0.05)\n"
                "    return tinypkg.VALUE",
                requirements=("tinypkg==1.0",),
            )
        ],
    )
    running = subprocess.Popen(
        pipec_argv("run", waiting, "--env", "venv", "--find-links", wheels),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for(started.exists, "the step to start", 120)
        info = pipec(tmp_path, "cache", "info")
        assert info.returncode == 0, info.stderr
        assert "envs:     2 step environment(s)" in info.stdout
        assert "1 in use by a running run" in info.stdout
        cleared = pipec(tmp_path, "cache", "clear")
        assert cleared.returncode == 0, cleared.stderr
        assert "removed 1 step environment(s)" in cleared.stdout
        assert "kept 1 step environment(s) in use" in cleared.stdout
        assert not plain_env.exists()
        assert tiny_env.exists()
    finally:
        release.touch()
        _, stderr = running.communicate(timeout=120)
    assert running.returncode == 0, stderr

    # Just used: not older than an hour.
    recent = pipec(tmp_path, "cache", "clear", "--older-than", "1h")
    assert recent.returncode == 0 and "step environment" not in recent.stdout
    assert tiny_env.exists()
    everything = pipec(tmp_path, "cache", "clear")
    assert "removed 1 step environment(s)" in everything.stdout
    assert not [p for p in envs.iterdir() if p.is_dir()]
    bad = pipec(tmp_path, "cache", "clear", "--older-than", "soon")
    assert bad.returncode == 2 and "--older-than 'soon'" in bad.stderr
