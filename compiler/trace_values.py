"""Tracing values: what an expression holds at compile time, step calls and their arguments, list and dict accumulation."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from pipec.compiler import rules, trace_sharing
from pipec.compiler import trace_branches as branches
from pipec.compiler import trace_glue as glue
from pipec.compiler import trace_inline as inline
from pipec.compiler import trace_loops as loops
from pipec.compiler.analyse import Component, ParameterKind
from pipec.compiler.call_blame import relating_call
from pipec.compiler.clearml_handles import report_shared
from pipec.compiler.generator_values import refuse_generator_read, refuse_handed_on
from pipec.compiler.ir import StepNode
from pipec.compiler.later_reads import may_read_after
from pipec.compiler.literals import NOT_LITERAL
from pipec.compiler.module_state import check_step_state
from pipec.compiler.parent_causes import report_parent_not_called
from pipec.compiler.shared_inputs import holds_one_object_twice, share_inputs, shared_across
from pipec.compiler.syntax import COMPREHENSIONS, quoted_code
from pipec.compiler.trace_state import (
    UNBOUND,
    Context,
    Symbol,
    TupleResult,
    Unavailable,
)
from pipec.manifest import (
    Binding,
    Container,
    ContainerKind,
    Gather,
    Guard,
    Literal,
    NodeKind,
    OutputRef,
    Select,
    SelectOption,
)

__all__ = [
    "bind_arguments",
    "accumulate_augmented",
    "accumulate_call",
    "accumulate_item",
    "as_binding",
    "bind",
    "binding_of",
    "extended",
    "gather",
    "is_sequence",
    "item_of",
    "leaf_items",
    "list_items",
    "value_parts",
    "make_dict",
    "make_list",
    "many_choices",
    "parents",
    "refuse_shared_change",
    "shared_with",
    "split_unbound",
    "step_call",
    "structured",
]


def binding_of(t: Context, symbol: Symbol | None, node: cst.CSTNode, name: str) -> Binding | None:
    if symbol is None:
        t.reporter.report(rules.USED_BEFORE_ASSIGNED, t.location(node), name=name)
        return None
    if isinstance(symbol, TupleResult):
        return Container.of_tuple(symbol.items)
    if isinstance(symbol, Unavailable):
        if symbol.rule is not None:
            t.reporter.report(symbol.rule, t.location(node), **symbol.fields)
        return None
    # Reported, and traced on as if it could cross: the build stops with the error anyway, and
    # the names this read binds stay quiet.
    for ref in _output_refs(symbol):
        refuse_generator_read(t, ref.node, ref.output, node)
    # A name unbound on every path (`del x`) fails only where it is read: under these guards.
    return _unbound_fails(t, symbol, t.frame.guards, node)


def _output_refs(symbol: Symbol) -> list[OutputRef]:
    """The node outputs a name's value is, on the paths a `Select` stands for."""
    if isinstance(symbol, OutputRef):
        return [symbol]
    if isinstance(symbol, Select):
        return [o.binding for o in symbol.options if isinstance(o.binding, OutputRef)]
    return []


def _unbound_fails(
    t: Context, binding: Binding, when: tuple[Guard, ...], anchor: cst.CSTNode
) -> Binding:
    """`binding` with each path on which a name is unbound read from a node that fails there.

    A name assigned in one branch of an `if` only is unbound after it when the other branch ran;
    reading it raises UnboundLocalError in Python, and so does the node made here, guarded by
    that path's decisions (and skipped on the others).
    """
    if isinstance(binding, OutputRef) and binding.node == UNBOUND:
        return OutputRef(_unbound_node(t, binding.output, when, anchor), binding.output)
    # What holds no unbound name comes back as the very object: sharing is told by identity.
    if isinstance(binding, Select) and _holds_unbound(binding):
        return Select(
            tuple(
                # The failing node runs where the read runs (`when`) and the path unbound it.
                SelectOption(
                    o.when,
                    _unbound_fails(
                        t, o.binding, (*when, *(g for g in o.when if g not in when)), anchor
                    ),
                )
                for o in binding.options
            )
        )
    if isinstance(binding, Container) and _holds_unbound(binding):
        return dataclasses.replace(
            binding, items=tuple(_unbound_fails(t, i, when, anchor) for i in binding.items)
        )
    return binding


def split_unbound(binding: Binding) -> tuple[Binding, Binding] | None:
    """For a name unbound on some paths: its value (None where unbound) and whether it is
    bound, each chosen by the same decisions; None if no path leaves it unbound (or a
    container holds the unbound name)."""
    if isinstance(binding, OutputRef) and binding.node == UNBOUND:
        return Literal.of(None), Literal.of(False)
    if isinstance(binding, Select):
        values: list[SelectOption] = []
        flags: list[SelectOption] = []
        unbound = False
        for option in binding.options:
            split = split_unbound(option.binding)
            if split is None:
                if _holds_unbound(option.binding):
                    return None
                split = option.binding, Literal.of(True)
            else:
                unbound = True
            values.append(SelectOption(option.when, split[0]))
            flags.append(SelectOption(option.when, split[1]))
        return (Select(tuple(values)), Select(tuple(flags))) if unbound else None
    return None


def _holds_unbound(binding: Binding) -> bool:
    if isinstance(binding, OutputRef):
        return binding.node == UNBOUND
    if isinstance(binding, Select):
        return any(_holds_unbound(o.binding) for o in binding.options)
    if isinstance(binding, Container):
        return any(_holds_unbound(i) for i in binding.items)
    return False


def _unbound_node(t: Context, name: str, when: tuple[Guard, ...], anchor: cst.CSTNode) -> str:
    known = t.unbound_reads.get((name, when))
    if known is not None:
        return known
    glue.flush(t)  # the code before this read runs first, as in Python
    statements = _unbound_read(name)
    node = t.numbered("glue")
    outer = t.frame
    t.frame = dataclasses.replace(outer, guards=when)
    try:
        glue.add_node(
            t,
            node,
            NodeKind.GLUE,
            statements,
            None,
            [],
            (name,),
            [anchor],
            set(),
            False,
        )
    finally:
        barriers = t.frame.barriers
        t.frame = dataclasses.replace(outer, barriers=(*outer.barriers, *barriers))
    t.unbound_reads[(name, when)] = node
    return node


def _unbound_read(name: str) -> tuple[cst.BaseStatement, ...]:
    """Code after which local `name` holds nothing: the node's `return` reads it and Python
    raises its own UnboundLocalError. The assignment that never runs makes `name` a local for
    Python and a possibly bound name for linters (`del name` is reported undefined, ruff F821)."""
    assign = cst.Assign([cst.AssignTarget(cst.Name(name))], cst.Name("None"))
    comment = cst.Comment(f"# `{name}` is unbound here in the controller: reading it fails")
    never = cst.If(
        test=cst.Name("False"),
        body=cst.IndentedBlock([cst.SimpleStatementLine([assign])]),
        leading_lines=[cst.EmptyLine(comment=comment)],
    )
    return (never,)


def structured(t: Context, expr: cst.BaseExpression, what: str) -> Symbol | None:
    """The value of `expr` when it is known without running controller code, else None."""
    if any(name in t.graph.pending.writes for _, name in t.uses(expr, [])):
        if isinstance(expr, cst.Call) and not t.units(expr):
            # A call glue must make reads what the queued glue computes: both go in one node,
            # so objects they share stay shared, as in Python (`f(train, valid)` of two slices).
            return None
        glue.flush(t)  # queued glue changes a name this reads: its value is the glue's output
    if isinstance(expr, cst.Name) and expr.value in t.frame.env:
        return t.frame.env[expr.value]
    if isinstance(expr, cst.Call) and t.component_of(expr) is not None:
        return step_call(t, expr)
    if isinstance(expr, cst.Call):
        helper = inline.helper_of(t, expr)
        if helper is not None:
            return inline.inline_call(t, expr, helper, what)
    if isinstance(expr, COMPREHENSIONS) and t.units(expr):
        return loops.comprehension(t, expr, what)
    if isinstance(expr, cst.IfExp) and t.units(expr):
        return branches.if_expression(t, expr, what)
    if isinstance(expr, cst.BooleanOperation) and t.units(expr.right):
        return branches.bool_operation(t, expr, what)
    if isinstance(expr, cst.Subscript):
        item = item_of(t, expr)
        if isinstance(item, Literal):
            trace_sharing.record_folded(t, expr, item)  # `TABLE["a"]` is the module's list
        if item is not None:
            return item
    if not t.units(expr) and not any(k == "local" for k, _ in t.uses(expr, [])):
        value = t.fold(expr)
        if value is not NOT_LITERAL and (
            holds_one_object_twice(value) or trace_sharing.holds_module_value_twice(t, expr)
        ):
            # `[DEFAULTS, DEFAULTS]`: a literal would write two copies; glue builds it from
            # the module's own object, as Python does.
            return None
        if value is not NOT_LITERAL:
            literal = Literal.of(value)
            trace_sharing.record_folded(t, expr, literal)
            return literal
    if isinstance(expr, (cst.List, cst.Tuple)) and not any(
        isinstance(e, cst.StarredElement) for e in expr.elements
    ):
        items = [structured(t, e.value, what) for e in expr.elements]
        if all(i is not None and not isinstance(i, Unavailable) for i in items):
            bound = tuple(
                as_binding(i) for i in items if i is not None and not isinstance(i, Unavailable)
            )
            if max((_nesting(b) for b in bound), default=0) < _MAX_NESTING:
                return Container(
                    ContainerKind.TUPLE if isinstance(expr, cst.Tuple) else ContainerKind.LIST,
                    bound,
                )
    return None


# Containers deeper than this are built by glue at run time: the manifest (JSON, checked by a
# recursive validator) carries only shallow ones.
_MAX_NESTING = 16


def _nesting(binding: Binding) -> int:
    if isinstance(binding, Container):
        return 1 + max((_nesting(b) for b in binding.items), default=0)
    if isinstance(binding, Select):
        return 1 + max((_nesting(o.binding) for o in binding.options), default=0)
    return 0


def bind(t: Context, expr: cst.BaseExpression, what: str, in_map: bool = False) -> Binding | None:
    """The binding of a value the pipeline passes on, creating nodes as needed."""
    symbol = structured(t, expr, what)
    if symbol is not None:
        binding = binding_of(t, symbol, expr, what)
        if binding is None or not in_map or _made_in(binding, t):
            return binding
    if refuse_handed_on(t, expr):
        return None
    # Anything else is computed by a glue node of its own.
    temp = t.temporary(what)
    value = expr
    if isinstance(expr, cst.NamedExpr) and not expr.lpar:
        # `[last := f(x) for x in xs]`: a walrus needs its parentheses as an assigned value.
        value = expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(temp))], value=value)
    glue.flush(t)
    glue.glue_statement(t, assign, expr, extra_writes=[temp])
    glue.flush(t)
    symbol = t.frame.env.get(temp)
    return (
        symbol
        if symbol is not None and not isinstance(symbol, (TupleResult, Unavailable))
        else None
    )


def item_of(t: Context, expr: cst.Subscript) -> Symbol | None:
    """`results[0]` of a multi-output step or a compile-time list, with a constant index."""
    if not isinstance(expr.value, cst.Name) or len(expr.slice) != 1:
        return None
    if expr.value.value in t.graph.pending.writes:
        glue.flush(t)
    symbol = t.frame.env.get(expr.value.value)
    index = expr.slice[0].slice
    if not isinstance(index, cst.Index):
        return None
    items: Sequence[Binding]
    if isinstance(symbol, TupleResult) or is_sequence(symbol):
        items = symbol.items  # type: ignore[union-attr]
    elif isinstance(symbol, Container):
        key = t.fold(index.value)
        return next((v for k, v in symbol.entries() if k == key), None)
    else:
        return None
    value = t.fold(index.value)
    if isinstance(value, int) and not isinstance(value, bool) and -len(items) <= value < len(items):
        return items[value]
    return None


def step_call(t: Context, call: cst.Call) -> OutputRef | TupleResult | Literal | None:
    """A step node for `call`, with its arguments bound to the step's parameters."""
    component = t.component_of(call)
    assert component is not None
    name = component.function_name
    bound, ok = bind_arguments(t, component, call)
    inputs: list[tuple[str, Binding]] = []
    for parameter in component.parameters:
        if parameter.name in bound:
            binding = bind(t, bound[parameter.name], f"{name}_{parameter.name}")
            if binding is None:
                ok = False
            else:
                inputs.append((parameter.name, binding))
    if not ok:
        # Keep tracing with a stand-in so later lines are checked without knock-on errors.
        stand_in = tuple(OutputRef("<invalid>", o) for o in component.return_values)
        return stand_in[0] if len(stand_in) == 1 else TupleResult(stand_in, name)
    glue.flush(t)
    arguments = tuple(binding for _, binding in inputs)
    inputs = _one_pickle_per_shared_argument(t, call, name, inputs)
    node_name = t.unique(component.step_name)
    check_step_state(t, node_name, component.function_name, call)
    t.step_arguments[node_name] = arguments
    after = glue.ordering(t, parents(t, component), inputs)
    t.graph.nodes.append(
        StepNode(
            node_name,
            name,
            tuple(inputs),
            tuple(after),
            t.frame.guards,
            t.frame.map,
            t.location(call),
        )
    )
    outputs = tuple(OutputRef(node_name, o) for o in component.return_values)
    if not outputs:  # return_values=[]: ClearML hands the controller no value
        return Literal.of(None)
    return outputs[0] if len(outputs) == 1 else TupleResult(outputs, name)


def _one_pickle_per_shared_argument(
    t: Context, call: cst.Call, step: str, inputs: list[tuple[str, Binding]]
) -> list[tuple[str, Binding]]:
    """The step's inputs, with an argument that holds one object twice (`f([base, base])`) built
    by a glue node, whose single pickle keeps it one object; two arguments that reach one
    object cannot be kept so and are refused."""
    across = shared_across(
        [binding for _, binding in inputs], lambda part: trace_sharing.scalar_parameter(t, part)
    )
    if across is not None:
        t.reporter.report(
            rules.SHARED_STEP_ARGUMENTS,
            t.location(call),
            step=step,
            first=inputs[across[0]][0],
            second=inputs[across[1]][0],
        )
        return inputs
    built: list[tuple[str, Binding]] = []
    for parameter, binding in inputs:
        sharing = share_inputs([(parameter, binding)], "_pipec_shared_")
        if not sharing.prelude:
            built.append((parameter, binding))
            continue
        node = t.numbered("glue")
        glue.add_node(
            t,
            node,
            NodeKind.GLUE,
            tuple(sharing.prelude),
            None,
            sharing.inputs,
            (parameter,),
            [call],
            set(),
            False,
        )
        built.append((parameter, OutputRef(node, parameter)))
    return built


def bind_arguments(
    t: Context, component: Component, call: cst.Call
) -> tuple[dict[str, cst.BaseExpression], bool]:
    """Each parameter's argument expression, as Python would bind them; False after an error."""
    name = component.function_name
    signature = f"{name}({', '.join(p.name for p in component.parameters)})"
    bound: dict[str, cst.BaseExpression] = {}
    positional = [p for p in component.parameters if p.kind is ParameterKind.POSITIONAL_OR_KEYWORD]
    ok = True
    index = 0
    for arg in call.args:
        if arg.star:
            t.reporter.report(
                rules.STAR_ARGS_IN_STEP_CALL, t.location(arg), star=arg.star, step=name
            )
            ok = False
        elif arg.keyword is None:
            if index >= len(positional):
                t.reporter.report(
                    rules.TOO_MANY_POSITIONAL,
                    t.location(arg),
                    step=name,
                    count=len(positional),
                    s="s" if len(positional) != 1 else "",
                    signature=signature,
                )
                ok = False
            else:
                bound[positional[index].name] = arg.value
                index += 1
        elif component.parameter(arg.keyword.value) is None:
            t.reporter.report(
                rules.UNKNOWN_KEYWORD,
                t.location(arg),
                step=name,
                keyword=arg.keyword.value,
                signature=signature,
            )
            ok = False
        elif arg.keyword.value in bound:
            t.reporter.report(
                rules.ARGUMENT_GIVEN_TWICE,
                t.location(arg),
                step=name,
                keyword=arg.keyword.value,
            )
            ok = False
        else:
            bound[arg.keyword.value] = arg.value
    missing = [p.name for p in component.parameters if p.required and p.name not in bound]
    if missing and not any(arg.star for arg in call.args):
        t.reporter.report(
            rules.MISSING_ARGUMENT,
            t.location(call),
            step=name,
            s="s" if len(missing) > 1 else "",
            listed=", ".join(f"`{m}`" for m in missing),
            names=", ".join(missing),
            signature=signature,
        )
        ok = False
    return bound, ok


def parents(t: Context, component: Component) -> list[str]:
    after: list[str] = []
    for parent in component.parents:
        matches = [
            n.name
            for n in t.graph.nodes
            if isinstance(n, StepNode)
            and (n.name == parent or t.components[n.component].step_name == parent)
        ]
        if not matches:
            report_parent_not_called(t, component, parent)
        after.extend(matches)
    return after


def accumulate_call(t: Context, call: cst.Call) -> bool:
    """`results.append(x)` / `results.extend([...])` on a list whose shape is known."""
    func = call.func
    if not (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.attr.value in ("append", "extend")
        and len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
    ):
        return False
    name = func.value.value
    if name in t.graph.pending.writes:
        return False  # queued glue gives it its value: the tracer's own is out of date
    container = t.frame.env.get(name)
    if extended(container, ()) is None or many_choices(container):
        return False
    if t.frame.map is None and refuse_shared_change(t, name, call):
        return True
    argument = call.args[0].value
    if t.frame.map is not None:
        return gather(t, name, func.attr.value, argument, call)
    if func.attr.value == "append":
        value = bind(t, argument, f"{name}_item")
        if value is None:
            return True
        extra_items: tuple[Binding, ...] = (value,)
    else:
        listed = list_items(structured(t, argument, f"{name}_items"))
        if listed is None:
            return False
        extra_items = listed
    glue.flush(t)
    grown = extended(container, extra_items, _names_an_object(t, extra_items))
    assert grown is not None  # checked above with no extra items
    how = trace_sharing.Kind.TOP if func.attr.value == "append" else trace_sharing.Kind.INNER
    trace_sharing.record_grown(t, container, grown, argument, how)
    t.frame.env[name] = grown
    return True


def accumulate_augmented(t: Context, small: cst.AugAssign) -> bool:
    if not (isinstance(small.target, cst.Name) and isinstance(small.operator, cst.AddAssign)):
        return False
    name = small.target.value
    if name in t.graph.pending.writes:
        return False  # queued glue gives it its value: the tracer's own is out of date
    container = t.frame.env.get(name)
    if extended(container, ()) is None or many_choices(container) or t.frame.map is not None:
        return False
    if refuse_shared_change(t, name, small):
        return True
    extra = list_items(structured(t, small.value, f"{name}_items"))
    if extra is None:
        return False
    glue.flush(t)
    grown = extended(container, extra, _names_an_object(t, extra))
    assert grown is not None  # checked above with no extra items
    trace_sharing.record_grown(t, container, grown, small.value, trace_sharing.Kind.INNER)
    t.frame.env[name] = grown
    return True


def accumulate_item(t: Context, small: cst.Assign | cst.AnnAssign) -> bool:
    """`scores[key] = value` on a dict or list whose shape is known, with a constant key."""
    if not isinstance(small, cst.Assign) or len(small.targets) != 1 or t.frame.map is not None:
        return False
    target = small.targets[0].target
    if not (
        isinstance(target, cst.Subscript)
        and isinstance(target.value, cst.Name)
        and len(target.slice) == 1
        and isinstance(target.slice[0].slice, cst.Index)
    ):
        return False
    name = target.value.value
    if name in t.graph.pending.writes:
        return False  # queued glue gives it its value: the tracer's own is out of date
    container = t.frame.env.get(name)
    key = t.fold(target.slice[0].slice.value)
    if key is NOT_LITERAL:
        return False
    if refuse_shared_change(t, name, small):
        return True
    if isinstance(container, Literal) and isinstance(container.value, dict):
        entries: dict[Any, Binding] = {k: Literal.of(v) for k, v in container.value.items()}
    elif isinstance(container, Container) and not container.is_sequence:
        entries = dict(container.entries())
    elif list_items(container) is not None and isinstance(key, int):
        items = list(list_items(container) or ())
        if not -len(items) <= key < len(items):
            return False
        value = bind(t, small.value, f"{name}_item")
        if value is not None:
            glue.flush(t)
            items[key] = value
            t.frame.env[name] = make_list(tuple(items))
        return True
    else:
        return False
    value = bind(t, small.value, f"{name}_item")
    if value is not None:
        glue.flush(t)
        entries[key] = value
        t.frame.env[name] = make_dict(entries)
    return True


def gather(
    t: Context, name: str, method: str, argument: cst.BaseExpression, call: cst.Call
) -> bool:
    """`results.append(step(x))` inside a map body: after the loop, results holds them all."""
    if (
        method != "append"
        or name in t.frame.map_gathers
        or t.frame.map_env.get(name) != Literal.of([])
    ):
        t.reporter.report(rules.UNSUPPORTED_GATHER, t.location(call), name=name, method=method)
        return True
    value = bind(t, argument, f"{name}_item", in_map=True)
    if isinstance(value, OutputRef) and t.frame.map is not None:
        t.frame.map_gathers[name] = Gather(t.frame.map, value.node, value.output)
    return True


def shared_with(t: Context, name: str, deep: bool = False) -> str | None:
    """Another controller name for the object `name` holds, or for one inside it or around it.

    The tracer gives a name the very symbol it copies (`other = lst`, `x = y = []`,
    `bag = [first]`), so sharing is identity of symbols, as it is identity of objects in Python.
    """
    symbol = t.frame.env.get(name)
    if symbol is None or isinstance(symbol, Unavailable):
        return None
    if isinstance(symbol, Literal) and not isinstance(symbol.value, (list, dict, set)):
        return None  # a number or a string: nothing to change in place
    if trace_sharing.scalar_parameter(t, symbol):
        return None
    for other, held in t.frame.env.items():
        if other == name or held is None or isinstance(held, Unavailable):
            continue
        if held is symbol or _holds(held, symbol) or deep and _holds(symbol, held):
            return other
    return None


def refuse_shared_change(
    t: Context,
    name: str,
    anchor: cst.CSTNode,
    deep: bool = False,
    shallow: bool | None = None,
    item_only: bool = False,
) -> bool:
    """Report an in-place change of `name` (`deep`: of something inside it) that another name
    would not see; True if reported. `shallow`: whether the change reaches only the object
    `name` holds (by default, when not `deep`); `item_only`: only one of its own items."""
    other = shared_with(t, name, deep)
    if other is not None:
        if not report_shared(t, anchor, name, other):
            t.reporter.report(rules.MUTATED_ALIAS, t.location(anchor), name=name, other=other)
        return True
    other = trace_sharing.shared_through_glue(
        t,
        name,
        not deep if shallow is None else shallow,
        item_only,
        lambda other: may_read_after(t, anchor, other),
    )
    if other is not None:
        if report_shared(t, anchor, name, other):
            return True
        call = relating_call(t, anchor, name, other)
        if call is None and trace_sharing.same_object(t, name, other):
            t.reporter.report(rules.MUTATED_ALIAS, t.location(anchor), name=name, other=other)
        elif call is None:
            t.reporter.report(
                rules.MUTATED_SHARED_VALUE, t.location(anchor), name=name, other=other
            )
        else:
            t.reporter.report(
                rules.SHARED_BY_UNKNOWN_CALL,
                t.location(anchor),
                name=name,
                other=other,
                call=quoted_code(t.source.code(call)),
                line=t.location(call).line,
            )
        return True
    return False


def _holds(outer: object, inner: object) -> bool:
    if isinstance(outer, Container):
        return any(item is inner or _holds(item, inner) for item in outer.items)
    if isinstance(outer, TupleResult):
        return any(item is inner for item in outer.items)
    if isinstance(outer, Select):
        return any(o.binding is inner or _holds(o.binding, inner) for o in outer.options)
    return False


def is_sequence(symbol: object) -> bool:
    return isinstance(symbol, Container) and symbol.is_sequence


def as_binding(symbol: Symbol) -> Binding:
    if isinstance(symbol, TupleResult):
        return Container.of_tuple(symbol.items)
    assert not isinstance(symbol, Unavailable)
    return symbol


def list_items(symbol: Symbol | None) -> tuple[Binding, ...] | None:
    if isinstance(symbol, Literal) and isinstance(symbol.value, list):
        return tuple(Literal.of(v) for v in symbol.value)
    if isinstance(symbol, Container) and symbol.kind is ContainerKind.LIST:
        return symbol.items
    return None


def extended(
    symbol: Symbol | None, extra: tuple[Binding, ...], keep: bool = False
) -> Binding | None:
    """A list known at compile time with `extra` appended — in every branch it may come from.

    The tracer's list of symbols stays one (`keep`: a list of symbols even when every item is a
    literal): an item that is another name's very symbol (`rows = [base]`, `rows.append(base)`)
    is that name's object in Python, and a literal of its value would be a copy of it.
    """
    items = list_items(symbol)
    if items is not None:
        if keep or isinstance(symbol, Container):
            return Container.of_list((*items, *extra))
        return make_list((*items, *extra))
    if isinstance(symbol, Select):
        options = []
        for option in symbol.options:
            grown = extended(option.binding, extra, keep)
            if grown is None:
                return None
            options.append(SelectOption(option.when, grown))
        return Select(tuple(options))
    return None


# A list grown under run-time `if`s is one choice per path through them: past this many, glue
# grows it at run time instead, and the build stays linear in the number of `if`s.
_MAX_CHOICES = 8


def value_parts(symbol: object) -> list[Binding]:
    """The values `symbol` is made of, on every path: what its choices and containers hold,
    down to values that hold no others (nodes' outputs, literals, parameters)."""
    found: list[Binding] = []
    pending = [symbol]
    while pending:
        current = pending.pop()
        if isinstance(current, Select):
            pending.extend(option.binding for option in current.options)
        elif isinstance(current, (Container, TupleResult)):
            pending.extend(current.items)
        elif current is not None:
            found.append(current)  # type: ignore[arg-type]  # a binding, or a marker a name holds
    return found


def leaf_items(symbol: Symbol | None) -> list[Binding]:
    """The items of the list `symbol` holds on every path (a list, or a choice of lists)."""
    items = list_items(symbol)
    if items is not None:
        return list(items)
    if isinstance(symbol, Select):
        return [item for option in symbol.options for item in leaf_items(option.binding)]
    return []


def many_choices(symbol: Symbol | None) -> bool:
    """Whether `symbol` chooses between more than _MAX_CHOICES values."""
    pending, leaves = [symbol], 0
    while pending:
        current = pending.pop()
        if isinstance(current, Select):
            pending.extend(option.binding for option in current.options)
        else:
            leaves += 1
            if leaves > _MAX_CHOICES:
                return True
    return False


def _names_an_object(t: Context, items: tuple[Binding, ...]) -> bool:
    """Whether one of `items` is the very list, dict or set a controller name holds."""
    return any(
        isinstance(item, Literal)
        and isinstance(item.value, (list, dict, set))
        and any(held is item for held in t.frame.env.values())
        for item in items
    )


def make_list(items: tuple[Binding, ...]) -> Binding:
    if all(isinstance(i, Literal) for i in items):
        return Literal.of([i.value for i in items])  # type: ignore[union-attr]
    return Container.of_list(items)


def make_dict(entries: Mapping[Any, Binding]) -> Binding:
    if all(isinstance(v, Literal) for v in entries.values()):
        return Literal.of({k: v.value for k, v in entries.items()})  # type: ignore[union-attr]
    return Container.of_dict(entries)


def _made_in(binding: Binding, t: Context) -> bool:
    """Whether `binding` is an output of a node in the tracer's current map body."""
    if not isinstance(binding, OutputRef):
        return False
    return any(n.name == binding.node and n.map == t.frame.map for n in t.graph.nodes)
