"""Warm starts: steps forked from a template process that has already imported their modules.

A fresh ``python steps/x.py`` pays the interpreter's start and every import of its script
(numpy and scikit-learn: about two seconds) once per node; a fork of a process that has
them costs milliseconds.  :class:`WarmStarts` keeps one template per (interpreter, script
folder, working folder, environment, modules to preload), started when the first node
needing it starts and ended with the run; each node is a child forked from it that turns
itself into ``python SCRIPT ARGS...`` (see :mod:`pipec.warm_template`).

Anything that keeps a template from starting sends that node, and the ones after it, to a
fresh interpreter, with one note: this platform has no ``fork``, the steps run on another
interpreter than pipec's own, or the template failed.
"""

from __future__ import annotations

import contextlib
import graphlib
import itertools
import marshal
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipec.executor import LocalExecutor, OutputSink, StepProcess, StepTask, start_fresh_process
from pipec.manifest import Manifest
from pipec.value_methods import ValueMethods

__all__ = ["WarmExecutor", "WarmStarts", "preloads", "same_interpreter", "warm_starts_possible"]

_TEMPLATE_SOURCE = Path(__file__).with_name("warm_template.py").read_text(encoding="utf-8")
# Set per node by the run loop: a template is shared by nodes that differ only in these.
_PER_NODE_VARIABLES = frozenset({"PIPEC_NODE"})
# What every step script imports (pipec's step runner): loaded once for all steps.
_RUNNER_MODULES = ("cloudpickle", "json", "pickle")
_MAX_REFUSALS = 8  # modules a template may refuse before the key is given up on


def warm_starts_possible(python: str) -> str | None:
    """Why steps cannot be forked from templates here; None when they can."""
    if not hasattr(os, "fork"):
        return "this platform has no fork()"
    if not same_interpreter(python, sys.executable):
        return f"the steps run on {python}, not on pipec's own interpreter"
    return None


def same_interpreter(python: str, own: str) -> bool:
    """Whether ``python`` is the interpreter ``own``: the same file in the same folder, so
    ``bin/python`` and ``bin/python3`` of one environment match, while an environment's python
    and the base one it links to do not (their site-packages differ)."""
    try:
        same_file = os.path.samefile(python, own)
    except OSError:
        return False
    return same_file and os.path.dirname(os.path.abspath(python)) == os.path.dirname(
        os.path.abspath(own)
    )


def preloads(manifest: Manifest) -> dict[str, tuple[str, ...]]:
    """Each node's modules to import before forking it: its script's and its upstream nodes'.

    A node unpickles what upstream nodes made, which imports their modules (a glue node that
    indexes an array needs numpy without importing it itself); and in the plain Python run
    every earlier step's imports are loaded by the time a step runs.  Nodes along a chain
    then have growing import sets, which lets each template start from the one before it.
    """
    dependencies = manifest.dependencies()
    imports = {node.name: node.imports for node in manifest.nodes}
    found: dict[str, frozenset[str]] = {}
    for name in graphlib.TopologicalSorter(dependencies).static_order():
        modules = set(imports[name])
        for upstream in dependencies[name]:
            modules |= found[upstream]
        found[name] = frozenset(modules)
    return {name: tuple(sorted(found[name] | set(_RUNNER_MODULES))) for name in found}


class TemplateFailed(Exception):
    """A template could not start, or stopped answering."""


class _ChildLost(OSError):
    """The template died while the step ran: its exit status is lost."""


@dataclass
class _Pending:
    """A fork asked of a template: its pid, then its exit status, as they arrive."""

    pid: int | None = None
    status: int | None = None
    error: str | None = None
    answered: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, eq=False, repr=False)
class _Key(ValueMethods):
    """What nodes must share to be forked from the same template."""

    python: str
    path0: str
    cwd: str
    env: frozenset[tuple[str, str]]
    preload: tuple[str, ...]

    def same_place(self, other: _Key) -> bool:
        """Whether a template for ``other`` may be forked into one for this key."""
        return (self.python, self.path0, self.cwd, self.env) == (
            other.python,
            other.path0,
            other.cwd,
            other.env,
        )


class _Refused(TemplateFailed):
    def __init__(self, module: str, why: str) -> None:
        super().__init__(f"{module}: {why}")
        self.module = module


class _Template:
    """One running template process and the steps forked from it.

    Started fresh (``python -c``), or forked from a template whose modules are a subset of
    this one's, so that each module of a run is imported once, as in the plain Python run.
    """

    def __init__(
        self,
        key: _Key,
        run_dir: Path,
        excluded: Iterable[str],
        parent: _Template | None,
        fifo_dir: Path,
    ) -> None:
        self.key = key
        self.pending: dict[int, _Pending] = {}
        self.lock = threading.Lock()
        self.dead = False
        self.ids = itertools.count(1)
        self.process: subprocess.Popen[bytes] | None = None
        self.forked: _Pending | None = None  # how the parent reports this one's end
        self.reader: threading.Thread | None = None
        self._hold_replies: int | None = None
        self.output: IO[bytes]
        fifos: tuple[Path, ...] = ()  # removed once the template has opened them
        skip = set(excluded)
        if parent is None:
            self._start(run_dir)
            preload = [m for m in key.preload if m not in skip]
        else:
            self.output = parent.output
            fifos = self._fork_from(parent, fifo_dir)
            have = set(parent.key.preload)
            preload = [m for m in key.preload if m not in skip and m not in have]
        self._send({"path0": key.path0, "preload": preload})
        first = self._receive()
        self._ready()
        for fifo in fifos:
            fifo.unlink(missing_ok=True)
        if not isinstance(first, tuple) or first[0] != "ready":
            tail = self._output_tail()
            self.close()
            if isinstance(first, tuple) and first[0] == "refused":
                raise _Refused(str(first[1]), str(first[2]))
            raise TemplateFailed(f"it ended while importing: {tail}")
        self.reader = threading.Thread(target=self._read_replies, daemon=True)
        self.reader.start()

    def _start(self, run_dir: Path) -> None:
        control_r, self.control = os.pipe()
        self.replies, reply_w = os.pipe()
        # stdout and stderr go to a file, whose size tells the template that an import wrote.
        import tempfile  # only here: a run of a single node starts no template

        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the template
        try:
            # The run folder on its command line (children inherit it) lets a resume after a
            # killed pipec recognise and stop the steps it left running.
            self.process = subprocess.Popen(
                [self.key.python, "-c", _TEMPLATE_SOURCE, str(control_r), str(reply_w)]
                + [str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=self.output,
                stderr=self.output,
                env=dict(self.key.env),
                cwd=self.key.cwd,
                pass_fds=(control_r, reply_w),
                start_new_session=True,  # Ctrl-C reaches pipec, which ends the template
            )
        finally:
            os.close(control_r)
            os.close(reply_w)

    def _fork_from(self, parent: _Template, fifo_dir: Path) -> tuple[Path, Path]:
        number = next(parent.ids)
        control, replies = _fifo_pair(fifo_dir, "in", "reply")
        try:
            # Read-write, so that opening never waits for the other side (Linux and macOS
            # allow it on a FIFO); the template sees end of file once pipec closes it.
            self.control = os.open(control, os.O_RDWR)
            self.replies = os.open(replies, os.O_RDONLY | os.O_NONBLOCK)
            # Until the template has opened its end, a writer of pipec's own keeps reads
            # from seeing end of file; it is let go once the template answers or dies.
            self._hold_replies = os.open(replies, os.O_WRONLY | os.O_NONBLOCK)
            os.set_blocking(self.replies, True)
            message: dict[str, object] = {
                "id": number,
                "control": str(control),
                "reply": str(replies),
            }
            self.forked = parent.request(message, number)
        except BaseException:
            control.unlink()
            replies.unlink()
            raise
        if self.forked.pid is None:
            control.unlink()
            replies.unlink()
            raise TemplateFailed(self.forked.error or "its parent template has ended")
        forked = self.forked
        threading.Thread(target=self._release_on_end, args=(forked,), daemon=True).start()
        return control, replies

    def _release_on_end(self, forked: _Pending) -> None:
        forked.ended.wait()
        self._ready()

    def _ready(self) -> None:
        with self.lock:
            hold, self._hold_replies = self._hold_replies, None
        if hold is not None:
            os.close(hold)

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return None if self.forked is None else self.forked.pid

    def _output_tail(self) -> str:
        self.output.seek(0)
        text = self.output.read().decode("utf-8", errors="replace").strip()
        return text.splitlines()[-1] if text else "no output"

    def _send(self, message: dict[str, object]) -> None:
        body = marshal.dumps(message)
        with self.lock:
            os.write(self.control, len(body).to_bytes(4, "big") + body)

    def _receive(self) -> object:
        header = _read_exactly(self.replies, 4)
        if header is None:
            return None
        body = _read_exactly(self.replies, int.from_bytes(header, "big"))
        return None if body is None else marshal.loads(body)

    def _read_replies(self) -> None:
        while True:
            reply = self._receive()
            if not isinstance(reply, tuple):
                break
            kind, request, value = reply
            with self.lock:
                pending = self.pending.get(request)
            if pending is None:
                continue
            if kind == "pid":
                pending.pid = value
            elif kind == "error":
                pending.error = value
                pending.ended.set()
            elif kind == "status":
                pending.status = value
                pending.ended.set()
                with self.lock:
                    self.pending.pop(request, None)
            pending.answered.set()
        with self.lock:
            self.dead = True
            waiting = list(self.pending.values())
        for pending in waiting:
            pending.answered.set()
            pending.ended.set()

    def request(self, message: dict[str, object], number: int) -> _Pending:
        """Ask for a fork; returns once the template answered (pid or error) or died."""
        pending = _Pending()
        with self.lock:
            if self.dead:
                raise TemplateFailed("it has ended")
            self.pending[number] = pending
        self._send(message)
        pending.answered.wait()
        return pending

    def fork_step(self, task: StepTask, fifo_dir: Path) -> _ForkedStep:
        number = next(self.ids)
        stdout_path, stderr_path = _fifo_pair(fifo_dir, "out", "err")
        try:
            # Opened before the template opens the other ends, so that neither side waits.
            stdout = os.open(stdout_path, os.O_RDONLY | os.O_NONBLOCK)
            stderr = os.open(stderr_path, os.O_RDONLY | os.O_NONBLOCK)
            message: dict[str, object] = {
                "id": number,
                "argv": list(task.argv[1:]),
                "env": dict(task.env),
                "cwd": self.key.cwd,
                "stdout": str(stdout_path),
                "stderr": str(stderr_path),
            }
            pending = self.request(message, number)
        finally:
            stdout_path.unlink()
            stderr_path.unlink()
        if pending.pid is None:
            os.close(stdout)
            os.close(stderr)
            raise TemplateFailed(pending.error or "it has ended")
        os.set_blocking(stdout, True)
        os.set_blocking(stderr, True)
        return _ForkedStep(pending.pid, os.fdopen(stdout, "rb"), os.fdopen(stderr, "rb"), pending)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.control)  # end of file: the template exits
        if self.process is not None:
            # A template holds nothing that needs a clean exit, and tearing down its
            # modules takes longer than the steps it served: it, and the templates forked
            # from it (its process group; steps have sessions of their own), are killed.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.output.close()
        elif (
            self.forked is not None
            and self.forked.pid is not None
            and not self.forked.ended.wait(timeout=5.0)
        ):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.forked.pid, signal.SIGKILL)
        if self.reader is not None:
            self.reader.join(timeout=1.0)  # it ends at the end of file the template's exit makes
        self._ready()
        with contextlib.suppress(OSError):
            os.close(self.replies)


class _ForkedStep:
    """A step forked from a template, seen as the run loop sees a subprocess."""

    warm = True  # what the run record says of the node (see run_step_process)

    def __init__(self, pid: int, stdout: IO[bytes], stderr: IO[bytes], pending: _Pending) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self._pending = pending

    def poll(self) -> int | None:
        return self._exit_code() if self._pending.ended.is_set() else None

    def wait(self) -> int:
        self._pending.ended.wait()
        return self._exit_code()

    def _exit_code(self) -> int:
        if self._pending.status is None:
            raise _ChildLost(
                "its warm-start template died while it ran, so its exit status is lost "
                "(rerun with --cold if this repeats)"
            )
        return os.waitstatus_to_exitcode(self._pending.status)


class WarmStarts:
    """Starts steps as children of templates, or as fresh processes where that cannot be."""

    def __init__(self, note: Callable[[str], None]) -> None:
        self._note = note
        self._templates: dict[_Key, _Template] = {}
        self._starting: dict[_Key, threading.Lock] = {}
        self._given_up: set[_Key] = set()
        self._barren: set[_Key] = set()  # templates that failed to fork a template
        self._excluded: set[str] = set()
        self._lock = threading.Lock()
        self._noted = False
        self._closed = False
        self._prepared: set[_Key] = set()

    def prepare(self, task: StepTask, after: StepTask) -> None:
        """Start the template ``task`` will fork from, in the background, from the one that
        serves ``after`` (upstream of it, just started): its imports overlap ``after``'s work
        instead of following it, as the plain run overlaps nothing but imports once too."""
        key = _key_of(task)
        with self._lock:
            if self._closed or key in self._prepared:
                return
            self._prepared.add(key)
        thread = threading.Thread(target=self._prepare, args=(key, after), daemon=True)
        thread.start()

    def _prepare(self, key: _Key, after: StepTask) -> None:
        fifo_dir = after.log_path.parent
        # The upstream template first (started by now, or being started for ``after``), so
        # that this one forks from it rather than importing everything again beside it.
        if self._template(_key_of(after), fifo_dir.parent, fifo_dir) is not None:
            self._template(key, fifo_dir.parent, fifo_dir)

    def __call__(self, task: StepTask) -> StepProcess:
        key = _key_of(task)
        # The FIFOs go beside the logs (the run loop has made that folder): they are removed
        # as soon as both ends are open, and a pipec killed meanwhile leaves them in the run.
        fifo_dir = task.log_path.parent
        template = self._template(key, fifo_dir.parent, fifo_dir)
        if template is not None:
            try:
                return template.fork_step(task, fifo_dir)
            except Exception as exc:  # noqa: BLE001 - any failure: a fresh interpreter
                self._fall_back(f"a warm-start template failed ({exc})")
        return start_fresh_process(task)

    def _template(self, key: _Key, run_dir: Path, fifo_dir: Path) -> _Template | None:
        with self._lock:
            if self._closed or key in self._given_up:
                return None
            starting = self._starting.setdefault(key, threading.Lock())
        with starting:  # one start per key; the other nodes wait for it
            with self._lock:
                template = self._templates.get(key)
            if template is not None and not template.dead:
                return template
            for _ in range(_MAX_REFUSALS):
                parent = self._closest_subset(key)
                try:
                    template = _Template(key, run_dir, self._excluded, parent, fifo_dir)
                except _Refused as refused:
                    with self._lock:
                        self._excluded.add(refused.module)
                    continue
                except Exception as exc:  # noqa: BLE001 - any failure: fresh interpreters
                    if parent is not None:
                        with self._lock:  # it still serves its own steps, but no templates
                            self._barren.add(parent.key)
                        continue
                    self._fall_back(f"a warm-start template could not start ({exc})")
                    break
                with self._lock:
                    if self._closed:
                        template.close()
                        return None
                    self._templates[key] = template
                return template
            with self._lock:
                self._given_up.add(key)
            return None

    def _closest_subset(self, key: _Key) -> _Template | None:
        """The live template with the most of ``key``'s modules and no others, if any."""
        wanted = set(key.preload)
        with self._lock:
            candidates = [
                template
                for template in self._templates.values()
                if not template.dead
                and template.key not in self._barren
                and key.same_place(template.key)
                and set(template.key.preload) <= wanted
            ]
        return max(candidates, key=lambda t: len(t.key.preload), default=None)

    def _fall_back(self, why: str) -> None:
        with self._lock:
            first, self._noted = not self._noted, True
        if first:
            self._note(f"note: {why}; starting such steps in fresh interpreters")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            # Started ones first: killing one ends the templates forked from it too.
            templates = sorted(self._templates.values(), key=lambda t: t.process is None)
            self._templates.clear()
        for template in templates:
            template.close()


class WarmExecutor(LocalExecutor):
    """The local executor, starting each step from a warm template."""

    def __init__(self, sink: OutputSink | None, note: Callable[[str], None]) -> None:
        self._warm = WarmStarts(note)
        super().__init__(sink, start=self._warm)

    def prepare(self, task: StepTask, after: StepTask) -> None:
        self._warm.prepare(task, after)

    def close(self) -> None:
        super().close()
        self._warm.close()


_FIFO_NUMBERS = itertools.count(1)


def _fifo_pair(folder: Path, first: str, second: str) -> tuple[Path, Path]:
    """Two fresh FIFOs in ``folder``, named apart from any other of this process."""
    number = next(_FIFO_NUMBERS)
    paths = folder / f".warm-{number}.{first}", folder / f".warm-{number}.{second}"
    for path in paths:
        os.mkfifo(path)
    return paths


def _key_of(task: StepTask) -> _Key:
    env = {k: v for k, v in task.env.items() if k not in _PER_NODE_VARIABLES}
    return _Key(
        python=task.argv[0],
        path0=os.path.dirname(os.path.abspath(task.argv[1])),
        cwd=os.getcwd(),
        env=frozenset(env.items()),
        preload=task.preload,
    )


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        try:
            chunk = os.read(fd, size - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data
