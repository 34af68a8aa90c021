"""Controller constructs of issues 9 and 10, each run both ways: plain Python and `pipec run`
agree, or the build refuses at the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

STEPS = """
import sys

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["files"])
def listing(n):
    return [{"path": f"f{i}", "size": i} for i in range(n)]


@PipelineDecorator.component(return_values=["v"])
def process(p):
    return f"<{p}>"


@PipelineDecorator.component(return_values=["ok"])
def check(x):
    return x > 2


@PipelineDecorator.component(return_values=["v"])
def risky(x):
    print("risky ran")
    return 10 // (x - 2)

"""


def pipeline(tmp_path: Path, controller: str) -> Differential:
    return Differential(tmp_path, STEPS + controller)


# ---- issue 9 family 4: comprehensions whose step argument is an expression of the element ----


def test_a_comprehension_over_a_step_output_passes_an_expression_of_the_element(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    f = "outer"
    out = [process(f["path"]) for f in files]
    sizes = [process(f["size"] * 2) for f in files]
    print(out, sizes, f)
    return out
""",
    )
    run.same()
    run.same(n=0)


def test_a_comprehension_over_known_outputs_passes_an_expression_of_the_element(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 2):
    a, b = listing(n), listing(n + 1)
    counts = [process(len(x)) for x in [a, b]]
    named = {k: process(v[0]["path"]) for k, v in zip("ab", [a, b])}
    print(counts, named)
    return counts, named
""",
    )
    run.same()


# ---- issue 9 family 3: short-circuits run their right side only when Python would ----------


def test_and_or_and_conditional_expressions_run_a_step_only_when_python_reaches_it(
    tmp_path: Path,
):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 2, a: int = 0):
    r = check(x) and risky(x)
    s = a or risky(x + 5)
    u = risky(x + 3) if x > 0 else risky(x)
    w = a and check(x) or risky(x + 1)
    print(r, s, u, w)
    if check(x + 1) and risky(x + 2):
        print("both")
    return r, s, u, w
""",
    )
    run.same()  # risky(2) would divide by zero: Python never calls it
    run.same(x=3, a=1)
    run.same(x=-1)  # check(x) is falsy, x > 0 is not: risky(-1) runs on the else side
    run.same(x=1)  # `a and ...` is falsy: risky(1 + 1) runs and divides by zero, as in Python


def test_a_short_circuit_with_a_step_on_the_right_in_a_runtime_loop_is_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    return [f["size"] and risky(f["size"]) for f in files]
""",
    )
    assert run.refused_codes == ["PC502"]


# ---- issue 9 family 6: sys.exit ends the pipeline in glue, fails the step in a step ----------


def test_sys_exit_in_the_controller_ends_the_pipeline_there(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.component(return_values=["v"])
def leaves(x):
    if x:
        sys.exit(x)
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 3, code: int = 0):
    print("before")
    if check(x):
        sys.exit(code or "stopping: x is too large")
    after = risky(x + 1)
    print("after", after)
    if x < 0:
        raise SystemExit(5)
    return after
""",
    )
    plain, compiled = run.same()
    assert "stopping: x is too large" in plain.stderr
    assert "the controller called sys.exit('stopping: x is too large')" in compiled.stderr
    plain, compiled = run.same(code=4)
    assert "after" not in compiled.stdout
    run.same(x=-1)
    run.same(x=1)


def test_sys_exit_in_a_step_fails_the_step_with_a_clear_message(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.component(return_values=["v"])
def leaves(x):
    if x:
        sys.exit(x)
    return x


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 3):
    return leaves(x)
""",
    )
    compiled = run.compiled()
    assert not compiled.ok
    assert "step leaves called sys.exit(3)" in compiled.stderr
    assert "output is not there" not in compiled.stderr
    assert run.compiled(x=0).result == 0


# ---- issue 10 item 5: controller statements ---------------------------------------------------


def test_imports_inside_the_controller_serve_the_glue_that_reads_them(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    import json
    import os.path as osp
    from math import sqrt, floor as fl
    files = listing(n)
    text = json.dumps(files)
    print(len(text), sqrt(16), osp.basename("/a/b"))
    if fl(sqrt(len(text))) > 3:
        print("long")
    return process(json.dumps(files[0]) if n else "none")
""",
    )
    run.same()
    run.same(n=0)


def test_an_imported_module_passed_to_a_step_is_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    import json
    return process(json)
""",
    )
    assert run.refused_codes == ["PC213"]


def test_del_unbinds_names_and_removes_items(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3, again: bool = False):
    files = listing(n)
    d = {"a": 1, "b": n}
    del d["a"]
    first = process(files[d["b"] - 1]["path"])
    del first
    if again:
        first = process(first)
    del files[0]
    print(d, files)
    return process(len(files))
""",
    )
    run.same()
    run.same(again=True)


def test_walrus_in_an_if_test_binds_the_name_for_the_branch_and_after(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    if (k := len(files)) > 1:
        print("many", k)
        r = process(k)
    else:
        r = process(-k)
    print(k, r)
    return r
""",
    )
    run.same()
    run.same(n=1)


def test_walrus_around_a_step_call_runs_the_step_once(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: int = 3):
    if (ok := check(x)) and x > 0:
        print("checked", ok)
    return ok
""",
    )
    run.same()
    run.same(x=1)


def test_walrus_in_the_test_of_a_conditional_expression_around_a_step(tmp_path: Path):
    # The name the test binds is read by the side that runs and after the expression (this was
    # refused as "`k` is used before it is assigned").
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    r = process(k) if (k := len(files)) > 1 else k - 1
    print(k, r)
    return r
""",
    )
    run.same()
    run.same(n=1)


# ---- issue 10 item 7: plain helpers that call steps are compiled into the controller --------


def test_a_helper_that_calls_steps_is_inlined_and_its_steps_become_nodes(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
def process_all(files, prefix="p"):
    out = [process(prefix + f["path"]) for f in files]
    print("processed", len(out))
    return out


def best(n):
    files = listing(n)
    found = process_all(files, prefix="q")
    return max(found) if found else None


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    out = process_all(files)
    print(out, best(n + 1), files[0] if files else None)
    return out
""",
    )
    run.same()
    run.same(n=0)
    manifest = (run.build_dir / "manifest.json").read_text()
    assert '"function": "process"' in manifest


@pytest.mark.parametrize(
    ("helper", "code"),
    [
        ("def h(x):\n    if x:\n        return process(x)\n    return 0\n", "PC216"),
        ("def h(x):\n    return h(process(x))\n", "PC215"),
        ("def h(x, *rest):\n    return process(x)\n", "PC216"),
    ],
)
def test_helpers_that_cannot_be_inlined_are_refused(tmp_path: Path, helper: str, code: str):
    run = pipeline(
        tmp_path,
        helper
        + """

@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    return h(n)
""",
    )
    assert code in run.refused_codes


def test_a_call_in_a_runtime_loop_body_is_glue_like_any_other(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
import json


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    from os import path
    files = listing(n)
    out = [process(json.dumps(f)) for f in files]
    names = []
    for f in files:
        names.append(process(path.join("d", f["path"])))
    return out, names
""",
    )
    run.same()


def test_a_run_time_if_in_each_pass_of_a_loop_keeps_the_build_small(tmp_path: Path):
    # Each `if` doubled the choices for `out`: 12 passes wrote a 35 MB manifest, 14 a 165 MB one.
    # Past a few choices glue grows the list at run time, and choices are never nested.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(skip: int = 3):
    out = []
    for i in range(12):
        if i % 4 != skip:
            out.append(process(i))
    print(len(out), out[-1])
    return out
""",
    )
    assert (run.build_dir / "manifest.json").stat().st_size < 2_000_000
    run.same()
    run.same(skip=0)


@pytest.mark.parametrize(
    "body",
    [
        # Controller code alone, over a step's output: the walrus binds in the controller.
        "files = listing(n)\n    sizes = [(last := f['size']) for f in files]\n    print(sizes, last)",
        "files = listing(n)\n    if any((hit := f)['size'] > 1 for f in files):\n"
        "        print('hit', hit)",
        # Around step calls in a comprehension unrolled at build time.
        "out = [last := process(i) for i in range(3)]\n    print(out, last)",
        "total = ''\n    out = [(total := total + process(i)) for i in range(3)]\n    print(out, total)",
    ],
)
def test_a_walrus_in_a_comprehension_binds_the_name_in_the_controller(tmp_path: Path, body: str):
    # PEP 572: the name belongs to the function around the comprehension. It was refused as
    # "name `last` is not defined".
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    {body}
""",
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(n=1)


@pytest.mark.parametrize(
    "body",
    [
        "out = [process(i) for i in range(3) if i != n]\n    print(out)",
        # Two run-time tests, and enough values that the paths through them would be thousands.
        "out = [process(i) for i in range(12) if i % 3 != n if i > n]\n    print(out)",
        # A test on a step's output, a constant test beside it, a generator summed.
        "files = listing(n)\n    out = [process(i) for i in [1, 2, 3, 4] if i > 1 if i != len(files)]\n"
        "    print(out, sum(len(process(i)) for i in range(4) if i < len(files)))",
    ],
)
def test_a_comprehension_filter_decided_at_run_time_keeps_the_values_it_passes(
    tmp_path: Path, body: str
):
    # It was refused (PC406); the same loop written as a `for` with an `if` built.
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    {body}
""",
    )
    assert run.refusal is None, run.refusal
    assert (run.build_dir / "manifest.json").stat().st_size < 2_000_000
    run.same()
    run.same(n=0)
    run.same(n=3)


def test_a_dict_comprehension_filter_decided_at_run_time_is_still_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    return {i: process(i) for i in range(3) if i != n}
""",
    )
    assert run.refused_codes == ["PC406"]


@pytest.mark.parametrize(
    "body",
    [
        "out = [process(f['path']) for f in listing(n) if f['size'] % 2 == 0]\n    print(out)",
        "files = listing(n)\n"
        "    out = [process(f['path']) for f in files if f['size'] > 0 if f['size'] != n - 1]\n"
        "    print(out, sum(len(process(f['path'])) for f in files if f['size']))",
    ],
)
def test_a_comprehension_over_a_step_output_with_filters_fans_out_over_what_they_keep(
    tmp_path: Path, body: str
):
    # It was refused (PC409): the filters now run first, in glue, and the fan-out runs over the
    # elements they keep.
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 4):
    {body}
""",
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(n=1)
    run.same(n=0)


@pytest.mark.parametrize(
    "body",
    [
        "out = [process(i) for i in range(3) if i != n if i != n + 1]\n    print(out)",
        "out = []\n    for i in range(3):\n        if i != n:\n            if i != n + 1:\n"
        "                out.append(process(i))\n    print(out)",
    ],
)
def test_a_list_that_several_paths_keep_alike_holds_its_values_on_each(tmp_path: Path, body: str):
    # Two tests per value: the paths where a later test skips and where an earlier one does keep
    # the same list. Glue that printed it read the step's output on the first path only and
    # printed None for it on the other ([None] where Python prints ['<0>']).
    run = pipeline(
        tmp_path,
        f"""
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 1):
    {body}
    return out
""",
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(n=0)
    run.same(n=5)


def test_a_long_loop_with_a_run_time_if_in_each_pass_builds_in_proportion(tmp_path: Path):
    # 200 passes wrote a 178 MB manifest in 31 s, each pass choosing from all the lists the
    # passes before could have left; a glue node now picks the list after each pass.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(skip: int = 3):
    out = []
    for i in range(200):
        if i % 7 != skip:
            out.append(process(i))
    return len(out)
""",
    )
    assert run.refusal is None, run.refusal
    assert (run.build_dir / "manifest.json").stat().st_size < 5_000_000


def test_locals_first_thing_in_the_controller_is_the_dict_of_its_parameters(tmp_path: Path):
    # `params = Params(**locals())` opens real pipelines; a compiled run gave the block `{}`.
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3, tag: str = "a", sizes: list = [1, 2]):
    \"\"\"The parameters, taken whole.\"\"\"
    params, names = dict(**locals()), sorted(vars())
    print(params, names)
    return process(len(params)), params
""",
    )
    assert run.refusal is None, run.refusal
    run.same()
    run.same(n=1, sizes=[])


def test_locals_after_the_first_statement_is_still_refused(tmp_path: Path):
    run = pipeline(
        tmp_path,
        """
@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(n: int = 3):
    files = listing(n)
    print(sorted(locals()))
""",
    )
    assert run.refused_codes == ["PC297"]
