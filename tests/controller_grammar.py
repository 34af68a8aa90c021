"""A hypothesis strategy that writes pipeline controllers from the subset pipec compiles.

Every program shares one module (`PRELUDE`: pure steps with 0–3 arguments and 1–3 outputs, two
module-level constants) and differs in its controller: assignments of glue expressions
(arithmetic, indexing, containers, comprehensions, `and`/`or`, conditional expressions,
f-strings), dict literals and nested containers (dicts of lists, lists of lists) changed in
place through either name (`.pop`, `.append`, `.update`, item assignment, `+=` and slice
assignment on an item), one object under two names (`x = y = [...]`, `[row] * 2`, `[row, row]`
and its `is` test), a name for `os.environ` read or changed, step calls nested
in glue or unpacked, aliases and changes in place (by method, by a module helper, by
`random.Random(n).shuffle`), prints,
asserts, `if`/`elif`/`else` decided at compile time or at run time, loops unrolled at compile
time, fan-outs over lists (also filtered: `[inc(v) for v in xs if v != n]`), early `return`
and `raise`.

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
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from hypothesis import strategies as st

__all__ = ["PRELUDE", "Program", "program_from_seed", "programs"]

T = TypeVar("T")

STEPS_IN_SHORT_CIRCUITS = True
ELEMENT_EXPRESSIONS = True

PRELUDE = """import os
import random

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


class Choices(Protocol):
    """The grammar's only source of choices: hypothesis's draws or a seeded `random.Random`."""

    def pick(self, options: Sequence[T]) -> T: ...

    def number(self, low: int, high: int) -> int: ...

    def coin(self) -> bool: ...

    def numbers(self, low: int, high: int, max_size: int) -> list[int]: ...


class _DrawnChoices:
    def __init__(self, draw: st.DrawFn) -> None:
        self._draw = draw

    def pick(self, options: Sequence[T]) -> T:
        return self._draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self._draw(st.integers(low, high))

    def coin(self) -> bool:
        return self._draw(st.booleans())

    def numbers(self, low: int, high: int, max_size: int) -> list[int]:
        return self._draw(st.lists(st.integers(low, high), max_size=max_size))


class _SeededChoices:
    # Hypothesis's own derandomized draws change with its version and mix in integer literals
    # of the local modules imported at the time (pipec's, and which depends on the tests
    # selected), read through a cache in .hypothesis/: the fixed sample could not stay fixed.
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def pick(self, options: Sequence[T]) -> T:
        return options[self._rng.randrange(len(options))]

    def number(self, low: int, high: int) -> int:
        return self._rng.randint(low, high)

    def coin(self) -> bool:
        return self._rng.random() < 0.5

    def numbers(self, low: int, high: int, max_size: int) -> list[int]:
        return [self.number(low, high) for _ in range(self.number(0, max_size))]


# The kinds of value the grammar tracks names of: ints, lists of ints, dicts from the keys below
# to lists of ints, lists of lists of ints.
_KINDS = ("ints", "lists", "dicts", "nests")
_KEYS = ("k", "j")


@dataclass
class _Scope:
    ints: list[str] = field(default_factory=lambda: ["a", "b"])
    lists: list[str] = field(default_factory=lambda: ["xs"])
    dicts: list[str] = field(default_factory=list)
    nests: list[str] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    # Names some paths through an `if` bind and others do not: reading one may fail as Python
    # fails (UnboundLocalError), and must fail only where Python's read would.
    maybe: list[str] = field(default_factory=list)

    def fresh(self, stem: str) -> str:
        return f"{stem}{next(self.counter)}"

    def copy(self) -> _Scope:
        return _Scope(
            list(self.ints),
            list(self.lists),
            list(self.dicts),
            list(self.nests),
            self.counter,
            list(self.maybe),
        )


def _int(draw: Choices, scope: _Scope, depth: int, steps: bool = True) -> str:
    leaves = [
        lambda: str(draw.number(-2, 6)),
        lambda: draw.pick(scope.ints),
        lambda: f"len({_list(draw, scope, depth + 1, steps)})",
    ]
    if scope.dicts or scope.nests:
        leaves.append(lambda: f"len({draw.pick([*scope.dicts, *scope.nests])})")
    if depth >= 2:
        return draw.pick(leaves)()
    sub = depth + 1
    choices = [
        *leaves,
        *leaves,
        lambda: f"{_int(draw, scope, sub, steps)} + {_int(draw, scope, sub, steps)}",
        lambda: f"({_int(draw, scope, sub, steps)} - {_int(draw, scope, sub, steps)})",
        lambda: f"{_int(draw, scope, sub, steps)} * {draw.number(0, 3)}",
        lambda: f"({_int(draw, scope, sub, steps)} // {_int(draw, scope, sub, steps)})",
        lambda: f"{draw.pick(scope.lists)}[{draw.number(-2, 2)}]",
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
    return draw.pick(choices)()


def _short_circuit(draw: Choices, scope: _Scope, depth: int, steps: bool) -> str:
    inner = steps and STEPS_IN_SHORT_CIRCUITS
    left = _int(draw, scope, depth, steps)
    right = _int(draw, scope, depth, inner)
    kind = draw.pick(["and", "or", "if"])
    if kind == "if":
        return (
            f"({_int(draw, scope, depth, inner)} if {_condition(draw, scope, depth)} else {right})"
        )
    return f"({left} {kind} {right})"


def _condition(draw: Choices, scope: _Scope, depth: int) -> str:
    sub = min(depth + 1, 2)
    choices = [
        lambda: f"{_int(draw, scope, sub, False)} > {_int(draw, scope, sub, False)}",
        lambda: f"{_int(draw, scope, sub, False)} == {draw.number(0, 4)}",
        lambda: f"{_int(draw, scope, sub, False)} in {draw.pick(scope.lists)}",
        lambda: f"not {draw.pick(scope.lists)}",
        lambda: "DEBUG",
        lambda: f"len(LIMITS) > {draw.number(1, 4)}",
    ]
    if depth < 2:
        choices.append(
            lambda: (
                f"({_condition(draw, scope, sub)} {draw.pick(['and', 'or'])} "
                f"{_condition(draw, scope, sub)})"
            )
        )
    return draw.pick(choices)()


def _list(draw: Choices, scope: _Scope, depth: int, steps: bool = True) -> str:
    leaves = [lambda: draw.pick(scope.lists), lambda: "LIMITS"]
    if scope.dicts:
        leaves.append(lambda: f"{draw.pick(scope.dicts)}['{draw.pick(_KEYS)}']")
        leaves.append(lambda: f"{draw.pick(scope.dicts)}.get('{draw.pick(_KEYS)}', [])")
    if scope.nests:
        leaves.append(lambda: f"{draw.pick(scope.nests)}[{draw.number(-1, 1)}]")
    if depth >= 2:
        return draw.pick(leaves)()
    sub = depth + 1
    choices = [
        *leaves,
        *leaves,
        lambda: f"[{_int(draw, scope, sub, steps)}, {_int(draw, scope, sub, steps)}]",
        lambda: f"{_list(draw, scope, sub, steps)} + {_list(draw, scope, sub, steps)}",
        lambda: f"sorted({_list(draw, scope, sub, steps)})",
        lambda: f"[v * 2 for v in {_list(draw, scope, sub, steps)}]",
        lambda: f"[v for v in {_list(draw, scope, sub, steps)} if v > {draw.number(0, 3)}]",
        lambda: f"list(range({draw.number(0, 3)}))",
        lambda: f"{draw.pick(scope.lists)}[1:]",
    ]
    if steps:
        choices += [
            lambda: f"upto({_int(draw, scope, sub, steps)})",
            lambda: f"[inc(v) for v in {draw.pick(scope.lists)}]",
            # A filter decided at build time, at run time over a known list, or before a fan-out.
            lambda: (
                f"[inc(v) for v in {_list(draw, scope, sub, False)} "
                f"if v != {_int(draw, scope, sub, False)}"
                + (f" if v > {_int(draw, scope, sub, False)}]" if draw.coin() else "]")
            ),
        ]
    return draw.pick(choices)()


def _target(draw: Choices, names: list[str], stem: str, scope: _Scope) -> str:
    if names and draw.coin():
        return draw.pick(names)
    return scope.fresh(stem)


def _bind(names: list[str], name: str) -> None:
    if name not in names:
        names.append(name)


def _simple(draw: Choices, scope: _Scope, pad: str) -> list[str]:
    kind = draw.pick(
        ["int", "int", "list", "unpack", "alias", "mutate", "mutate", "print", "augment"]
        + ["assert", "dict", "nest", "change_nested", "change_nested", "maybe", "share"]
        + ["identity"]
    )
    if kind == "identity":
        # Two names that may be one object (an alias, a branch's pick, a value a step call
        # split from its source): the compiled run answers as Python does or refuses (PC618).
        first, second = draw.pick(scope.lists), draw.pick([*scope.lists, "LIMITS"])
        return [f"{pad}print({first} is {second}, {first} is not {second})"]
    if kind == "maybe" and scope.maybe:
        return [
            f"{pad}if {_condition(draw, scope, 0)}:",
            f"{pad}    print({draw.pick(scope.maybe)})",
        ]
    if kind == "maybe":
        kind = "print"
    if kind == "change_nested" and not (scope.dicts or scope.nests):
        kind = "dict" if draw.coin() else "nest"
    if kind == "dict":
        entries = ", ".join(f'"{key}": {_list(draw, scope, 1)}' for key in _KEYS)
        name = _target(draw, scope.dicts, "table", scope)
        _bind(scope.dicts, name)
        return [f"{pad}{name} = {{{entries}}}"]
    if kind == "nest":
        rows = ", ".join(_list(draw, scope, 1) for _ in range(draw.number(1, 3)))
        name = _target(draw, scope.nests, "rows", scope)
        _bind(scope.nests, name)
        return [f"{pad}{name} = [{rows}]"]
    if kind == "change_nested":
        return [pad + _change_nested(draw, scope)]
    if kind == "share":
        # One object under two names, or twice in one list (`[row] * 2`, `[row, row]`)
        form = draw.pick(["names", "times", "twice", "either"])
        if form == "either":
            first, second = draw.pick(scope.lists), draw.pick(scope.lists)
            name = scope.fresh("either")
            scope.lists.append(name)
            test = _condition(draw, scope, 0)
            return [f"{pad}{name} = {first} if {test} else {second}"]
        if form == "names":
            first, second = scope.fresh("same"), scope.fresh("same")
            scope.lists += [first, second]
            return [f"{pad}{first} = {second} = {_list(draw, scope, 1)}"]
        name = scope.fresh("rows")
        scope.nests.append(name)
        if form == "times":
            return [f"{pad}{name} = [{_list(draw, scope, 1)}] * {draw.number(1, 3)}"]
        row = draw.pick(scope.lists)
        return [f"{pad}{name} = [{row}, {row}]", f"{pad}print({name}[0] is {name}[-1])"]
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
        if draw.coin():
            args = ", ".join(_int(draw, scope, 1) for _ in range(2))
            names = [scope.fresh("q"), scope.fresh("r")]
            call = f"div({args})"
        else:
            args = ", ".join(_int(draw, scope, 1) for _ in range(3))
            names = [scope.fresh("lo"), scope.fresh("mid"), scope.fresh("hi")]
            call = f"order({args})"
        scope.ints.extend(names)
        return [f"{pad}{', '.join(names)} = {call}"]
    if kind == "alias" and draw.number(0, 3) == 0:
        # A name for an object a module keeps, read or changed in place (refused: PC613)
        name = scope.fresh("env")
        use = draw.pick(
            [
                f'print({name}.get("PIPEC_FUZZ_UNSET"), "PATH" in {name})',
                f'{name}["PIPEC_FUZZ"] = str({_int(draw, scope, 1)})',
                f'{name}.setdefault("PIPEC_FUZZ", "set")',
            ]
        )
        return [f"{pad}{name} = os.environ", pad + use]
    if kind == "alias":
        name = scope.fresh("alias")
        source = draw.pick(scope.lists)
        scope.lists.append(name)
        return [f"{pad}{name} = {source}"]
    if kind == "mutate":
        # Now and then the module-level list: changing it in place is refused (PC606).
        target = draw.pick([*scope.lists, *scope.lists, "LIMITS"])
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
        return [pad + draw.pick(forms)]
    if kind == "augment":
        target = draw.pick(scope.ints)
        return [f"{pad}{target} += {_int(draw, scope, 1)}"]
    if kind == "assert":
        return [f'{pad}assert {_condition(draw, scope, 0)}, "checked"']
    forms = [
        f"print({_int(draw, scope, 1)}, {draw.pick(scope.lists)})",
        f"print({draw.pick([*scope.dicts, *scope.nests, *scope.lists])})",
        f'print(f"{{{draw.pick(scope.ints)}}} and {{{_list(draw, scope, 1)}!r}}")',
        f'print(f"value={{{_int(draw, scope, 1, False)}:>4}}")',
    ]
    return [pad + draw.pick(forms)]


def _change_nested(draw: Choices, scope: _Scope) -> str:
    """A change in place of a dict of lists or a list of lists, or of a list inside one."""
    value = _int(draw, scope, 1)
    forms: list[str] = []
    for table in scope.dicts:
        key = draw.pick(_KEYS)
        forms += [
            f'{table}["{key}"].append({value})',
            f'{table}.pop("{key}")',
            f'{table}.pop("{key}", None)',
            f'{table}.update({{"{key}": {_list(draw, scope, 1)}}})',
            f'{table}["{key}"] = {_list(draw, scope, 1)}',
            f'{table}["{key}"] += [{value}]',
            f'{table}["{key}"][0:1] = [{value}]',
            f'{table}["{key}"].sort()',
        ]
    for rows in scope.nests:
        forms += [
            f"{rows}.append({_list(draw, scope, 1)})",
            f"{rows}[0].append({value})",
            f"{rows}.pop()",
            f"{rows}[-1].pop()",
            f"{rows}[0] += [{value}]",
            f"{rows}[-1].reverse()",
        ]
    return draw.pick(forms)


def _block(draw: Choices, scope: _Scope, depth: int, size: int) -> list[str]:
    pad = "    " * (depth + 1)
    lines: list[str] = []
    for _ in range(draw.number(1, size)):
        kind = draw.pick(["simple"] * 6 + ["if", "for", "fanout", "exit"])
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
            if draw.coin():
                end = f"return {_int(draw, scope, 1)}"
            else:
                end = f'raise ValueError(f"stopped at {{{draw.pick(scope.ints)}}}")'
            lines += [f"{pad}if {test}:", f"{pad}    {end}"]
    return lines


def _if(draw: Choices, scope: _Scope, depth: int, pad: str) -> list[str]:
    branches: list[_Scope] = []
    lines = [f"{pad}if {_condition(draw, scope, 0)}:"]
    branch = scope.copy()
    lines += _block(draw, branch, depth + 1, 3)
    branches.append(branch)
    if draw.coin():
        lines.append(f"{pad}elif {_condition(draw, scope, 0)}:")
        branch = scope.copy()
        lines += _block(draw, branch, depth + 1, 2)
        branches.append(branch)
    if draw.coin():
        lines.append(f"{pad}else:")
        branch = scope.copy()
        lines += _block(draw, branch, depth + 1, 2)
        branches.append(branch)
    else:
        branches.append(scope.copy())
    # After the `if`, only the names every path binds can be read without UnboundLocalError.
    for kind in _KINDS:
        bound = [
            n for n in getattr(branches[0], kind) if all(n in getattr(b, kind) for b in branches)
        ]
        setattr(scope, kind, bound)
        some = {n for b in branches for n in getattr(b, kind)} - set(bound)
        scope.maybe.extend(sorted(n for n in some if n not in scope.maybe))
    return lines


def _for(draw: Choices, scope: _Scope, depth: int, pad: str) -> list[str]:
    var = scope.fresh("i")
    values = draw.pick([f"range({draw.number(1, 3)})", "LIMITS", "[4, 0]", "enumerate(LIMITS)"])
    if values.startswith("enumerate"):
        other = scope.fresh("e")
        head = f"{pad}for {var}, {other} in {values}:"
        scope.ints.append(other)
    else:
        head = f"{pad}for {var} in {values}:"
    scope.ints.append(var)
    return [head, *_block(draw, scope, depth + 1, 3)]


def _fanout(draw: Choices, scope: _Scope, pad: str) -> list[str]:
    source = draw.pick(scope.lists)
    out = scope.fresh("outs")
    element = scope.fresh("x")
    scope.lists.append(out)
    if draw.coin():
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
    """Programs drawn by hypothesis, which shrinks a failing one (the long profile)."""
    return _program(_DrawnChoices(draw))


def program_from_seed(seed: int) -> Program:
    """The program of one seed: the same on every machine, Python and hypothesis version."""
    return _program(_SeededChoices(random.Random(seed)))


def _program(draw: Choices) -> Program:
    scope = _Scope()
    body = _block(draw, scope, 0, 8)
    result = draw.pick(
        [
            lambda: f"return {_int(draw, scope, 1)}",
            lambda: f"return {draw.pick(scope.ints)}, {draw.pick(scope.lists)}",
            lambda: f"return {{'n': {_int(draw, scope, 1)}, 'items': {_list(draw, scope, 1)}}}",
            lambda: f"return {draw.pick([*scope.dicts, *scope.nests, 'xs'])}",
        ]
    )()
    source = PRELUDE + _HEADER + "\n".join([*body, f"    {result}"]) + "\n"
    params: dict[str, object] = {}
    if draw.coin():
        params["a"] = draw.number(-1, 6)
    if draw.coin():
        params["xs"] = draw.numbers(0, 5, max_size=3)
    return Program(source, params)
