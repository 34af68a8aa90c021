"""The Dask executor and the S3 store against the local executor and store (issue 12).

The cluster (``dask scheduler`` and two ``dask worker`` processes) and the
S3 server (moto) run on this host, started with the tests' own helpers
(``tests/runtime/servers.py``), so the figures are pipec's overhead, not a network's.
Skipped, with a note, when Dask, s3fs or moto are not installed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from measure import Sample, interleave, median
from pipelines import chain_pipeline, fan_pipeline, transfer_pipeline
from suites import Settings, _build, _run, _source
from table import Goal, Row, seconds

__all__ = ["distributed_suite"]

_S3_VARIABLES = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def distributed_suite(settings: Settings) -> list[Row]:
    try:
        import distributed  # noqa: F401 - only whether it is there
        import s3fs
    except ImportError as exc:
        return [Row("distributed", note=f"skipped: {exc.name} is not installed (pipec[dask,s3])")]
    sys.path.insert(0, str(settings.repository / "tests" / "runtime"))
    from servers import dask_cluster, s3_server

    folder = settings.workdir / "servers"
    folder.mkdir(exist_ok=True)
    with s3_server(folder) as server:
        variables = {**_S3_VARIABLES, "AWS_ENDPOINT_URL": server.endpoint}
        s3fs.S3FileSystem(endpoint_url=server.endpoint, key="bench", secret="bench").mkdir("bench")
        with dask_cluster(folder, {"w1": None, "w2": None}, variables) as cluster:
            dask = ("--executor", "dask", "--scheduler", cluster.address)
            rows = _fan_out(settings, dask)
            rows += _per_task(settings, dask)
        rows += _through_s3(settings, variables)
    return rows


def _fan_out(settings: Settings, dask: tuple[str, ...]) -> list[Row]:
    nap = 0.2
    build = _build(settings, _source(settings, f"fan_dask_{nap:g}", fan_pipeline(16, nap)))
    options = ("--workers", "2", "--no-cache")
    cases: dict[str, Callable[[], Sample]] = {
        "local": lambda: _run(settings, build, *options),
        "dask": lambda: _run(settings, build, *options, *dask),
    }
    found = _medians(interleave(cases, settings.repetitions, warm_up=True))
    ratio = found["dask"].seconds / found["local"].seconds
    return [
        Row(
            f"dask: 16-way fan-out of {nap:g} s steps, 2 Dask workers, --workers 2",
            seconds(found["dask"].seconds),
            f"local, --workers 2: {seconds(found['local'].seconds)}",
            ratio=ratio,
        )
    ]


def _per_task(settings: Settings, dask: tuple[str, ...]) -> list[Row]:
    """What each further step costs: an N-step chain minus a 1-step one, over N - 1, which
    leaves out connecting to the cluster and every other fixed cost of a run.  Each executor
    is measured both ways it starts steps: from warm templates (the default of both) and in
    fresh interpreters (``--cold``)."""
    steps = 10 if settings.quick else 20
    chain = _build(settings, _source(settings, f"chain_{steps}", chain_pipeline(steps)))
    single = _build(settings, _source(settings, "chain_1", chain_pipeline(1)))
    options = ("--workers", "1", "--no-cache")
    cases: dict[str, Callable[[], Sample]] = {}
    kinds: dict[str, tuple[str, ...]] = {
        "local": (),
        "cold": ("--cold",),
        "dask": dask,
        "dask-cold": (*dask, "--cold"),
    }
    for label, extra in kinds.items():
        cases[f"{label}/chain"] = _runner(settings, chain, *options, *extra)
        cases[f"{label}/single"] = _runner(settings, single, *options, *extra)
    found = _medians(interleave(cases, settings.repetitions, warm_up=True))

    def per_step(label: str) -> float:
        chained, alone = found[f"{label}/chain"].seconds, found[f"{label}/single"].seconds
        return (chained - alone) / (steps - 1)

    dask_step, warm_step = per_step("dask"), per_step("local")
    dask_cold_step, cold_step = per_step("dask-cold"), per_step("cold")
    return [
        Row(
            "dask: per-task overhead over the local executor (both warm, the default)",
            seconds(dask_step - warm_step),
            f"per step: dask {seconds(dask_step)}, local {seconds(warm_step)}",
            goal=Goal(0.05, "s"),
            checked=dask_step - warm_step,
        ),
        Row(
            "dask: per-task overhead over the local executor (both --cold)",
            seconds(dask_cold_step - cold_step),
            f"per step: dask --cold {seconds(dask_cold_step)}, local --cold {seconds(cold_step)}",
            goal=Goal(0.05, "s"),
            checked=dask_cold_step - cold_step,
        ),
        Row(
            "dask: fixed cost of a run (1-step pipeline)",
            seconds(found["dask/single"].seconds),
            f"local: {seconds(found['local/single'].seconds)}",
        ),
    ]


def _through_s3(settings: Settings, variables: dict[str, str]) -> list[Row]:
    mib = 64 if settings.quick else 512
    build = _build(
        settings, _source(settings, f"transfer_s3_{mib}", transfer_pipeline("array", mib))
    )
    options = ("--workers", "1", "--no-cache")
    cases: dict[str, Callable[[], Sample]] = {
        "local": lambda: _run(settings, build, *options),
        "s3": lambda: _run(settings, build, *options, "--store", "s3://bench/runs", env=variables),
    }
    found = _medians(interleave(cases, min(settings.repetitions, 3), warm_up=False))
    local, s3 = found["local"].seconds, found["s3"].seconds
    return [
        Row(
            f"s3 store (moto): {mib} MiB array, producer -> consumer",
            seconds(s3),
            f"run folder: {seconds(local)}",
            ratio=s3 / local,
        ),
        Row(
            f"s3 store (moto): {mib} MiB array, throughput",
            f"{mib / s3:.0f} MiB/s",
            f"run folder: {mib / local:.0f} MiB/s",
        ),
    ]


def _runner(settings: Settings, build: Path, *options: str) -> Callable[[], Sample]:
    return lambda: _run(settings, build, *options)


def _medians(samples: dict[str, list[Sample]]) -> dict[str, Sample]:
    return {name: median(found) for name, found in samples.items()}
