"""The pipeline file's one importable home in the build: `steps/_pipec_pipeline.py`.

Each script carries the classes and functions its own code names, and the step runner makes
the module `_pipec_pipeline` answer for them, so that pickles refer to them through it (they
stay in `__main__`, as in `python pipeline.py`). A value of a
class a script does not carry (glue that only passes an enum member on) is then found in this
file, which holds every module-level class and function of the pipeline file with the imports
and constants they need. One home keeps `isinstance`, `is` and `==` of enum members true across
scripts, as in one Python process.

A function that calls the pipeline function (`def main(): ...; run_pipeline(...)`, a launcher
the `__main__` block calls) is left out: it only starts the pipeline, which the build replaces,
and the home does not define the pipeline function it names.
"""

from __future__ import annotations

import libcst as cst

from pipec.compiler.analyse import Support, collect_support
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.module_statements import launchers
from pipec.compiler.parse import ParsedFile

__all__ = ["HOME_PATH", "home_support"]

HOME_PATH = "steps/_pipec_pipeline.py"


def home_support(parsed: ParsedFile) -> Support | None:
    """The module code of the home, or None when the file defines no class or plain function."""
    decorated = {d.index for d in (*parsed.components, *parsed.pipelines)}
    definitions = {
        statement.name.value: statement
        for index, statement in enumerate(parsed.source.module.body)
        if isinstance(statement, cst.FunctionDef | cst.ClassDef) and index not in decorated
    }
    starting = launchers(parsed.source, {d.name for d in parsed.pipelines})
    roots = [name for name in definitions if name not in starting]
    if not roots:
        return None
    # Whatever this would report, the scripts that carry the same code report it too.
    return collect_support(parsed.source, parsed, roots, (), Reporter(), "the pipeline module")
