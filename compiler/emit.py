"""Pass 5, emit: render the lowered build into files — step and glue scripts, requirements, the manifest."""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import jinja2
import libcst as cst

from pipec import __version__
from pipec.compiler.analyse import Support
from pipec.compiler.ir import RETURN_OUTPUT, GlueNode
from pipec.compiler.line_map import CarriedPiece, map_lines
from pipec.compiler.lower import LoweredBuild, StepScript
from pipec.compiler.pipeline_module import HOME_PATH
from pipec.compiler.requirements import Requirement
from pipec.manifest import MANIFEST_NAME, Manifest, NodeKind, encode_manifest
from pipec.step_runner import runner_code

__all__ = ["emit_build", "generator_name"]


def _pytuple(values: Sequence[str]) -> str:
    return repr(tuple(values))


def _docstring_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


@dataclass(frozen=True)
class _Templates:
    environment: jinja2.Environment

    @classmethod
    def load(cls) -> _Templates:
        folder = resources.files("pipec.templates")
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        environment.filters.update(
            {"pytuple": _pytuple, "docstring": _docstring_safe, "pyrepr": repr}
        )
        environment.globals["version"] = __version__
        environment.globals["runner_code"] = runner_code()
        return cls(environment)

    def render(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)


def _tidy(code: str) -> str:
    """One newline style, no trailing spaces, no runs of blank lines longer than two, one final newline."""
    code = code.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in code.split("\n")]
    tidy: list[str] = []
    blanks = 0
    for line in lines:
        blanks = blanks + 1 if not line else 0
        if blanks <= 2:
            tidy.append(line)
    return "\n".join(tidy).strip("\n") + "\n"


def _import_key(code: str, local: frozenset[str]) -> tuple[int, int, str]:
    """isort's order: standard library, third party, local; `import x` before `from x import y`."""
    words = code.split()
    module = words[1] if len(words) > 1 else ""
    top = module.split(".")[0]
    section = (
        0
        if top == "__future__"
        else 1
        if top in sys.stdlib_module_names
        else 3
        if top in local
        else 2
    )
    return (section, 0 if words[0] == "import" else 1, module.lower())


def _support_code(support: Support, local: frozenset[str]) -> str:
    """Imports first, grouped as isort does, then the module-level definitions in source order."""
    parts: list[str] = []
    groups: dict[int, list[str]] = {}
    for code in sorted(support.imports, key=lambda c: _import_key(c, local)):
        groups.setdefault(_import_key(code, local)[0], []).append(code.rstrip())
    if groups:
        parts.append("\n\n".join("\n".join(groups[k]) for k in sorted(groups)))
    definitions = [code.rstrip() for code in support.definitions]
    if (
        parts
        and definitions
        and not definitions[0].lstrip().startswith(("def ", "class ", "@", "async "))
    ):
        # isort wants one blank line between imports and a constant, two before a def or class.
        return parts[0] + "\n\n" + "\n\n\n".join(definitions)
    return "\n\n\n".join(parts + definitions)


_GLUE_SPLIT = {NodeKind.CONDITION: "decision", NodeKind.MAP: "explode"}

_PURPOSE = {
    NodeKind.GLUE: "Controller code",
    NodeKind.CONDITION: "The `if` test",
    NodeKind.MAP: "The values a run-time loop runs over",
}


def _glue_function_name(node: GlueNode) -> str:
    # Prefixed like the runner's own names: a plain `glue_1` would replace a user helper of
    # that name, which the glue may call.
    return f"_pipec_{node.name}"


class _ReturnAsOutputs(cst.CSTTransformer):
    """`return expr` in glue becomes `return {"return": expr}`: the controller's result is an output."""

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        value = updated_node.value or cst.Name("None")
        if isinstance(value, cst.Tuple) and not value.lpar:  # `return a, b` is a tuple
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return updated_node.with_changes(
            value=cst.Dict([cst.DictElement(cst.SimpleString(repr(RETURN_OUTPUT)), value)]),
            whitespace_after_return=cst.SimpleWhitespace(" "),
        )


def _glue_function(node: GlueNode) -> str:
    # A condition's statements are the imports its test needs (a controller `import`).
    statements: list[cst.BaseStatement] = (
        list(node.statements) if node.kind is NodeKind.CONDITION else []
    )
    if node.kind is NodeKind.CONDITION:
        assert node.expression is not None
        decision = cst.Call(cst.Name("bool"), [cst.Arg(node.expression)])
        statements.append(_return_outputs({"decision": decision}))
    elif node.kind is NodeKind.MAP:
        assert node.expression is not None
        statements.append(_return_outputs({"items": node.expression}))
    else:
        returns = False
        for statement in node.statements:
            if isinstance(statement, cst.SimpleStatementLine) and any(
                isinstance(s, cst.Return) for s in statement.body
            ):
                returns = True
                rewritten = statement.visit(_ReturnAsOutputs())
                assert isinstance(rewritten, cst.SimpleStatementLine)
                statement = rewritten
            statements.append(statement)
        if not returns:
            statements.append(_return_outputs({name: cst.Name(name) for name in node.outputs}))
    function = cst.FunctionDef(
        name=cst.Name(_glue_function_name(node)),
        params=cst.Parameters([cst.Param(cst.Name(name)) for name, _ in node.inputs]),
        body=cst.IndentedBlock(statements),
    )
    return cst.Module(body=[function]).code


def _return_outputs(values: Mapping[str, cst.BaseExpression]) -> cst.SimpleStatementLine:
    elements = [cst.DictElement(cst.SimpleString(repr(k)), v) for k, v in values.items()]
    return cst.SimpleStatementLine([cst.Return(cst.Dict(elements))])


def _requirements_text(
    templates: _Templates,
    manifest: Manifest,
    regenerate: str,
    what: str,
    requirements: Sequence[Requirement],
) -> str:
    return templates.render(
        "requirements.txt.jinja",
        source_path=manifest.pipeline.source.path,
        regenerate=regenerate,
        what=what,
        requirements=requirements,
    )


def _check_python(path: str, code: str) -> None:
    try:
        ast.parse(code, filename=path)
    except SyntaxError as exc:  # pragma: no cover - a template bug, not a user error
        raise AssertionError(f"pipec generated invalid Python in {path}: {exc}\n{code}") from exc


def _support_pieces(support: Support) -> list[CarriedPiece]:
    return [CarriedPiece(code.rstrip()) for code in (*support.imports, *support.definitions)]


def _render_mapped(
    render: Callable[..., str],
    source_text: str | None,
    pieces: Sequence[CarriedPiece],
) -> str:
    """Render a script, then again with the table of the lines it carries from the source.

    The table sits in the script's last statement, so adding it moves no line it maps.
    """
    draft = _tidy(render(lines=()))
    if source_text is None:
        return draft
    user_part = draft[: draft.index(_RUNNER_FIRST_LINE)]
    table = [r.as_tuple() for r in map_lines(user_part, source_text, pieces)]
    return _tidy(render(lines=table))


_RUNNER_FIRST_LINE = runner_code().split("\n", 1)[0]


def emit_build(
    lowered: LoweredBuild, *, regenerate: str, source_text: str | None = None
) -> tuple[dict[str, bytes], Manifest]:
    """Relative path -> file content for the whole build folder, and the finished model.

    With ``source_text`` (the pipeline file), every script carries the table that maps its
    lines back to it, for tracebacks at the user's lines.
    """
    templates = _Templates.load()
    manifest = lowered.manifest
    pipeline = manifest.pipeline
    source_path = pipeline.source.path
    local_files = tuple(
        sorted(p.removeprefix("steps/") for p in lowered.local_files if p.startswith("steps/"))
    )
    files: dict[str, str] = {}
    for script in lowered.scripts:
        stem = script.path.removeprefix("steps/").removesuffix(".py")
        if isinstance(script, StepScript):
            component = script.component
            pieces = [*_support_pieces(component.support), CarriedPiece(component.code.rstrip())]
            render = functools.partial(
                templates.render,
                "step.py.jinja",
                step=component,
                pipeline_name=pipeline.name,
                source_path=source_path,
                regenerate=regenerate,
                script_name=f"{stem}.py",
                required=[p.name for p in component.parameters if p.required],
                parameter_names=[p.name for p in component.parameters],
                support_code=_support_code(component.support, lowered.local_names),
                local_files=local_files,
            )
        else:
            node = script.node
            function_code = _glue_function(node)
            pieces = [
                *_support_pieces(node.support),
                CarriedPiece(function_code.rstrip(), (node.location.line, node.end_line)),
            ]
            render = functools.partial(
                templates.render,
                "glue.py.jinja",
                node=node,
                controller=pipeline.function,
                pipeline_name=pipeline.name,
                source_path=source_path,
                regenerate=regenerate,
                script_name=f"{stem}.py",
                input_names=[name for name, _ in node.inputs],
                function_code=function_code,
                purpose=_PURPOSE[node.kind],
                split=_GLUE_SPLIT.get(node.kind, "dict"),
                function_name=_glue_function_name(node),
                support_code=_support_code(node.support, lowered.local_names),
                local_files=local_files,
            )
        code = _render_mapped(render, source_text, pieces)
        _check_python(script.path, code)
        files[script.path] = code
    files.update(lowered.local_files)
    if lowered.home is not None:
        files[HOME_PATH] = _home_text(lowered.home, lowered.local_names, source_path, regenerate)
        _check_python(HOME_PATH, files[HOME_PATH])

    every: dict[str, Requirement] = {}
    for path, requirements in sorted(lowered.requirements.items()):
        stem = path.removeprefix("requirements/").removesuffix(".txt")
        files[path] = _requirements_text(
            templates, manifest, regenerate, f"`steps/{stem}.py`", requirements
        )
        for requirement in requirements:
            every.setdefault(str(requirement), requirement)
    files[manifest.requirements_file] = _requirements_text(
        templates,
        manifest,
        regenerate,
        f"pipeline `{pipeline.name}`",
        [every[k] for k in sorted(every, key=str.lower)],
    )

    hashes = {path: hashlib.sha256(files[path].encode()).hexdigest() for path in files}
    manifest = replace(
        manifest,
        nodes=tuple(replace(node, code_sha256=hashes[node.script]) for node in manifest.nodes),
    )
    files[MANIFEST_NAME] = (
        json.dumps(encode_manifest(manifest), indent=2, ensure_ascii=False) + "\n"
    )
    return {path: text.encode("utf-8") for path, text in sorted(files.items())}, manifest


def _home_text(home: Support, local: frozenset[str], source_path: str, regenerate: str) -> str:
    header = (
        f"# Generated by pipec {__version__} from {source_path}: its classes and functions.\n"
        f"# Do not edit: change {source_path} and regenerate with `{regenerate}`.\n"
        '"""The home of the pipeline file\'s classes and functions (see docs/build-output.md)."""\n'
    )
    return _tidy(header + "\n" + _support_code(home, local) + "\n")


def generator_name() -> str:
    """What the manifest names as its writer: this pipec and its version."""
    return f"pipec {__version__}"
