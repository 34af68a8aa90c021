"""Divergences a hunt over untried controller shapes found: each runs as plain Python does, or is
refused at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

_ONE = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x

"""


def test_del_after_a_read_in_the_same_glue_leaves_the_read_its_value(tmp_path: Path):
    # `y = x + 1` and `print(x, y)` are queued as glue when `del` comes: they still read the
    # value the name had, and only later reads find it unbound.
    run = Differential(
        tmp_path,
        _ONE
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    x = one(a)
    y = x + 1
    del x
    x = one(y)
    print(x, y)
    del y
    return x
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "2 2\n"


_GENERATORS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def make(n):
    return list(range(n))


@PipelineDecorator.component(return_values=["v"])
def total(xs):
    return sum(xs)


def evens(xs):
    for x in xs:
        if x % 2 == 0:
            yield x

"""


def _refusals(run: Differential) -> list[tuple[str | None, int]]:
    assert run.refusal is not None, "the build succeeded"
    offset = _GENERATORS.count("\n") - 1  # the source is stripped of its first empty line
    return [(d.code, d.location.line - offset) for d in run.refusal.diagnostics]


@pytest.mark.parametrize("argument", ["x + 1 for x in xs", "(x + 1 for x in xs)", "evens(xs)"])
def test_a_generator_passed_to_a_step_is_refused_at_the_argument(tmp_path: Path, argument: str):
    # The step would get the generator itself; a compiled run would have to pickle it. The bare
    # generator expression used to crash the build with invalid generated code.
    run = Differential(
        tmp_path,
        _GENERATORS
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    xs = make(n)
    t = total({argument})
    return t
""",
    )
    assert _refusals(run) == [("PC299", 5)]
    assert "list(...)" in run.refusal.diagnostics[0].hint  # type: ignore[union-attr]


@pytest.mark.parametrize("made", ["(x * 10 for x in xs)", "evens(xs)"])
def test_a_generator_kept_across_a_step_call_is_refused_where_it_is_made(tmp_path: Path, made):
    run = Differential(
        tmp_path,
        _GENERATORS
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    xs = make(n)
    g = {made}
    first = next(g)
    t = total(xs)
    print(first, t, list(g))
    return t
""",
    )
    assert _refusals(run) == [("PC299", 5)]
    assert "read at line" in run.refusal.diagnostics[0].message  # type: ignore[union-attr]


def test_a_generator_consumed_before_the_next_step_call_builds_and_runs(tmp_path: Path):
    run = Differential(
        tmp_path,
        _GENERATORS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 5):
    xs = make(n)
    g = (x + 1 for x in xs)
    e = evens(xs)
    print(next(g), list(g), list(e))
    t = total(xs)
    return t
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "1 [2, 3, 4, 5] [0, 2, 4]\n"
