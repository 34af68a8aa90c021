"""`from pipec import PipelineDecorator`: ClearML's decorator API, run eagerly as plain Python.

`python pipeline.py` with this drop-in calls every step as an ordinary function: the reference
semantics that a compiled run reproduces. A step's own printing goes to stderr prefixed with
its name, as `pipec run` shows step logs; the controller's printing stays on stdout.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["PipelineDecorator"]

_F = TypeVar("_F", bound=Callable[..., Any])


class _PrefixedStream(io.TextIOBase):
    """Writes whole lines to `target`, each prefixed with the step's name."""

    def __init__(self, target: Any, prefix: str) -> None:
        self.target = target
        self.prefix = prefix
        self.partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            self.target.write(f"{self.prefix}{line}\n")
        return len(text)

    def flush(self) -> None:
        if self.partial:
            self.target.write(f"{self.prefix}{self.partial}\n")
            self.partial = ""
        self.target.flush()


@contextlib.contextmanager
def _step_output(name: str) -> Iterator[None]:
    stream = _PrefixedStream(sys.stderr, f"[{name}] ")
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        stream.flush()


class PipelineDecorator:
    """The subset of ClearML's `PipelineDecorator` a pipeline file uses, executed in-process."""

    _default_queue: str | None = None

    @classmethod
    def component(
        cls,
        _func: Callable[..., Any] | None = None,
        *,
        return_values: str | Sequence[str] = ("return_object",),
        name: str | None = None,
        **options: Any,
    ) -> Any:
        names = (return_values,) if isinstance(return_values, str) else tuple(return_values)

        def decorate(function: _F) -> _F:
            step_name = name or function.__name__

            @functools.wraps(function)
            def step(*args: Any, **kwargs: Any) -> Any:
                with _step_output(step_name):
                    result = function(*args, **kwargs)
                if not names:  # return_values=[]: the step has no output, the caller gets None
                    return None
                if len(names) > 1:
                    values = tuple(result)
                    if len(values) != len(names):
                        raise ValueError(
                            f"{function.__name__} returned {len(values)} values but return_values "
                            f"names {len(names)}: {', '.join(names)}"
                        )
                    return values
                return result

            step.__pipec_options__ = {"return_values": names, "name": name, **options}  # type: ignore[attr-defined]
            return step  # type: ignore[return-value]

        return decorate(_func) if _func is not None else decorate

    @classmethod
    def pipeline(cls, _func: Callable[..., Any] | None = None, **options: Any) -> Any:
        def decorate(function: _F) -> _F:
            function.__pipec_options__ = dict(options)  # type: ignore[attr-defined]
            return function

        return decorate(_func) if _func is not None else decorate

    @classmethod
    def run_locally(cls) -> None:
        """Accepted for compatibility: the eager run is always local."""

    @classmethod
    def debug_pipeline(cls) -> None:
        """Accepted for compatibility: the eager run is always in-process."""

    @classmethod
    def set_default_execution_queue(cls, default_execution_queue: str | None) -> None:
        cls._default_queue = default_execution_queue
