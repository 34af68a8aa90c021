"""Two commits of pipec in the same interleaved rounds: the 1-step run and the 16-way fan-out.

    python benchmarks/ab_commits.py BEFORE AFTER [--rounds 15]

On a machine whose load swings, figures taken minutes apart do not compare; a change is
measured by running the commit before it and the commit with it in the same rounds.  Each
commit's ``runtime/``, ``compiler/`` and ``templates/`` are laid out as an installed ``pipec``
package in a temporary folder (``git archive``) and put first on ``PYTHONPATH``, its bytecode
cached, and every run reports the wall time and the CPU (user + sys) of the ``pipec run``
process and of the processes under it (as ``pipec`` sees them just before it exits), and of
the whole tree to its end, pipec's exit included: under load, CPU is the steadier figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from pipelines import fan_pipeline, write_pipeline

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
PYTHON = sys.executable
# Runs pipec's CLI as the console script does, then prints its CPU and its children's.
_PROBE = (
    "import json, resource, sys\n"
    "from pipec.compiler.cli import main\n"
    "sys.argv[0] = 'pipec'\n"
    "code = main()\n"
    "own = resource.getrusage(resource.RUSAGE_SELF)\n"
    "under = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps([own.ru_utime + own.ru_stime, under.ru_utime + under.ru_stime]))\n"
    "sys.exit(code)\n"
)
_CASES = {
    "1-step": ("one", "1"),
    "fan-out, 2 workers": ("fan", "2"),
    "fan-out, 1 worker": ("fan", "1"),
}


def _package(commit: str, folder: Path) -> Path:
    """``pipec`` at ``commit``, laid out under ``folder`` as an installed package."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", commit, "runtime", "compiler", "templates"],
        check=True,
        capture_output=True,
    ).stdout
    source = folder / "source"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    package = folder / "site" / "pipec"
    shutil.copytree(source / "runtime", package)
    shutil.copytree(source / "compiler", package / "compiler")
    shutil.copytree(source / "templates", package / "templates")
    return folder / "site"


def _run(env: dict[str, str], *args: str) -> tuple[float, float, float, float]:
    """Wall time, pipec's CPU and its children's as pipec saw them before exiting, and the CPU
    of the whole process tree to its end (pipec's exit included), as its parent sees it."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [PYTHON, "-c", _PROBE, *args], env=env, stdout=subprocess.PIPE, stderr=stderr
        )
        assert process.stdout is not None
        stdout = process.stdout.read().decode()  # to its end: then reaped by wait4, not Popen
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"pipec {' '.join(args)} failed:\n{stderr.read().decode()}")
    own, under = json.loads(stdout.strip().splitlines()[-1])
    return wall, own, under, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs=2, metavar="COMMIT")
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    base = dict(os.environ)
    base.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached
    with tempfile.TemporaryDirectory(prefix="pipec-ab-") as scratch:
        work = Path(scratch)
        sources = work / "sources"
        sources.mkdir()
        envs = {c: {**base, "PYTHONPATH": str(_package(c, work / c))} for c in options.commits}
        builds = {}
        for name, width in (("one", 1), ("fan", 16)):
            source = write_pipeline(sources, name, fan_pipeline(width, 0.0))
            builds[name] = work / f"build-{name}"
            _run(envs[options.commits[-1]], "build", str(source), "-o", str(builds[name]))
        found: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
        for round_number in range(options.rounds + 1):  # the first round warms up, untimed
            for commit, env in envs.items():
                for case, (build, workers) in _CASES.items():
                    runs = work / "runs"
                    args = ("run", str(builds[build]), "--runs-dir", str(runs), "--no-cache")
                    sample = _run(env, *args, "--workers", workers)
                    shutil.rmtree(runs)
                    if round_number:
                        found.setdefault((case, commit), []).append(sample)
    load = os.getloadavg()[0]
    print(f"{options.rounds} rounds, medians; load average {load:.1f} at the end")
    print(
        f"{'case':20} {'commit':12} {'wall':>9} {'pipec CPU':>10} {'under it':>9}"
        f" {'all, to exit':>13}"
    )
    for (case, commit), samples in found.items():
        wall, own, under, tree = (statistics.median(s[i] for s in samples) * 1000 for i in range(4))
        print(
            f"{case:20} {commit[:12]:12} {wall:7.1f}ms {own:8.1f}ms {under:7.1f}ms {tree:11.1f}ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
