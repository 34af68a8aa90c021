"""A warm-start template: import a step script's modules once, then fork one child per step.

pipec runs this file's text with ``python -c`` (never by path, which would put pipec's own
folder first on ``sys.path``, and never as an import of pipec, which would add pipec to
every step's ``sys.modules``).  It uses only modules a fresh interpreter has already loaded
(``os``, ``sys``, ``marshal``, ``_signal``, ``_thread``; and ``gc`` and ``select``, taken
out of ``sys.modules`` again), so a child starts with the modules a fresh ``python steps/x.py``
would have, plus the ones its script imports anyway.

Protocol, over two pipes (each message is a 4-byte length and a ``marshal``-ed value; every
reply is written by one ``os.write`` of less than ``PIPE_BUF`` bytes, hence atomic even when
the SIGCHLD handler writes one while the main loop writes another):

- pipec sends ``{"path0": DIR, "preload": [MODULE, ...]}``; the template imports them and
  replies ``("ready", [IMPORTED, ...])``, or ``("refused", MODULE, WHY)`` and exits when a
  module started a Python thread or wrote output while importing (neither can happen in a
  template: a fork would copy a thread's locks, and the output belongs in the step's log).
- pipec sends ``{"id": N, "argv": [...], "env": {...}, "cwd": DIR, "stdout": FIFO,
  "stderr": FIFO}``; the template forks and replies ``("pid", N, PID)`` (or ``("error", N,
  WHY)``), later ``("status", N, WAIT_STATUS)`` when the child ended.
- pipec sends ``{"id": N, "control": FIFO, "reply": FIFO}``: the same, but the child becomes
  a template itself, talks to pipec through those FIFOs and starts by importing more.  A
  template for numpy and scikit-learn can so start from one that has numpy.
- End of file on the request pipe (pipec closed it, or died) ends the template; its
  children run on, as steps started by a killed pipec do.
"""

import _signal  # type: ignore[import-not-found]  # no stubs; `signal` is not loaded at start
import _thread
import gc
import marshal
import os
import select
import sys

# `gc` (built in) and `select` are not loaded at start: out of sys.modules again, a child's
# modules stay a fresh interpreter's (a step that imports `select` gets it afresh).
del sys.modules["gc"]
del sys.modules["select"]

_STDOUT, _STDERR = 1, 2


def _send(reply_fd: int, message: tuple[str | int | list[str], ...]) -> None:
    body = marshal.dumps(message)
    os.write(reply_fd, len(body).to_bytes(4, "big") + body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = b""
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return chunks


def _receive(fd: int) -> object:
    header = _read_exactly(fd, 4)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    return None if body is None else marshal.loads(body)


def _output_size() -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    return os.fstat(_STDOUT).st_size + os.fstat(_STDERR).st_size


def _preload(modules: list[str], reply_fd: int) -> list[str] | None:
    """Import the modules; None (after telling pipec) if one of them cannot stay preloaded."""
    imported: list[str] = []
    for name in modules:
        written = _output_size()
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - the step meets the same error when it imports it
            continue
        why = None
        if _thread._count() > 0:
            why = "it starts a Python thread when imported"
        elif _output_size() != written:
            why = "it writes output when imported"
        if why is not None:
            _send(reply_fd, ("refused", name, why))
            return None
        imported.append(name)
    return imported


# A template of a long chain serves many scripts, most of them once: a bound on what it keeps
# (a step script's code is about 100 KB).
_SCRIPTS_KEPT = 32


class _Scripts:
    """Step scripts compiled in the template, so that its children do not each compile one.

    pipec's step runner makes every script some 30 KB of source: compiling it in each child
    costs more than a no-op step's own work, and a compile after the fork also writes to pages
    the child would otherwise share with the template.  A script's code is reused only while
    its bytes are the same (read again for every step, which costs far less than compiling),
    so an edited script is compiled afresh, however soon after the last step it is edited.
    """

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[bytes, object]] = {}

    def code_for(self, request: dict[str, object]) -> tuple[str, object] | None:
        """The script a step request runs and its code; None when the child should compile it
        itself (it cannot be read or compiled here: the child meets the same error)."""
        argv, cwd = request.get("argv"), request.get("cwd")
        if not isinstance(argv, list) or not argv or not isinstance(cwd, str):
            return None
        script = os.path.abspath(os.path.join(cwd, str(argv[0])))
        try:
            with open(script, "rb") as handle:
                source = handle.read()
        except OSError:
            return None
        known = self._compiled.get(script)
        if known is not None and known[0] == source:
            return script, known[1]
        try:
            code = compile(source, script, "exec", dont_inherit=True)
        except Exception:  # noqa: BLE001 - a SyntaxError, say: the child reports it as Python does
            return None
        if len(self._compiled) >= _SCRIPTS_KEPT:  # the one compiled longest ago goes
            del self._compiled[next(iter(self._compiled))]
        self._compiled[script] = (source, code)
        return script, code


class _Children:
    """Children not yet reaped: their pid -> the request id pipec knows them by."""

    def __init__(self, reply_fd: int) -> None:
        self.reply_fd = reply_fd
        self.requests: dict[int, int] = {}

    def reap(self, signum: int, frame: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request = self.requests.pop(pid, None)
            if request is not None:
                _send(self.reply_fd, ("status", request, status))


_Fds = tuple[int, int, int, int]
_Compiled = tuple[str, object] | None  # a step's script and its code, compiled by the template
_Step = tuple[dict[str, object], _Fds, _Compiled]


def _serve(control_fd: int, reply_fd: int) -> _Step | None:
    """Be a template until pipec is done with it; in a forked step, its request and pipes."""
    while True:
        served = _serve_as_template(control_fd, reply_fd)
        if not isinstance(served, dict):
            return served
        # A forked copy that becomes a template of its own, importing more: it talks to pipec
        # through the two FIFOs named in the request.
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, set())
        os.close(control_fd)
        os.close(reply_fd)
        control, reply = served["control"], served["reply"]
        assert isinstance(control, str) and isinstance(reply, str)
        control_fd = os.open(control, os.O_RDONLY)
        reply_fd = os.open(reply, os.O_WRONLY)


def _serve_as_template(control_fd: int, reply_fd: int) -> _Step | dict[str, object] | None:
    """Import, then fork on request: None when pipec is done; in a child, what it is to become."""
    setup = _receive(control_fd)
    if not isinstance(setup, dict):
        return None
    path0, preload = setup["path0"], setup["preload"]
    assert isinstance(path0, str) and isinstance(preload, list)
    sys.path[0] = path0
    imported = _preload(preload, reply_fd)
    if imported is None:
        return None
    _send(reply_fd, ("ready", imported))
    children = _Children(reply_fd)
    scripts = _Scripts()
    # The C-level handler writes a byte here at every signal, whenever it comes: see _wait.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    _signal.set_wakeup_fd(wake_write)
    _signal.signal(_signal.SIGCHLD, children.reap)
    while True:
        _wait(control_fd, wake_read)
        request = _receive(control_fd)
        if not isinstance(request, dict):
            return None
        number = request["id"]
        assert isinstance(number, int)
        if _thread._count() > 0:
            _send(reply_fd, ("error", number, "a Python thread runs in the template"))
            continue
        pipes: tuple[int, int] | None = None
        compiled: _Compiled = None
        if "stdout" in request:
            try:
                out = os.open(str(request["stdout"]), os.O_WRONLY)
                pipes = (out, os.open(str(request["stderr"]), os.O_WRONLY))
            except OSError as exc:
                _send(reply_fd, ("error", number, f"cannot open its output pipes: {exc}"))
                continue
            compiled = scripts.code_for(request)
        # What the template holds now lives as long as it does: the collector of a child
        # leaves it alone (the use gc.freeze is made for), so a child's collection scans only
        # its own objects and does not write to the pages it shares with the template.
        gc.freeze()
        # Blocked until the pid is filed, so that the reaper never meets a child it cannot name.
        _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGCHLD})
        try:
            pid = _fork()
        except OSError as exc:
            _send(reply_fd, ("error", number, f"fork failed: {exc}"))
            pid = -1
        if pid == 0:
            _signal.set_wakeup_fd(-1)
            os.close(wake_read)
            os.close(wake_write)
            if pipes is None:
                return request
            return request, (*pipes, control_fd, reply_fd), compiled
        if pipes is not None:
            os.close(pipes[0])
            os.close(pipes[1])
        if pid > 0:
            children.requests[pid] = number
            _send(reply_fd, ("pid", number, pid))
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGCHLD})


def _wait(control_fd: int, wake_fd: int) -> None:
    """Until pipec writes a request, reaping children as they end.

    A blocking read of the request pipe alone could miss a child's end: a SIGCHLD that comes
    after the loop last ran signal handlers but before the read blocks interrupts nothing, so
    its handler would run only once the next request arrives, and pipec, waiting for that
    child's status, sends none.  The wakeup pipe is written at every signal, so `select`
    returns and the handler runs (at the loop's next turn) whenever the signal came.
    """
    while True:
        ready, _, _ = select.select([control_fd, wake_fd], [], [])
        if wake_fd in ready:
            os.read(wake_fd, 512)
        if control_fd in ready:
            return


def _fork() -> int:
    # Python 3.12+ warns that forking a process with several OS threads may deadlock the
    # child.  The only threads here are native pools such as OpenBLAS's, which register
    # pthread_atfork handlers for exactly this; Python threads were ruled out before the
    # fork.  So the warning is silenced here, for this call only: the child leaves this
    # block too, and gets the filters back, so a step that forks is still warned.
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork")
        return os.fork()


def _become_step(request: dict[str, object], fds: _Fds, compiled: _Compiled) -> None:
    """Turn this forked child into ``python SCRIPT ARGS...``, to its exit (never returns)."""
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, set())
    os.setsid()  # a session of its own, as the fresh process gets: pipec signals its group
    out, err, control_fd, reply_fd = fds
    os.dup2(out, _STDOUT)
    os.dup2(err, _STDERR)
    for fd in (out, err, control_fd, reply_fd):
        os.close(fd)
    argv, cwd, env = request["argv"], request["cwd"], request["env"]
    assert isinstance(argv, list) and isinstance(cwd, str) and isinstance(env, dict)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = argv
    script = os.path.abspath(argv[0])
    # numpy seeds its global generator when imported: reseed, or every child of this
    # template would draw the same "random" numbers (the stdlib's random reseeds itself).
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
    main = type(sys)("__main__")
    external = sys.modules["_frozen_importlib_external"]
    main.__dict__.update(
        __file__=script,
        __cached__=None,
        __loader__=external.SourceFileLoader("__main__", script),
        __spec__=None,
        __package__=None,
        __annotations__={},
        __builtins__=sys.modules["builtins"],
    )
    sys.modules["__main__"] = main
    if "__mp_main__" in sys.modules:
        # multiprocessing, imported by the template, named the template's main its main: a
        # spawned worker's result (`__mp_main__.Box`) is looked up there, as the script's own.
        sys.modules["__mp_main__"] = main
    try:
        if compiled is not None and compiled[0] == script:
            code = compiled[1]
        else:
            with open(script, "rb") as source:
                code = compile(source.read(), script, "exec", dont_inherit=True)
        exec(code, main.__dict__)  # type: ignore[arg-type]
    except SystemExit as exc:
        _finish(main, _exit_status(exc))
    except BaseException as exc:  # noqa: BLE001 - reported as the interpreter would
        traceback = exc.__traceback__
        # Start the traceback at the script, as a fresh process's does.
        while traceback is not None and traceback.tb_frame.f_code.co_filename != script:
            traceback = traceback.tb_next
        if traceback is not None:
            exc.__traceback__ = traceback  # the hook prints the exception's own traceback
        sys.excepthook(type(exc), exc, exc.__traceback__)
        _finish(main, 1, interrupted=isinstance(exc, KeyboardInterrupt))
    _finish(main, 0)


def _exit_status(exc: SystemExit) -> int:
    """The exit status CPython gives ``raise SystemExit(code)``."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _finish(main: object, status: int, interrupted: bool = False) -> None:
    """End the process as CPython's exit would, but for the teardown of preloaded modules.

    Tearing down numpy, scipy and scikit-learn costs an interpreter 0.1-0.3 s, which the plain
    run pays once and a step would pay every time.  What a program can see of its exit is
    kept, in CPython's order: non-daemon threads joined, atexit callbacks run, the standard
    streams flushed, then the script's own globals released (a file it left open is flushed
    and closed), and an uncaught KeyboardInterrupt ends the process by SIGINT.
    """
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()
    _flush_standard_streams()
    vars(main).clear()
    gc.collect()
    _flush_standard_streams()
    if interrupted:
        _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
        os.kill(os.getpid(), _signal.SIGINT)
    os._exit(status)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001, S110 - CPython ignores these at exit too
            pass


if __name__ == "__main__":
    _child = _serve(int(sys.argv[1]), int(sys.argv[2]))
    if _child is None:
        sys.exit(0)
    _become_step(*_child)
