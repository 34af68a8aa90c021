"""Pipeline files the benchmarks build: chains, fans and a two-step transfer, as source text.

Each generator returns the text of a ClearML-style pipeline file.  Names are built from
counters and every literal goes through ``repr``, so the text is valid Python by
construction; :func:`write_pipeline` checks it with ``ast.parse`` anyway.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "chain_pipeline",
    "fan_pipeline",
    "map_pipeline",
    "transfer_pipeline",
    "write_pipeline",
]

_HEADER = [
    "from clearml import PipelineDecorator",
    "",
]


def _component(name: str, body: Iterable[str], argument: str = "x") -> list[str]:
    return [
        "",
        "@PipelineDecorator.component(return_values=['out'], cache=False)",
        f"def {name}({argument}):",
        *(f"    {line}" for line in body),
        "",
    ]


def _controller(name: str, parameters: str, body: Iterable[str]) -> list[str]:
    return [
        "",
        f"@PipelineDecorator.pipeline(name={name!r}, project='benchmarks', version='1.0')",
        f"def {name}({parameters}):",
        *(f"    {line}" for line in body),
        "",
    ]


def chain_pipeline(steps: int) -> str:
    """``steps`` distinct no-op components, each fed the previous one's output."""
    lines = list(_HEADER)
    for index in range(steps):
        lines += _component(f"step_{index:04d}", ["return x"])
    calls = ["value = step_0000(seed)"]
    calls += [f"value = step_{index:04d}(value)" for index in range(1, steps)]
    lines += _controller(f"chain_{steps}", "seed: int = 0", [*calls, "return value"])
    return "\n".join(lines)


def fan_pipeline(width: int, sleep_seconds: float) -> str:
    """``width`` independent copies of one step that sleeps ``sleep_seconds`` (0: a no-op)."""
    body = ["import time", "", f"time.sleep({sleep_seconds!r})", "return x"]
    if not sleep_seconds:
        body = ["return x"]
    lines = [*_HEADER, *_component("work", body)]
    calls = [f"work({index!r})" for index in range(width)]
    lines += _controller(f"fan_{width}", "", calls)
    return "\n".join(lines)


def map_pipeline(width: int, module: str) -> str:
    """A map over ``width`` elements (decided at run time) whose body imports ``module``."""
    lines = [*_HEADER, *_component("make_items", ["return list(range(x))"])]
    lines += _component("describe", [f"import {module}", "", "return x"])
    body = ["results = [describe(x) for x in make_items(n)]", "return results"]
    lines += _controller(f"map_{width}", f"n: int = {width!r}", body)
    return "\n".join(lines)


def transfer_pipeline(kind: str, megabytes: int) -> str:
    """A producer that makes a ``kind`` ('array' or 'frame') of about ``megabytes`` MiB and a
    consumer that reads every byte of it."""
    float_count = megabytes * (1 << 20) // 8
    if kind == "array":
        produce = ["import numpy as np", "", f"return np.full({float_count!r}, 1.5)"]
        consume = ["return float(x.sum())"]
    else:
        columns = 8
        rows = float_count // columns
        produce = [
            "import numpy as np",
            "import pandas as pd",
            "",
            f"data = np.full(({rows!r}, {columns!r}), 1.5)",
            f"return pd.DataFrame(data, columns=[f'c{{i}}' for i in range({columns!r})])",
        ]
        consume = ["return float(x.to_numpy().sum())"]
    lines = list(_HEADER)
    lines += _component("produce", produce, argument="seed")
    lines += _component("consume", consume)
    lines += _controller(
        f"transfer_{kind}", "seed: int = 0", ["data = produce(seed)", "return consume(data)"]
    )
    return "\n".join(lines)


def write_pipeline(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` as ``folder/name.py`` after checking that it parses."""
    ast.parse(text)
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path
