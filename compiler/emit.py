"""Pass 5: render the build folder — step and glue scripts, requirements files and the manifest."""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2
import libcst as cst
import networkx as nx

from pipec.compiler.analyse import Component, OptionValue, Support
from pipec.compiler.ir import (
    RETURN_OUTPUT,
    Binding,
    Const,
    DictOf,
    GatherRef,
    GlueNode,
    ItemRef,
    ListOf,
    NodeKind,
    OutputRef,
    ParamRef,
    Select,
    StepNode,
    Trace,
)
from pipec.compiler.literals import encode_literal
from pipec.compiler.requirements import Requirement
from pipec.step_runner import runner_code

__all__ = ["BuildPlan", "PipelineInfo", "ParameterInfo", "emit_build", "MANIFEST_SCHEMA_VERSION"]

MANIFEST_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    annotation: str | None
    default: Any  # NOT_LITERAL-free: only set when has_default
    has_default: bool


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    project: str | None
    version: str | None
    function: str
    abort_on_failure: bool
    default_queue: str | None
    options: Mapping[str, OptionValue]
    line: int
    column: int
    parameters: tuple[ParameterInfo, ...]


@dataclass(frozen=True)
class BuildPlan:
    """Everything emit needs, computed by the earlier passes."""

    source_path: str
    regenerate: str
    pipeline: PipelineInfo
    components: Mapping[str, Component]
    trace: Trace
    requirements: Mapping[str, tuple[Requirement, ...]]  # script stem -> requirements
    script_names: Mapping[str, str]  # component function or glue node -> script stem
    local_files: Mapping[str, str]  # relative path under steps/ -> text
    local_modules: Mapping[str, tuple[str, ...]]  # script stem -> local module files it imports


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
        environment.filters.update({"pytuple": _pytuple, "docstring": _docstring_safe})
        environment.globals["version"] = templates_version()
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
        return updated_node.with_changes(
            value=cst.Dict([cst.DictElement(cst.SimpleString(repr(RETURN_OUTPUT)), value)]),
            whitespace_after_return=cst.SimpleWhitespace(" "),
        )


def _glue_function(node: GlueNode) -> str:
    statements: list[cst.BaseStatement] = []
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


def _binding(binding: Binding) -> dict[str, Any]:
    if isinstance(binding, ParamRef):
        return {"param": binding.name}
    if isinstance(binding, OutputRef):
        return {"node": binding.node, "output": binding.output}
    if isinstance(binding, Const):
        return encode_literal(binding.value)
    if isinstance(binding, ListOf):
        return {"tuple" if binding.tuple else "list": [_binding(i) for i in binding.items]}
    if isinstance(binding, DictOf):
        return {"dict": [[repr(key), _binding(value)] for key, value in binding.items]}
    if isinstance(binding, Select):
        return {
            "select": [
                {
                    "when": [{"node": g.node, "value": g.value} for g in guards],
                    "binding": _binding(value),
                }
                for guards, value in binding.options
            ]
        }
    if isinstance(binding, ItemRef):
        return {"item": binding.map}
    assert isinstance(binding, GatherRef)
    return {"gather": {"map": binding.map, "node": binding.node, "output": binding.output}}


def _options(options: Mapping[str, OptionValue]) -> dict[str, Any]:
    return {key: options[key].to_manifest() for key in sorted(options)}


def _requirements_text(
    templates: _Templates, plan: BuildPlan, what: str, requirements: Sequence[Requirement]
) -> str:
    return templates.render(
        "requirements.txt.jinja",
        source_path=plan.source_path,
        regenerate=plan.regenerate,
        what=what,
        requirements=requirements,
    )


def _check_python(path: str, code: str) -> None:
    try:
        ast.parse(code, filename=path)
    except SyntaxError as exc:  # pragma: no cover - a template bug, not a user error
        raise AssertionError(f"pipec generated invalid Python in {path}: {exc}\n{code}") from exc


def emit_build(plan: BuildPlan) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Relative path -> file content for the whole build folder, and the manifest as data."""
    templates = _Templates.load()
    files: dict[str, str] = {}
    script_hashes: dict[str, str] = {}
    pipeline = plan.pipeline
    trace = plan.trace
    local_modules = frozenset(p.split("/")[0].removesuffix(".py") for p in plan.local_files)

    def add_script(stem: str, code: str) -> str:
        path = f"steps/{stem}.py"
        code = _tidy(code)
        _check_python(path, code)
        files[path] = code
        script_hashes[path] = hashlib.sha256(code.encode()).hexdigest()
        return path

    used_components = sorted({n.component for n in trace.nodes if isinstance(n, StepNode)})
    for function_name in used_components:
        component = plan.components[function_name]
        stem = plan.script_names[function_name]
        required = [p.name for p in component.parameters if p.required]
        add_script(
            stem,
            templates.render(
                "step.py.jinja",
                step=component,
                pipeline_name=pipeline.name,
                source_path=plan.source_path,
                regenerate=plan.regenerate,
                script_name=f"{stem}.py",
                required=required,
                parameter_names=[p.name for p in component.parameters],
                support_code=_support_code(component.support, local_modules),
            ),
        )
    for node in trace.nodes:
        if not isinstance(node, GlueNode):
            continue
        stem = plan.script_names[node.name]
        function_code = _glue_function(node)
        input_names = [name for name, _ in node.inputs]
        add_script(
            stem,
            templates.render(
                "glue.py.jinja",
                node=node,
                controller=pipeline.function,
                pipeline_name=pipeline.name,
                source_path=plan.source_path,
                regenerate=plan.regenerate,
                script_name=f"{stem}.py",
                input_names=input_names,
                function_code=function_code,
                purpose=_PURPOSE[node.kind],
                split={NodeKind.CONDITION: "decision", NodeKind.MAP: "explode"}.get(
                    node.kind, "dict"
                ),
                function_name=_glue_function_name(node),
                support_code=_support_code(node.support, local_modules),
            ),
        )
    for relative, text in sorted(plan.local_files.items()):
        files[f"steps/{relative}"] = text

    all_requirements: dict[str, Requirement] = {}
    for stem, requirements in sorted(plan.requirements.items()):
        files[f"requirements/{stem}.txt"] = _requirements_text(
            templates, plan, f"`steps/{stem}.py`", requirements
        )
        for requirement in requirements:
            all_requirements.setdefault(str(requirement), requirement)
    files["requirements.txt"] = _requirements_text(
        templates,
        plan,
        f"pipeline `{pipeline.name}`",
        [all_requirements[k] for k in sorted(all_requirements, key=str.lower)],
    )

    glue_cached = _cached_glue(plan)
    nodes: list[dict[str, Any]] = []
    for node in trace.nodes:
        if isinstance(node, StepNode):
            component = plan.components[node.component]
            stem = plan.script_names[node.component]
            options = _options(component.options)
            cache, retry, queue = (
                component.cache,
                component.retry_on_failure,
                component.queue or pipeline.default_queue,
            )
            outputs = list(component.return_values)
            function: str | None = component.function_name
            effects = False
        else:
            stem = plan.script_names[node.name]
            options, cache, retry, queue = {}, node.name in glue_cached, 0, None
            if node.kind is NodeKind.MAP:
                queue = pipeline.default_queue
            outputs = list(node.outputs)
            function = None
            effects = node.effects
        script = f"steps/{stem}.py"
        nodes.append(
            {
                "name": node.name,
                "kind": node.kind.value,
                "script": script,
                "function": function,
                "inputs": {name: _binding(b) for name, b in node.inputs},
                "outputs": outputs,
                "after": list(node.after),
                "when": [{"node": g.node, "value": g.value} for g in node.when],
                "map": node.map,
                "effects": effects,
                "requirements": [str(r) for r in plan.requirements.get(stem, ())],
                "requirements_file": f"requirements/{stem}.txt",
                "local_modules": list(plan.local_modules.get(stem, ())),
                "options": options,
                "cache": cache,
                "retry_on_failure": retry,
                "queue": queue,
                "source": {
                    "path": plan.source_path,
                    "line": node.location.line,
                    "column": node.location.column,
                },
                "code_sha256": script_hashes[script],
            }
        )
    order = {n.name: i for i, n in enumerate(trace.nodes)}
    edges = sorted(
        ({"from": a, "to": b, "kind": data["kind"]} for a, b, data in trace.graph.edges(data=True)),
        key=lambda e: (order[e["to"]], order[e["from"]]),
    )
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "generator": f"pipec {templates_version()}",
        "pipeline": {
            "name": pipeline.name,
            "project": pipeline.project,
            "version": pipeline.version,
            "function": pipeline.function,
            "abort_on_failure": pipeline.abort_on_failure,
            "default_queue": pipeline.default_queue,
            "options": _options(pipeline.options),
            "source": {"path": plan.source_path, "line": pipeline.line, "column": pipeline.column},
        },
        "parameters": [
            {
                "name": p.name,
                "annotation": p.annotation,
                "default": encode_literal(p.default) if p.has_default else None,
                "required": not p.has_default,
            }
            for p in pipeline.parameters
        ],
        "nodes": nodes,
        "edges": edges,
        "result": _binding(trace.result) if trace.result is not None else None,
        "requirements_file": "requirements.txt",
    }
    files["manifest.json"] = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    return {path: text.encode("utf-8") for path, text in sorted(files.items())}, manifest


def _cached_glue(plan: BuildPlan) -> set[str]:
    """Glue that only ever sees the outputs of cached steps (and parameters) is cached too.

    Its printing is kept with its outputs and replayed on a hit, so a rerun served from the
    cache prints what the first run printed. Nothing is cached in a pipeline whose steps do
    not ask for it.
    """
    trace = plan.trace
    steps = {n.name: n for n in trace.nodes if isinstance(n, StepNode)}
    if not any(plan.components[s.component].cache for s in steps.values()):
        return set()
    cached: set[str] = set()
    for node in trace.nodes:
        if not isinstance(node, GlueNode) or node.kind is not NodeKind.GLUE:
            continue
        upstream = nx.ancestors(trace.graph, node.name)
        if all(plan.components[steps[a].component].cache for a in upstream if a in steps):
            cached.add(node.name)
    return cached


def templates_version() -> str:
    from pipec import __version__

    return __version__
