"""A hypothesis strategy that writes pipeline controllers from the subset pipec compiles.

Every program shares one module (`PRELUDE`: pure steps with 0–3 arguments and 1–3 outputs, two
module-level constants) and differs in its controller: assignments of glue expressions
(arithmetic, indexing, containers, comprehensions, `and`/`or`, conditional expressions,
f-strings), step calls nested in glue or unpacked, aliases and changes in place (by method,
by a module helper, by `random.Random(n).shuffle`), prints,
asserts, `if`/`elif`/`else` decided at compile time or at run time, loops unrolled at compile
time, fan-outs over lists, early `return` and `raise`.

The grammar tracks which names hold an int and which a list, so most programs run; the ones
that fail (an index out of range, a division by zero, a failed assert) must fail the same way
compiled. Kept out on purpose:
- steps that fail or change their arguments (the documented divergences of a compiled run);
Step calls on the right of `and`/`or` or in a conditional expression (`STEPS_IN_SHORT_CIRCUITS`)
and step arguments that are expressions of a comprehension's element over a run-time list
(`[inc(x * 2) for x in xs]`, `ELEMENT_EXPRESSIONS`) are generated too; either flag turns its
construct off when a failure needs to be told apart from the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import strategies as st

__all__ = ["PRELUDE", "Program", "programs"]

STEPS_IN_SHORT_CIRCUITS = True
ELEMENT_EXPRESSIONS = True

PRELUDE = """import random

from pipec import PipelineDecorator

DEBUG = False
LIMITS = [2, 1, 3]


def bump(items):
    items.append(len(items))


@PipelineDecorator.component(return_values=["v"])
def seven():
    return 7


@PipelineDecorator.component(return_values=["v"])
def inc(x):
    return x + 1


@PipelineDecorator.component(return_values=["q", "r"])
def div(x, y):
    return divmod(x, y) if y else (x, 0)


@PipelineDecorator.component(return_values=["lo", "mid", "hi"])
def order(x, y, z):
    lo, mid, hi = sorted([x, y, z])
    return lo, mid, hi


@PipelineDecorator.component(return_values=["total"])
def total(xs):
    return sum(xs)


@PipelineDecorator.component(return_values=["items"])
def upto(n):
    return list(range(n % 4 + 1))

"""

_HEADER = """
@PipelineDecorator.pipeline(name="fuzz", project="t", version="1")
def controller(a: int = 2, b: int = 5, xs: list = [3, 1, 2]):
"""


@dataclass
class Program:
    source: str
    params: dict[str, object]


@dataclass
class _Scope:
    ints: list[str] = field(default_factory=lambda: ["a", "b"])
    lists: list[str] = field(default_factory=lambda: ["xs"])
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def fresh(self, stem: str) -> str:
        return f"{stem}{next(self.counter)}"

    def copy(self) -> _Scope:
        return _Scope(list(self.ints), list(self.lists), self.counter)


def _int(draw: st.DrawFn, scope: _Scope, depth: int, steps: bool = True) -> str:
    leaves = [
        lambda: str(draw(st.integers(-2, 6))),
        lambda: draw(st.sampled_from(scope.ints)),
        lambda: f"len({_list(draw, scope, depth + 1, steps)})",
    ]
    if depth >= 2:
        return draw(st.sampled_from(leaves))()
    sub = depth + 1
    choices = [
        *leaves,
        *leaves,
        lambda: f"{_int(draw, scope, sub, steps)} + {_int(draw, scope, sub, steps)}",
        lambda: f"({_int(draw, scope, sub, steps)} - {_int(draw, scope, sub, steps)})",
        lambda: f"{_int(draw, scope, sub, steps)} * {draw(st.integers(0, 3))}",
        lambda: f"({_int(draw, scope, sub, steps)} // {_int(draw, scope, sub, steps)})",
        lambda: f"{draw(st.sampled_from(scope.lists))}[{draw(st.integers(-2, 2))}]",
        lambda: f"sum({_list(draw, scope, sub, steps)})",
        lambda: f"max({_int(draw, scope, sub, steps)}, {_int(draw, scope, sub, steps)})",
        lambda: _short_circuit(draw, scope, sub, steps),
    ]
    if steps:
        choices += [
            lambda: f"inc({_int(draw, scope, sub, steps)})",
            lambda: f"total({_list(draw, scope, sub, steps)})",
            lambda: "seven()",
        ]
    return draw(st.sampled_from(choices))()


def _short_circuit(draw: st.DrawFn, scope: _Scope, depth: int, steps: bool) -> str:
    inner = steps and STEPS_IN_SHORT_CIRCUITS
    left = _int(draw, scope, depth, steps)
    right = _int(draw, scope, depth, inner)
    kind = draw(st.sampled_from(["and", "or", "if"]))
    if kind == "if":
        return (
            f"({_int(draw, scope, depth, inner)} if {_condition(draw, scope, depth)} else {right})"
        )
    return f"({left} {kind} {right})"


def _condition(draw: st.DrawFn, scope: _Scope, depth: int) -> str:
    sub = min(depth + 1, 2)
    choices = [
        lambda: f"{_int(draw, scope, sub, False)} > {_int(draw, scope, sub, False)}",
        lambda: f"{_int(draw, scope, sub, False)} == {draw(st.integers(0, 4))}",
        lambda: f"{_int(draw, scope, sub, False)} in {draw(st.sampled_from(scope.lists))}",
        lambda: f"not {draw(st.sampled_from(scope.lists))}",
        lambda: "DEBUG",
        lambda: f"len(LIMITS) > {draw(st.integers(1, 4))}",
    ]
    if depth < 2:
        choices.append(
            lambda: (
                f"({_condition(draw, scope, sub)} {draw(st.sampled_from(['and', 'or']))} "
                f"{_condition(draw, scope, sub)})"
            )
        )
    return draw(st.sampled_from(choices))()


def _list(draw: st.DrawFn, scope: _Scope, depth: int, steps: bool = True) -> str:
    leaves = [lambda: draw(st.sampled_from(scope.lists)), lambda: "LIMITS"]
    if depth >= 2:
        return draw(st.sampled_from(leaves))()
    sub = depth + 1
    choices = [
        *leaves,
        *leaves,
        lambda: f"[{_int(draw, scope, sub, steps)}, {_int(draw, scope, sub, steps)}]",
        lambda: f"{_list(draw, scope, sub, steps)} + {_list(draw, scope, sub, steps)}",
        lambda: f"sorted({_list(draw, scope, sub, steps)})",
        lambda: f"[v * 2 for v in {_list(draw, scope, sub, steps)}]",
        lambda: f"[v for v in {_list(draw, scope, sub, steps)} if v > {draw(st.integers(0, 3))}]",
        lambda: f"list(range({draw(st.integers(0, 3))}))",
        lambda: f"{draw(st.sampled_from(scope.lists))}[1:]",
    ]
    if steps:
        choices += [
            lambda: f"upto({_int(draw, scope, sub, steps)})",
            lambda: f"[inc(v) for v in {draw(st.sampled_from(scope.lists))}]",
        ]
    return draw(st.sampled_from(choices))()


def _target(draw: st.DrawFn, names: list[str], stem: str, scope: _Scope) -> str:
    if names and draw(st.booleans()):
        return draw(st.sampled_from(names))
    return scope.fresh(stem)


def _bind(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _simple(draw: st.DrawFn, scope: _Scope, pad: str) -> list[str]:
    kind = draw(
        st.sampled_from(
            ["int", "int", "list", "unpack", "alias", "mutate", "mutate", "print", "augment"]
            + ["assert"]
        )
    )
    if kind == "int":
        value = _int(draw, scope, 0)
        name = _target(draw, scope.ints, "n", scope)
        _bind(scope.ints, name)
        return [f"{pad}{name} = {value}"]
    if kind == "list":
        value = _list(draw, scope, 0)
        name = _target(draw, scope.lists, "items", scope)
        _bind(scope.lists, name)
        return [f"{pad}{name} = {value}"]
    if kind == "unpack":
        if draw(st.booleans()):
            args = ", ".join(_int(draw, scope, 1) for _ in range(2))
            names = [scope.fresh("q"), scope.fresh("r")]
            call = f"div({args})"
        else:
            args = ", ".join(_int(draw, scope, 1) for _ in range(3))
            names = [scope.fresh("lo"), scope.fresh("mid"), scope.fresh("hi")]
            call = f"order({args})"
        scope.ints.extend(names)
        return [f"{pad}{', '.join(names)} = {call}"]
    if kind == "alias":
        name = scope.fresh("alias")
        source = draw(st.sampled_from(scope.lists))
        scope.lists.append(name)
        return [f"{pad}{name} = {source}"]
    if kind == "mutate":
        # Now and then the module-level list: changing it in place is refused (PC606).
        target = draw(st.sampled_from([*scope.lists, *scope.lists, "LIMITS"]))
        value = _int(draw, scope, 1)
        forms = [
            f"{target}.append({value})",
            f"{target} += [{value}]",
            f"{target}[0] = {value}",
            f"{target}.sort()",
            f"{target}.reverse()",
            f"{target}.extend({_list(draw, scope, 1)})",
            f"{target}.insert(0, {value})",
            f"bump({target})",
            f"random.Random({value}).shuffle({target})",
            f"{scope.fresh('popped')} = {target}.pop()",
        ]
        return [pad + draw(st.sampled_from(forms))]
    if kind == "augment":
        target = draw(st.sampled_from(scope.ints))
        return [f"{pad}{target} += {_int(draw, scope, 1)}"]
    if kind == "assert":
        return [f'{pad}assert {_condition(draw, scope, 0)}, "checked"']
    forms = [
        f"print({_int(draw, scope, 1)}, {draw(st.sampled_from(scope.lists))})",
        f'print(f"{{{draw(st.sampled_from(scope.ints))}}} and {{{_list(draw, scope, 1)}!r}}")',
        f'print(f"value={{{_int(draw, scope, 1, False)}:>4}}")',
    ]
    return [pad + draw(st.sampled_from(forms))]


def _block(draw: st.DrawFn, scope: _Scope, depth: int, size: int) -> list[str]:
    pad = "    " * (depth + 1)
    lines: list[str] = []
    for _ in range(draw(st.integers(1, size))):
        kind = draw(st.sampled_from(["simple"] * 6 + ["if", "for", "fanout", "exit"]))
        if depth >= 2 or kind == "simple":
            lines += _simple(draw, scope, pad)
        elif kind == "if":
            lines += _if(draw, scope, depth, pad)
        elif kind == "for":
            lines += _for(draw, scope, depth, pad)
        elif kind == "fanout":
            lines += _fanout(draw, scope, pad)
        else:
            test = _condition(draw, scope, 0)
            if draw(st.booleans()):
                end = f"return {_int(draw, scope, 1)}"
            else:
                end = f'raise ValueError(f"stopped at {{{draw(st.sampled_from(scope.ints))}}}")'
            lines += [f"{pad}if {test}:", f"{pad}    {end}"]
    return lines


def _if(draw: st.DrawFn, scope: _Scope, depth: int, pad: str) -> list[str]:
    branches: list[_Scope] = []
    lines = [f"{pad}if {_condition(draw, scope, 0)}:"]
    branch = scope.copy()
    lines += _block(draw, branch, depth + 1, 3)
    branches.append(branch)
    if draw(st.booleans()):
        lines.append(f"{pad}elif {_condition(draw, scope, 0)}:")
        branch = scope.copy()
        lines += _block(draw, branch, depth + 1, 2)
        branches.append(branch)
    if draw(st.booleans()):
        lines.append(f"{pad}else:")
        branch = scope.copy()
        lines += _block(draw, branch, depth + 1, 2)
        branches.append(branch)
    else:
        branches.append(scope.copy())
    # After the `if`, only the names every path binds can be read without UnboundLocalError.
    for kind in ("ints", "lists"):
        bound = [
            n for n in getattr(branches[0], kind) if all(n in getattr(b, kind) for b in branches)
        ]
        setattr(scope, kind, bound)
    return lines


def _for(draw: st.DrawFn, scope: _Scope, depth: int, pad: str) -> list[str]:
    var = scope.fresh("i")
    values = draw(
        st.sampled_from(
            [f"range({draw(st.integers(1, 3))})", "LIMITS", "[4, 0]", "enumerate(LIMITS)"]
        )
    )
    if values.startswith("enumerate"):
        other = scope.fresh("e")
        head = f"{pad}for {var}, {other} in {values}:"
        scope.ints.append(other)
    else:
        head = f"{pad}for {var} in {values}:"
    scope.ints.append(var)
    return [head, *_block(draw, scope, depth + 1, 3)]


def _fanout(draw: st.DrawFn, scope: _Scope, pad: str) -> list[str]:
    source = draw(st.sampled_from(scope.lists))
    out = scope.fresh("outs")
    element = scope.fresh("x")
    scope.lists.append(out)
    if draw(st.booleans()):
        argument = f"{element} * 2" if ELEMENT_EXPRESSIONS else element
        return [f"{pad}{out} = [inc({argument}) for {element} in {source}]"]
    middle = scope.fresh("m")
    return [
        f"{pad}{out} = []",
        f"{pad}for {element} in {source}:",
        f"{pad}    {middle} = inc({element})",
        f"{pad}    {out}.append(inc({middle} + {element}))",
    ]


@st.composite
def programs(draw: st.DrawFn) -> Program:
    scope = _Scope()
    body = _block(draw, scope, 0, 8)
    result = draw(
        st.sampled_from(
            [
                lambda: f"return {_int(draw, scope, 1)}",
                lambda: (
                    f"return {draw(st.sampled_from(scope.ints))}, {draw(st.sampled_from(scope.lists))}"
                ),
                lambda: f"return {{'n': {_int(draw, scope, 1)}, 'items': {_list(draw, scope, 1)}}}",
            ]
        )
    )()
    source = PRELUDE + _HEADER + "\n".join([*body, f"    {result}"]) + "\n"
    params: dict[str, object] = {}
    if draw(st.booleans()):
        params["a"] = draw(st.integers(-1, 6))
    if draw(st.booleans()):
        params["xs"] = draw(st.lists(st.integers(0, 5), max_size=3))
    return Program(source, params)
