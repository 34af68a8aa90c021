"""Snippet tests of the lowering pass: a small pipeline in, the build model's decisions out.

Each case builds in memory through the pure core (no subprocess, nothing written) and reads
the policies lowering owns: script names, requirements, cached glue, queues and stages.
"""

from __future__ import annotations

import textwrap

import pytest
from golden_build import STATIC_ENVIRONMENT

from pipec.compiler.build import BuildResult, build
from pipec.compiler.local_modules import LocalModule
from pipec.manifest import Node

HEADER = """\
from clearml import PipelineDecorator
"""


class _NoNeighbours:
    def local_module(self, name: str) -> LocalModule | None:
        return None

    def read_text(self, relative: str) -> str | None:
        return None


def lowered(body: str) -> BuildResult:
    text = HEADER + textwrap.dedent(body)
    return build(text, "pipeline.py", environment=STATIC_ENVIRONMENT, project=_NoNeighbours())


def nodes(result: BuildResult) -> dict[str, Node]:
    return {node.name: node for node in result.manifest.nodes}


def test_a_step_named_like_a_module_gets_a_script_that_does_not_shadow_it():
    result = lowered(
        """
        import json

        @PipelineDecorator.component()
        def json_dump(x):
            return json.dumps(x)

        @PipelineDecorator.component()
        def json(x):
            return x

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run():
            return json_dump(json(1))
        """
    )
    scripts = {name: node.script for name, node in nodes(result).items()}
    assert scripts == {"json": "steps/json_step.py", "json_dump": "steps/json_dump.py"}


def test_a_step_called_twice_shares_one_script_and_one_requirements_file():
    result = lowered(
        """
        @PipelineDecorator.component()
        def add(a, b):
            return a + b

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run():
            return add(add(1, 2), 3)
        """
    )
    found = nodes(result)
    assert found["add"].script == found["add_1"].script == "steps/add.py"
    assert found["add"].requirements_file == found["add_1"].requirements_file
    assert sorted(p for p in result.files if p.startswith("steps/")) == ["steps/add.py"]


def test_glue_that_loads_a_step_output_needs_the_producers_packages():
    result = lowered(
        """
        @PipelineDecorator.component()
        def fit(n):
            import numpy
            return numpy.arange(n)

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run(n: int = 3):
            values = fit(n)
            print(values.sum())
        """
    )
    found = nodes(result)
    assert found["fit"].requirements == ("numpy==2.0.0",)
    assert found["glue_1"].requirements == ("numpy==2.0.0",)


@pytest.mark.parametrize(("second_cached", "glue_cached"), [(True, True), (False, False)])
def test_glue_is_cached_only_when_every_step_before_it_is(second_cached, glue_cached):
    result = lowered(
        f"""
        @PipelineDecorator.component(cache=True)
        def first():
            return 1

        @PipelineDecorator.component(cache={second_cached})
        def second(x):
            return x + 1

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run():
            total = second(first())
            print(total)
        """
    )
    found = nodes(result)
    assert found["first"].cache and found["second"].cache is second_cached
    assert found["glue_1"].cache is glue_cached


def test_queues_come_from_the_step_then_the_pipeline_and_glue_runs_anywhere():
    result = lowered(
        """
        @PipelineDecorator.component(execution_queue="gpu")
        def train(x):
            return x

        @PipelineDecorator.component()
        def load():
            return [1, 2]

        @PipelineDecorator.pipeline(name="p", project="q", version="1", default_queue="cpu")
        def run():
            scores = []
            for item in load():
                scores.append(train(item))
            print(scores)
        """
    )
    queues = {name: node.queue for name, node in nodes(result).items()}
    assert queues == {"load": "cpu", "map_1": "cpu", "train": "gpu", "glue_1": None}


def test_stages_are_the_waves_of_nodes_that_could_run_together():
    result = lowered(
        """
        @PipelineDecorator.component()
        def make(n):
            return n

        @PipelineDecorator.component()
        def join(a, b):
            return a + b

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run():
            return join(make(1), make(2))
        """
    )
    assert result.stages == (("make", "make_1"), ("join",))


def test_parameters_keep_their_defaults_as_literals_and_required_ones_have_none():
    result = lowered(
        """
        @PipelineDecorator.component()
        def echo(x):
            return x

        @PipelineDecorator.pipeline(name="p", project="q", version="1")
        def run(required: int, rate: float = 0.5, tags=("a", "b")):
            return echo((required, rate, tags))
        """
    )
    parameters = {p.name: p for p in result.manifest.parameters}
    assert parameters["required"].required and parameters["required"].default is None
    assert parameters["rate"].default is not None and parameters["rate"].default.value == 0.5
    assert parameters["tags"].default is not None
    assert parameters["tags"].default.source == "('a', 'b')"
