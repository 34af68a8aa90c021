"""The functions of the pipeline file and of its local modules that a piece of code may run.

A step changes a module-level value through a helper as surely as by itself (`note(v)` where
`note` does `SEEN.append(v)`), and controller code reads one through a helper
(`print(seen_count())`). Functions are followed by reference, not only by call: a function
named anywhere in the code (`map(note, xs)`, `partial(note, 1)`, a decorator, a dict of
handlers) is taken to run. A method is followed where its class can be told: `Registry.add(x)`,
`self.add(x)` in a method of the class, `r.add(x)` after `r = Registry()` in the same function,
`REGISTRY.add(x)` on a module-level `REGISTRY = Registry()`. Where it cannot (`obj.add(x)` on a
parameter or on what a call returned), every method of that name of the classes read so far
may run; naming a class may run its dunder methods. Not followed: what the code reaches only
through names it computes (`getattr(obj, name)()`, `globals()[name]`), methods called on a
module-level value bound to anything but a call of a class of its module (`R = make()`), and
library modules: what they keep is theirs, and their source is not pipec's to read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import ImportAssignment

from pipec.compiler.diagnostics import UserError
from pipec.compiler.local_modules import LocalModule, imports_of_source
from pipec.compiler.source import SourceModule, parse_source

__all__ = ["Function", "Program", "Reference", "Region", "Unit"]


@dataclass(eq=False)
class Unit:
    """One module whose source pipec reads: the pipeline file, or a local module beside it."""

    module: str | None  # the local module's dotted name; None for the pipeline file
    source: SourceModule
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    classes: dict[str, cst.ClassDef] = field(default_factory=dict)
    # Module-level names bound once, to a call of one of the module's classes (`R = Registry()`).
    instances: dict[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str:
        """How code outside this module names its `name`."""
        return name if self.module is None else f"{self.module}.{name}"

    def owns(self, name: str) -> bool:
        """Whether `name` is a module-level name this module binds itself (not by import)."""
        assignments = self.source.global_scope.assignments[name]
        return bool(assignments) and not any(isinstance(a, ImportAssignment) for a in assignments)


@dataclass(frozen=True, eq=False)
class Function:
    unit: Unit
    node: cst.FunctionDef
    title: str  # `note`, `Registry.add`, `mylib.register`
    owner: cst.ClassDef | None

    @property
    def is_classmethod(self) -> bool:
        return self.owner is not None and _decorated(self.node, "classmethod")

    @property
    def first_parameter(self) -> str | None:
        """`self` or `cls` of a method that takes one."""
        if self.owner is None or _decorated(self.node, "staticmethod"):
            return None
        params = (*self.node.params.posonly_params, *self.node.params.params)
        return params[0].name.value if params else None


@dataclass(frozen=True)
class Reference:
    """A place where code names a function it may run."""

    node: cst.CSTNode
    target: Function
    # How the method is reached: on a module-level value of its module (`REGISTRY.add`),
    # on the caller's own `self`, or neither.
    receiver: str | None = None
    on_self: bool = False
    # Named by a decorator of top-level code: what runs then is the decorator's own body, not
    # the wrapper it defines (that runs when the decorated function is called).
    applied: bool = False


@dataclass(frozen=True, eq=False)
class Region:
    """Code whose references are followed: a function's body, or a module's top-level code."""

    unit: Unit
    node: cst.CSTNode
    function: Function | None  # None for module-level code
    label: str
    shallow: bool = False  # leave out the functions and lambdas nested in the function


def _decorated(function: cst.FunctionDef, name: str) -> bool:
    return any(
        isinstance(d.decorator, cst.Name) and d.decorator.value == name for d in function.decorators
    )


class Program:
    """The pipeline file and the local modules its code names, read as they are needed."""

    def __init__(self, source: SourceModule, local_module: Callable[[str], LocalModule | None]):
        self._local_module = local_module
        self.main = _unit(None, source)
        self._units: dict[str, Unit | None] = {}
        # Only what some code pipec reads imports is looked up: the build's list of local
        # modules is the one the scripts need, not every name a qualified name starts with.
        self._imported = {m.split(".")[0] for m in imports_of_source(source.path, source.text)}
        self._functions: dict[int, Function] = {}

    def unit(self, dotted: str) -> Unit | None:
        """The local module `dotted` (`mylib`, `pkg.sub`), parsed, or None."""
        if dotted not in self._units:
            self._units[dotted] = None
            top = dotted.split(".")[0]
            module = self._local_module(top) if top in self._imported else None
            if module is not None:
                base = dotted.replace(".", "/")
                files = dict(module.files)
                for relative in (f"{base}.py", f"{base}/__init__.py"):
                    if relative in files:
                        try:
                            parsed = parse_source(files[relative], relative)
                        except UserError:  # the build reports it where it copies the module
                            break
                        self._units[dotted] = _unit(dotted, parsed)
                        self._imported |= {
                            m.split(".")[0] for m in imports_of_source(relative, parsed.text)
                        }
                        break
        return self._units[dotted]

    def units(self) -> list[Unit]:
        return [self.main, *(u for u in self._units.values() if u is not None)]

    def function(self, unit: Unit, node: cst.FunctionDef, owner: cst.ClassDef | None) -> Function:
        if id(node) not in self._functions:
            name = node.name.value if owner is None else f"{owner.name.value}.{node.name.value}"
            self._functions[id(node)] = Function(unit, node, unit.label(name), owner)
        return self._functions[id(node)]

    def resolve(self, unit: Unit, node: cst.CSTNode) -> list[tuple[Unit, list[str]]]:
        """What a name or attribute denotes, as (module, dotted path inside it): `SEEN` ->
        (file, [SEEN]), `mylib.REGISTRY.append` -> (mylib, [REGISTRY, append])."""
        found: list[tuple[Unit, list[str]]] = []
        for qualified in sorted(unit.source.qualified_names(node)):
            if "<locals>" in qualified:
                continue
            parts = qualified.split(".")
            if unit.owns(parts[0]):
                found.append((unit, parts))
                continue
            for cut in range(len(parts) - 1, 0, -1):  # the longest module path, then its names
                other = self.unit(".".join(parts[:cut]))
                if other is not None:
                    found.append((other, parts[cut:]))
                    break
        return found

    def methods(self, unit: Unit, cls: str, name: str) -> list[Function]:
        """`cls.name` in `unit`, looked up through the bases the module defines."""
        seen: set[str] = set()
        pending = [cls]
        while pending:
            current = pending.pop(0)
            node = unit.classes.get(current)
            if node is None or current in seen:
                continue
            seen.add(current)
            for statement in node.body.body:
                if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                    return [self.function(unit, statement, node)]
            pending.extend(b.value.value for b in node.bases if isinstance(b.value, cst.Name))
        return []

    def dunders(self, unit: Unit, cls: str) -> list[Function]:
        """The dunder methods `cls` has, its own or from the bases the module defines."""
        names: set[str] = set()
        pending, seen = [cls], set()
        while pending:
            current = pending.pop()
            node = unit.classes.get(current)
            if node is None or current in seen:
                continue
            seen.add(current)
            names |= {
                s.name.value
                for s in node.body.body
                if isinstance(s, cst.FunctionDef) and s.name.value.startswith("__")
            }
            pending.extend(b.value.value for b in node.bases if isinstance(b.value, cst.Name))
        found: list[Function] = []
        for name in sorted(names):
            found.extend(self.methods(unit, cls, name))
        return found

    def methods_named(self, name: str) -> list[Function]:
        """Every method called `name` of the classes read so far."""
        found: list[Function] = []
        for unit in self.units():
            for cls in unit.classes:
                found.extend(self.methods(unit, cls, name))
        return found

    def references(self, region: Region) -> list[Reference]:
        """The functions `region`'s code names, in source order."""
        finder = _References(self, region)
        _visit_region(region, finder)
        return finder.found

    def denoted(self, region: Region) -> list[tuple[cst.CSTNode, Unit, list[str]]]:
        """Each name or attribute of `region`'s code that denotes something of a module pipec
        reads, with what it denotes (`Program.resolve`), in source order."""
        finder = _Denoted(self, region)
        _visit_region(region, finder)
        return finder.found

    def reach(
        self, starts: list[Region], stop: set[int]
    ) -> dict[tuple[int, str | None, bool], tuple[Function, tuple[str, ...], cst.CSTNode, Unit]]:
        """Every (function, module-level value it runs on as `self`) `starts` may run, with the
        chain of titles that leads there, the reference in the start region that begins it and
        the start's module; functions whose node id is in `stop` are not entered."""
        reached: dict[
            tuple[int, str | None, bool], tuple[Function, tuple[str, ...], cst.CSTNode, Unit]
        ] = {}
        pending: list[tuple[Region, tuple[str, ...], cst.CSTNode | None, str | None]] = [
            (start, (start.label,), None, None) for start in starts
        ]
        while pending:
            region, chain, first, receiver = pending.pop(0)
            for reference in self.references(region):
                target = reference.target
                if id(target.node) in stop:
                    continue
                held = reference.receiver or (receiver if reference.on_self else None)
                key = (id(target.node), held, reference.applied)
                if key in reached:
                    continue
                begins = first if first is not None else reference.node
                reached[key] = (target, (*chain, target.title), begins, region.unit)
                pending.append(
                    (
                        Region(
                            target.unit,
                            target.node,
                            target,
                            target.title,
                            shallow=reference.applied,
                        ),
                        reached[key][1],
                        begins,
                        held,
                    )
                )
        return reached


def _unit(module: str | None, source: SourceModule) -> Unit:
    unit = Unit(module, source)
    for statement in source.module.body:
        if isinstance(statement, cst.FunctionDef):
            unit.functions[statement.name.value] = statement
        elif isinstance(statement, cst.ClassDef):
            unit.classes[statement.name.value] = statement
    for statement in source.module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if (
                isinstance(small, cst.Assign)
                and len(small.targets) == 1
                and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Name)
                and small.value.func.value in unit.classes
            ):
                name = small.targets[0].target.value
                if len(source.global_scope.assignments[name]) == 1:
                    unit.instances[name] = small.value.func.value
    return unit


def _instances_made(program: Program, unit: Unit, body: cst.CSTNode) -> dict[str, str | None]:
    """Local names bound in `body` -> the class of the module each holds (`r = Registry()`), or
    None where a name is bound to anything else too."""
    made: dict[str, str | None] = {}

    class _Finder(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            if isinstance(node.target, cst.Name):
                made.setdefault(node.target.value, None)

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                if not isinstance(target.target, cst.Name):
                    continue
                name = target.target.value
                cls = _class_called(program, unit, node.value)
                if name in made and made[name] != cls:
                    made[name] = None
                elif name not in made:
                    made[name] = cls

    body.visit(_Finder())
    return made


def _class_called(program: Program, unit: Unit, value: cst.BaseExpression) -> str | None:
    if not isinstance(value, cst.Call):
        return None
    for other, parts in program.resolve(unit, value.func):
        if other is unit and len(parts) == 1 and parts[0] in unit.classes:
            return parts[0]
    return None


def _visit_region(region: Region, visitor: _RegionVisitor) -> None:
    if region.function is None:
        region.node.visit(visitor)
    else:
        region.function.node.body.visit(visitor)
        for decorator in region.function.node.decorators:
            decorator.visit(visitor)


class _RegionVisitor(cst.CSTVisitor):
    def __init__(self, region: Region) -> None:
        self.region = region
        self.applying = False  # within a decorator of top-level code

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if self.region.function is None:  # top-level code: a function's body runs only if called
            self.applying = True
            for decorator in node.decorators:
                decorator.visit(self)
            self.applying = False
            node.params.visit(self)
            return False
        return not self.region.shallow

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return not self.region.shallow


class _Denoted(_RegionVisitor):
    def __init__(self, program: Program, region: Region) -> None:
        super().__init__(region)
        self.program = program
        self.found: list[tuple[cst.CSTNode, Unit, list[str]]] = []
        self.read = {id(use.node) for use in region.unit.source.uses}
        self.stored: set[int] = set()  # `X.a = v`, `del X.a`: attributes written, not read

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.stored.add(id(node.target))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.stored.add(id(node.target))

    def visit_Del(self, node: cst.Del) -> None:
        self.stored.add(id(node.target))

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self.read:
            for unit, parts in self.program.resolve(self.region.unit, node):
                self.found.append((node, unit, parts))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) not in self.stored:
            for unit, parts in self.program.resolve(self.region.unit, node):
                self.found.append((node, unit, parts))


class _References(_RegionVisitor):
    def __init__(self, program: Program, region: Region) -> None:
        super().__init__(region)
        self.program = program
        self.unit = region.unit
        self.found: list[Reference] = []
        self.made = (
            _instances_made(program, region.unit, region.function.node)
            if region.function is not None
            else {}
        )

    def _add(
        self,
        node: cst.CSTNode,
        targets: list[Function],
        receiver: str | None = None,
        on_self: bool = False,
    ) -> None:
        for target in targets:
            self.found.append(Reference(node, target, receiver, on_self, self.applying))

    def visit_Name(self, node: cst.Name) -> None:
        for unit, parts in self.program.resolve(self.unit, node):
            self._path(node, unit, parts)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        resolved = self.program.resolve(self.unit, node)
        for unit, parts in resolved:
            self._path(node, unit, parts)
        if resolved or self.program.resolve(self.unit, node.value):
            return
        if self._names_a_library(node.value):
            return
        name = node.attr.value
        base = node.value
        function = self.region.function
        if isinstance(base, cst.Name) and function is not None:
            owner = function.owner
            if owner is not None and base.value == function.first_parameter:
                methods = self.program.methods(function.unit, owner.name.value, name)
                self._add(node, methods, on_self=True)
                return
            cls = self.made.get(base.value)
            if cls is not None:
                self._add(node, self.program.methods(self.unit, cls, name))
                return
        self._add(node, self.program.methods_named(name))

    def _names_a_library(self, base: cst.BaseExpression) -> bool:
        """Whether `base` is an imported library module or a value of one (`os.path`)."""
        names = self.unit.source.qualified_names(base)
        return bool(names) and all("<locals>" not in q for q in names)

    def _path(self, node: cst.CSTNode, unit: Unit, parts: list[str]) -> None:
        head = parts[0]
        if head in unit.functions and len(parts) == 1:
            self._add(node, [self.program.function(unit, unit.functions[head], None)])
        elif head in unit.classes:
            if len(parts) == 1:
                self._add(node, self.program.dunders(unit, head))
            elif len(parts) == 2:
                self._add(node, self.program.methods(unit, head, parts[1]))
        elif head in unit.instances and len(parts) == 2:
            methods = self.program.methods(unit, unit.instances[head], parts[1])
            self._add(node, methods, receiver=head)
