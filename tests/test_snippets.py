"""Snippet tests, in memory and without subprocesses: a few lines of source in, what pipec made of them out."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from pipec.compiler.analyse import analyse_components
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.fold import fold
from pipec.compiler.ir import GlueNode, StepNode, Trace
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.parse import find_decorated
from pipec.compiler.source import parse_source
from pipec.compiler.star_imports import StarImports
from pipec.compiler.syntax import mutated_names, names_of, target_names
from pipec.compiler.trace import trace_controller
from pipec.manifest import Container, Guard, Literal, NodeKind, OutputRef, ParamRef

STEPS = """
from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["doubled"])
def double(x, factor=2):
    return x * factor


@PipelineDecorator.component(return_values=["low", "high"])
def bounds(values):
    return min(values), max(values)


@PipelineDecorator.pipeline(name="snippet", project="tests", version="1")
"""


def trace(controller: str) -> tuple[Trace, Reporter]:
    """Trace a controller written under STEPS, entirely in memory."""
    source = parse_source(STEPS + textwrap.dedent(controller).lstrip(), "pipeline.py")
    reporter = Reporter()
    parsed = find_decorated(source, reporter)
    # STEPS has no star import: no module could bind a name the steps read.
    components = analyse_components(parsed, reporter, StarImports((), {}, (), ()))
    (pipeline,) = parsed.pipelines
    parameters = tuple(p.name.value for p in pipeline.function.params.params)
    return trace_controller(parsed, components, pipeline, parameters, reporter), reporter


def codes(controller: str) -> list[str]:
    _, reporter = trace(controller)
    return [d.code for d in reporter.diagnostics]


def steps(result: Trace) -> list[StepNode]:
    return [n for n in result.nodes if isinstance(n, StepNode)]


# ---- folding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1, 2) + (3,)", (1, 2, 3)),
        ("LIMIT - 1", 9),
        ("len('abc')", 3),
        ("{'a': 1}['a']", 1),
    ],
)
def test_folding_computes_constants(expression: str, value: object):
    assert (
        fold(cst.parse_expression(expression), lambda n: {"LIMIT": 10}.get(n, NOT_LITERAL)) == value
    )


@pytest.mark.parametrize("expression", ["unknown + 1", "open('f')", "data[0]"])
def test_folding_leaves_what_it_cannot_know(expression: str):
    lookup = {"unknown": NOT_LITERAL, "data": NOT_LITERAL}.get
    assert fold(cst.parse_expression(expression), lambda n: lookup(n, NOT_LITERAL)) is NOT_LITERAL


# ---- syntax questions -----------------------------------------------------------------------


def test_target_names_tell_a_name_from_an_unpacking():
    assert target_names(cst.parse_expression("a")) == "a"
    assert target_names(cst.parse_expression("(a, b)")) == ["a", "b"]
    assert names_of(cst.parse_expression("a")) == ["a"]


def test_mutated_names_are_the_receivers_of_methods_and_items():
    statement = cst.parse_statement("results.append(x)\n")
    assert "results" in mutated_names(statement)
    assert mutated_names(cst.parse_statement("y = x + 1\n")) == []


# ---- step calls -----------------------------------------------------------------------------


def test_arguments_bind_by_position_and_by_name():
    result, reporter = trace("""
        def controller(n=3):
            return double(n, factor=4)
    """)
    assert reporter.diagnostics == ()
    (node,) = steps(result)
    assert node.inputs == (("x", ParamRef("n")), ("factor", Literal.of(4)))


@pytest.mark.parametrize(
    ("call", "code"),
    [
        ("double(1, 2, 3)", "PC302"),
        ("double(1, y=1)", "PC303"),
        ("double(1, x=2)", "PC304"),
        ("double()", "PC305"),
        ("double(*[1])", "PC301"),
    ],
)
def test_wrong_step_calls_are_refused_by_rule(call: str, code: str):
    assert codes(f"""
        def controller():
            return {call}
    """) == [code]


# ---- the tracer -----------------------------------------------------------------------------


def test_straight_line_code_chains_steps_through_glue():
    result, _ = trace("""
        def controller(n=3):
            low, high = bounds([n, 1])
            spread = high - low
            return double(spread)
    """)
    first, glue, *_, last = result.nodes
    assert (first.kind, glue.kind, last.kind) == (NodeKind.STEP, NodeKind.GLUE, NodeKind.STEP)
    assert isinstance(glue, GlueNode)
    assert dict(glue.inputs) == {
        "high": OutputRef("bounds", "high"),
        "low": OutputRef("bounds", "low"),
    }
    assert result.result == OutputRef("double", "doubled")


def test_a_loop_over_constants_is_unrolled_with_numbered_steps():
    result, _ = trace("""
        def controller():
            results = []
            for value in [1, 2, 3]:
                results.append(double(value))
            return results
    """)
    assert [n.name for n in steps(result)] == ["double", "double_1", "double_2"]
    assert result.result == Container.of_list(
        tuple(OutputRef(name, "doubled") for name in ("double", "double_1", "double_2"))
    )


def test_a_run_time_if_guards_each_branch_by_a_condition_node():
    result, _ = trace("""
        def controller(n=3):
            if n > 2:
                value = double(n)
            else:
                value = double(0)
            return value
    """)
    (condition,) = [n for n in result.nodes if n.kind is NodeKind.CONDITION]
    when = [node.when for node in steps(result)]
    assert when == [(Guard(condition.name, True),), (Guard(condition.name, False),)]


def test_a_loop_over_a_step_output_is_one_map_node():
    result, _ = trace("""
        def controller(n=3):
            low, high = bounds([n, 1])
            return [double(x) for x in [low, high, n]]
    """)
    assert [n.kind for n in result.nodes].count(NodeKind.MAP) == 0  # a list known at compile time
    result, _ = trace("""
        def controller(values=[1, 2]):
            return [double(x) for x in values]
    """)
    (map_node,) = [n for n in result.nodes if n.kind is NodeKind.MAP]
    (body,) = steps(result)
    assert body.map == map_node.name


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("while True:\n    pass", "PC201"),
        ("for v in values:\n    print(double(v))", "PC414"),
        ("for v in values:\n    if v:\n        double(v)", "PC501"),
    ],
)
def test_refusals_in_the_controller_carry_their_rule(body: str, code: str):
    controller = "def controller(values=[1, 2]):\n" + textwrap.indent(body, "    ")
    assert codes(controller) == [code]
