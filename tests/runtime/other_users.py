"""Fixtures for the runtime tests that run pipec as other users (the tests run as root).

Import them into a test module as ``from other_users import as_user_fixture, shared_dir_fixture``
(named apart from the fixtures, so that the test's arguments do not shadow the imports).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import cloudpickle
import pytest
from buildkit import DRIVER, isolated_env

import pipec

AsUser = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(name="shared_dir")
def shared_dir_fixture() -> Iterator[Path]:
    """A temporary folder other users can reach (pytest's own are private to root); removed
    afterwards."""
    if os.geteuid() != 0 or not hasattr(os, "setuid"):
        pytest.skip("needs root, to run pipec as other users")
    folder = Path(tempfile.mkdtemp(prefix="pipec-shared-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reachable(python: str, uid: int) -> bool:
    try:
        done = subprocess.run([python, "-c", "pass"], user=uid, capture_output=True, check=False)
    except PermissionError:
        return False
    return done.returncode == 0


@pytest.fixture(name="as_user")
def as_user_fixture(shared_dir: Path) -> AsUser:
    """Runs ``pipec ARGS...`` as ``uid`` (with ``umask``), with the interpreter of this test
    session when other users can reach it, else the system's one of the same version with
    pipec and cloudpickle on its path."""
    python, extra = sys.executable, {}
    if not _reachable(python, 65534):
        python = f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"
        if not os.path.exists(python) or not _reachable(python, 65534):
            pytest.skip("no Python interpreter that other users can run")
        packages = shared_dir / "site"
        packages.mkdir()
        (packages / "pipec").symlink_to(Path(pipec.__file__).parent)
        source = Path(cloudpickle.__file__).parent
        for found in [source, *source.parent.glob("cloudpickle-*.dist-info")]:
            shutil.copytree(found, packages / found.name)  # the probe reads its version
        extra = {"PYTHONPATH": str(packages)}

    def run(
        uid: int, *args: str | Path, umask: int = 0o022, groups: tuple[int, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        home = shared_dir / f"home-{uid}"
        home.mkdir(exist_ok=True)
        os.chown(home, uid, -1)
        env = {**isolated_env(home), "HOME": str(home), **extra}
        return subprocess.run(
            [python, "-c", DRIVER, *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            user=uid,
            group=groups[0] if groups else uid,
            extra_groups=list(groups),
            umask=umask,
            timeout=120,
            check=False,
        )

    return run
