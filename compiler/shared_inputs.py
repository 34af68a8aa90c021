"""One object reached through several inputs of one node, as Python has it.

In Python `rows = [base, base]` holds one list twice, and after `m = n` both names are one
object. A node's inputs are each read on their own (a literal on the command line, one pickle
file per artifact, a list described as JSON), so each place would get a copy of its own: then
`rows[0] is rows[1]` is False, and a change made through one place is not seen through the
other. A glue node instead takes every shared part once and builds what holds it in its own
code, before the user's statements; a step's argument that holds a part twice is built that way
by a glue node of its own and reaches the step as one pickle, which keeps identity inside it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from pipec.literals import Literal
from pipec.manifest import (
    Binding,
    Container,
    ContainerKind,
    OutputRef,
    ParamRef,
    Select,
    SelectOption,
)

__all__ = [
    "SharedInputs",
    "holds_one_object_twice",
    "rebuilds_branches",
    "share_inputs",
    "shared_across",
]

_MUTABLE = (list, dict, set, bytearray)
_UNBOUND = "<unbound>"  # the node of a name's value on a path that left it unbound


@dataclass
class SharedInputs:
    """The inputs a node takes instead, and the statements that rebuild the ones it dropped."""

    inputs: list[tuple[str, Binding]]
    prelude: list[cst.BaseStatement] = field(default_factory=list)


def _identity(binding: Binding) -> object | None:
    """What makes two bindings one object in Python; None for a value whose identity nothing
    can observe (a number, a string, a tuple of them)."""
    if isinstance(binding, ParamRef):
        return ("parameter", binding.name)
    if isinstance(binding, OutputRef):
        return None  # one file, which a script loads once however often it is passed
    if isinstance(binding, Literal):
        return ("object", id(binding)) if isinstance(binding.value, _MUTABLE) else None
    if isinstance(binding, Container) and binding.kind is ContainerKind.TUPLE:
        return None  # nothing changes a tuple: only what it holds can be shared
    # The tracer gives every name the very symbol it copies: one symbol is one object.
    return ("object", id(binding))


def _count(bindings: Iterable[Binding]) -> Counter[object]:
    counts: Counter[object] = Counter()
    seen: set[int] = set()

    def visit(binding: Binding) -> None:
        key = _identity(binding)
        if key is not None:
            counts[key] += 1
        if isinstance(binding, (Container, Select)) and id(binding) not in seen:
            seen.add(id(binding))  # a container met twice is one object: its items count once
            for item in _inside(binding):
                visit(item)

    for binding in bindings:
        visit(binding)
    return counts


def _inside(binding: Binding) -> tuple[Binding, ...]:
    """The items of a container; the values a branch may give (`x = base if c else [2]`)."""
    if isinstance(binding, Container):
        return binding.items
    if isinstance(binding, Select):
        return tuple(option.binding for option in binding.options)
    return ()


def _parts(binding: Binding) -> Iterable[Binding]:
    yield binding
    for inner in _inside(binding):
        yield from _parts(inner)


def _reaches(binding: Binding, value: Binding) -> bool:
    """Whether `value` (a step's output, a value a branch gives) is `binding` or inside it."""
    return any(
        part is value or isinstance(value, OutputRef) and part == value for part in _parts(binding)
    )


def _always_there(binding: Binding) -> bool:
    """Whether `binding` can be read whatever branches ran: a constant or a parameter."""
    if isinstance(binding, Container):
        return all(_always_there(item) for item in binding.items)
    return isinstance(binding, (Literal, ParamRef))


def rebuilds_branches(select: Select) -> bool:
    """Whether a node that takes `select` with another input sharing one of its objects
    builds it in its own code, so that the object stays one; otherwise `select` is read as a
    copy. It can when every object the branches may give that could be shared can be read
    whichever branch ran (a constant, a parameter); a step's output a branch holds
    (`[base, one(1)] if flag else [base]`) is read only where its branch ran."""
    return not any(
        isinstance(option.binding, OutputRef) and option.binding.node == _UNBOUND
        for option in select.options
    ) and all(
        _always_there(part)
        for option in select.options
        for part in _parts(option.binding)
        if _identity(part) is not None and not isinstance(part, (Container, Select))
    )


def holds_one_object_twice(value: object) -> bool:
    """Whether a value folded at compile time holds one list, dict or set in two places (a
    literal of it would make two)."""
    seen: set[int] = set()
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, _MUTABLE):
            if id(current) in seen:
                return True
            seen.add(id(current))
        if isinstance(current, dict):
            pending.extend(current.values())
        elif isinstance(current, (list, tuple, set, frozenset)):
            pending.extend(current)
    return False


def shared_across(
    arguments: Sequence[Binding], unchangeable: Callable[[Binding], bool]
) -> tuple[int, int] | None:
    """The positions of two of `arguments` that reach one object (a step's output aside: it is
    one file, which a script loads once however often it is passed; and what `unchangeable`
    says is a number or a string), if there are two."""
    owners: dict[object, int] = {}
    for index, argument in enumerate(arguments):
        for part in _parts(argument):
            key = _identity(part)
            if key is None or unchangeable(part):
                continue
            owner = owners.setdefault(key, index)
            if owner != index:
                return owner, index
    return None


def share_inputs(inputs: Sequence[tuple[str, Binding]], prefix: str) -> SharedInputs:
    """`inputs` with each object that two places reach taken once (as an input named after
    `prefix`) and the inputs that hold it rebuilt by statements."""
    counts = _count(binding for _, binding in inputs)
    shared = {key for key, count in counts.items() if count > 1}
    if not shared:
        return SharedInputs(list(inputs))
    return _Sharing(shared, prefix).rewrite(inputs)


class _Sharing:
    def __init__(self, shared: set[object], prefix: str) -> None:
        self.shared = shared
        self.prefix = prefix
        self.names: dict[object, str] = {}
        self.numbers = itertools.count(1)
        self.inputs: list[tuple[str, Binding]] = []
        self.prelude: list[cst.BaseStatement] = []
        self.branches: list[
            tuple[Select, int]
        ] = []  # the branch values being built, outermost first

    def rewrite(self, inputs: Sequence[tuple[str, Binding]]) -> SharedInputs:
        rebuilt: list[tuple[str, str]] = []
        # An input that is itself shared and holds nothing (`a = p; b = p`) stays an input: the
        # others that are this object become its name.
        for name, binding in inputs:
            key = _identity(binding)
            if key in self.shared and not _inside(binding) and key not in self.names:
                self.names[key] = name
                self.inputs.append((name, binding))
        for name, binding in inputs:
            if any(kept == name for kept, _ in self.inputs):
                continue
            if not self._holds_shared(binding):
                self.inputs.append((name, binding))
                continue
            rebuilt.append((name, self._render(binding)))
        for name, expression in rebuilt:
            self._assign(name, expression)
        return SharedInputs(self.inputs, self.prelude)

    def _holds_shared(self, binding: Binding) -> bool:
        return any(_identity(part) in self.shared for part in _parts(binding))

    def _render(self, binding: Binding) -> str:
        """Python code for `binding` in the node, naming each shared object once."""
        key = _identity(binding)
        if key in self.names:
            return self.names[key]
        if isinstance(binding, Select) and self._open(binding):
            # Which branch gave the value is read as an input; each value the branches may give
            # is built here, so the one that is shared is the very object the others reach.
            which = self._fresh()
            indices = tuple(
                SelectOption(option.when, Literal.of(index))
                for index, option in enumerate(binding.options)
            )
            # Where an outer branch skipped this value, any index builds a value nobody reads.
            self.inputs.append((which, self._where_its_branch_ran(Select(indices), 0)))
            values = []
            for index in range(len(binding.options)):
                self.branches.append((binding, index))
                try:
                    values.append(self._render(binding.options[index].binding))
                finally:
                    self.branches.pop()
            code = f"{self._tuple(values)}[{which}]"
        elif not isinstance(binding, Container) or not self._holds_shared(binding):
            name = self._fresh()
            self.inputs.append((name, self._where_its_branch_ran(binding)))
            if key in self.shared:
                self.names[key] = name
            return name
        else:
            code = self._container(binding)
        if key in self.shared:
            name = self._fresh()
            self._assign(name, code)
            self.names[key] = name
            return name
        return code

    def _open(self, select: Select) -> bool:
        """Whether the node can build `select` itself: it holds a shared object, and every
        shared object it may give can be read whichever branch ran."""
        return self._holds_shared(select) and rebuilds_branches(select)

    def _where_its_branch_ran(self, binding: Binding, absent: object = None) -> Binding:
        """`binding`, read only where the branches it is part of ran (`absent` elsewhere): a
        step's output a skipped branch would have given is not there to read."""
        if _always_there(binding):
            return binding
        # A value held by an object that several branches give (the list the paths that kept
        # nothing share) is there wherever any of them ran.
        value = binding
        for select, index in reversed(self.branches):
            binding = Select(
                tuple(
                    SelectOption(
                        option.when,
                        binding
                        if at == index or _reaches(option.binding, value)
                        else Literal.of(absent),
                    )
                    for at, option in enumerate(select.options)
                )
            )
        return binding

    def _container(self, binding: Container) -> str:
        items = [self._render(item) for item in binding.items]
        if binding.kind is ContainerKind.DICT:
            code = (
                "{" + ", ".join(f"{k}: {v}" for k, v in zip(binding.keys, items, strict=True)) + "}"
            )
        elif binding.kind is ContainerKind.TUPLE:
            code = self._tuple(items)
        else:
            code = "[" + ", ".join(items) + "]"
        return code

    @staticmethod
    def _tuple(items: Sequence[str]) -> str:
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"

    def _fresh(self) -> str:
        return f"{self.prefix}{next(self.numbers)}"

    def _assign(self, name: str, expression: str) -> None:
        self.prelude.append(cst.parse_statement(f"{name} = {expression}\n"))
