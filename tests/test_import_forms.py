"""Every import form of the decorators (DESIGN.md §3) compiles to the same DAG; CRLF and tabs work."""

from __future__ import annotations

import pytest
from conftest import run_eagerly, run_manifest

PIPELINE = """
{imports}


@{prefix}.component(return_values=["doubled"])
def double(x: int):
    return 2 * x


@{prefix}.component(return_values=["total"], cache=True)
def add(a, b: int = 1):
    return a + b


@{prefix}.pipeline(name="forms", project="tests", version="1")
def controller(n: int = 3):
    d = double(n)
    t = add(d, b=n)
    print(f"total: {{t}}")
    return t
"""

FORMS = {
    "clearml": ("from clearml import PipelineDecorator", "PipelineDecorator"),
    "clearml.automation.controller": (
        "from clearml.automation.controller import PipelineDecorator",
        "PipelineDecorator",
    ),
    "clearml.automation": ("from clearml.automation import PipelineDecorator", "PipelineDecorator"),
    "pipec": ("from pipec import PipelineDecorator", "PipelineDecorator"),
    "alias": ("from clearml import PipelineDecorator as PD", "PD"),
    "pipec alias": ("from pipec import PipelineDecorator as Pipes", "Pipes"),
    "module": ("import clearml", "clearml.PipelineDecorator"),
}


def dag(manifest) -> dict:
    """What the DAG is made of, leaving out source positions and code hashes."""
    return {
        "nodes": [
            (
                n["name"],
                n["kind"],
                n["function"],
                n["inputs"],
                n["outputs"],
                n["after"],
                n["effects"],
                n["cache"],
            )
            for n in manifest["nodes"]
        ],
        "edges": manifest["edges"],
        "result": manifest["result"],
        "parameters": manifest["parameters"],
    }


@pytest.fixture
def reference(build_inline):
    imports, prefix = FORMS["pipec"]
    return dag(
        build_inline(PIPELINE.format(imports=imports, prefix=prefix), name="reference").manifest
    )


@pytest.mark.parametrize("form", sorted(FORMS))
def test_import_form_gives_the_same_dag(form, build_inline, reference):
    imports, prefix = FORMS[form]
    build = build_inline(PIPELINE.format(imports=imports, prefix=prefix), name="form")
    assert dag(build.manifest) == reference
    assert [n["kind"] for n in build.manifest["nodes"]] == ["step", "step", "glue"]


def test_bare_component_decorator_without_parentheses(build_inline):
    build = build_inline(
        """
        from clearml import PipelineDecorator


        @PipelineDecorator.component
        def double(x: int):
            return 2 * x


        @PipelineDecorator.pipeline(name="bare", project="tests", version="1")
        def controller(n: int = 3):
            return double(n)
        """
    )
    (node,) = build.manifest["nodes"]
    assert (node["name"], node["kind"], node["outputs"]) == ("double", "step", ["return_object"])
    assert node["inputs"] == {"x": {"param": "n"}}
    assert build.manifest["result"] == {"node": "double", "output": "return_object"}


STACKED = """
import functools

from pipec import PipelineDecorator


def shouting(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        return str(function(*args, **kwargs)).upper()

    return wrapper


@PipelineDecorator.component(return_values=["greeting"])
@shouting
def greet(name: str):
    return f"hello {name}"


@PipelineDecorator.component(return_values=["doubled"])
@functools.lru_cache(maxsize=None)
def double(x: int):
    return 2 * x


@PipelineDecorator.pipeline(name="stacked", project="tests", version="1")
def controller(name: str = "ada", n: int = 4):
    print(greet(name))
    return double(n)
"""


def test_stacked_decorators_are_kept_and_run(build_inline):
    build = build_inline(STACKED)
    script = (build.folder / "steps" / "greet.py").read_text()
    assert "@shouting\ndef greet" in script and "def shouting(" in script
    assert "PipelineDecorator" not in script
    assert run_manifest(build.folder) == run_eagerly(build.source, "controller")


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_tab_indentation_and_line_endings(newline, build_inline):
    text = STACKED.replace("    ", "\t")
    build = build_inline(text, newline=newline)
    assert [n["name"] for n in build.manifest["nodes"]] == ["greet", "glue_1", "double"]
    assert run_manifest(build.folder) == run_eagerly(build.source, "controller")


def test_crlf_with_spaces(build_inline):
    build = build_inline(STACKED, newline="\r\n")
    expected = run_eagerly(build.source, "controller")
    assert run_manifest(build.folder) == expected
    assert expected.stdout == "HELLO ADA\n" and expected.result == 8
