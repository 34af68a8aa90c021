"""Tracing glue: controller statements queued into glue nodes, and the nodes themselves."""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence

import libcst as cst

from pipec.compiler import (
    clearml_handles,
    module_aliases,
    rules,
    trace_imports,
    trace_sharing,
    trace_values,
)
from pipec.compiler import trace_statements as statements
from pipec.compiler.analyse import collect_support
from pipec.compiler.call_effects import changed_places, names_calls_may_change
from pipec.compiler.equality_copies import refuse_equality_of_copies
from pipec.compiler.frame_reads import parameter_locals, parameter_names
from pipec.compiler.generator_values import made_generators
from pipec.compiler.identity_copies import refuse_identity_of_copies
from pipec.compiler.import_kinds import holds_module, mutable_module_value
from pipec.compiler.ir import RETURN_OUTPUT, GlueNode
from pipec.compiler.kept_ids import refuse_ids_across_nodes
from pipec.compiler.module_state import check_module_state
from pipec.compiler.shared_inputs import share_inputs
from pipec.compiler.syntax import (
    ImpureCallFinder,
    Replacer,
    contains,
    getattr_names,
    mutated_names,
    names_of,
    within,
)
from pipec.compiler.trace_state import (
    UNBOUND,
    Context,
    PendingGlue,
)
from pipec.manifest import (
    Binding,
    Guard,
    NodeKind,
    OutputRef,
    Select,
    SelectOption,
    binding_sources,
)

__all__ = [
    "add_glue",
    "add_node",
    "dynamic_use",
    "flush",
    "glue_statement",
    "hoist",
    "read_bindings",
    "ordering",
]


def ordering(t: Context, after: list[str], inputs: Sequence[tuple[str, Binding]]) -> list[str]:
    fed: set[str] = set()
    for _, binding in inputs:
        fed |= binding_sources(binding)[0]
    after = [*after, *t.frame.barriers]
    return [a for a in dict.fromkeys(after) if a not in fed]


def add_glue(
    t: Context,
    statement: cst.BaseStatement,
    original: cst.CSTNode,
    extra_writes: Sequence[str] = (),
    replaced: Mapping[cst.CSTNode, str] | None = None,
) -> None:
    replaced = replaced or {}
    skip = [t.source.extent(unit) for unit in replaced if unit in t.source.positions]
    pending = t.graph.pending
    for kind, use in t.name_uses(original, skip):
        name = use.value
        if kind == "local":
            pending.reads.append(name)
        elif kind == "global":
            if not dynamic_use(t, name, use):
                pending.globals.add(name)
        elif kind == "undefined":
            t.reporter.report(rules.UNDEFINED_NAME, t.location(use), name=name)
    pending.reads.extend(replaced.values())
    for name in getattr_names(statement):
        if name in t.components:
            t.reporter.report(rules.STEP_FROM_GETATTR, t.location(original), step=name)
    if isinstance(statement, cst.BaseCompoundStatement):
        # A name assigned under an `if` or in a loop keeps its earlier value when that code does
        # not run: the node needs the earlier value as an input.
        pending.reads.extend(
            name
            for name in t.writes(original)
            if name in t.frame.env and name not in pending.writes
        )
    body = statement.body if isinstance(statement, cst.SimpleStatementLine) else []
    # The simple statements inside an `if` or a loop of glue change values as one outside does.
    lines = _simple_lines(statement)
    smalls = [small for line in lines for small in line.body]
    augmented = [  # `x += y` changes a list in place
        s.target.value
        for s in smalls
        if isinstance(s, cst.AugAssign) and isinstance(s.target, cst.Name)
    ]
    # `x += y` reads `x` too (the scope analysis records only its assignment).
    pending.reads.extend(name for name in augmented if name in t.frame.env)
    # A call may change the controller's own values in place (`normalize(d)`, `xs.pop()`).
    own = {*t.frame.env, *pending.writes, *t.writes(original)}
    # A module the controller imported is not a value a call changes (`json.dumps(x)`).
    reading = trace_sharing.reading_functions(t)
    may_change = [
        name for name in names_calls_may_change(statement, reading) if name not in t.imports
    ]
    called = [name for name in may_change if name in own]
    # A module-level list or dict handed to such a call (`bump(LIMITS)`) would change in the
    # glue's process only, while every other script (and compile-time folding) keeps the old one.
    module_values = [
        name
        for name in may_change
        if name not in own
        and name in t.source.global_bindings()
        and isinstance(t.constant(name), (list, dict, set))
    ]
    mutated = [name for line in lines for name in mutated_names(line)]
    # A module is imported afresh by every script: it is no value to hand on. A change in
    # place of a local module's list through it (`config.LIMITS.append(x)`) would stay in this
    # script's copy.
    for module in dict.fromkeys(name for name in mutated if holds_module(t, name)):
        for reached in _module_values_changed(smalls, module):
            if mutable_module_value(t, reached):
                t.reporter.report(
                    rules.MUTATED_MODULE_VALUE,
                    t.location(original),
                    name=reached,
                    lower=_lower(reached),
                )
    mutated = [name for name in mutated if not holds_module(t, name)]
    assigned = {*pending.writes, *t.writes(original)}
    exported: list[str] = []
    for changed in dict.fromkeys([*mutated, *augmented, *called, *module_values]):
        if changed in assigned:
            exported += _reached_in_block(t, changed, statement, original, assigned)
        if changed in t.frame.env:
            trace_values.refuse_shared_change(
                t,
                changed,
                original,
                _changes_inside(smalls),
                trace_sharing.shallow_change(statement, changed),
                trace_sharing.changes_one_item(statement, changed),
            )
        elif changed in t.source.global_bindings() and not _names_code(t, changed):
            t.reporter.report(
                rules.MUTATED_MODULE_VALUE,
                t.location(original),
                name=changed,
                lower=_lower(changed),
            )
    for target, name in [
        *trace_sharing.module_objects_changed(t, original),
        *module_aliases.changed_through_alias(t, original),
    ]:
        t.reporter.report(
            rules.MODULE_OBJECT_CHANGED,
            t.location(target),
            target=t.source.code(target).strip(),
            name=name,
        )
    for call, changed, name in module_aliases.changed_by_method(t, original):
        t.reporter.report(rules.MODULE_OBJECT_CHANGED, t.location(call), target=changed, name=name)
    for call, function, name in trace_sharing.module_values_changed(t, original):
        t.reporter.report(
            rules.MODULE_VALUE_CHANGED_BY_CALL, t.location(call), function=function, name=name
        )
    for written in [*extra_writes, *t.writes(original), *mutated, *called, *exported]:
        if written not in pending.writes:
            pending.writes.append(written)
    finder = ImpureCallFinder()
    statement.visit(finder)
    # In a map body, printing is refused above and the instances have no order to keep: a call
    # there is computation (`json.dumps(item)`), not an effect to order or replay.
    pending.effects = pending.effects or (finder.impure and t.frame.map is None)
    if finder.prints and t.frame.map is not None:
        t.reporter.report(rules.PRINT_IN_RUNTIME_LOOP, t.location(original))
    if any(isinstance(s, (cst.Assert, cst.Raise)) for s in body) or contains(statement, cst.Raise):
        pending.barrier = True
    if any(isinstance(s, cst.Return) for s in body):
        pending.returns = True
    pending.statements.append(statement)
    pending.originals.append(original)


def _simple_lines(statement: cst.BaseStatement) -> list[cst.SimpleStatementLine]:
    """`statement` itself if it is a simple line, else the simple lines inside it (not those
    of a function or class it defines: they run later, if ever)."""

    class _Lines(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[cst.SimpleStatementLine] = []

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
            self.found.append(node)
            return False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

    finder = _Lines()
    statement.visit(finder)
    return finder.found


def _reached_in_block(
    t: Context,
    changed: str,
    statement: cst.BaseStatement,
    original: cst.CSTNode,
    assigned: set[str],
) -> list[str]:
    """For `changed`, assigned earlier in this glue block and now changed in place: refuse the
    change where it reaches a module-level value or a value another name shares; return the
    controller names it reaches, which the glue must hand on changed (`rows = [xs]` then
    `rows[0].append(0)` changes `xs`)."""
    pending = t.graph.pending
    shallow = trace_sharing.shallow_change(statement, changed)
    reached = trace_sharing.reached_in_block(
        t, changed, [*pending.statements, statement], assigned, shallow
    )
    exported = []
    for source, same in reached:
        if source not in t.frame.env:
            t.reporter.report(
                rules.MUTATED_MODULE_VALUE, t.location(original), name=source, lower=_lower(source)
            )
            continue
        trace_values.refuse_shared_change(t, source, original, deep=not (same and shallow))
        if _local(t, source):
            exported.append(source)
    return exported


def _lower(name: str) -> str:
    """A controller variable's name for a copy of module-level `name` (`config.LIMITS`)."""
    return name.rpartition(".")[2].lower()


def _module_values_changed(smalls: Sequence[cst.BaseSmallStatement], module: str) -> Iterator[str]:
    """`module.a` for each change in place of the value `module.a` holds: `module.a.append(x)`,
    `module.a[k] = v`, `module.a[k] += v`, `del module.a[k]` (not `module.a = v`: PC613's)."""
    for small in smalls:
        targets, receivers = changed_places(small)
        called = bool(receivers)  # the object the method is called on changes
        for target in targets or receivers:
            inner = target
            while isinstance(inner, (cst.Subscript, cst.Attribute)):
                value = inner.value
                if (
                    (called or inner is not target)
                    and isinstance(inner, cst.Attribute)
                    and isinstance(value, cst.Name)
                    and value.value == module
                ):
                    yield f"{module}.{inner.attr.value}"
                inner = value


def _names_code(t: Context, name: str) -> bool:
    """Whether module-level `name` is bound only by imports, `def` and `class`: calling its
    methods (`sys.exit(1)`, `logger.info(...)`) is not changing a value the controller copied."""
    kinds = (cst.Import, cst.ImportFrom, cst.FunctionDef, cst.ClassDef)
    return all(
        isinstance(getattr(a, "node", None), kinds)
        for a in t.source.global_scope.assignments
        if a.name == name
    )


def _changes_inside(body: Sequence[cst.BaseSmallStatement]) -> bool:
    """Whether a statement may change an object held inside a name (`bag[0].append(x)`,
    `run.model.fit()`), not only the object the name holds (`bag.append(x)`, `bag[0] = x`)."""
    for small in body:
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if isinstance(func, cst.Attribute) and not isinstance(func.value, cst.Name):
                return True
        targets: list[cst.BaseExpression] = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, cst.AnnAssign):
            targets = [small.target]
        elif isinstance(small, cst.AugAssign) and isinstance(
            small.target, (cst.Subscript, cst.Attribute)
        ):
            return True  # `bag[0] += [x]` adds to the list inside `bag` (`list.__iadd__`)
        for target in targets:
            if isinstance(target, (cst.Subscript, cst.Attribute)) and not isinstance(
                target.value, cst.Name
            ):
                return True
    return False


def sort_reads(
    t: Context,
    uses: Iterable[tuple[str, cst.Name]],
    bound: Container[str],
    reads: list[str],
    globals_read: set[str],
) -> bool:
    """Add the controller's names `uses` read (not those in `bound`) to `reads` and the module's
    to `globals_read`; False after reporting an undefined name."""
    for kind, use in uses:
        if kind == "local" and use.value not in bound:
            reads.append(use.value)
        elif kind == "global" and not dynamic_use(t, use.value, use):
            globals_read.add(use.value)
        elif kind == "undefined":
            t.reporter.report(rules.UNDEFINED_NAME, t.location(use), name=use.value)
            return False
    return True


def dynamic_use(t: Context, name: str, anchor: cst.CSTNode) -> bool:
    """Report a step or the controller used as a value rather than called by name."""
    if name in t.components:
        t.reporter.report(rules.STEP_USED_AS_VALUE, t.location(anchor), step=name)
        return True
    if name == t.controller.name:
        t.reporter.report(rules.RECURSIVE_CONTROLLER, t.location(anchor))
        return True
    return False


def read_bindings(
    t: Context,
    reads: Sequence[str],
    writes: Sequence[str],
    anchor: cst.CSTNode,
    hoisted: list[cst.BaseStatement] | None = None,
    unbound: list[cst.BaseStatement] | None = None,
) -> list[tuple[str, Binding]] | None:
    """The inputs of a node that reads `reads`; names a controller `import` bound add their
    import line to `hoisted` instead; names unbound on some paths add to `unbound` the
    statement that unbinds them there (without it, reading one fails on those paths)."""
    inputs: list[tuple[str, Binding]] = []
    ok = True
    derived: list[cst.BaseStatement] = []
    taken_from: list[str] = []
    for read in dict.fromkeys(reads):
        line = trace_imports.hoisted_import(t, read) if hoisted is not None else None
        if line is not None:
            hoisted.append(line)  # type: ignore[union-attr]
            continue
        logger = clearml_handles.rederived(t, read) if hoisted is not None else None
        if logger is not None and logger.task is not None:
            # A Logger does not pickle: the node reads its Task and takes it again from that.
            derived.append(
                cst.parse_statement(f"{logger.line}  # taken again: a Logger does not pickle\n")
            )
            taken_from.append(logger.task)
            continue
        symbol = t.frame.env.get(read)
        if symbol is None and read in writes:
            continue  # assigned earlier in the same block
        split = (
            trace_values.split_unbound(symbol)
            if unbound is not None and isinstance(symbol, (OutputRef, Select))
            else None
        )
        if split is not None and unbound is not None:
            # Unbound on some paths: the glue unbinds it there itself, so reading it fails
            # where Python's would, and code that does not read it (`if flag: print(y)`) runs.
            flag = f"_pipec_bound_{read}"
            inputs.extend([(read, split[0]), (flag, split[1])])
            unbound.append(
                cst.parse_statement(
                    f"if not {flag}:  # unbound on this path, as in the controller\n"
                    f"    del {read}\n"
                )
            )
            continue
        binding = trace_values.binding_of(t, symbol, anchor, read)
        if binding is None:
            ok = False
        else:
            inputs.append((read, binding))
    for task in dict.fromkeys(taken_from):
        if all(name != task for name, _ in inputs):
            binding = trace_values.binding_of(t, t.frame.env.get(task), anchor, task)
            if binding is None:
                ok = False
            else:
                inputs.append((task, binding))
    if hoisted is not None:
        hoisted.extend(derived)
    return inputs if ok else None


def flush(t: Context) -> str | None:
    """Turn the queued glue statements into one glue node; its name, if one was made."""
    pending = t.graph.pending
    if not pending.statements:
        return None
    t.graph.pending = PendingGlue()
    if pending.barrier and t.frame.map is not None:
        t.reporter.report(rules.CHECK_IN_RUNTIME_LOOP, t.location(pending.originals[0]))
    hoisted: list[cst.BaseStatement] = []
    unbound: list[cst.BaseStatement] = []
    inputs = read_bindings(t, pending.reads, pending.writes, pending.originals[0], hoisted, unbound)
    if inputs is None:
        return None
    # A name only an `if` or a loop of this glue binds, and nothing bound before, may be unbound
    # when the glue ends: the glue says whether it is, and a condition node decides on it.
    maybe = (
        [
            w
            for w in pending.writes
            if _may_be_unbound(t, w) and _local(t, w) and not _surely_bound(pending, w)
        ]
        # A glue that returns ends the controller: nothing after it reads its names.
        if t.frame.map is None and not pending.returns
        else []
    )
    loggers = clearml_handles.loggers_at_end(t, pending.originals, pending.writes)
    maybe = [w for w in maybe if w not in loggers]
    checks = [_bound_check(w) for w in maybe]
    outputs = [
        *(w for w in pending.writes if w not in loggers),
        *(f"_pipec_bound_{w}" for w in maybe),
    ]
    if pending.returns:
        outputs.append(RETURN_OUTPUT)
    name = t.numbered("glue")
    add_node(
        t,
        name,
        NodeKind.GLUE,
        (*hoisted, *unbound, *pending.statements, *checks),
        None,
        inputs,
        tuple(outputs),
        pending.originals,
        pending.globals,
        pending.effects,
    )
    for written in pending.writes:
        t.frame.env[written] = OutputRef(name, written)
    trace_sharing.record_glue(t, name, pending.statements, inputs, pending.writes)
    made_generators(t, pending.statements, pending.originals, name)
    clearml_handles.keep_loggers(t, loggers)
    check_module_state(t, name, pending.originals)
    for written in maybe:
        flag = f"_pipec_bound_{written}"
        condition = t.numbered("if")
        add_node(
            t,
            condition,
            NodeKind.CONDITION,
            (),
            cst.Name(flag),
            [(flag, OutputRef(name, flag))],
            ("decision",),
            pending.originals,
            set(),
            False,
        )
        bound, unbound_here = Guard(condition, True), Guard(condition, False)
        t.frame.env[written] = Select(
            (
                SelectOption((*t.frame.guards, bound), OutputRef(name, written)),
                SelectOption((*t.frame.guards, unbound_here), OutputRef(UNBOUND, written)),
            )
        )
    return name


def _may_be_unbound(t: Context, name: str) -> bool:
    """Whether `name` is unbound before the glue on some path (or on all)."""
    symbol = t.frame.env.get(name)
    return symbol is None or (
        isinstance(symbol, (OutputRef, Select)) and trace_values.split_unbound(symbol) is not None
    )


def _local(t: Context, name: str) -> bool:
    """Whether the controller (or a comprehension or helper it runs) assigns `name`."""
    scopes = [s for s in (t.controller_scope, *t.inner_scopes) if s is not None]
    return any(a.name == name for s in scopes for a in s.assignments)


def _surely_bound(pending: PendingGlue, name: str) -> bool:
    """Whether a statement of the glue that always runs binds `name` (`name = ...`)."""
    for statement in pending.statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                targets: list[cst.BaseExpression] = []
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    targets = [small.target]
                if any(name in names_of(target) for target in targets):
                    return True
    return False


def _bound_check(name: str) -> cst.BaseStatement:
    # Reading a local can only fail as unbound; a bare `except` reads no name the user's
    # module could shadow.
    return cst.parse_statement(
        f"try:\n"
        f"    {name} = {name}  # raises when unbound\n"
        f"except:  # noqa: E722  (unbound on this path)\n"
        f"    {name}, _pipec_bound_{name} = None, False\n"
        f"else:\n"
        f"    _pipec_bound_{name} = True\n"
    )


def add_node(
    t: Context,
    name: str,
    kind: NodeKind,
    statements: tuple[cst.BaseStatement, ...],
    expression: cst.BaseExpression | None,
    inputs: list[tuple[str, Binding]],
    outputs: tuple[str, ...],
    originals: Sequence[cst.CSTNode],
    globals_read: set[str],
    effects: bool,
) -> None:
    after = list(t.frame.last_effects) if effects and t.frame.map is None else []
    after = ordering(t, after, inputs)
    refuse_identity_of_copies(t, statements, expression, inputs, originals)
    refuse_equality_of_copies(t, statements, expression, inputs, originals)
    refuse_ids_across_nodes(t, statements, expression, inputs, originals)
    if kind is not NodeKind.MAP:  # a map's iterable is an expression with no statements
        sharing = share_inputs(inputs, "_pipec_shared_")
        inputs, statements = sharing.inputs, (*sharing.prelude, *statements)
    first, last = originals[0], originals[-1]
    code = "".join(
        t.source.code(o) if isinstance(o, cst.BaseStatement) else t.source.code(o) + "\n"
        for o in originals
        if o in t.source.positions
    )
    own: list[cst.CSTNode] = list(statements) if expression is None else [expression]
    support = collect_support(
        t.source, t.parsed, globals_read, own, t.reporter, "controller code", originals
    )
    unpickling = clearml_handles.unpickling_modules(t, [name for name, _ in inputs])
    if unpickling:
        support = dataclasses.replace(
            support, modules=tuple(sorted({*support.modules, *unpickling}))
        )
    end = t.source.extent(last) if last in t.source.positions else None
    location = t.location(first)
    for reached in support.components:
        t.reporter.report(rules.STEP_REACHED_THROUGH_MODULE_CODE, location, step=reached)
    t.graph.nodes.append(
        GlueNode(
            name=name,
            kind=kind,
            statements=statements,
            expression=expression,
            inputs=tuple(inputs),
            outputs=outputs,
            after=tuple(after),
            when=t.frame.guards,
            map=t.frame.map,
            effects=effects,
            location=location,
            end_line=end.end.line if end else location.line,
            source_code=code,
            support=support,
        )
    )
    if effects and t.frame.map is None:
        t.frame.last_effects = (name,)
    # Any controller code may raise (`a / 0`, a missing key, a failed `assert`); in Python that
    # stops everything after it, so every later node waits for this one to succeed.
    t.frame.barriers = (name,)


def rebind(
    t: Context,
    name: str,
    anchor: cst.CSTNode,
    code: str | None = None,
    more: Sequence[tuple[str, Binding]] = (),
) -> None:
    """A glue node that hands on controller value `name` as one value (whatever path made it),
    after running `code` on it and on `more`; `name` then holds that node's output."""
    node = t.numbered("glue")
    add_node(
        t,
        node,
        NodeKind.GLUE,
        () if code is None else (cst.parse_statement(code),),
        None,
        [(name, trace_values.as_binding(t.frame.env[name])), *more],
        (name,),
        [anchor],
        set(),
        False,
    )
    t.frame.env[name] = OutputRef(node, name)


def hoist(
    t: Context, node: cst.CSTNode, done: Sequence[cst.CSTNode] = ()
) -> dict[cst.CSTNode, str] | None:
    """Trace the step calls inside `node` first (except inside `done`, already traced); map
    each to the name that replaces it."""
    skip = [t.source.extent(d) for d in done if d in t.source.positions]
    units = [
        u
        for u in t.units(node)
        if u not in t.source.positions or not any(within(t.source.extent(u), s) for s in skip)
    ]
    replaced: dict[cst.CSTNode, str] = {}
    if units:
        flush(t)
    for unit in units:
        component = t.component_of(unit) if isinstance(unit, cst.Call) else None
        if component is not None:
            base = f"{component.step_name}_result"
        elif isinstance(unit, cst.Call) and isinstance(unit.func, cst.Name):
            base = f"{unit.func.value}_result"  # a helper that calls steps, inlined
        else:
            base = "values"
        symbol = trace_values.structured(t, unit, base)
        binding = trace_values.binding_of(t, symbol, unit, base) if symbol is not None else None
        if binding is None:
            return None
        temp = t.temporary(base)
        t.frame.env[temp] = binding
        replaced[unit] = temp
    # `PipelineParams(**locals())` first thing in the controller: the dict of its parameters.
    if t.parameter_locals is None:
        t.parameter_locals = parameter_locals(t.source, t.controller.function)
    for call in t.parameter_locals:
        if node in t.source.positions and within(t.source.extent(call), t.source.extent(node)):
            names = parameter_names(t.controller.function)
            entries = {
                n: trace_values.as_binding(t.frame.env[n]) for n in names if n in t.frame.env
            }
            temp = t.temporary("locals_dict")  # the name messages give it
            t.frame.env[temp] = trace_values.make_dict(entries)
            replaced[call] = temp
    return replaced


def glue_statement(
    t: Context,
    small: cst.BaseSmallStatement | cst.BaseCompoundStatement,
    original: cst.CSTNode,
    leading_lines: Sequence[cst.EmptyLine] = (),
    extra_writes: Sequence[str] = (),
) -> None:
    """Queue a statement for the current glue block, after tracing the steps it calls."""
    replaced = hoist(t, small)
    if replaced is None:
        statements.poison(t, original)  # the error is reported; later uses stay quiet
        return
    statement: cst.CSTNode = small
    if replaced:
        statement = cst.ensure_type(small.visit(Replacer(replaced)), type(small))
    line: cst.BaseStatement
    if isinstance(statement, cst.BaseSmallStatement):
        line = cst.SimpleStatementLine(
            body=[statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
            leading_lines=leading_lines,
        )
    else:
        assert isinstance(statement, cst.BaseCompoundStatement)
        line = statement
    add_glue(t, line, original, extra_writes=extra_writes, replaced=replaced)
