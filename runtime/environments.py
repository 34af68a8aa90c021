"""``pipec run --env venv``: a virtual environment per distinct requirements set.

Each step runs on the interpreter of an environment that holds exactly its requirements (and
cloudpickle, which every step script imports).  Environments live under the cache folder,
``<cache>/envs/<key>/``, where the key hashes the requirements and the interpreter they were
made from, so runs and builds with the same requirements share one.

An environment is built under a lock (two runs that need the same one build it once) in a
temporary folder that is renamed into place only once everything is installed, so a
half-built environment is never used.  Only the environment's ``python`` is ever run, and
a virtual environment's interpreter finds its ``pyvenv.cfg`` next to it wherever the folder
is, so the rename is safe (scripts such as ``bin/pip`` keep the old path in their first
line, but pipec never runs them).

``uv`` builds an environment when it is on ``PATH`` (much faster); ``python -m venv`` and
pip otherwise.

Every use touches the environment's marker (its modification time is its last use) and holds
a shared lock on ``<key>.in-use`` until the process that uses it ends: ``pipec cache clear``
(:mod:`pipec.environment_cache`) removes only environments whose lock it can take alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipec.manifest import Manifest
from pipec.value_methods import ValueMethods

__all__ = [
    "IN_USE_SUFFIX",
    "MARKER",
    "EnvironmentError",
    "EnvironmentOptions",
    "environment_key",
    "launcher",
    "main",
    "prepare_environments",
]

MARKER = "pipec-environment.json"  # written last, before the rename: a finished environment
IN_USE_SUFFIX = ".in-use"  # <root>/<key>.in-use: shared-locked by every process using <key>
_REQUIREMENTS = "pipec-requirements.txt"
_OUTPUT_TAIL = 12  # lines of the installer's output a failure shows


class EnvironmentError(Exception):  # noqa: A001 - pipec's own, always imported by name
    """An environment could not be built (a user's mistake or the host's: exit 2)."""


@dataclass(frozen=True, eq=False, repr=False)
class EnvironmentOptions(ValueMethods):
    root: Path  # <cache>/envs
    base_python: str  # the interpreter environments are made from
    base_version: str  # its version, e.g. 3.11.7
    find_links: tuple[str, ...] = ()  # folders (or URLs) of wheels; without an index: offline
    index_url: str | None = None
    cloudpickle: str | None = None  # the version to install, as the base interpreter has it
    built_with: str | None = None  # the Python the build was made with, for messages
    root_given: bool = False  # --cache-dir was given: workers use the same path


def environment_key(requirements: Sequence[str], python: str, python_version: str) -> str:
    """Which environment serves ``requirements`` on the interpreter ``python``."""
    described = {
        "requirements": sorted(set(requirements)),
        "python": os.path.realpath(python),
        "version": python_version,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:24]


def prepare_environments(
    manifest: Manifest,
    options: EnvironmentOptions,
    status: Callable[[str], None],
) -> dict[str, str]:
    """Each node's interpreter, building (once) the environments that do not exist yet."""
    cloudpickle = (
        f"cloudpickle=={options.cloudpickle}" if options.cloudpickle is not None else "cloudpickle"
    )
    by_set: dict[tuple[str, ...], list[str]] = {}
    for node in manifest.nodes:
        wanted = tuple(sorted(set(node.requirements)))
        by_set.setdefault(wanted, []).append(node.script)
    interpreters: dict[tuple[str, ...], str] = {}
    for wanted, scripts in by_set.items():
        full = _with_cloudpickle(wanted, cloudpickle)
        interpreters[wanted] = _ensure(full, sorted(set(scripts)), options, status)
    return {
        node.name: interpreters[tuple(sorted(set(node.requirements)))] for node in manifest.nodes
    }


def _with_cloudpickle(requirements: Sequence[str], cloudpickle: str) -> list[str]:
    full = list(requirements)
    if not any(_name(line) == "cloudpickle" for line in requirements):
        full.append(cloudpickle)
    return full


def launcher(
    base_python: str, requirements: Sequence[str], script: str, options: EnvironmentOptions
) -> tuple[str, ...]:
    """What replaces the interpreter on a step's command line to build its environment on
    the host that runs it (a Dask worker), once per host, and run the step there."""
    argv = [base_python, "-m", "pipec.environments", "--script", script]
    if options.root_given:
        argv += ["--root", str(options.root)]
    for requirement in sorted(set(requirements)):
        argv += ["--requirement", requirement]
    for place in options.find_links:
        argv += ["--find-links", place]
    if options.index_url is not None:
        argv += ["--index-url", options.index_url]
    if options.cloudpickle is not None:
        argv += ["--cloudpickle", options.cloudpickle]
    return (*argv, "--")


def main(argv: list[str] | None = None) -> int:
    """``python -m pipec.environments [OPTIONS] -- SCRIPT ARGS...``: see :func:`launcher`."""
    import argparse
    import platform
    import sys

    from pipec.cache import default_cache_dir

    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--" not in arguments:
        print("usage: python -m pipec.environments [OPTIONS] -- SCRIPT [ARGS...]", file=sys.stderr)
        return 2
    split = arguments.index("--")
    parser = argparse.ArgumentParser(prog="python -m pipec.environments")
    parser.add_argument("--script", default="the step")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--requirement", action="append", default=[])
    parser.add_argument("--find-links", action="append", default=[])
    parser.add_argument("--index-url", default=None)
    parser.add_argument("--cloudpickle", default=None)
    given = parser.parse_args(arguments[:split])
    options = EnvironmentOptions(
        root=given.root or default_cache_dir() / "envs",
        base_python=sys.executable,
        base_version=platform.python_version(),
        find_links=tuple(given.find_links),
        index_url=given.index_url,
        cloudpickle=given.cloudpickle,
    )
    pin = f"cloudpickle=={given.cloudpickle}" if given.cloudpickle else "cloudpickle"
    requirements = _with_cloudpickle(given.requirement, pin)

    def status(message: str) -> None:
        print(f"pipec: {message}", file=sys.stderr, flush=True)

    try:
        python = _ensure(requirements, [given.script], options, status)
    except EnvironmentError as exc:
        print(f"pipec: {exc}", file=sys.stderr)
        return 2
    os.execv(python, [python, *arguments[split + 1 :]])


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def _interpreter(folder: Path) -> Path:
    if os.name == "nt":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


def _ensure(
    requirements: Sequence[str],
    scripts: Sequence[str],
    options: EnvironmentOptions,
    status: Callable[[str], None],
) -> str:
    key = environment_key(requirements, options.base_python, options.base_version)
    final = options.root / key
    try:
        options.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentError(
            f"cannot create {options.root} for the step environments ({exc.strerror or exc}); "
            "pass --cache-dir DIR on a disk you can write"
        ) from None
    # Held before the marker is looked at, so the environment cannot be removed once found.
    _hold_in_use(options.root, key)
    if (final / MARKER).is_file():
        _touch(final / MARKER)
        return str(_interpreter(final))
    with _locked(options.root / f"{key}.lock"):
        if (final / MARKER).is_file():  # another run built it while this one waited
            return str(_interpreter(final))
        for leftover in options.root.glob(f".{key}.*.tmp"):  # a build that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        if final.exists():  # no marker: not one of pipec's finished environments
            shutil.rmtree(final, ignore_errors=True)
        status(
            f"building the environment for {', '.join(scripts)} "
            f"({len(requirements)} requirement(s)) in {final}"
        )
        temporary = options.root / f".{key}.{os.getpid()}.tmp"
        try:
            _build(temporary, requirements, scripts, options)
            os.rename(temporary, final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    return str(_interpreter(final))


_in_use: list[int] = []  # descriptors of the in-use locks this process holds until it ends


def _hold_in_use(root: Path, key: str) -> None:
    try:
        import fcntl
    except ImportError:  # no flock here: environments in use are not protected from removal
        return
    descriptor = os.open(root / f"{key}{IN_USE_SUFFIX}", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_SH)
    # Inherited across exec: on a worker the step the launcher becomes keeps holding it.
    os.set_inheritable(descriptor, True)
    _in_use.append(descriptor)


def _touch(marker: Path) -> None:
    with contextlib.suppress(OSError):  # another user's environment: its use goes unrecorded
        os.utime(marker)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: builds are not shared safely
            yield
            return
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the descriptor closes
        yield
    finally:
        os.close(descriptor)


def _build(
    folder: Path, requirements: Sequence[str], scripts: Sequence[str], options: EnvironmentOptions
) -> None:
    uv = shutil.which("uv")
    if uv is not None:
        _call([uv, "venv", "--quiet", str(folder), "--python", options.base_python], options)
        install = [uv, "pip", "install", "--python", str(_interpreter(folder))]
    elif _pip_takes_python(options.base_python):
        # The base interpreter's pip installs into the environment (``pip --python``): no
        # pip of its own to install, which is most of the time ``python -m venv`` takes.
        _call([options.base_python, "-m", "venv", "--without-pip", str(folder)], options)
        install = [options.base_python, "-m", "pip", "--python", str(_interpreter(folder))]
        install += ["install", "--disable-pip-version-check", "--no-input"]
    else:
        _call([options.base_python, "-m", "venv", str(folder)], options)
        install = [str(_interpreter(folder)), "-m", "pip"]
        install += ["install", "--disable-pip-version-check", "--no-input"]
    listing = folder / _REQUIREMENTS
    listing.write_text("".join(f"{line}\n" for line in requirements), encoding="utf-8")
    install += ["-r", str(listing)]
    if options.index_url is not None:
        install += ["--index-url", options.index_url]
    elif options.find_links:
        install.append("--no-index")  # wheels from the folders only: works offline
    for place in options.find_links:
        install += ["--find-links", place]
    _call(install, options, requirements, scripts)
    described = {"requirements": list(requirements), "python": options.base_python}
    (folder / MARKER).write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")


def _pip_takes_python(python: str) -> bool:
    """Whether ``python -m pip`` has ``--python`` (pip 22.3 and later)."""
    asked = subprocess.run(
        [python, "-c", "import pip; print(pip.__version__)"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    numbers = re.findall(r"\d+", asked.stdout)[:2] if asked.returncode == 0 else []
    return len(numbers) == 2 and (int(numbers[0]), int(numbers[1])) >= (22, 3)


def _call(
    argv: list[str],
    options: EnvironmentOptions,
    requirements: Sequence[str] = (),
    scripts: Sequence[str] = (),
) -> str:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise EnvironmentError(
            f"cannot run {argv[0]} to build a step environment ({exc.strerror or exc}); "
            "pass --python PATH with a working interpreter"
        ) from None
    if done.returncode == 0:
        return done.stdout
    tail = "\n".join(done.stdout.strip().splitlines()[-_OUTPUT_TAIL:])
    if not requirements:
        raise EnvironmentError(
            f"cannot create a virtual environment with {options.base_python} "
            f"(`{' '.join(argv)}` exited {done.returncode}):\n{tail}\n"
            "install the venv module (Debian: apt-get install python3-venv), put uv on PATH, "
            "or pass --python PATH with another interpreter"
        )
    culprit = _culprit(done.stdout, requirements)
    made_with = (
        f"; the build was made with Python {options.built_with}" if options.built_with else ""
    )
    raise EnvironmentError(
        f"cannot install {culprit} (needed by {', '.join(scripts)}) into an environment of "
        f"{options.base_python} (Python {options.base_version}{made_with}):\n"
        f"{tail}\n"
        "fix: run with --python PATH naming an interpreter that can install it (the Python the "
        "build was made with), rebuild with `pipec build --pins compatible` (or --pins none), "
        "or give the wheels with --find-links DIR / --index-url URL"
    )


def _culprit(output: str, requirements: Sequence[str]) -> str:
    """The requirement the installer could not satisfy, as the build wrote it, if it says."""
    patterns = (
        r"satisfies the requirement ([^\s(]+)",
        r"distribution found for ([^\s(]+)",
        r"no version of ([^\s(]+)",
        r"Because ([^\s(]+) was not found",
    )
    for pattern in patterns:
        match = re.search(pattern, output)
        if match is None:
            continue
        named = _name(match.group(1))
        for line in requirements:
            if _name(line) == named:
                return line
        return match.group(1)
    return ", ".join(requirements)


if __name__ == "__main__":
    import sys

    sys.exit(main())
