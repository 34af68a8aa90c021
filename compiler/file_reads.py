"""`__file__` in code pipec copies into a build: the path of the file the code was copied from.

In plain Python, `__file__` in the pipeline file names that file, so `Path(__file__).parent /
"data.csv"` is the file beside it. A generated script lives in the build folder: left as it is,
the same expression would name `build/<pipeline>/steps/data.csv`, a different answer nobody
would notice. So every read of `__file__` in carried code becomes a read of a named constant,
assigned once between the script's imports and its definitions:

    _PIPELINE_FILE = '/home/me/project/pipeline.py'  # `__file__` of pipeline.py where it was built

The script's own `__file__` is left alone (the step runner and tracebacks rely on it), and the
script still runs by hand. A local module copied into the build gets the same treatment, with
its own path and `_MODULE_FILE`.
"""

from __future__ import annotations

import ast
import io
import posixpath
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, replace

import libcst as cst
from libcst.metadata import PositionProvider

from pipec.compiler import rules
from pipec.compiler.analyse import Component, Support
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.file_defaults import BuildPlace
from pipec.compiler.ir import GlueNode
from pipec.compiler.lower import GlueScript, LoweredBuild, Script, StepScript
from pipec.compiler.source import SourceModule
from pipec.manifest import Location

__all__ = ["PinnedBuild", "pin_build", "report_file_read"]


@dataclass(frozen=True)
class PinnedBuild:
    """The lowered build with its `__file__` reads pinned, and the pipeline text mapped alike."""

    lowered: LoweredBuild
    source_text: str  # the pipeline file as the scripts carry it, for the line map
    pinned: bool  # whether any carried code read `__file__`


_PIPELINE_CONSTANT = "_PIPELINE_FILE"
_MODULE_CONSTANT = "_MODULE_FILE"


def _reads_file(code: str) -> bool:
    """Whether `code` may read `__file__` (a quick test before parsing)."""
    return "__file__" in code


def pin_build(
    lowered: LoweredBuild,
    source: SourceModule,
    place: BuildPlace,
    reporter: Reporter,
    *,
    module_folders: Mapping[str, str],
    file_in_defaults: bool = False,
) -> PinnedBuild:
    """Every script, the home and each copied local module read their source's path instead.

    ``module_folders``: local module name -> the folder it was read from (Python names an
    imported module's file through the real folder it found it in).

    One warning per build (PC150) says that the path is the build host's, at the pipeline
    file's first read of `__file__` (or a local module's, when only those read it).
    """
    text = source.module.code
    constant = _fresh_name(_PIPELINE_CONSTANT, text)
    display = posixpath.basename(place.path.replace("\\", "/"))
    line = f"{constant} = {place.path!r}  # `__file__` of {display} where it was built"
    scripts, home = lowered.scripts, lowered.home
    if _reads_file(text):  # every piece a script carries is a piece of this text
        scripts = tuple(_pin_script(script, constant, line) for script in scripts)
        home = _pin_support(home, constant, line) if home is not None else None
    local_files, module_read = _pin_local_files(lowered.local_files, module_folders)
    pinned = home is not lowered.home or any(
        new is not old for new, old in zip(scripts, lowered.scripts, strict=True)
    )
    if pinned or file_in_defaults or module_read is not None:
        report_file_read(source, reporter, module_read)
    return PinnedBuild(
        replace(lowered, scripts=scripts, home=home, local_files=local_files),
        _pin_code(text, constant) if pinned else text,
        pinned,
    )


def report_file_read(
    source: SourceModule, reporter: Reporter, elsewhere: Location | None = None
) -> None:
    """PC150, once per build, at the pipeline file's first read (else at `elsewhere`)."""
    where = _first_file_read(source) or elsewhere
    if where is not None:
        reporter.report_once("file-read", rules.FILE_READ_AT_BUILD_PATH, where)


def _first_file_read(source: SourceModule) -> Location | None:
    """Where the pipeline file first reads `__file__`, or None."""
    found = _first_read(source.module)
    return None if found is None else source.location(found)


def _first_read(module: cst.Module) -> cst.Name | None:
    finder = _ReadFinder()
    module.visit(finder)
    return finder.first


class _ReadFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        self.first: cst.Name | None = None

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `module.__file__` is another module's path: not this file's
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # a keyword named `__file__` reads nothing
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__file__" and self.first is None:
            self.first = node


class _PinReads(cst.CSTTransformer):
    """`__file__` -> the constant, except as an attribute or keyword name."""

    def __init__(self, constant: str) -> None:
        self._constant = constant
        self._kept: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._kept.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._kept.add(id(node.keyword))

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        self._kept.add(id(node.name))

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if original_node.value == "__file__" and id(original_node) not in self._kept:
            return updated_node.with_changes(value=self._constant)
        return updated_node


def _pin_code(code: str, constant: str) -> str:
    if not _reads_file(code):
        return code
    return cst.parse_module(code).visit(_PinReads(constant)).code


def _pin_statement(statement: cst.BaseStatement, constant: str) -> cst.BaseStatement:
    pinned = statement.visit(_PinReads(constant))
    assert isinstance(pinned, cst.BaseStatement)  # a Name swap never removes a statement
    return pinned


def _pin_expression(expression: cst.BaseExpression, constant: str) -> cst.BaseExpression:
    pinned = expression.visit(_PinReads(constant))
    assert isinstance(pinned, cst.BaseExpression)
    return pinned


def _fresh_name(base: str, text: str) -> str:
    """`base`, or `base_2`, ... : a name the user's code never writes."""
    name, count = base, 1
    while re.search(rf"\b{re.escape(name)}\b", text):
        count += 1
        name = f"{base}_{count}"
    return name


def _pin_support(support: Support, constant: str, line: str) -> Support:
    definitions = tuple(_pin_code(code, constant) for code in support.definitions)
    if definitions == support.definitions:
        return support
    return replace(support, definitions=(line, *definitions))


def _pin_script(script: Script, constant: str, line: str) -> Script:
    if isinstance(script, StepScript):
        component = script.component
        code = _pin_code(component.code, constant)
        support = _pin_support(component.support, constant, line)
        if code != component.code and support is component.support:
            support = replace(support, definitions=(line, *support.definitions))
        if code == component.code and support is component.support:
            return script
        pinned: Component = replace(component, code=code, support=support)
        return replace(script, component=pinned)
    return _pin_glue(script, constant, line)


def _pin_glue(script: GlueScript, constant: str, line: str) -> GlueScript:
    node = script.node
    own = "\n".join(cst.Module([]).code_for_node(s) for s in node.statements)
    if node.expression is not None:
        own += cst.Module([]).code_for_node(node.expression)
    support = _pin_support(node.support, constant, line)
    if not _reads_file(own):
        return script if support is node.support else replace(script, node=_with(node, support))
    statements = tuple(_pin_statement(s, constant) for s in node.statements)
    expression = None if node.expression is None else _pin_expression(node.expression, constant)
    if support is node.support:
        support = replace(support, definitions=(line, *support.definitions))
    glue: GlueNode = replace(
        node,
        statements=statements,
        expression=expression,
        support=support,
    )
    return replace(script, node=glue)


def _with(node: GlueNode, support: Support) -> GlueNode:
    return replace(node, support=support)


def _pin_local_files(
    files: Mapping[str, str], folders: Mapping[str, str]
) -> tuple[dict[str, str], Location | None]:
    """Each copied module reads its own path; the first read's place, for the warning."""
    pinned: dict[str, str] = {}
    first: Location | None = None
    for path, text in files.items():
        relative = path.removeprefix("steps/")
        folder = folders.get(relative.split("/")[0].removesuffix(".py"))
        if folder is None or not relative.endswith(".py") or not _reads_file(text):
            pinned[path] = text
            continue
        constant = _fresh_name(_MODULE_CONSTANT, text)
        origin = posixpath.join(folder.replace("\\", "/"), relative)
        line = f"{constant} = {origin!r}  # `__file__` of {relative} where it was built"
        try:
            module = cst.parse_module(text)
        except cst.ParserSyntaxError:
            # Syntax newer than libcst knows (Python already accepted the file): Python's own
            # tokenizer finds the reads.
            rewritten, where = _pin_tokens(text, constant)
            if where is not None:
                pinned[path] = _with_line_after_header(rewritten, line)
                first = first or Location(relative, where[0], where[1] + 1)
            else:
                pinned[path] = text
            continue
        read = _first_read(module)
        if read is None:
            pinned[path] = text
            continue
        pinned[path] = _with_constant_line(module.visit(_PinReads(constant)).code, line)
        if first is None:
            first = _location_in(module, read, relative)
    return pinned, first


def _pin_tokens(code: str, constant: str) -> tuple[str, tuple[int, int] | None]:
    """`code` with each `__file__` name token (not after a `.`) replaced; the first one's place."""
    lines = code.splitlines(keepends=True)
    found: list[tuple[int, int]] = []
    previous = ""
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.NAME and token.string == "__file__" and previous != ".":
            found.append(token.start)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = token.string
    for row, column in reversed(found):  # right to left: earlier columns stay valid
        text = lines[row - 1]
        lines[row - 1] = text[:column] + constant + text[column + len("__file__") :]
    return "".join(lines), (found[0] if found else None)


def _with_line_after_header(code: str, line: str) -> str:
    """`line` after the module's docstring and `__future__` imports, read with `ast`."""
    body = ast.parse(code).body
    after = 0
    for index, statement in enumerate(body):
        docstring = (
            index == 0
            and isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str)
        )
        future = isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
        if not (docstring or future):
            break
        after = statement.end_lineno or statement.lineno
    lines = code.splitlines(keepends=True)
    if after and not lines[after - 1].endswith("\n"):
        lines[after - 1] += "\n"
    return "".join([*lines[:after], line + "\n", *lines[after:]])


def _location_in(module: cst.Module, node: cst.Name, path: str) -> Location:
    wrapper = cst.MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    start = positions[node].start
    return Location(path, start.line, start.column + 1)


def _with_constant_line(code: str, line: str) -> str:
    """The constant's line after the module's docstring and `__future__` imports."""
    module = cst.parse_module(code)
    body = list(module.body)
    at = 0
    while at < len(body) and _stays_first(body[at], at):
        at += 1
    statement = cst.parse_statement(line + "\n")
    return module.with_changes(body=[*body[:at], statement, *body[at:]]).code


def _stays_first(statement: cst.BaseStatement, index: int) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if index == 0 and isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString):
        return True
    return (
        isinstance(small, cst.ImportFrom)
        and isinstance(small.module, cst.Name)
        and small.module.value == "__future__"
    )
