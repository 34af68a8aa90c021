"""Issue 10, items 2 and 3: names only an installed package's star import could define, read by
steps or by the controller's glue, are named in one warning (PC614), with the names pipec does
know that they look like a typo of."""

from __future__ import annotations

from pathlib import Path

import pytest
from differential import PIPEC, Differential
from golden_build import build_file

from pipec.compiler.requirements import StaticEnvironment

pytestmark = pytest.mark.skipif(not PIPEC.exists(), reason="the pipec console script is missing")

TYPO = """
from math import *

from numpy import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["v"])
def measure(x):
    return sqroot(x) + pi


@PipelineDecorator.component(return_values=["v"])
def scale(v):
    return array([v]) * sqroot(v)


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(x: float = 16.0):
    v = measure(x)
    return scale(flor(x)), v
"""

NUMPY = StaticEnvironment({"numpy": {"numpy": ("2.0.0", ("numpy",))}})


def test_a_typo_of_a_standard_name_beside_an_installed_star_import_is_named(tmp_path: Path):
    file = tmp_path / "pipeline.py"
    file.write_text(TYPO.lstrip(), encoding="utf-8")
    built = build_file(file, "pipeline.py", NUMPY)
    (trusted,) = [d for d in built.diagnostics if d.code.startswith("PC6")]
    # Steps and glue alike, each name once, in the order they are first read.
    assert (trusted.code, trusted.location.line) == ("PC614", 10)
    assert trusted.message.startswith("3 names defined nowhere in this file")
    assert trusted.message.endswith(
        "`sqroot` (did you mean `sqrt` from `math`?), `array`, "
        "`flor` (did you mean `floor` from `math`?)"
    )
    # The hint shows an import of a name that is no typo.
    assert "`from numpy import array`" in trusted.hint


GLUE = """
from jinja2 import *

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["text"])
def shout(text):
    return text.upper()


@PipelineDecorator.pipeline(name="p", project="t", version="1")
def controller(name: str = "world"):
    safe = escape(name)
    return shout(str(safe))
"""


def test_glue_reading_an_installed_star_import_is_warned_about_as_steps_are(tmp_path: Path):
    pytest.importorskip("jinja2")
    file = tmp_path / "pipeline.py"
    file.write_text(GLUE.lstrip(), encoding="utf-8")
    installed = StaticEnvironment({"jinja2": {"Jinja2": ("3.1.4", ("jinja2",))}})
    built = build_file(file, "pipeline.py", installed)
    (trusted,) = [d for d in built.diagnostics if d.code.startswith("PC6")]
    assert (trusted.code, trusted.location.line) == ("PC614", 13)
    assert trusted.message.endswith(
        "`from jinja2 import *` (pipec never imports an installed "
        "package at build time, so it cannot read what it exports): "
        "`escape`"
    )
    # It still builds and runs as plain Python does (jinja2 re-exports markupsafe's escape).
    Differential(tmp_path / "run", GLUE).same(name="<b>")
