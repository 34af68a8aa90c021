"""compiler/shared_inputs.py on its own: which inputs a node takes, and the code that rebuilds
the ones holding a shared object (the behaviour is checked end to end in test_identity.py)."""

from __future__ import annotations

import libcst as cst

from pipec.compiler.shared_inputs import holds_one_object_twice, share_inputs, shared_across
from pipec.literals import Literal
from pipec.manifest import Container, Guard, OutputRef, ParamRef, Select, SelectOption


def _code(statements: list[cst.BaseStatement]) -> str:
    return cst.Module(body=statements).code


def test_inputs_that_share_nothing_are_left_alone() -> None:
    a, b = Literal.of([1]), Literal.of([1])  # equal, not one object
    inputs = [("a", a), ("rows", Container.of_list((a, b))), ("n", OutputRef("one", "n"))]
    shared = share_inputs(inputs[1:], "_s")
    assert shared.inputs == inputs[1:] and shared.prelude == []


def test_one_list_in_two_places_is_taken_once_and_rebuilt() -> None:
    base = Literal.of([1])
    rows = Container.of_list((base, base))
    shared = share_inputs([("rows", rows), ("base", base), ("again", rows)], "_s")
    assert [name for name, _ in shared.inputs] == ["base"]
    assert _code(shared.prelude) == "_s1 = [base, base]\nrows = _s1\nagain = _s1\n"


def test_a_parameter_twice_in_a_dict() -> None:
    table = Container.of_dict({"a": ParamRef("p"), "b": ParamRef("p")})
    shared = share_inputs([("table", table)], "_s")
    assert [(name, type(b).__name__) for name, b in shared.inputs] == [("_s1", "ParamRef")]
    assert _code(shared.prelude) == "table = {'a': _s1, 'b': _s1}\n"


def test_two_arguments_reaching_one_list_but_not_one_output() -> None:
    base, n = Literal.of([1]), OutputRef("one", "n")
    assert shared_across([base, Container.of_list((base,))], lambda _: False) == (0, 1)
    assert shared_across([n, Container.of_list((n,))], lambda _: False) is None
    assert shared_across([ParamRef("a"), ParamRef("a")], lambda _: True) is None


def test_a_folded_value_holding_one_list_twice() -> None:
    row = [0]
    assert holds_one_object_twice([row, row]) and holds_one_object_twice({"a": (row, row)})
    assert not holds_one_object_twice([[0], [0]]) and not holds_one_object_twice((1, 1))


def test_a_branch_value_holding_a_step_output_reads_it_only_where_its_branch_ran() -> None:
    base, n = Literal.of([1]), OutputRef("one", "n")
    ran, skipped = (Guard("if_1", True),), (Guard("if_1", False),)
    picked = Select((SelectOption(ran, Container.of_list((base, n))), SelectOption(skipped, base)))
    shared = share_inputs([("x", picked), ("base", base)], "_s")
    inputs = dict(shared.inputs)
    assert inputs["base"] is base
    assert inputs["_s1"] == Select(
        (SelectOption(ran, Literal.of(0)), SelectOption(skipped, Literal.of(1)))
    )
    assert inputs["_s2"] == Select((SelectOption(ran, n), SelectOption(skipped, Literal.of(None))))
    assert _code(shared.prelude) == "x = ([base, _s2], base)[_s1]\n"
