"""Pass 4, lowering: the traced controller becomes the build model (`pipec.manifest.Manifest`).

This pass owns the build's policies, so that emit only renders what it decides: the name of
each script, what each script requires, which local modules it carries, which glue is cached,
where a node's queue comes from, and how the traced graph becomes the manifest's edges.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from pipec.compiler import rules
from pipec.compiler.analyse import Component, OptionValue, Support
from pipec.compiler.diagnostics import Reporter
from pipec.compiler.ir import GlueNode, StepNode, Trace
from pipec.compiler.local_modules import LocalIndex, ProjectFiles
from pipec.compiler.pipeline import PipelineInfo
from pipec.compiler.pipeline_module import HOME_PATH
from pipec.compiler.requirements import (
    Environment,
    Requirement,
    declared,
    parse_requirements_text,
    resolve_alternatives,
    resolve_requirements,
)
from pipec.literals import Literal
from pipec.manifest import (
    Edge,
    EdgeKind,
    Location,
    Manifest,
    Node,
    NodeKind,
    Parameter,
    Pipeline,
    binding_sources,
)

__all__ = ["GlueScript", "LoweredBuild", "Script", "StepScript", "lower"]


@dataclass(frozen=True)
class StepScript:
    """`steps/<stem>.py` for a component: every node that calls it runs this one script."""

    path: str
    component: Component


@dataclass(frozen=True)
class GlueScript:
    """`steps/<stem>.py` for one glue, condition or map node of the controller."""

    path: str
    node: GlueNode


Script = StepScript | GlueScript


@dataclass(frozen=True)
class LoweredBuild:
    """The model of the build and what emit renders beside it."""

    manifest: Manifest  # code_sha256 is empty: emit fills it from each rendered script
    scripts: tuple[Script, ...]
    requirements: Mapping[str, tuple[Requirement, ...]]  # requirements file -> its requirements
    local_files: Mapping[str, str]  # path under the build folder -> text of a local module
    local_names: frozenset[str]  # top-level names of the local modules the build carries
    home: Support | None = None  # steps/_pipec_pipeline.py: the pipeline file's definitions


def lower(
    pipeline: PipelineInfo,
    components: Mapping[str, Component],
    trace: Trace,
    *,
    source_path: str,
    generator: str,
    local: LocalIndex,
    environment: Environment,
    project: ProjectFiles,
    reporter: Reporter,
    pins: str = "exact",
    home: Support | None = None,
) -> LoweredBuild:
    """The build model of a traced pipeline; requirement problems go to `reporter`.

    `home` is the code of steps/_pipec_pipeline.py, when the build has one.
    """
    script_modules: dict[str, set[str]] = {}  # component or glue node -> modules it imports
    alternatives: dict[str, tuple[tuple[str, ...], ...]] = {}  # ... -> `except ImportError` groups
    for traced in trace.nodes:
        if isinstance(traced, StepNode):
            support = components[traced.component].support
            script_modules.setdefault(traced.component, set(support.modules))
            alternatives.setdefault(traced.component, support.alternatives)
        else:
            script_modules[traced.name] = set(traced.support.modules)
            alternatives[traced.name] = traced.support.alternatives
    locals_of: dict[str, set[str]] = {}
    imports_of: dict[str, set[str]] = {}
    for key, imported in script_modules.items():
        locals_of[key], imports_of[key] = local.closure(imported)
    needed: set[str] = set().union(*locals_of.values())
    reserved = {m.split(".")[0] for mods in imports_of.values() for m in mods} | local.known
    stems = _script_stems(trace, reserved - set(script_modules))

    requirements = _requirements(
        trace,
        components,
        stems,
        imports_of,
        alternatives,
        needed | local.known,
        environment,
        project,
        reporter,
        pins,
    )
    local_paths = {
        stems[key]: tuple(sorted(f"steps/{relative}" for relative, _ in local.files(names)))
        for key, names in locals_of.items()
    }
    if home is not None:
        local_paths = _with_home(trace, stems, local_paths)
    cached_glue = _cached_glue(trace, components)
    location = Location(source_path, pipeline.line, pipeline.column)
    imports = {  # what a warm start may preload: never a local module, which is user code
        stems[key]: tuple(sorted(m for m in found if m.split(".")[0] not in local.known))
        for key, found in imports_of.items()
    }
    nodes = tuple(
        _model_node(
            traced,
            components,
            stems,
            requirements,
            local_paths,
            imports,
            cached_glue,
            pipeline,
            source_path,
        )
        for traced in trace.nodes
    )
    scripts: list[Script] = [
        StepScript(f"steps/{stems[name]}.py", components[name])
        for name in sorted({n.component for n in trace.nodes if isinstance(n, StepNode)})
    ]
    scripts += [
        GlueScript(f"steps/{stems[n.name]}.py", n) for n in trace.nodes if isinstance(n, GlueNode)
    ]
    manifest = Manifest(
        generator=generator,
        pipeline=Pipeline(
            name=pipeline.name,
            project=pipeline.project,
            version=pipeline.version,
            function=pipeline.function,
            abort_on_failure=pipeline.abort_on_failure,
            default_queue=pipeline.default_queue,
            options=_options(pipeline.options),
            source=location,
        ),
        parameters=tuple(
            Parameter(
                name=p.name,
                annotation=p.annotation,
                default=Literal.of(p.default) if p.has_default else None,
                required=not p.has_default,
            )
            for p in pipeline.parameters
        ),
        nodes=nodes,
        edges=_edges(trace),
        result=trace.result,
        requirements_file="requirements.txt",
        python=environment.python_version(),
    )
    return LoweredBuild(
        manifest=manifest,
        scripts=tuple(scripts),
        requirements={f"requirements/{stem}.txt": reqs for stem, reqs in requirements.items()},
        local_files={f"steps/{relative}": text for relative, text in local.files(needed)},
        local_names=frozenset(needed),
        home=home,
    )


def _with_home(
    trace: Trace, stems: Mapping[str, str], local_paths: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """A node given another node's output may run code of the home (the methods of a class
    its script does not carry), so the home is one of its local modules: in its cache key."""
    paths = dict(local_paths)
    for traced in trace.nodes:
        if any(binding_sources(binding)[0] for _, binding in traced.inputs):
            stem = stems[_script_key(traced)]
            paths[stem] = tuple(sorted({*paths.get(stem, ()), HOME_PATH}))
    return paths


def _script_stems(trace: Trace, reserved: set[str]) -> dict[str, str]:
    """Script stem for each used component and glue node; never one that would shadow an import."""
    stems: dict[str, str] = {}
    taken = set(reserved)
    for traced in trace.nodes:
        key = _script_key(traced)
        if key in stems:
            continue
        stem = key
        while stem in taken or stem in sys.stdlib_module_names:
            stem = f"{stem}_step" if isinstance(traced, StepNode) else f"{stem}_"
        taken.add(stem)
        stems[key] = stem
    return stems


def _script_key(traced: StepNode | GlueNode) -> str:
    """Steps share their component's script; each glue node has its own."""
    return traced.component if isinstance(traced, StepNode) else traced.name


def _requirements(
    trace: Trace,
    components: Mapping[str, Component],
    stems: Mapping[str, str],
    imports_of: Mapping[str, set[str]],
    alternatives: Mapping[str, tuple[tuple[str, ...], ...]],
    local_names: set[str],
    environment: Environment,
    project: ProjectFiles,
    reporter: Reporter,
    pins: str,
) -> dict[str, tuple[Requirement, ...]]:
    """Script stem -> requirements: `packages=` wins, else the script's imports resolved."""
    found: dict[str, tuple[Requirement, ...]] = {}
    for traced in trace.nodes:
        key = _script_key(traced)
        if stems[key] in found:
            continue
        component = components[traced.component] if isinstance(traced, StepNode) else None
        resolved: list[Requirement]
        if component is not None and component.packages is not None:
            resolved = [declared(spec) for spec in component.packages]
        elif component is not None and component.packages_file is not None:
            resolved = _packages_file(component, project, reporter)
        elif component is not None and (
            component.repository_requirements
            and (repository := _repository_requirements(component, project, reporter)) is not None
        ):
            resolved = repository
        else:
            resolved = resolve_requirements(imports_of[key], environment, local_names, pins)
            where = traced.location if component is None else component.location
            for requirement in resolved:
                name = requirement.distribution
                if requirement.origin == "guessed":
                    reporter.report_once(
                        f"guessed:{name}", rules.GUESSED_REQUIREMENT, where, distribution=name
                    )
                elif requirement.origin == "project":
                    reporter.report_once(
                        f"project-module:{name}", rules.PROJECT_MODULE_NOT_FOUND, where, name=name
                    )
            resolved = [r for r in resolved if r.origin != "project"]
            named = {_canonical_name(r.distribution) for r in resolved}
            resolved += [
                r
                for r in resolve_alternatives(alternatives[key], environment, local_names, pins)
                if _canonical_name(r.distribution) not in named
            ]
        if isinstance(traced, GlueNode):
            # Glue loads what steps made (a model, a DataFrame): it needs their packages to
            # unpickle, but not the ClearML client a step used to talk to its server.
            for _, binding in traced.inputs:
                for producer in sorted(binding_sources(binding)[0]):
                    producer_stem = stems[_script_key(trace.node(producer))]
                    resolved.extend(
                        r
                        for r in found.get(producer_stem, ())
                        if _canonical_name(r.distribution) != "clearml"
                        and r.origin != "alternative"
                    )
            resolved = sorted(set(resolved), key=lambda r: (r.distribution.lower(), r.specifier))
        found[stems[key]] = tuple(resolved)
    _add_unpickling_requirements(trace, components, stems, found)
    return found


def _add_unpickling_requirements(
    trace: Trace,
    components: Mapping[str, Component],
    stems: Mapping[str, str],
    found: dict[str, tuple[Requirement, ...]],
) -> None:
    """A step loads what earlier steps made (a model, a DataFrame) even when its own code imports
    nothing of theirs: it needs their packages to unpickle, as glue does. A step whose packages
    are declared (`packages=`, a requirements file) keeps exactly those."""
    for traced in trace.nodes:
        if not isinstance(traced, StepNode):
            continue
        component = components[traced.component]
        if (
            component.packages is not None
            or component.packages_file is not None
            or component.repository_requirements
        ):
            continue
        stem = stems[_script_key(traced)]
        added = set(found[stem])
        for _, binding in traced.inputs:
            for producer in sorted(binding_sources(binding)[0]):
                producer_stem = stems[_script_key(trace.node(producer))]
                if producer_stem == stem:
                    continue
                added.update(
                    r
                    for r in found.get(producer_stem, ())
                    if _canonical_name(r.distribution) != "clearml" and r.origin != "alternative"
                )
        found[stem] = tuple(sorted(added, key=lambda r: (r.distribution.lower(), r.specifier)))


def _canonical_name(distribution: str) -> str:
    return distribution.lower().replace("_", "-")


def _packages_file(
    component: Component, project: ProjectFiles, reporter: Reporter
) -> list[Requirement]:
    assert component.packages_file is not None
    option = component.options["packages"]
    text = project.read_text(component.packages_file)
    if text is None:
        reporter.report(
            rules.PACKAGES_FILE_NOT_FOUND, option.location, path=component.packages_file
        )
        return []
    requirements, skipped = parse_requirements_text(text)
    for line in skipped:
        reporter.report(
            rules.UNSUPPORTED_REQUIREMENT_LINE,
            option.location,
            line=line,
            path=component.packages_file,
        )
    return requirements


def _repository_requirements(
    component: Component, project: ProjectFiles, reporter: Reporter
) -> list[Requirement] | None:
    """`packages=False`: ClearML installs the repository's requirements.txt instead of detecting."""
    option = component.options["packages"]
    found = project.repository_file("requirements.txt")
    if found is None:
        reporter.report_once(
            "repository-requirements", rules.REPOSITORY_REQUIREMENTS_NOT_FOUND, option.location
        )
        return None
    path, text = found
    requirements, skipped = parse_requirements_text(text)
    for line in skipped:
        reporter.report(rules.UNSUPPORTED_REQUIREMENT_LINE, option.location, line=line, path=path)
    return requirements


def _cached_glue(trace: Trace, components: Mapping[str, Component]) -> set[str]:
    """Glue that only ever sees the outputs of cached steps (and parameters) is cached too.

    Its printing is kept with its outputs and replayed on a hit, so a rerun served from the
    cache prints what the first run printed. Nothing is cached in a pipeline whose steps do
    not ask for it.
    """
    steps = {n.name: n for n in trace.nodes if isinstance(n, StepNode)}
    if not any(components[s.component].cache for s in steps.values()):
        return set()
    cached: set[str] = set()
    for traced in trace.nodes:
        if not isinstance(traced, GlueNode) or traced.kind is not NodeKind.GLUE:
            continue
        upstream = nx.ancestors(trace.graph, traced.name)
        if all(components[steps[a].component].cache for a in upstream if a in steps):
            cached.add(traced.name)
    return cached


def _model_node(
    traced: StepNode | GlueNode,
    components: Mapping[str, Component],
    stems: Mapping[str, str],
    requirements: Mapping[str, tuple[Requirement, ...]],
    local_paths: Mapping[str, tuple[str, ...]],
    imports: Mapping[str, tuple[str, ...]],
    cached_glue: set[str],
    pipeline: PipelineInfo,
    source_path: str,
) -> Node:
    stem = stems[_script_key(traced)]
    if isinstance(traced, StepNode):
        component = components[traced.component]
        function: str | None = component.function_name
        outputs = component.return_values
        options = _options(component.options)
        cache, retry, effects = component.cache, component.retry_on_failure, False
        queue = component.queue or pipeline.default_queue
    else:
        function, outputs, options = None, traced.outputs, {}
        cache, retry, effects = traced.name in cached_glue, 0, traced.effects
        # A map node fans out over the cluster like a step would; other glue runs anywhere.
        queue = pipeline.default_queue if traced.kind is NodeKind.MAP else None
    return Node(
        name=traced.name,
        kind=traced.kind,
        script=f"steps/{stem}.py",
        function=function,
        inputs=dict(traced.inputs),
        outputs=tuple(outputs),
        after=tuple(traced.after),
        effects=effects,
        # An alternative is optional (the code falls back without it): no run demands it.
        requirements=tuple(str(r) for r in requirements.get(stem, ()) if r.origin != "alternative"),
        requirements_file=f"requirements/{stem}.txt",
        options=options,
        cache=cache,
        retry_on_failure=retry,
        queue=queue,
        source=Location(source_path, traced.location.line, traced.location.column),
        code_sha256="",
        when=tuple(traced.when),
        map=traced.map,
        local_modules=local_paths.get(stem, ()),
        imports=imports.get(stem, ()),
    )


def _options(options: Mapping[str, OptionValue]) -> dict[str, object]:
    return {key: options[key].to_manifest() for key in sorted(options)}


def _edges(trace: Trace) -> tuple[Edge, ...]:
    """The traced graph's edges, ordered by their target's and then their source's program order."""
    order = {n.name: i for i, n in enumerate(trace.nodes)}
    return tuple(
        sorted(
            (Edge(a, b, EdgeKind(data["kind"])) for a, b, data in trace.graph.edges(data=True)),
            key=lambda edge: (order[edge.target], order[edge.source]),
        )
    )
