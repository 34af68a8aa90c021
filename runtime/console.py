"""What ``pipec run`` shows in the terminal.

Standard output carries only the controller's own printing (the stdout of glue nodes
with ``effects``), byte for byte, so it matches a plain-Python run of the pipeline file.
Everything else goes to standard error: step output prefixed with the node's name, and
pipec's own status lines.

A stream whose reader goes away (``pipec run ... | head -3``) is let go: the run goes on,
and what it would have shown is in its logs (``pipec logs``) and record.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import BinaryIO, TextIO

from pipec.executor import StepTask, Stream

__all__ = ["Console"]


class Console:
    def __init__(self, stdout: BinaryIO | None = None, stderr: TextIO | None = None) -> None:
        self._stdout = stdout if stdout is not None else sys.stdout.buffer
        self._stderr = stderr if stderr is not None else sys.stderr
        self._lock = threading.Lock()
        self._closed: set[int] = set()  # id() of the streams whose reader went away

    def step_output(self, task: StepTask, stream: Stream, chunk: bytes) -> None:
        """An :class:`~pipec.executor.OutputSink` that streams steps live."""
        with self._lock:
            if task.effects and stream is Stream.STDOUT:
                self._write(self._stdout, chunk)
                return
            text = chunk.decode("utf-8", errors="replace")
            if not text.endswith("\n"):
                text += "\n"
            self._write(self._stderr, f"[{task.node}] {text}")

    def replay(self, printed: bytes) -> None:
        """What a cached effects node printed when it ran, as the controller's output."""
        with self._lock:
            self._write(self._stdout, printed)

    def status(self, message: str) -> None:
        """One of pipec's own lines."""
        with self._lock:
            self._write(self._stderr, f"pipec: {message}\n")

    def program_stderr(self, text: str) -> None:
        """What the user's program itself writes to stderr, exactly (a sys.exit message)."""
        with self._lock:
            self._write(self._stderr, text)

    def block(self, text: str) -> None:
        """Several lines as they are (a log excerpt, a report)."""
        with self._lock:
            self._write(self._stderr, text if text.endswith("\n") else text + "\n")

    def _write(self, stream: BinaryIO | TextIO, data: bytes | str) -> None:
        if id(stream) in self._closed:
            return
        try:
            stream.write(data)  # type: ignore[arg-type]  # bytes to a binary, str to a text stream
            stream.flush()
        except (BrokenPipeError, ValueError):  # the reader left, or the stream was closed
            self._closed.add(id(stream))
            _quiet(stream)
            if stream is not self._stderr:
                self._write(
                    self._stderr,
                    "pipec: standard output was closed; the run goes on, and its output is in "
                    "its logs (pipec logs)\n",
                )


def _quiet(stream: BinaryIO | TextIO) -> None:
    """Point a closed pipe at /dev/null, so that Python's own flush at exit stays silent."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
