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


_APPLY = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def apply(fn, x):
    return fn(x)


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x

"""


@pytest.mark.parametrize(
    ("body", "line"),
    [
        # rebound after a step call: the lambda crossed with the old value
        ("f = lambda v: v * k\n    base = one(2)\n    k = base + 10\n    r = apply(f, 4)", 1),
        # rebound by a constant the build folds, in the same lines of controller code
        ("f = lambda v: v * k\n    k = 5\n    r = f(1)", 1),
        # a step returns the lambda, which Python calls with the later value
        ("g = one(lambda: k)\n    k = 7\n    r = g()", 1),
        # each turn of an unrolled loop rebinds `i`: Python's lambdas all see the last one
        ("fs = []\n    for i in [1, 2]:\n        fs.append(lambda v: v + i)\n    r = one(fs)", 3),
    ],
)
def test_a_lambda_reading_a_name_bound_again_later_is_refused(tmp_path: Path, body: str, line: int):
    run = Differential(
        tmp_path,
        _APPLY
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(k: int = 3):
    {body}
    return r
""",
    )
    assert run.refusal is not None
    (diagnostic,) = run.refusal.diagnostics
    assert diagnostic.code == "PC298"
    lines = run.file.read_text().splitlines()
    header = next(n for n, text in enumerate(lines, 1) if text.startswith("def controller"))
    assert diagnostic.location.line == header + line  # the lambda's line
    assert "k=k" in diagnostic.hint or "i=i" in diagnostic.hint


def test_lambdas_that_see_no_later_binding_build_and_run(tmp_path: Path):
    # A default keeps the value; a `key=` is used at once; a name never bound again is the same
    # in both runs; a comprehension's own variable is the comprehension's.
    run = Differential(
        tmp_path,
        _APPLY
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(k: int = 3, col: int = 0, off: int = 5):
    f = lambda v, k=k: v * k
    g = lambda v: v + off
    rows = [(1, 9), (2, 8)]
    first = sorted(rows, key=lambda r: r[col])
    k = one(k + 1)
    col = 1
    adders = [lambda v, i=i: v + i for i in range(2)]
    print(apply(f, 2), apply(g, 2), first, max(rows, key=lambda r: r[col]), [a(k) for a in adders])
    return k
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "6 7 [(1, 9), (2, 8)] (1, 9) [4, 5]\n"


def test_an_f_string_with_equals_prints_the_step_call_as_written(tmp_path: Path):
    # `f"{sq(a)=}"` prints the expression's text; the step call is a node whose output glue
    # reads under another name, and the text stays the user's.
    run = Differential(
        tmp_path,
        """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def sq(x):
    return x * x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2):
    print(f"{sq(a)=}", f"{ sq(a) = }", f"{sq(a)=:>4}", f"{sq(a)=!s}", f'{sq(a) + 1 = }')
    d = {"k": sq(a)}
    print(f"{d['k'] * sq(3) =}", f"{ {'z': sq(a)}['z'] = }", rf"{sq(a)=}\\n")
    return a
""",
    )
    plain, _ = run.same()
    assert plain.stdout.startswith("sq(a)=4  sq(a) = 4 sq(a)=   4 sq(a)=4 sq(a) + 1 = 5\n")


@pytest.mark.parametrize(
    "call", ["sorted(locals())", "sorted(vars())", "len(dir())", "'a' in globals()"]
)
def test_a_namespace_read_in_controller_code_is_refused(tmp_path: Path, call: str):
    # Glue runs in a function that holds only the names it reads and writes.
    run = Differential(
        tmp_path,
        _ONE
        + f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2):
    v = one(a)
    print({call}, vars(v) if hasattr(v, "__dict__") else dir(v)[:1])
    return v
""",
    )
    assert run.refusal is not None
    assert [d.code for d in run.refusal.diagnostics] == ["PC297"]


def test_a_generator_returned_by_the_controller_is_refused(tmp_path: Path):
    run = Differential(
        tmp_path,
        _GENERATORS
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    xs = make(n)
    return (x + 1 for x in xs)
""",
    )
    assert _refusals(run) == [("PC299", 5)]


def test_del_of_a_name_bound_on_some_paths_fails_where_python_fails(tmp_path: Path):
    run = Differential(
        tmp_path,
        _ONE
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True):
    if flag:
        x = one(1)
    del x
    print("deleted")
    return 1
""",
    )
    run.same()
    plain, _ = run.same(flag=False)
    assert "UnboundLocalError" in plain.error


def test_a_walrus_in_a_comprehension_whose_name_is_used_outside_it_hands_on_its_last_value(
    tmp_path: Path,
):
    # Python binds `y` in the controller; code after the comprehension must not see the old `y`.
    run = Differential(
        tmp_path,
        _ONE
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    y = 0
    xs = one(list(range(n)))
    big = [y for x in xs if (y := x * x) > 1]
    z = one(y)
    return big, z
""",
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(n=1)


def test_a_walrus_in_a_comprehension_used_only_inside_it_builds_and_runs(tmp_path: Path):
    run = Differential(
        tmp_path,
        _ONE
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    xs = one(list(range(n)))
    big = [y + 1 for x in xs if (y := x * x) > 1]
    print(big)
    return big
""",
    )
    plain, _ = run.same()
    assert plain.stdout == "[5, 10]\n"


def test_a_lambda_in_one_branch_ignores_a_binding_in_the_other(tmp_path: Path):
    run = Differential(
        tmp_path,
        _APPLY
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(flag: bool = True, k: int = 2):
    if flag:
        f = lambda v: v + k
    else:
        k = 10
        f = lambda v: v - k
    r = apply(f, 1)
    print(r)
    return r
""",
    )
    run.same()
    run.same(flag=False)
