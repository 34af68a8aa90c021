"""Run-time control flow, differentially: each pipeline is built with `pipec build`, run with
`pipec run`, and compared with running the same file as plain Python (standard output, the
result, success or failure) for parameter values that flip every branch.
"""

from __future__ import annotations

import ast
import json
import pickle
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from buildkit import isolated_env, node_states

PIPEC = Path(sys.executable).parent / "pipec"

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

PLAIN_RUN = """
import json, os, pickle, runpy, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
namespace = runpy.run_path(sys.argv[1], run_name="pipec_plain_run")
result = namespace["controller"](**json.loads(sys.argv[2]))
with open(sys.argv[3], "wb") as handle:
    pickle.dump(result, handle)
"""


@dataclass
class Outcome:
    ok: bool
    stdout: str
    stderr: str
    result: object = None
    run_dir: Path | None = None

    @property
    def record(self) -> dict[str, object]:
        assert self.run_dir is not None
        data: dict[str, object] = json.loads((self.run_dir / "run.json").read_text())
        return data


class Pipeline:
    """One pipeline file, built once, run both ways."""

    def __init__(self, tmp_path: Path, source: str) -> None:
        self.tmp_path = tmp_path
        self.file = tmp_path / "pipeline.py"
        self.file.write_text(textwrap.dedent(source), encoding="utf-8")
        self.build = tmp_path / "build"
        built = self._call([str(PIPEC), "build", str(self.file), "-o", str(self.build)])
        assert built.returncode == 0, built.stderr
        self.runs = 0

    def _call(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=isolated_env(self.tmp_path),
            cwd=self.tmp_path,
            timeout=120,
            check=False,
        )

    def plain(self, **params: object) -> Outcome:
        target = self.tmp_path / "plain-result.pkl"
        done = self._call(
            [sys.executable, "-c", PLAIN_RUN, str(self.file), json.dumps(params), str(target)]
        )
        result = pickle.loads(target.read_bytes()) if done.returncode == 0 else None
        return Outcome(done.returncode == 0, done.stdout, done.stderr, result)

    def compiled(self, *extra: str, **params: object) -> Outcome:
        runs_dir = self.tmp_path / "runs"
        before = set(runs_dir.iterdir()) if runs_dir.is_dir() else set()
        argv = [str(PIPEC), "run", str(self.build), "--runs-dir", str(runs_dir)]
        argv += ["--cache-dir", str(self.tmp_path / "cache"), *extra]
        argv += [f"--param={name}={value!r}" for name, value in params.items()]
        done = self._call(argv)
        assert done.returncode in (0, 1), done.stderr
        created = sorted(set(runs_dir.iterdir()) - before)
        run_dir = created[0] if created else max(runs_dir.iterdir())  # --resume reuses its folder
        outcome = Outcome(done.returncode == 0, done.stdout, done.stderr, run_dir=run_dir)
        if outcome.ok:
            outcome.result = _result_value(run_dir, outcome.record["result"])
        return outcome

    def same(self, **params: object) -> Outcome:
        """Run both ways with these parameters and check they agree; the compiled outcome."""
        plain, compiled = self.plain(**params), self.compiled(**params)
        assert compiled.ok == plain.ok, (plain.stderr, compiled.stderr)
        assert compiled.stdout == plain.stdout, compiled.stderr
        assert compiled.result == plain.result
        if not plain.ok:
            last = plain.stderr.strip().splitlines()[-1]  # the exception and its message
            assert last in compiled.stderr
        return compiled


def _result_value(run_dir: Path, result: object) -> object:
    """The value run.json's `result` describes (unpickling is fine in a test)."""
    if result is None:
        return None
    assert isinstance(result, dict)
    if "node" in result:
        return pickle.loads((run_dir / result["path"]).read_bytes())
    if "combined" in result:
        return _combine(run_dir, result["combined"])
    if "value" in result:
        return result["value"]
    return ast.literal_eval(result["literal"])


def _combine(run_dir: Path, spec: dict[str, object]) -> object:
    if "path" in spec:
        return pickle.loads((run_dir / str(spec["path"])).read_bytes())
    if "literal" in spec:
        return ast.literal_eval(str(spec["literal"]))
    if "dict" in spec:
        pairs = spec["dict"]
        assert isinstance(pairs, list)
        return {ast.literal_eval(key): _combine(run_dir, entry) for key, entry in pairs}
    kind, entries = next(iter(spec.items()))
    assert isinstance(entries, list)
    values = [_combine(run_dir, entry) for entry in entries]
    return tuple(values) if kind == "tuple" else values


def _states(outcome: Outcome) -> dict[str, str]:
    return node_states(outcome.record)


def _message(outcome: Outcome, node: str) -> str:
    nodes = outcome.record["nodes"]
    assert isinstance(nodes, dict)
    return str(nodes[node]["message"])


# ClearML's own tabular shape: verify and stop early, or train over settings and pick the
# best; an if/else on a parameter; a fan-out over a step's output gathered into a step.
CLEARML_SHAPE = """
    from pipec import PipelineDecorator

    SETTINGS = [100, 150]

    @PipelineDecorator.component(return_values=["ok"])
    def verify(n: int):
        return n > 0

    @PipelineDecorator.component(return_values=["score"])
    def train(n: int, size: int):
        return n * size / 1000

    @PipelineDecorator.component(return_values=["best"])
    def pick(scores):
        return max(scores)

    @PipelineDecorator.component(return_values=["items"])
    def make_items(n: int):
        return list(range(n))

    @PipelineDecorator.component(return_values=["sq"])
    def square(x):
        return x * x

    @PipelineDecorator.pipeline(name="clearml-shape", project="t", version="1")
    def controller(n: int = 3, mode: str = "fast"):
        if not verify(n):
            print("verification failed")
            return False
        scores = []
        for size in SETTINGS:
            scores.append(train(n, size))
        best = pick(scores)
        if mode == "fast":
            extra = train(n, 10)
        else:
            extra = train(n, 20)
        print(f"best {best} extra {extra}")
        items = make_items(n)
        squares = [square(x) for x in items]
        total = pick(squares)
        print(f"total {total}")
        return best
"""


@pytest.mark.both_modes
def test_the_clearml_shape_runs_like_plain_python_for_every_branch(tmp_path: Path):
    pipeline = Pipeline(tmp_path, CLEARML_SHAPE)

    ran = pipeline.same()
    states = _states(ran)
    assert states["glue_1"] == "skipped" and states["train_3"] == "skipped"
    assert [states[f"square[{i}]"] for i in range(3)] == ["succeeded"] * 3
    assert (ran.run_dir / "artifacts" / "square[2]" / "sq.pkl").is_file()
    assert (ran.run_dir / "logs" / "square[1].log").is_file()
    assert "pipec: if_1: decided False" in ran.stderr
    assert "pipec: map_1: 3 elements" in ran.stderr
    shown = subprocess.run(
        [str(PIPEC), "show", str(ran.run_dir)], capture_output=True, text=True, check=True
    ).stdout
    assert "if_2: decided True" in shown and "map_1: 3 elements" in shown
    assert "skipped train_3: branch not taken: if_2 decided True" in shown
    as_json = json.loads(
        subprocess.run(
            [str(PIPEC), "show", "--json", str(ran.run_dir)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert as_json["nodes"]["if_1"]["decision"] is False
    assert as_json["nodes"]["map_1"]["elements"] == 3
    assert as_json["nodes"]["train_3"]["state"] == "skipped"

    stopped = pipeline.same(n=0)  # the early return
    states = _states(stopped)
    assert stopped.result is False and states["glue_1"] == "succeeded"
    assert {states[name] for name in ("train", "pick", "map_1", "square", "glue_3")} == {"skipped"}
    assert _message(stopped, "train") == "branch not taken: if_1 decided True"
    assert _message(stopped, "square") == "its map map_1 was skipped"

    slow = pipeline.same(mode="slow")
    assert _states(slow)["train_2"] == "skipped" and _states(slow)["train_3"] == "succeeded"
    pipeline.same(n=1)


COMBINATIONS = """
    from pipec import PipelineDecorator

    @PipelineDecorator.component(return_values=["items"])
    def make_items(n: int):
        return list(range(n))

    @PipelineDecorator.component(return_values=["sq"])
    def square(x):
        return x * x

    @PipelineDecorator.component(return_values=["total"])
    def total(xs):
        return sum(xs)

    @PipelineDecorator.component(return_values=["score"])
    def train(lr, k):
        return lr * k

    @PipelineDecorator.component(return_values=["ok"])
    def check(v, limit):
        return v > limit

    @PipelineDecorator.pipeline(name="combinations", project="t", version="1")
    def controller(n: int = 3, deep: bool = True, limit: int = 4):
        squares = [square(x) for x in make_items(n)]
        t = total(squares)
        if t > limit:
            print("big", t)
            results = {}
            if deep:
                for k in [1, 2]:
                    results[k] = train(t, k)
            else:
                results[0] = train(t, 0)
            out = results
        else:
            print("small", t)
            out = {"t": t}
        s = train(1, n)
        for lr in [2, 3]:
            if check(s, limit):
                s = train(s, lr)
        print("s", s)
        return out, s
"""


@pytest.mark.parametrize(
    "params",
    [
        {},  # a map feeding a branch that takes a loop inside it; a branch inside a loop
        {"deep": False},  # the inner branch flips
        {"n": 2},  # small: the outer branch flips
        {"n": 0},  # an empty map: gather gives an empty list
        {"limit": 0},  # every branch inside the loop taken
    ],
    ids=["default", "shallow", "small", "empty-map", "low-limit"],
)
def test_combinations_run_like_plain_python(tmp_path: Path, params: dict[str, object]):
    ran = Pipeline(tmp_path, COMBINATIONS).same(**params)
    if params.get("n") == 0:
        states = _states(ran)
        assert states["map_1"] == "succeeded" and states["square"] == "succeeded"
        assert not any(name.startswith("square[") for name in states)
        assert "pipec: map_1: 0 elements" in ran.stderr


EXITS = """
    from pipec import PipelineDecorator

    @PipelineDecorator.component(return_values=["ok"])
    def verify(n: int):
        return n > 0

    @PipelineDecorator.component(return_values=["score"])
    def train(n: int, size: int):
        return n * size

    @PipelineDecorator.pipeline(name="exits", project="t", version="1")
    def controller(n: int = 3, strict: bool = False):
        ok = verify(n)
        if not ok:
            if strict:
                raise RuntimeError(f"bad n {n}")
            print("stopping early")
            return None
        s = train(n, 2)
        assert s < 100, f"score too big: {s}"
        print("score", s)
        return {"s": s, "t": (s, train(n, 5))}
"""


def test_early_return_raise_and_assert_run_like_plain_python(tmp_path: Path):
    pipeline = Pipeline(tmp_path, EXITS)
    assert pipeline.same().result == {"s": 6, "t": (6, 15)}
    assert pipeline.same(n=0).result is None
    raised = pipeline.same(n=0, strict=True)
    assert not raised.ok and "RuntimeError: bad n 0" in raised.stderr
    asserted = pipeline.same(n=60)
    assert not asserted.ok and "AssertionError: score too big: 120" in asserted.stderr
    assert _states(asserted)["train_1"] in ("skipped", "succeeded")


FAN_OUT = """
    import os

    from pipec import PipelineDecorator

    @PipelineDecorator.component(return_values=["items"])
    def make_items(n: int):
        return list(range(n))

    @PipelineDecorator.component(return_values=["sq"], cache=True)
    def square(x, flag):
        if os.path.exists(flag) and x == 2:
            raise ValueError(f"element {x} is bad")
        return x * x

    @PipelineDecorator.component(return_values=["c"], cache=True)
    def neg(v):
        return -v

    @PipelineDecorator.pipeline(name="fan-out", project="t", version="1")
    def controller(n: int = 4, flag: str = "flag"):
        out = []
        for x in make_items(n):
            out.append(neg(square(x, flag)))
        print("out", out)
        return out
"""


@pytest.mark.both_modes
def test_a_failed_element_fails_the_map_naming_its_index_and_resume_reruns_only_it(
    tmp_path: Path,
):
    pipeline = Pipeline(tmp_path, FAN_OUT)
    flag = tmp_path / "flag"
    flag.write_text("")
    failed = pipeline.same(flag=str(flag))
    states = _states(failed)
    assert states["square[2]"] == "failed" and states["neg[2]"] == "skipped"
    assert states["map_1"] == "failed"
    assert _message(failed, "map_1").startswith("element 2 failed: square[2]")
    assert "FAILED square[2] (element 2 of map map_1)" in failed.stderr
    assert {states[f"neg[{i}]"] for i in (0, 1, 3)} == {"succeeded"}
    assert states["glue_1"] == "skipped"
    before = failed.record["nodes"]

    flag.unlink()
    resumed = pipeline.compiled("--resume")
    assert resumed.ok, resumed.stderr
    assert resumed.run_dir == failed.run_dir
    assert resumed.stdout == pipeline.plain(flag=str(flag)).stdout == "out [0, -1, -4, -9]\n"
    assert resumed.result == [0, -1, -4, -9]
    after = resumed.record["nodes"]
    assert isinstance(before, dict) and isinstance(after, dict)
    for kept in ("make_items", "map_1", "square[0]", "square[3]", "neg[1]"):
        assert after[kept]["start"] == before[kept]["start"], kept
    assert after["square[2]"]["state"] == "succeeded"
    assert after["map_1"]["state"] == "succeeded"


@pytest.mark.both_modes
def test_map_instances_are_served_from_the_cache_on_a_second_run(tmp_path: Path):
    pipeline = Pipeline(tmp_path, FAN_OUT)
    first = pipeline.same(n=3)
    assert {_states(first)[f"square[{i}]"] for i in range(3)} == {"succeeded"}
    second = pipeline.same(n=3)
    states = _states(second)
    assert {states[f"{node}[{i}]"] for node in ("square", "neg") for i in range(3)} == {"cached"}
    wider = pipeline.same(n=4)  # the first three elements are the same: cache hits
    states = _states(wider)
    assert [states[f"square[{i}]"] for i in range(4)] == ["cached"] * 3 + ["succeeded"]


ACCUMULATE_IN_BRANCHES = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["s"])
def train(lr: int, n: int):
    return lr * n


@PipelineDecorator.component(return_values=["ok"])
def check(s, limit: int):
    return s > limit


@PipelineDecorator.pipeline(name="accumulate", project="t", version="1")
def controller(n: int = 3, limit: int = 4):
    kept = []
    for lr in [1, 2, 3]:
        s = train(lr, n)
        if check(s, limit):
            kept.append(s)
    log = {"n": n}
    log["limit"] = limit
    log.update({"kept": len(kept)})
    print(log, kept)
    return kept
"""


@pytest.mark.parametrize("params", [{}, {"limit": 100}, {"limit": 0}, {"n": 1, "limit": 2}])
def test_appending_in_a_branch_of_an_unrolled_loop_keeps_every_value(
    tmp_path: Path, params: dict[str, object]
):
    # `kept` grows in some iterations only, and `log` changes in place in glue: both must
    # reach the later lines exactly as in plain Python.
    Pipeline(tmp_path, ACCUMULATE_IN_BRANCHES).same(**params)


UNROLLED = """
from pipec import PipelineDecorator

SIZES = {"small": 10, "large": 20}
DEBUG = False


@PipelineDecorator.component(return_values=["model"])
def train(data, size: int):
    return {"size": size, "n": len(data)}


@PipelineDecorator.component(return_values=["score"])
def evaluate(model):
    return model["size"] * 2 + model["n"]


@PipelineDecorator.component(return_values=["data"])
def load(n: int):
    return list(range(n))


@PipelineDecorator.pipeline(name="unrolled", project="t", version="1")
def controller(n: int = 4, mode: str = "a"):
    data = load(n)
    models = {name: train(data, size) for name, size in SIZES.items()}
    results = [evaluate(m) for m in models.values()]
    if DEBUG:
        print("debug")
    for i, r in enumerate(results):
        if i == 1:
            continue
        print(f"result {i}: {r}")
    best = evaluate(train(data, 5)) if mode == "a" else evaluate(train(data, 6))
    print(f"best {best}")
    scores = []
    for k in range(3):
        if k == 2:
            break
        scores += [evaluate(models["small"])]
    pairs = [(name, evaluate(m)) for name, m in zip(["x", "y"], [models["small"], models["large"]])]
    table = {}
    table["first"] = scores[0]
    print(len(scores), pairs, table)
    return results, best
"""


@pytest.mark.parametrize("params", [{}, {"mode": "b", "n": 2}])
def test_compile_time_loops_comprehensions_and_conditional_expressions(
    tmp_path: Path, params: dict[str, object]
):
    # dict and list comprehensions over constants, enumerate/zip, `continue`/`break` under
    # constant tests, `+=`, item assignment, and `a(x) if test else b(x)` decided at run time.
    Pipeline(tmp_path, UNROLLED).same(**params)
