"""The benchmarks, one function per suite: each prepares what it needs, measures, returns rows.

Every pipec command runs as its own process through ``pipec_probe.py`` (what the ``pipec``
console script does, plus a report of its peak memory).  Builds and run folders go to fresh
paths under the work folder and are removed after each measurement, outside the timed part.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from measure import Sample, interleave, median, run_command
from pipelines import (
    chain_pipeline,
    fan_pipeline,
    map_pipeline,
    transfer_pipeline,
    write_pipeline,
)
from table import Goal, Row, megabytes, seconds

__all__ = ["SUITES", "Settings"]

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
_NAMES = itertools.count()


@dataclass(frozen=True)
class Settings:
    quick: bool
    repetitions: int
    workdir: Path
    repository: Path
    kfp_python: str | None


# -- running pipec ------------------------------------------------------------------------


def _fresh(settings: Settings, prefix: str) -> Path:
    """A path under the work folder that nothing uses yet (not created)."""
    return settings.workdir / f"{prefix}-{next(_NAMES)}"


def _environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["PIPEC_CACHE_DIR"] = str(settings.workdir / "default-cache")  # never the user's cache
    # Measure pipec as an installed package runs: with its bytecode cached. Without this, a
    # PYTHONDONTWRITEBYTECODE=1 environment recompiles an editable checkout in every process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _pipec(
    settings: Settings,
    *args: str,
    env: Mapping[str, str] | None = None,
    python: str = PYTHON,
) -> Sample:
    """Run ``pipec ARGS`` as a process; its own peak RSS and its largest step's, apart."""
    report = _fresh(settings, "probe")
    argv = [python, str(HERE / "pipec_probe.py"), str(report), *args]
    sample = run_command(argv, env={**_environment(settings), **(env or {})})
    usage = json.loads(report.read_text(encoding="utf-8"))
    report.unlink()
    return Sample(sample.seconds, usage["self_kib"], usage["children_kib"])


def _build_once(settings: Settings, source: Path) -> Sample:
    output = _fresh(settings, "build")
    sample = _pipec(settings, "build", str(source), "-o", str(output))
    shutil.rmtree(output)
    return sample


def _build(settings: Settings, source: Path) -> Path:
    """Build ``source`` once, untimed, and keep the build folder for runs."""
    output = _fresh(settings, "build")
    _pipec(settings, "build", str(source), "-o", str(output))
    return output


def _run(
    settings: Settings,
    build: Path,
    *options: str,
    env: Mapping[str, str] | None = None,
    python: str = PYTHON,
) -> Sample:
    """One ``pipec run`` with a run folder of its own, removed afterwards."""
    runs = _fresh(settings, "runs")
    argv = ("run", str(build), "--runs-dir", str(runs), *options)
    sample = _pipec(settings, *argv, env=env, python=python)
    shutil.rmtree(runs)
    return sample


def _source(settings: Settings, name: str, text: str) -> Path:
    folder = settings.workdir / "sources"
    folder.mkdir(exist_ok=True)
    return write_pipeline(folder, name, text)


def _floor(python: str = PYTHON) -> Sample:
    return run_command([python, "-c", "pass"])


def _regular_install(settings: Settings) -> str:
    """The interpreter of a virtual environment where this checkout is installed as a plain
    package, as a user's ``pip install pipec`` leaves it.

    The benchmarks' own environment usually holds an editable install, whose finder (set up
    by a ``.pth`` file) every Python process of that environment imports at start, the steps'
    included: ``pathlib``, ``re``, ``urllib.parse`` and more.  Here ``pipec`` is copied into
    site-packages, and the benchmarks' environment's packages (cloudpickle, ...) are put on
    the path by a ``.pth`` line, which adds the folder without running the ``.pth`` files in it.
    """
    venv = settings.workdir / "regular-install"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = venv / "lib" / version / "site-packages"
    package = site / "pipec"
    shutil.copytree(settings.repository / "runtime", package)
    shutil.copytree(settings.repository / "compiler", package / "compiler")
    shutil.copytree(settings.repository / "templates", package / "templates")
    for cache in list(package.rglob("__pycache__")):
        shutil.rmtree(cache)
    ours = subprocess.run(
        [PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (site / "benchmark_dependencies.pth").write_text(ours + "\n", encoding="utf-8")
    return str(venv / "bin" / "python")


# -- build --------------------------------------------------------------------------------


def build_suite(settings: Settings) -> list[Row]:
    """Whole-process ``pipec build`` of the iris example and of two generated chains."""
    small, large = (20, 200) if settings.quick else (50, 500)
    sources = {n: _source(settings, f"chain_{n}", chain_pipeline(n)) for n in (small, large)}
    iris = settings.repository / "examples" / "iris" / "pipeline.py"

    def building(source: Path) -> Callable[[], Sample]:
        return lambda: _build_once(settings, source)

    cases = {"iris": building(iris), "small": building(sources[small])}
    cases["large"] = building(sources[large])
    found = _medians(interleave(cases, settings.repetitions, warm_up=True))
    scale = found["large"].seconds / found["small"].seconds
    return [
        Row(
            "build: iris example, whole process",
            seconds(found["iris"].seconds),
            goal=Goal(0.6, "s"),
            checked=found["iris"].seconds,
        ),
        Row(f"build: {small}-step chain", seconds(found["small"].seconds)),
        Row(
            f"build: {large}-step chain",
            seconds(found["large"].seconds),
            f"{small} steps: {seconds(found['small'].seconds)}",
            ratio=scale,
            goal=Goal(12, "x"),
            checked=scale,
        ),
        Row("build: peak memory, iris", megabytes(found["iris"].rss_kib)),
        Row(f"build: peak memory, {large}-step chain", megabytes(found["large"].rss_kib)),
    ]


# -- run: per-step overhead -----------------------------------------------------------------


def chain_suite(settings: Settings) -> list[Row]:
    """A chain of no-op steps, one worker, no cache, against ``python -c pass``."""
    steps = 20 if settings.quick else 50
    chain = _build(settings, _source(settings, f"chain_{steps}", chain_pipeline(steps)))
    single = _build(settings, _source(settings, "chain_1", chain_pipeline(1)))
    sequential = ("--workers", "1", "--no-cache")
    regular = _regular_install(settings)
    cases = {
        "floor": _floor,
        "chain": lambda: _run(settings, chain, *sequential),
        "single": lambda: _run(settings, single, *sequential),
        "chain cold": lambda: _run(settings, chain, *sequential, "--cold"),
        "floor, regular": lambda: _floor(regular),
        "single, regular": lambda: _run(settings, single, *sequential, python=regular),
    }
    found = _medians(interleave(cases, settings.repetitions, warm_up=True))
    floor = found["floor"].seconds
    per_step = found["chain"].seconds / steps
    further = (found["chain"].seconds - found["single"].seconds) / (steps - 1)
    floor_text = f"python -c pass: {seconds(floor)}"
    return [
        Row(
            f"run: {steps}-step no-op chain, per step",
            seconds(per_step),
            floor_text,
            ratio=per_step / floor,
            goal=Goal(1.0, "x"),
            checked=per_step / floor,
        ),
        Row(
            f"run: {steps}-step no-op chain, per step, --cold",
            seconds(found["chain cold"].seconds / steps),
            floor_text,
            ratio=found["chain cold"].seconds / steps / floor,
        ),
        Row(f"run: {steps}-step no-op chain, whole run", seconds(found["chain"].seconds)),
        Row(
            "run: 1-step pipeline, whole run (fixed cost)",
            seconds(found["single"].seconds),
            floor_text,
            ratio=found["single"].seconds / floor,
            goal=Goal(5.0, "x"),
            checked=found["single"].seconds / floor,
        ),
        Row(
            "run: 1-step pipeline, whole run, regular install (not editable)",
            seconds(found["single, regular"].seconds),
            f"python -c pass, same install: {seconds(found['floor, regular'].seconds)}",
            ratio=found["single, regular"].seconds / found["floor, regular"].seconds,
        ),
        Row(
            f"run: each step after the first ({steps}-step minus 1-step)",
            seconds(further),
            floor_text,
            ratio=further / floor,
        ),
        Row(
            f"run: peak memory of `pipec run`, {steps}-step chain",
            megabytes(found["chain"].rss_kib),
            f"largest step: {megabytes(found['chain'].children_rss_kib)}",
        ),
    ]


# -- run: parallelism -------------------------------------------------------------------------


def fan_suite(settings: Settings) -> list[Row]:
    """16 independent steps with two workers against the same steps one at a time."""
    width = 16
    nap = 0.1 if settings.quick else 0.2
    variants = {"no-op": 0.0, f"{nap:g} s sleep": nap}
    cases: dict[str, Callable[[], Sample]] = {}
    for label, sleep in variants.items():
        build = _build(settings, _source(settings, f"fan_{sleep:g}", fan_pipeline(width, sleep)))
        for workers in ("1", "2"):
            cases[f"{label}/{workers}"] = _runner(
                settings, build, "--workers", workers, "--no-cache"
            )
    # One step alone: the run's fixed cost, which neither worker count shortens.
    single = _build(settings, _source(settings, "fan_single", fan_pipeline(1, 0.0)))
    cases["single"] = _runner(settings, single, "--workers", "1", "--no-cache")
    # The quick mode skips the warm-up round here: this suite is the slowest of the cheap ones.
    found = _medians(interleave(cases, settings.repetitions, warm_up=not settings.quick))
    rows = []
    for label in variants:
        parallel, sequential = found[f"{label}/2"].seconds, found[f"{label}/1"].seconds
        rows.append(
            Row(
                f"run: {width}-way fan-out of {label} steps, 2 workers",
                seconds(parallel),
                f"1 worker: {seconds(sequential)}",
                ratio=parallel / sequential,
                goal=Goal(0.55 if label == "no-op" else 0.6, "x"),
                checked=parallel / sequential,
            )
        )
        if label == "no-op":
            # The fixed cost F bounds the whole-run ratio (F + 8s) / (F + 16s) from below:
            # this row shows how well the steps themselves use the second worker.
            fixed = found["single"].seconds
            rows.append(
                Row(
                    f"run: {width}-way fan-out of no-op steps, 2 workers, fixed cost taken off",
                    seconds(parallel - fixed),
                    f"1 worker: {seconds(sequential - fixed)}",
                    ratio=(parallel - fixed) / (sequential - fixed),
                )
            )
    return rows


def _runner(settings: Settings, build: Path, *options: str) -> Callable[[], Sample]:
    return lambda: _run(settings, build, *options)


# -- run: warm starts ------------------------------------------------------------------------

_PLAIN_RUN = (
    "import runpy, sys\n"
    "namespace = runpy.run_path(sys.argv[1], run_name='plain')\n"
    "namespace[sys.argv[2]](url=sys.argv[3])\n"
)


def warm_suite(settings: Settings) -> list[Row]:
    """Steps forked from templates that imported their modules, against fresh interpreters."""
    dataset = settings.workdir / "iris.pkl"
    iris = settings.repository / "examples" / "iris" / "pipeline.py"
    run_command([PYTHON, str(iris.with_name("make_dataset.py")), str(dataset)])
    build = _build(settings, iris)
    options = ("--param", f"url={dataset.as_uri()}", "--no-cache")
    plain = [PYTHON, "-c", _PLAIN_RUN, str(iris), "iris_pipeline", dataset.as_uri()]
    cases: dict[str, Callable[[], Sample]] = {
        "plain": lambda: run_command(plain),
        "iris": _runner(settings, build, *options),
        "iris cold": _runner(settings, build, *options, "--cold"),
    }
    width = 16 if settings.quick else 32
    has_pandas = _imports(PYTHON, "pandas")
    if has_pandas:
        mapped = _build(settings, _source(settings, f"map_{width}", map_pipeline(width, "pandas")))
        cases["map"] = _runner(settings, mapped, "--no-cache")
        cases["map cold"] = _runner(settings, mapped, "--no-cache", "--cold")
    repetitions = min(settings.repetitions, 3)
    found = _medians(interleave(cases, repetitions, warm_up=False))
    baseline = f"python pipeline.py: {seconds(found['plain'].seconds)}"
    warm_ratio = found["iris"].seconds / found["plain"].seconds
    rows = [
        Row(
            "warm: iris example, --no-cache",
            seconds(found["iris"].seconds),
            baseline,
            ratio=warm_ratio,
            goal=Goal(1.3, "x"),
            checked=warm_ratio,
        ),
        Row(
            "warm: iris example, --no-cache --cold",
            seconds(found["iris cold"].seconds),
            baseline,
            ratio=found["iris cold"].seconds / found["plain"].seconds,
        ),
    ]
    label = f"warm: {width}-element map importing pandas"
    if not has_pandas:
        return [*rows, Row(label, note="skipped: pandas is not installed")]
    map_ratio = found["map"].seconds / found["map cold"].seconds
    rows.append(
        Row(
            label,
            seconds(found["map"].seconds),
            f"--cold: {seconds(found['map cold'].seconds)}",
            ratio=map_ratio,
            goal=Goal(0.2, "x"),
            checked=map_ratio,
        )
    )
    return rows


# -- run: cache -----------------------------------------------------------------------------


def cache_suite(settings: Settings) -> list[Row]:
    """The iris example into an empty cache, then again with every step cached."""
    dataset = settings.workdir / "iris.pkl"
    run_command(
        [PYTHON, str(settings.repository / "examples" / "iris" / "make_dataset.py"), str(dataset)]
    )
    build = _build(settings, settings.repository / "examples" / "iris" / "pipeline.py")
    firsts, reruns = [], []
    for _ in range(settings.repetitions):
        cache = _fresh(settings, "cache")
        options = ("--param", f"url={dataset.as_uri()}", "--cache-dir", str(cache))
        firsts.append(_run(settings, build, *options))
        reruns.append(_run(settings, build, *options))
        shutil.rmtree(cache)
    first, rerun = median(firsts), median(reruns)
    return [
        Row(
            "run: iris example, fully cached rerun",
            seconds(rerun.seconds),
            f"first run: {seconds(first.seconds)}",
            ratio=rerun.seconds / first.seconds,
            goal=Goal(0.2, "x"),
            checked=rerun.seconds / first.seconds,
        ),
        Row(
            "run: peak memory of `pipec run`, iris",
            megabytes(first.rss_kib),
            f"largest step: {megabytes(first.children_rss_kib)}",
        ),
    ]


# -- run: large values ------------------------------------------------------------------------

_METHODS = {
    "npy": "np.save+np.load",
    "pickle5": "pickle 5, out-of-band",
    "pickle": "pickle 5, in-band",
}


def transfer_suite(settings: Settings) -> list[Row]:
    """A large array and a large DataFrame from one step to the next, against plain files."""
    array_mib, frame_mib = (64, 48) if settings.quick else (512, 381)  # 381 MiB: 400 MB
    rows = _transfer(settings, "array", array_mib, ("npy", "pickle5", "pickle"))
    rows += _transfer(settings, "frame", frame_mib, ("pickle5", "pickle"))
    return rows


def _transfer(settings: Settings, kind: str, mib: int, methods: Sequence[str]) -> list[Row]:
    build = _build(settings, _source(settings, f"transfer_{kind}", transfer_pipeline(kind, mib)))
    cases = {"pipec": _runner(settings, build, "--workers", "1", "--no-cache")}
    for method in methods:
        cases[method] = _pair(settings, method, kind, mib)
    found = _medians(interleave(cases, settings.repetitions, warm_up=False))
    what = f"{mib} MiB float64 array" if kind == "array" else f"{mib} MiB DataFrame"
    pipec, main = found["pipec"], found[methods[0]]
    goal = Goal(1.5, "x") if kind == "array" else None
    rows = [
        Row(
            f"transfer: {what}, producer -> consumer" if method == methods[0] else "  same run",
            seconds(pipec.seconds),
            f"{_METHODS[method]}: {seconds(found[method].seconds)}",
            ratio=pipec.seconds / found[method].seconds,
            goal=goal if method == methods[0] else None,
            checked=pipec.seconds / found[method].seconds,
        )
        for method in methods
    ]
    memory = pipec.children_rss_kib / main.rss_kib
    rows.append(
        Row(
            f"transfer: {what}, largest step's peak memory",
            megabytes(pipec.children_rss_kib),
            f"{_METHODS[methods[0]]}: {megabytes(main.rss_kib)}",
            ratio=memory,
            goal=Goal(1.25, "x") if kind == "array" else None,
            checked=memory,
        )
    )
    return rows


def _pair(settings: Settings, method: str, kind: str, mib: int) -> Callable[[], Sample]:
    """Write the value in one process and read it in another, as two steps would."""
    script = str(HERE / "transfer_baseline.py")

    def measure() -> Sample:
        path = _fresh(settings, f"transfer.{method}")
        shape = (method, kind, str(mib), str(path))
        produced = run_command([PYTHON, script, "produce", *shape])
        consumed = run_command([PYTHON, script, "consume", *shape])
        for leftover in (path, Path(f"{path}.buffers")):  # .buffers: out-of-band pickles
            leftover.unlink(missing_ok=True)
        elapsed = produced.seconds + consumed.seconds
        return Sample(elapsed, max(produced.rss_kib, consumed.rss_kib))

    return measure


# -- Kubeflow ---------------------------------------------------------------------------------


def kfp_suite(settings: Settings) -> list[Row]:
    """Kubeflow's local runner on the same chain of no-op steps (optional)."""
    python = settings.kfp_python or PYTHON
    label = "kfp.local SubprocessRunner(use_venv=False)"
    if not _imports_kfp(python):
        return [Row(label, note=f"skipped: {python} cannot import kfp (see --kfp-python)")]
    steps = 10 if settings.quick else 50
    chain = _build(settings, _source(settings, f"chain_{steps}", chain_pipeline(steps)))
    cases = {
        "pipec": _runner(settings, chain, "--workers", "1", "--no-cache"),
        "kfp": lambda: run_command(
            [python, str(HERE / "kfp_chain.py"), str(steps), str(_fresh(settings, "kfp"))]
        ),
    }
    repetitions = 1 if settings.quick else min(settings.repetitions, 3)
    found = _medians(interleave(cases, repetitions, warm_up=False))
    kfp, pipec = found["kfp"].seconds, found["pipec"].seconds
    return [
        Row(
            f"{label}: {steps}-step chain",
            seconds(kfp),
            f"pipec run: {seconds(pipec)}",
            ratio=kfp / pipec,
        ),
        Row(f"{label}: per step", seconds(kfp / steps), f"pipec run: {seconds(pipec / steps)}"),
    ]


def _imports_kfp(python: str) -> bool:
    return _imports(python, "kfp")


def _imports(python: str, module: str) -> bool:
    try:
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


# -- Dask and the S3 store ------------------------------------------------------------------


def _distributed_suite(settings: Settings) -> list[Row]:
    from cluster_suite import distributed_suite  # it imports this module's helpers

    return distributed_suite(settings)


# -- shared -----------------------------------------------------------------------------------


def _medians(samples: dict[str, list[Sample]]) -> dict[str, Sample]:
    return {name: median(found) for name, found in samples.items()}


SUITES: dict[str, Callable[[Settings], list[Row]]] = {
    "build": build_suite,
    "chain": chain_suite,
    "fanout": fan_suite,
    "warm": warm_suite,
    "cache": cache_suite,
    "transfer": transfer_suite,
    "kfp": kfp_suite,
    "distributed": _distributed_suite,
}
