"""Issue 9: a compiled run prints, returns and fails as the file run as plain Python does — or
the build refuses. Each case is a family of divergences found by comparing the two."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.component(return_values=["total"])
def total(xs):
    return sum(xs)

"""


def pipeline(tmp_path: Path, controller: str) -> Differential:
    return Differential(tmp_path, STEPS + controller)


# ---- family 5: a glue statement that raises stops everything after it -----------------------


def test_a_raising_glue_statement_stops_the_steps_and_prints_after_it(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, d: int = 0):
    b = one(a)
    ratio = a / d
    c = one(b)
    print(c)
    return c, ratio
""",
    )
    plain, _ = run.same()
    assert "ZeroDivisionError" in plain.error
    run.same(d=2)


def test_a_raising_glue_statement_before_an_independent_step_stops_it(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [1, 2]):
    first = xs[5]
    print("after the index")
    return one(3), first
""",
    )
    run.same()
    run.same(xs=[0, 1, 2, 3, 4, 5])


# ---- family 2: a glue-only `if` nested under `else`/`elif` keeps the earlier value --------------


def test_a_glue_only_if_under_else_keeps_the_value_the_name_had(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, flag: bool = False):
    b = one(a)
    name = "before"
    count = b
    if b > 5:
        c = one(b)
    elif b > 3:
        c = one(a)
    else:
        if flag:
            name = "flagged"
        for i in range(a):
            count = count + i
    print(name, count)
    return name, count
""",
    )
    for params in ({}, {"flag": True}, {"a": 3}, {"a": 9}, {"a": 0, "flag": True}):
        run.same(**params)


# ---- family 10: Python's scoping rules -------------------------------------------------------


def test_reading_a_name_bound_in_a_branch_that_did_not_run_fails_as_python_does(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    if a > 5:
        c = one(a)
    print("here")
    return [c, a]
""",
    )
    plain, compiled = run.same()
    assert "UnboundLocalError" in plain.error and "'c'" in plain.error
    run.same(a=7)


def test_assigning_a_step_name_in_the_controller_is_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    total = total([a, 2])
    return total
""",
    )
    assert run.refused_codes == ["PC607"]
    assert "UnboundLocalError" in run.plain().error


# ---- family 11: values the build accepts must run ---------------------------------------------


def test_infinite_floats_and_non_ascii_variables_run(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, rate: float = 0.5):
    größe = one(a)
    big = one(1e400)
    small = one(-float("inf"))
    maß = [größe * 2, rate, big, small, 1e400 - 1e400 == 0]
    print(maß, [1e400, (float("inf"),)])
    return maß, {"inf": 1e400}
""",
    )
    run.same()
    run.same(rate=2.5)
    compiled = run.compiled(rate=float("inf"))  # --param rate=1e999
    assert compiled.ok and compiled.result[0][1] == float("inf")


def test_a_parameter_written_1e400_on_the_command_line_runs(tmp_path: Path):
    import subprocess

    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(rate: float = 0.5):
    print(rate * 2)
    return one(rate)
""",
    )
    done = subprocess.run(
        [str(PIPEC), "run", str(run.build_dir), "--runs-dir", str(tmp_path / "runs")]
        + ["--cache-dir", str(tmp_path / "cache"), "--param", "rate=1e400"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "inf\n"


@pytest.mark.parametrize(
    ("step", "code"),
    [
        ("def maß(x):\n    return x\n", "PC604"),
        ("def maß(x):\n    for i in range(x):\n        yield i\n", "PC120"),
    ],
)
def test_steps_that_could_not_run_are_refused(tmp_path: Path, step: str, code: str):
    source = f"""
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
{step}

@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3):
    return maß(a)
"""
    assert code in Differential(tmp_path, source).refused_codes


# ---- family 12: no compiler crash on long or deep expressions -------------------------------


def test_long_sums_and_deep_lists_compile_and_run(tmp_path: Path):
    step_sum = " + ".join(f"x{i % 3}" for i in range(350))
    glue_sum = " + ".join(f"{i} * a" for i in range(600))
    nested = "[" * 150 + "a" + "]" * 150
    constant = "[" * 150 + "1" + "]" * 150
    run = Differential(
        tmp_path,
        f"""
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def long_sum(x0, x1=1, x2=2):
    return {step_sum}


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    b = long_sum(a)
    c = {glue_sum} + b
    d = {nested}
    e = {constant}
    print(c, len(d), len(e))
    return c, d, e
""",
    )
    run.same()


# ---- family 1: aliasing and mutation (partly: refused when another name would not see it) ---


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("lst = make(a)\n    other = lst\n    other += [3]\n    print(other, lst)", "PC605"),
        ("x = y = []\n    v = make(a)\n    x.append(v)\n    print(y)", "PC605"),
        ("x = y = {}\n    x['a'] = 1\n    v = make(a)\n    y['b'] = v\n    print(x)", "PC605"),
        (  # a slot of a nested container another name holds
            'first = make(a)\n    d = {"a": first}\n    w = [d]\n    v = make(a)\n'
            '    w[0]["a"] = v\n    print(d)',
            "PC605",
        ),
        ("first = make(a)\n    bag = [first]\n    first.append(100)\n    print(bag)", "PC605"),
        ("CONST.sort()\n    print(CONST)", "PC606"),
        ("bump(CONST)\n    print(CONST)", "PC606"),
        ("random.Random(a).shuffle(CONST)\n    print(make(CONST[0]))", "PC606"),
        ("lst = make(a)\n    other = lst\n    bump(other)\n    print(lst)", "PC605"),
        # A list the tracer grows at compile time keeps holding the very object appended to it
        # (it was folded into a literal copy, and each side then missed the other's change).
        (
            "base = [2, 1]\n    rows = []\n    rows.append(base)\n    base.append(7)\n    print(rows)",
            "PC605",
        ),
        (
            "base = [2, 1]\n    rows = [base]\n    rows.append(5)\n    rows[0].append(0)\n"
            "    print(base)",
            "PC605",
        ),
        (
            "base = [2, 1]\n    rows = []\n    rows += [base]\n    base.append(7)\n    print(rows)",
            "PC605",
        ),
        ("rows = [CONST]\n    rows.append(CONST)\n    rows[0].append(0)\n    print(rows)", "PC611"),
        ("rows = []\n    rows.append(CONST)\n    rows[0].append(0)\n    print(CONST)", "PC611"),
    ],
)
def test_a_change_in_place_another_name_would_miss_is_refused(tmp_path: Path, body: str, code: str):
    source = f"""
import random

from pipec import PipelineDecorator

CONST = [3, 1, 2]


def bump(items):
    items.append(len(items))


@PipelineDecorator.component(return_values=["v"])
def make(x):
    return [x, 1]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    {body}
"""
    assert code in Differential(tmp_path, source).refused_codes


def test_changes_in_place_without_a_second_name_run_as_in_python(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    xs = [a, 3, 2]
    xs.sort()
    n = m = 0
    n += 1
    ys = [one(a)]
    ys.append(5)
    ys.reverse()
    print(xs, ys, n, m)
    return ys
""",
    )
    run.same()


def test_a_list_grown_at_compile_time_with_another_names_object_runs_as_in_python(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    base = [2, a]
    rows = [1]
    rows.append(base)
    rows += [base]
    rows.append(one(a))
    print(rows, base)
    return rows
""",
    )
    run.same()


# ---- family 1: a change made through a call reaches later glue and steps ----------------------


def test_a_change_made_through_a_call_reaches_later_glue_and_steps(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import random

from pipec import PipelineDecorator


def normalize(d):
    d["scale"] = d["scale"] * 2


@PipelineDecorator.component(return_values=["v"])
def make(x):
    return {"scale": x}


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    d = {"scale": a}
    made = make(a)
    xs = [1, 2, 3, 4, 5]
    b = one(a)
    normalize(d)
    normalize(made)
    random.Random(0).shuffle(xs)
    last = xs.pop()
    n = [b] + xs
    c = one(d)
    print(d, made, xs, n, last)
    return c, one(made), xs
""",
    )
    run.same()
    run.same(a=3)


def test_a_loop_over_a_list_a_call_changed_runs_over_the_changed_list(tmp_path: Path):
    run = Differential(
        tmp_path,
        """
import random

from pipec import PipelineDecorator


def bump(items):
    items.append(len(items) * 10)


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x + 1


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    sizes = [1, 2]
    bump(sizes)
    random.Random(3).shuffle(sizes)
    results = []
    for s in sizes:
        results.append(one(s))
    squares = [one(s) for s in sizes]
    print(sizes, results, squares)
    return results
""",
    )
    run.same()


def test_a_call_that_may_change_a_value_another_name_holds_is_refused(tmp_path: Path):
    source = """
from pipec import PipelineDecorator


def normalize(d):
    d["scale"] = 2


@PipelineDecorator.component(return_values=["v"])
def one(x):
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    d = {"scale": one(a)}
    other = d
    normalize(d)
    print(other)
    return one(other)
"""
    assert Differential(tmp_path, source).refused_codes == ["PC605"]


# ---- found by tests/test_fuzz_differential.py ------------------------------------------------


def test_a_comprehension_over_a_parameter_with_an_expression_of_the_element(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(xs: list = [3, 1, 2]):
    outs = [one(x * 2) for x in xs]
    return outs
""",
    )
    run.same()


def test_a_module_level_name_the_controller_assigns_is_refused_where_read_before(tmp_path: Path):
    # Found by the differential tester: the compiled run read the module's list.
    run = pipeline(
        tmp_path,
        """
LIMITS = [2, 1, 3]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    b = one(a)
    c = b + len(LIMITS)
    LIMITS = [c]
    return LIMITS
""",
    )
    assert run.refused_codes == ["PC608"]
    assert "UnboundLocalError" in run.plain().error


# ---- family 1: a value glue built from another shares its objects ----------------------------

_SHARING_STEPS = """
from pipec import PipelineDecorator

LIMITS = [2, 1, 3]


def grow(items):
    alias = items
    alias.append(0)


def describe(items):
    return f"{len(items)} items"


@PipelineDecorator.component(return_values=["v"])
def listing(n):
    return list(range(n + 2))


@PipelineDecorator.component(return_values=["v"])
def nested(n):
    return [[n], [n + 1]]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
"""


@pytest.mark.parametrize(
    "body",
    [
        # the example: `d` holds the list `files` holds
        'files = listing(n)\nd = {"a": 1, "b": files}\nd.pop("a")\nx = listing(1)\n'
        "files.pop(0)\nprint(d)",
        # changed through the container
        'files = listing(n)\nd = {"b": files}\nx = listing(1)\nd["b"].pop(0)\nprint(files)',
        # a part taken out by glue, changed later
        "rows = nested(n)\nfirst = rows[0]\nx = listing(1)\nfirst.append(9)\nprint(rows)",
        # parts of the items: a step may return `[a, [a]]`, so `r[0]` of one item may be
        # another item, and `rows[0].append(9)` then shows in `firsts` in Python
        "rows = nested(n)\nfirsts = [r[0] for r in rows]\nx = listing(1)\nrows[0].append(9)\n"
        "print(firsts)",
        # a copy holds the same inner lists
        "rows = nested(n)\ncopy = list(rows)\nx = listing(1)\ncopy[0].append(9)\nprint(rows)",
        # built under a run-time `if`
        'files = listing(n)\nif n > 0:\n    d = {"b": files}\nelse:\n    d = {}\n'
        "x = listing(1)\nfiles.append(3)\nprint(d)",
        # a list the tracer knows (its items are values), held by a dict glue built
        'files = [n, 2]\nd = {"b": files}\nx = listing(1)\nfiles.append(3)\nprint(d)',
        # a module-level list, reached through a controller value (found by the tester)
        "rows = [LIMITS]\nrows[0].append(3)\nreturn LIMITS",
        "items = LIMITS\nitems.append(1)\nreturn LIMITS",
        'x = listing(1)\nd = {"k": LIMITS}\ny = listing(2)\nd["k"].append(5)\nreturn LIMITS',
        # changed by a module helper, through a name of its own
        'files = listing(n)\nd = {"b": files}\nx = listing(1)\ngrow(files)\nprint(d)',
        # two names of one glue node: one holds the other's list
        'files = listing(n)\ninner = list(files)\ncopied = {"b": inner}\nx = listing(1)\n'
        'copied["b"].append(5)\nprint(inner)',
        # a copy's items are the original's items
        'files = nested(n)\ncopied = {"b": list(files)}\nx = listing(1)\n'
        'copied["b"][0].append(5)\nprint(files)',
        # a slot of a dict that glue put inside another container, set through that one
        'files = listing(n)\nd = {"a": files}\nw = [d] if n else []\nx = listing(1)\n'
        'w[0]["a"] = 5\nprint(d)',
        # shared from an earlier node, changed again later
        'files = listing(n)\nd = {"b": files}\nfiles.pop(0)\nx = listing(1)\n'
        "files.append(7)\nprint(d)",
    ],
)
def test_a_change_another_value_built_from_it_would_miss_is_refused(tmp_path: Path, body: str):
    source = _SHARING_STEPS + textwrap.indent(body, "    ") + "\n"
    run = Differential(tmp_path, source)
    assert run.refused_codes == ["PC611"]


def test_changes_that_no_value_built_from_it_would_see_run_as_in_python(tmp_path: Path):
    body = """
files = listing(n)
copied = {"b": list(files)}
joined = files + [1]
size = len(files)
text = f"{files}"
other = listing(3)
held = {"a": 1, "b": other}
x = listing(1)
print(describe(other))
files.pop(0)
held.pop("a")
copied["c"] = 5
copied["b"].append(5)
copied["b"] += [6]
copied_limits = list(LIMITS)
copied_limits.append(4)
nested_limits = [LIMITS]
nested_limits.append([3])
rows = [listing(1), x]
sizes = sum(len(r) for r in rows)
kept_rows = [r for r in rows]
rows.append([5])
rebound = listing(2)
kept = {"r": rebound}
rebound = [9]
rebound.append(3)
print(copied, joined, size, text, files, held, kept, rebound, x, sizes, kept_rows, rows)
return copied, kept, other, LIMITS, copied_limits, nested_limits
"""
    run = Differential(tmp_path, _SHARING_STEPS + textwrap.indent(body.strip(), "    ") + "\n")
    run.same()
    run.same(n=3)


def test_one_list_under_two_names_runs_while_both_stay_in_one_glue_block(tmp_path: Path):
    # `x = y = []` was refused (PC605) even with nothing between the change and the reads.
    body = """
rows = listing(n)
x = y = []
x.append(rows)
p = q = {}
q["k"] = len(x)
print(x, y, p, q, x is y)
return y, p
"""
    run = Differential(tmp_path, _SHARING_STEPS + textwrap.indent(body.strip(), "    ") + "\n")
    plain, _ = run.same()
    assert plain.stdout.endswith("True\n")
    run.same(n=3)


def test_rebinding_a_slot_of_a_nested_container_leaves_the_value_it_held_alone(tmp_path: Path):
    # `w[0]["a"] = 5` changes the dict inside `w`, not `rows` it held: was refused (PC611).
    body = """
rows = listing(n)
w = [{"a": rows}]
v = {"k": [rows]}
x = listing(1)
w[0]["a"] = 5
v["k"][0] = 6
w[0]["b"] = x
del v["k"][0]
print(w, v, rows)
return rows, w
"""
    run = Differential(tmp_path, _SHARING_STEPS + textwrap.indent(body.strip(), "    ") + "\n")
    run.same()
    run.same(n=4)


# ---- family 10: a name unbound on some paths fails only where it is read ----------------------


def test_a_glue_only_if_reading_a_name_unbound_on_some_paths_runs_when_it_does_not_read_it(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 0, flag: bool = False, drop: bool = False):
    b = one(a)
    if b > 1:
        y = one(b)
    z = b
    if drop:
        del z
    if flag:
        print(y)
    print("between")
    if not flag:
        print(z)
    print("end")
    return b
""",
    )
    for a in (0, 3):
        for flag in (False, True):
            for drop in (False, True):
                plain, _ = run.same(a=a, flag=flag, drop=drop)
    assert "UnboundLocalError" in run.plain(a=0, flag=True).error


def test_code_before_a_read_of_an_unbound_name_in_the_same_glue_runs_first(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 0):
    b = one(a)
    if b > 1:
        y = one(b)
    print("before")
    print(y)
    return b
""",
    )
    run.same()
    run.same(a=3)


# ---- family 8: a module-level value changed by a helper the controller calls ------------------

_MODULE_STATE = """
import json
import os

from pipec import PipelineDecorator


class Settings:
    mode = "slow"


def go_fast():
    Settings.mode = "fast"

CONFIG = {"lr": 0.01}
SEEN = []
COUNT = 0


def set_lr(value):
    CONFIG["lr"] = value


def configure(value):
    set_lr(value)


def note(x):
    global COUNT
    COUNT += 1


def remember(x):
    seen = SEEN
    seen.append(x)


def describe(config):
    return json.dumps(config) + str(len(SEEN))


def scaled(x, config=None):
    local = dict(config or CONFIG)
    local["lr"] = x
    return local


@PipelineDecorator.component(return_values=["v"])
def train(x):
    return x * CONFIG["lr"]


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
"""


@pytest.mark.parametrize(
    ("call", "function"),
    [
        ("set_lr(0.5)", "set_lr"),
        ("configure(0.5)", "configure"),
        ("note(a)", "note"),
        ("print([remember(x) for x in (a, 2)])", "remember"),
        ("go_fast()", "go_fast"),
    ],
)
def test_a_call_that_changes_a_module_level_value_is_refused(
    tmp_path: Path, call: str, function: str
):
    run = Differential(tmp_path, _MODULE_STATE + f"    {call}\n    return train(a)\n")
    assert run.refused_codes == ["PC612"]
    assert f"`{function}` changes the module-level value" in str(run.refusal)


@pytest.mark.parametrize(
    "change", ['Settings.mode = "fast"', 'os.environ["PIPEC_MODE"] = "fast"', "del Settings.mode"]
)
def test_a_change_to_an_imported_module_or_a_class_in_the_controller_is_refused(
    tmp_path: Path, change: str
):
    run = Differential(tmp_path, _MODULE_STATE + f"    {change}\n    return train(a)\n")
    assert run.refused_codes == ["PC613"]


def test_calls_that_only_read_module_level_values_run_as_in_python(tmp_path: Path):
    body = """
    text = describe(CONFIG)
    mine = scaled(0.5)
    b = train(a)
    print(text, mine, describe(mine), b)
    return b
"""
    run = Differential(tmp_path, _MODULE_STATE + body.lstrip("\n"))
    run.same()


def test_a_step_under_its_own_if_reading_a_name_unbound_on_some_paths(tmp_path: Path):
    # The failing read is guarded by the `if` around it too, not only by the path that left
    # the name unbound.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 0, flag: bool = False):
    b = one(a)
    if b > 1:
        y = one(b)
    if flag:
        r = one(y)
        print(r)
    print("end")
    return b
""",
    )
    for a in (0, 3):
        for flag in (False, True):
            run.same(a=a, flag=flag)


def test_a_name_only_a_glue_only_if_binds_is_unbound_after_it_when_the_if_did_not(
    tmp_path: Path,
):
    # Found by the differential tester: the glue returned the name it never bound.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 3, xs: list = [3, 1, 2]):
    if len(xs) > a:
        rows = [[v for v in xs if v > 2]]
    n = one(a)
    if not xs:
        print(rows)
    if 3 in xs:
        print(rows)
    return n
""",
    )
    for a in (1, 3):
        for xs in ([3, 1, 2], [1, 2, 5, 6], []):
            run.same(a=a, xs=xs)


def test_a_name_an_unrolled_loop_binds_on_some_iterations_only(tmp_path: Path):
    # Found by the differential tester: the second iteration's glue returned the name unbound.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2, xs: list = [3, 1, 2]):
    a += one(0)
    for i in [4, 0]:
        if i in xs:
            table = {"k": i, "j": xs}
        a += len(xs)
    if a > 6:
        print(table)
    return a
""",
    )
    for xs in ([3, 1, 2], [4], [0, 9], [1, 2, 3, 4]):
        run.same(xs=xs)


def test_a_glue_that_returns_after_an_if_binding_a_name_on_one_path(tmp_path: Path):
    # Found by the differential tester: the glue declared an output its `return` never wrote.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2, xs: list = []):
    outs = [one(x) for x in xs]
    outs.append(0)
    if not xs:
        rows = [xs[1:], a]
    else:
        assert a, "checked"
    return {"n": len(xs) // a, "outs": outs}
""",
    )
    run.same()
    run.same(xs=[1, 2])


# ---- family 1: a change in place inside one block of glue, through a value built there ---------


def test_a_change_through_a_value_built_in_the_same_glue_reaches_the_value_it_holds(
    tmp_path: Path,
):
    # Found by the differential tester (seed 213733876314104941376618947473698753923): `rows4`
    # was only a pending write of the block, so the change to `xs` through it was lost.
    body = """
b = one(a)
rows4 = [xs, xs + xs]
rows4[0].append(0)
held = {"k": ws, "n": b}
held["k"] += [5]
nested = {"in": [ys]}
nested["in"][0][0:1] = [7]
built = dict()
built.update(first=zs)
built["first"].sort()
if a > 1:
    again = [vs]
    again[-1].reverse()
results = []
results.append(b)
results.append([b])
print(xs, ys, zs, ws, vs, rows4, held, nested, results)
return a, xs, ys, zs, ws, vs, one(len(xs))
"""
    controller = """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(
    a: int = 2, xs: list = [3, 1, 2], ys: list = [4, 5], zs: list = [9, 8], ws: list = [1],
    vs: list = [1, 2]
):
"""
    run = pipeline(tmp_path, controller + textwrap.indent(body.strip(), "    ") + "\n")
    run.same()
    run.same(a=1, xs=[0], ys=[[1]], zs=[], ws=[], vs=[6, 5])


def test_a_change_in_an_if_of_glue_reaches_later_glue_and_steps(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2, xs: list = [3, 1, 2]):
    if a > 1:
        xs[0] = 5
    d = {"k": xs}
    for i in range(a):
        d["k"][i] += 1
    print(xs)
    return xs, one(xs[0])
""",
    )
    run.same()
    run.same(a=1)


def test_a_change_through_a_receiver_computed_in_place_reaches_the_value(tmp_path: Path):
    # `d.setdefault(k, xs)` and `(w := ys)` hand back the very list they were given; `[[]] * 2`
    # holds one list twice (it was folded into a literal holding two).
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2, xs: list = [3, 1, 2], ys: list = [5], zs: list = [4]):
    d = {}
    d.setdefault("k", zs).append(a)
    (w := ys).append(0)
    twice = [[]] * 2
    twice[0].append(1)
    for v in LIMITS:
        xs.append(v)
    xs[0] = one(a)
    print(xs, ys, zs, d, w, twice)
    return xs, ys, zs, twice, LIMITS
""".replace("@PipelineDecorator.pipeline", "LIMITS = [2, 1, 3]\n\n\n@PipelineDecorator.pipeline"),
    )
    run.same()
    run.same(xs=[], ys=[[1]], zs=[])


@pytest.mark.parametrize(
    "body",
    [
        "for k in TABLE:\n    TABLE[k].append(a)\nreturn TABLE",
        "for k, v in TABLE.items():\n    v.append(a)\nreturn TABLE",
        "vals = list(TABLE.values())\nvals[0].append(1)\nreturn TABLE",
        "ws = [1]\nfor i in TABLE:\n    ws = TABLE[i]\nws.append(1)\nreturn TABLE",
    ],
)
def test_a_change_reaching_a_module_level_value_through_glue_is_refused(tmp_path: Path, body: str):
    source = (
        STEPS
        + 'TABLE = {"a": [1], "b": [2]}\n\n\n'
        + '@PipelineDecorator.pipeline(name="p", project="t", version="1")\n'
        + "def controller(a: int = 1):\n"
        + textwrap.indent(body, "    ")
        + "\n"
    )
    run = Differential(tmp_path, source)
    assert run.refused_codes == ["PC606"]


def test_appending_to_a_list_a_glue_only_if_rebound_appends_to_the_new_list(tmp_path: Path):
    # The tracer folded `ws.append(2)` into the list it knew from before the `if`.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2):
    ws = [1]
    if a > 1:
        ws = [a, a]
    ws.append(2)
    ws += [3]
    table = {"k": 1}
    if a > 1:
        table = {"j": a}
    table["k"] = 2
    print(ws, table)
    return ws, table, one(len(ws))
""",
    )
    run.same()
    run.same(a=0)


def test_adding_to_a_second_name_of_a_number_parameter_runs(tmp_path: Path):
    # Was refused (PC605): an `int` parameter has nothing to change in place.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2, xs: list = [3, 1, 2]):
    count = a
    count += 1
    step = a
    step += one(a)
    print(count, step, a)
    return count, step, a
""",
    )
    run.same()


# ---- family 1: state a module keeps in its process, set by controller code -------------------


def test_a_seed_set_in_the_block_that_draws_runs_as_in_python(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    import random

    v = one(a)
    random.seed(v)
    picked = random.random()
    print(picked)
    return picked
""",
    )
    run.same()


@pytest.mark.parametrize(
    ("head", "inside", "setter", "draw"),
    [
        ("import random", "", "random.seed(3)", "random.random()"),
        ("import random as rnd", "", "rnd.seed(3)", "rnd.random()"),
        ("from random import random, seed", "", "seed(3)", "random()"),
        ("", "import random", "random.seed(3)", "random.random()"),
        ("import numpy as np", "", "np.random.seed(3)", "np.random.rand()"),
        # pyplot keeps the current figure in its process: drawn before the step, saved after it
        ("import matplotlib.pyplot as plt", "", 'plt.title("a")', "plt.gca().get_title()"),
        ("from matplotlib import pyplot as plt", "", "plt.plot([1, 2])", 'plt.savefig("f.png")'),
        (
            "import matplotlib.pyplot as plt",
            "import seaborn as sns",
            "sns.lineplot(x=[1])",
            "plt.gcf()",
        ),
        ("import matplotlib", "", 'matplotlib.use("Agg")', "matplotlib.get_backend()"),
    ],
)
def test_a_seed_set_before_a_step_and_drawn_after_it_is_refused(
    tmp_path: Path, head: str, inside: str, setter: str, draw: str
):
    # Was a silent difference (module-level import: each glue script seeds nothing) or a
    # failure to pickle the module (an import in the controller).
    run = pipeline(
        tmp_path,
        f"""
{head}


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    {inside}
    {setter}
    v = one(a)
    print({draw}, v)
""",
    )
    assert run.refused_codes == ["PC698"]
    (diagnostic,) = run.refusal.diagnostics  # type: ignore[union-attr]
    assert f"`{setter}`" in diagnostic.message


def test_a_seed_set_before_a_step_and_drawn_in_a_run_time_test_after_it_is_refused(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
import random


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    random.seed(a)
    v = one(a)
    if random.random() > 0.5:
        v = one(v)
    return v
""",
    )
    assert run.refused_codes == ["PC698"]


def test_other_parts_of_a_seeded_package_used_after_a_step_build(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
import numpy as np


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    np.random.seed(3)
    v = one(a)
    print(np.array([v]).sum())
""",
    )
    assert run.refusal is None


def test_a_figure_drawn_and_saved_in_one_block_builds(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
import matplotlib.pyplot as plt


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1):
    v = one(a)
    plt.plot([v, v + 1])
    plt.savefig("plot.png")
    w = one(v)
    print(w)
""",
    )
    assert run.refusal is None


# ---- family 10 (found by the long fuzz profile, seed 9411): a return nested under run-time ifs -


def test_code_after_an_if_whose_side_returned_on_some_paths_runs_only_where_python_goes_on(
    tmp_path: Path,
):
    # The code after the outer `if` ran on every path: it printed where Python had returned,
    # and read names bound only on the paths that went on ("no option of a select binding").
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 2):
    r = one(a)
    if a > 1:
        if r > 3:
            return 3
        print("went on", r)
        n = r
    else:
        n = 0
    if a > 5:
        print(n)
    print("after", a)
    return one(r + n)
""",
    )
    for a in (2, 3, 0, 9):
        run.same(a=a)


def test_a_constant_test_picks_a_side_that_glue_computes(tmp_path: Path):
    # `one(0) if DEBUG else (...)`: the test folds, and the side Python evaluates has no step
    # and no compile-time value; it was left without a value (the run ended with "no option of
    # a select binding holds"). A glue node computes it.
    run = Differential(
        tmp_path,
        STEPS.replace(
            "from pipec import PipelineDecorator",
            "from pipec import PipelineDecorator\n\nDEBUG = False",
        )
        + """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(a: int = 1, xs: list = [3, 1, 2]):
    n = one(0) if DEBUG else (len(xs) if xs else -1)
    m = one(a) if not DEBUG else 0
    print(n, m)
    return n
""",
    )
    run.same()
    run.same(xs=[])
