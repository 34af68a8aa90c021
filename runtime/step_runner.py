"""The step runner: the code at the end of every generated script that runs the script's function.

`pipec build` copies the part of this file between the `_RUNNER_START` and `_RUNNER_END` lines
into each step and glue script, byte for byte, after the user's code (`runner_code()` returns
that text); the script then ends with one call, `_pipec_run(function, __doc__, ...)`. Scripts so
stay standalone (`python steps/x.py` needs no pipec), while the runner is written, typed and
tested once, here.

What is outside those lines is this module's own: this docstring (a script has its own), and
`__all__` and `runner_code`, which a script does not need. There is no `from __future__` line:
it would have to open the script and would change how the user's code runs; the annotations of
the copied part are strings instead, which Python never evaluates (see the comment below).
"""

__all__ = ["runner_code"]


# pipec's step runner (pipec/step_runner.py), the same in every script pipec writes.
# It reads the command line, loads the inputs, calls the function and writes its outputs, each
# with a meta file beside it.
# It shares the script's namespace with the user's code above it, so it defines only `_pipec_*`
# (and `_Pipec*` class) names and never reads a global that code could define or import (`from gzip import open`, a
# helper called `sys`, ...): builtins are imported inside each function that uses them, and the
# annotations are strings, which Python never evaluates.
# It imports modules where they are needed, and keeps `pickle`, `json`, `argparse` and `ast`
# off the common path: each would cost a small step more time than the step's own work.

import _collections_abc as _pipec_abc  # annotations only; loaded at startup
import builtins as _pipec_builtins
import io as _pipec_io  # annotations only; loaded at startup


class _PipecVersionError(_pipec_builtins.Exception):
    """An input pickled by another Python or cloudpickle version."""


def _pipec_load(path: "str", loaded: "dict[str, object] | None" = None) -> "object":
    """Unpickle one input, refusing files written by another Python or cloudpickle.

    `@FILE` names a JSON file that combines several inputs into a list, tuple or dict.
    `loaded` keeps what this script has read by path: one artifact passed twice (`f(n, n)`,
    `[n, n]`) is one object in Python, and so it is here.
    """
    import os
    import sys
    from builtins import ImportError, open  # noqa: UP029

    if path.startswith("@"):
        import json

        with open(path[1:], encoding="utf-8") as spec_file:
            return _pipec_combine(json.load(spec_file), loaded)
    if loaded is not None and path in loaded:
        return loaded[path]
    meta_path = path + ".meta.json"
    if os.path.exists(meta_path):
        meta = _pipec_read_meta(meta_path)
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if meta.get("python") != python:
            raise _PipecVersionError(
                f"{path} was written by Python {meta.get('python')} and this is Python {python}: "
                "pickled objects are only safe on the Python that wrote them; "
                "rerun the step that produced it with this interpreter"
            )
        written_by = meta.get("cloudpickle")
        if written_by is not None:
            import cloudpickle  # type: ignore[import-untyped]

            if written_by != cloudpickle.__version__:
                raise _PipecVersionError(
                    f"{path} was written by cloudpickle {written_by} and this is cloudpickle "
                    f"{cloudpickle.__version__}: install cloudpickle=={written_by}, or rerun its "
                    "producer"
                )
    try:
        # The C unpickler itself: `import pickle` would also load `re`.
        from _pickle import load
    except ImportError:
        from pickle import load
    with open(path, "rb") as data_file:
        value = load(data_file)
    if loaded is not None:
        loaded[path] = value
    return value


def _pipec_combine(spec: "object", loaded: "dict[str, object] | None" = None) -> "object":
    """The value an @FILE entry describes: {"path"}, {"literal"}, {"list"}, {"tuple"} or {"dict"}."""
    from builtins import ValueError, dict, isinstance, tuple  # noqa: UP029

    if isinstance(spec, dict):
        if "path" in spec:
            return _pipec_load(spec["path"], loaded)
        if "literal" in spec:
            return _pipec_literal(spec["literal"])
        if "list" in spec:
            return [_pipec_combine(entry, loaded) for entry in spec["list"]]
        if "tuple" in spec:
            return tuple(_pipec_combine(entry, loaded) for entry in spec["tuple"])
        if "dict" in spec:
            return {
                _pipec_literal(key): _pipec_combine(entry, loaded) for key, entry in spec["dict"]
            }
    raise ValueError(f"unknown input entry: {spec!r}")


def _pipec_literal(text: "str") -> "object":
    """The value of a Python literal: whole numbers, plain strings, True, False and None
    directly, floats with float(), anything else with ast.literal_eval."""
    from builtins import ValueError, float, int, len, set  # noqa: UP029

    text = text.strip()
    constants = {"True": True, "False": False, "None": None}
    if text in constants:
        return constants[text]
    digits = text.removeprefix("-")
    if digits.isdigit() and digits.isascii() and (digits == "0" or not digits.startswith("0")):
        return int(text)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        inner = text[1:-1]
        if text[0] not in inner and "\\" not in inner and "\n" not in inner:
            return inner
    if text and set(text) <= set("0123456789.eE+-") and set(text) & set(".eE"):
        try:
            return float(text)
        except ValueError:
            pass
    import ast

    return ast.literal_eval(text)


def _pipec_read_meta(path: "str") -> "dict[str, object]":
    """A meta file's fields; the flat JSON that _pipec_meta_text writes is read without json."""
    from builtins import int, open  # noqa: UP029

    with open(path, encoding="utf-8") as meta_file:
        text = meta_file.read()
    fields: dict[str, object] = {}
    body = text.strip()
    for line in body[1:-1].splitlines() if body[:1] == "{" and body[-1:] == "}" else ["?"]:
        line = line.strip().rstrip(",")
        if not line:
            continue
        key, separator, value = line.partition(": ")
        if key == '"preview"':
            continue  # for pipec's report; a step never needs it
        simple_key = key.count('"') == 2 and key[0] == key[-1] == '"' and "\\" not in key
        if not separator or not simple_key:
            break
        if value == "null":
            fields[key[1:-1]] = None
        elif value.isdigit() and value.isascii():
            fields[key[1:-1]] = int(value)
        elif value.count('"') == 2 and value[0] == value[-1] == '"' and "\\" not in value:
            fields[key[1:-1]] = value[1:-1]
        else:
            break
    else:
        return fields
    import json

    fields = json.loads(text)
    return fields


def _pipec_meta_text(fields: "dict[str, object]") -> "str":
    """`json.dumps(fields, indent=2, sort_keys=True, ensure_ascii=False)` for flat fields of
    printable text and numbers."""
    from builtins import bool, int, isinstance, sorted, str  # noqa: UP029

    lines = []
    for key in sorted(fields):
        value = fields[key]
        if value is None:
            text = "null"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str) and value.isprintable():
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            import json

            return json.dumps(fields, indent=2, sort_keys=True) + "\n"
        lines.append(f'  "{key}": {text}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


class _PipecAtomicFile:
    """`with _PipecAtomicFile(path) as file:` writes a temporary file beside PATH, renamed into
    place when the block ends without an error and removed when it raises."""

    def __init__(self, path: "str") -> "None":
        import os

        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self.path = path
        self.temporary = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(path)}")

    def __enter__(self) -> "_pipec_io.BufferedWriter":
        from builtins import open  # noqa: UP029

        self.file = open(self.temporary, "wb")
        return self.file

    def __exit__(
        self,
        kind: "type[BaseException] | None",
        error: "BaseException | None",
        trace: "object",
    ) -> "None":
        import os

        try:
            self.file.close()
            if kind is None:
                os.replace(self.temporary, self.path)
        finally:
            # Still there only when the block raised, or closing or renaming failed.
            if os.path.exists(self.temporary):
                os.unlink(self.temporary)


def _pipec_write_text(text: "str", path: "str") -> "None":
    encoded = text.encode("utf-8")
    with _PipecAtomicFile(path) as file:
        file.write(encoded)


class _PipecHashingFile:
    """Writes through to a file and hashes what passes.

    Small outputs are hashed with the interpreter's own sha256 at the end; hashlib (it loads
    OpenSSL, which is faster on big data but slower to start) only once more than 1 MiB has
    been written.
    """

    def __init__(self, raw: "_pipec_io.BufferedWriter") -> "None":
        self.raw = raw
        self.size = 0
        self.pending: list[bytes] = []  # what was written before hashlib was needed
        # The hashlib sha256 object's methods, once more than 1 MiB has been written.
        self.update: _pipec_abc.Callable[[memoryview], None] | None = None
        self.big_hexdigest: _pipec_abc.Callable[[], str] | None = None
        self.join_hashing: _pipec_abc.Callable[[], None] | None = None

    def write(self, data: "bytes | bytearray | memoryview") -> "int":
        from builtins import bytes, memoryview  # noqa: UP029

        # Large buffers arrive as pickle.PickleBuffer objects, which have no len().
        view = memoryview(data)
        self.size += view.nbytes
        if self.update is None and self.size > 1 << 20:
            import hashlib

            digest = hashlib.sha256(b"".join(self.pending))
            self.update, self.big_hexdigest = digest.update, digest.hexdigest
            self.pending = []
        if self.update is None:
            self.pending.append(bytes(view))
        elif view.nbytes < 1 << 20:
            self.finish_hashing()
            self.update(view)
        else:
            # A big buffer is hashed in a thread while it is written (hashlib lets go of the
            # interpreter lock), so hashing costs no extra time.
            import threading

            self.finish_hashing()
            hashing = threading.Thread(target=self.update, args=(view,))
            hashing.start()
            self.join_hashing = hashing.join
        return self.raw.write(view)

    def finish_hashing(self) -> "None":
        if self.join_hashing is not None:
            self.join_hashing()
            self.join_hashing = None

    def hexdigest(self) -> "str":
        from builtins import ImportError

        if self.big_hexdigest is not None:
            self.finish_hashing()
            return self.big_hexdigest()
        try:
            from _sha256 import sha256  # type: ignore[import-not-found]
        except ImportError:  # Python 3.12 and later name the module _sha2
            try:
                from _sha2 import sha256  # type: ignore[import-not-found]
            except ImportError:
                from hashlib import sha256
        digest: str = sha256(b"".join(self.pending)).hexdigest()
        return digest


def _pipec_preview(value: "object", size: "int") -> "str | None":
    """A line that shows what an output holds, for `pipec report`, which never unpickles: the
    repr of a small value, else its type with the shape and dtype of an array or a table, or
    its length."""
    from builtins import (  # noqa: UP029
        Exception,
        getattr,
        hasattr,
        isinstance,
        len,
        repr,
        str,
        tuple,
        type,
    )

    try:
        kind = type(value).__name__
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple):
            dtype = getattr(value, "dtype", None)
            if dtype is None and hasattr(value, "dtypes"):  # a DataFrame: its columns' types
                dtype = ", ".join(str(d) for d in getattr(value, "dtypes", ())[:8])
            text = f"{kind} shape {shape}" + (f" dtype {dtype}" if dtype is not None else "")
        elif size <= 4096:
            text = repr(value)
        elif hasattr(value, "__len__"):
            text = f"{kind} of length {len(value)}"
        else:
            text = kind
    except Exception:  # noqa: BLE001 - a preview is a courtesy: never fail a step for it
        return None
    text = text if len(text) <= 300 else text[:297] + "..."
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _pipec_save(value: "object", path: "str") -> "None":
    """Pickle one output beside PATH, rename it into place, then write PATH.meta.json.

    Plain pickle is tried first; cloudpickle (slower to import) is used only for values that
    carry lambdas, or functions or classes defined inside a function, which plain pickle would
    store by a name that other scripts cannot import. The pipeline file's own classes and
    functions are stored by reference to their home, `_pipec_pipeline`, either way.
    """
    import sys
    from builtins import (  # noqa: UP029
        AttributeError,
        Exception,
        ImportError,
        NotImplemented,
        callable,
        getattr,
        hasattr,
        isinstance,
        type,
    )

    try:
        from _pickle import Pickler, PicklingError
    except ImportError:
        from pickle import Pickler, PicklingError

    class NeedsCloudpickle(Exception):
        pass

    home = sys.modules.get("_pipec_pipeline")

    class PlainPickler(Pickler):
        # NotImplemented (carry on as plain pickle would) is left out of typeshed's return type.
        def reducer_override(self, obj: "object") -> "object":  # type: ignore[override]
            # Called for every object but the plainest: what most of them are is told cheaply.
            if isinstance(obj, type) or callable(obj) and hasattr(obj, "__qualname__"):
                reference = _pipec_home_reference(obj)
                if reference is not None:
                    return reference
                module = getattr(obj, "__module__", None)
                if module == "__main__" or "<locals>" in getattr(obj, "__qualname__", ""):
                    raise NeedsCloudpickle
                if getattr(obj, "__name__", "") == "<lambda>":
                    raise NeedsCloudpickle
            elif obj is home:
                return _pipec_home_reference(obj)
            return NotImplemented

    cloudpickle_version = None
    with _PipecAtomicFile(path) as raw:
        hashing = _PipecHashingFile(raw)
        try:
            PlainPickler(hashing, protocol=5).dump(value)
            plain = True
        except (NeedsCloudpickle, PicklingError, AttributeError):
            # AttributeError: plain pickle cannot find a nested or local object by name.
            hashing.finish_hashing()
            raw.seek(0)
            raw.truncate()
            plain = False
        if not plain:
            import cloudpickle

            class HomeCloudPickler(cloudpickle.Pickler):  # type: ignore[misc]
                # cloudpickle would copy a class of `__main__` by value: a new class on load.
                def reducer_override(self, obj: "object") -> "object":
                    if not (isinstance(obj, type) or callable(obj) or obj is home):
                        # cloudpickle's own override looks at classes and functions only.
                        return NotImplemented
                    reference = _pipec_home_reference(obj)
                    if reference is not None:
                        return reference
                    return cloudpickle.Pickler.reducer_override(self, obj)

            hashing = _PipecHashingFile(raw)
            HomeCloudPickler(hashing, protocol=5).dump(value)
            cloudpickle_version = cloudpickle.__version__
    meta: dict[str, object] = {
        "format": "pickle" if cloudpickle_version is None else "cloudpickle",
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "cloudpickle": cloudpickle_version,
        "size": hashing.size,
        "sha256": hashing.hexdigest(),
    }
    preview = _pipec_preview(value, hashing.size)
    if preview is not None:
        meta["preview"] = preview
    _pipec_write_text(_pipec_meta_text(meta), path + ".meta.json")


def _pipec_usage(description: "str | None", argv: "list[str]", mistake: "str | None") -> "None":
    """Exit the way argparse does: print the help for --help, else the mistake (MISTAKE, or
    what argparse finds in ARGV) with the usage line."""
    import argparse
    import os
    import sys
    from builtins import SystemExit

    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]),
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="read argument NAME from the pickle file PATH",
    )
    parser.add_argument(
        "--value",
        action="append",
        default=[],
        metavar="NAME=LITERAL",
        help="argument NAME as a Python literal, e.g. --value n=3",
    )
    parser.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="write output NAME to PATH (default: ./NAME.pkl)",
    )
    if mistake is not None:
        parser.error(mistake)
    parser.parse_args(argv)
    raise SystemExit(2)


def _pipec_arguments(argv: "list[str]", description: "str | None") -> "dict[str, list[str]]":
    """{"--input": [...], "--value": [...], "--output": [...]} read from the command line by
    hand; argparse only shows --help and reports a command line it cannot read."""
    from builtins import len

    found: dict[str, list[str]] = {"--input": [], "--value": [], "--output": []}
    position = 0
    while position < len(argv):
        option, equals, value = argv[position].partition("=")
        if option not in found or not equals and position + 1 == len(argv):
            _pipec_usage(description, argv, None)
        if not equals:
            position += 1
            value = argv[position]
        found[option].append(value)
        position += 1
    return found


def _pipec_traceback(
    error: "BaseException",
    where: "_PipecSourceMap",
) -> "str":
    """ERROR's traceback as the user's program would show it: the frames of code carried from
    the pipeline file at their place there (`pipeline.py:21, in flaky`), the runner's frames
    left out. PIPEC_DEBUG=1 (`pipec run --verbose`) shows Python's own traceback instead."""
    import os
    import sys
    import traceback
    from builtins import id, len, range, set, type  # noqa: UP029

    if os.environ.get("PIPEC_DEBUG", "") not in ("", "0") or where.source is None:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    source = where.source
    script = sys._getframe(0).f_code.co_filename
    folder = os.path.dirname(script)
    source_folder = source.rpartition("/")[0]

    def frames(trace: "object") -> "list[str]":
        shown = []
        for frame in traceback.extract_tb(trace):  # type: ignore[arg-type]
            path, line = frame.filename, frame.lineno or 0
            if path == script:
                starts = [s + line - f for f, last, s in where.lines if f <= line <= last]
                if not starts:
                    continue  # the runner's own code, or the wrapper pipec wrote
                path, line = source, starts[0]
            elif os.path.relpath(path, folder) in where.local_files:
                # A local module the build carries beside the script: the user's own file.
                relative = os.path.relpath(path, folder)
                path = f"{source_folder}/{relative}" if source_folder else relative
            name = where.shown_as if frame.name == where.function else frame.name
            shown.append(f"  {path}:{line}, in {name}\n")
            if frame.line:
                shown.append(f"    {frame.line.strip()}\n")
        return shown

    blocks: list[str] = []
    links: list[str] = []
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        shown = frames(current.__traceback__) if current.__traceback__ is not None else []
        head = ["Traceback (most recent call last):\n"] if shown else []
        only = traceback.format_exception_only(type(current), current)
        blocks.append("".join(head + shown + only))
        if current.__cause__ is not None:
            current = current.__cause__
            links.append("The above exception was the direct cause of the following exception:")
        elif current.__context__ is not None and not current.__suppress_context__:
            current = current.__context__
            links.append("During handling of the above exception, another exception occurred:")
        else:
            current = None
    text = blocks[-1]
    for index in range(len(blocks) - 2, -1, -1):
        text += f"\n{links[index]}\n\n" + blocks[index]
    return text


class _PipecSourceMap:
    """Where the script's code came from: the pipeline file, the table of script lines
    `(first, last, source_line)` copied from it, the name the function's frames show (the
    controller's, for glue) and the local modules carried beside the script."""

    def __init__(
        self,
        source: "str | None",
        lines: "tuple[tuple[int, int, int], ...]",
        function: "str",
        shown_as: "str | None",
        local_files: "tuple[str, ...]",
    ) -> "None":
        self.source = source
        self.lines = lines
        self.function = function
        self.shown_as = shown_as or function
        self.local_files = local_files


def _pipec_main(
    function: "_pipec_abc.Callable[..., object]",
    description: "str | None",
    argv: "list[str]",
    parameters: "tuple[str, ...]",
    required: "tuple[str, ...]",
    outputs: "tuple[str, ...]",
    split: "str",
    where: "_PipecSourceMap | None" = None,
) -> "int":
    """Read ARGV, load the inputs, call FUNCTION and write its outputs; the exit status.

    SPLIT says how the result becomes OUTPUTS: "none" (no output), "one" (the whole result),
    "split" (a sequence, one item per output), "dict" (glue: a dict by output name), "decision"
    (glue: an `if` test, written as JSON true/false) or "explode" (glue: the items of a run-time
    loop, one file each in a folder, then count.json).

    The exit status says what went wrong: 1 the function raised (its traceback, at the user's
    lines, ends stderr), 3 an input from another Python or cloudpickle, 4 the wrong number of
    outputs, 5 a missing input file, 6 an output that cannot be pickled, 7 the controller called
    sys.exit (see `_pipec_program_exit`).
    """
    import sys
    from builtins import Exception, SystemExit, int, isinstance, list, print  # noqa: UP029

    read = _pipec_read_arguments(argv, description, parameters, required, outputs)
    if isinstance(read, int):
        return read
    arguments, destinations = read
    if where is None:
        where = _PipecSourceMap(None, (), function.__name__, None, ())
    # The user's code sees the command line of `python FILE` with no arguments, not pipec's
    # options: an argparse parser in the controller or in a step reads its defaults.
    script_argv = list(sys.argv)
    sys.argv[:] = [where.source or sys.argv[0]]
    try:
        result = function(**arguments)
    except SystemExit as stop:
        if split in ("one", "split", "none"):
            # A step's process ending with no outputs would look like pipec lost them.
            print(
                f"SystemExit: step {where.shown_as} called sys.exit({stop.code!r}); a step "
                "ends by returning its outputs, or fails by raising an exception",
                file=sys.stderr,
            )
            return 1
        return _pipec_program_exit(stop)
    except Exception as error:  # noqa: BLE001 - any error of the user's code is told, then exit 1
        print(_pipec_traceback(error, where), end="", file=sys.stderr)
        return 1
    finally:
        sys.argv[:] = script_argv
    return _pipec_write_result(result, split, outputs, destinations, where)


def _pipec_program_exit(stop: "SystemExit") -> "int":
    """Exit status 7: the controller (this glue) called sys.exit, which ends the pipeline as it
    ends the Python program. The last stderr line tells `pipec run` the program's exit status
    and what Python would print, by Python's rules: None is 0, an int is itself, anything else
    is printed and is 1."""
    import json
    import sys
    from builtins import BaseException, int, isinstance, print, repr, str  # noqa: UP029

    code = stop.code
    printed = None
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = int(code)
    else:
        status = 1
        try:
            printed = str(code)
        except BaseException:  # noqa: BLE001 - Python then prints only the line break
            printed = ""
    print(
        f"SystemExit: the controller called sys.exit({code!r}); "
        "the pipeline ends here, as the Python program would",
        file=sys.stderr,
    )
    fields = {"status": status, "printed": printed, "code": repr(code)}
    print("pipec-system-exit: " + json.dumps(fields), file=sys.stderr)
    return 7


def _pipec_read_arguments(
    argv: "list[str]",
    description: "str | None",
    parameters: "tuple[str, ...]",
    required: "tuple[str, ...]",
    outputs: "tuple[str, ...]",
) -> "tuple[dict[str, object], dict[str, str]] | int":
    """The function's arguments and where each output goes, read from ARGV; or the exit status
    when an input cannot be loaded (3 another Python or cloudpickle wrote it, 5 it is missing)."""
    import sys
    from builtins import FileNotFoundError, SyntaxError, ValueError, dict, len, print  # noqa: UP029

    found = _pipec_arguments(argv, description)

    def fail(message: "str") -> "None":
        _pipec_usage(description, argv, message)

    def pair(item: "str", allowed: "tuple[str, ...]", what: "str") -> "tuple[str, str]":
        # An output name is any ClearML artifact name and may hold "=" itself: the longest
        # expected name that ITEM starts with, then "=", is the name.
        found = ""
        for known in allowed:
            if len(known) > len(found) and item.startswith(known + "=") and item[len(known) + 1 :]:
                found = known
        if found:
            return found, item[len(found) + 1 :]
        name, sep, rest = item.partition("=")
        if not sep or not rest:
            fail(f"expected NAME=... but got {item!r}")
        if name not in allowed:
            fail(f"unknown {what} {name!r}; expected one of: {', '.join(allowed) or 'none'}")
        return name, rest

    arguments: dict[str, object] = {}
    loaded: dict[str, object] = {}
    try:
        for item in found["--input"]:
            name, path = pair(item, parameters, "input")
            arguments[name] = _pipec_load(path, loaded)
    except _PipecVersionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except FileNotFoundError as error:
        print(f"error: missing input {name}: no such file {error.filename}", file=sys.stderr)
        return 5
    for item in found["--value"]:
        name, text = pair(item, parameters, "input")
        try:
            arguments[name] = _pipec_literal(text)
        except (ValueError, SyntaxError):
            fail(f"--value {name}: {text!r} is not a Python literal (quote strings: \"'text'\")")
    missing = [name for name in required if name not in arguments]
    if missing:
        fail("missing required input(s): " + ", ".join(missing))
    destinations = {name: name + ".pkl" for name in outputs}
    for item in found["--output"]:
        name, path = pair(item, outputs, "output")
        destinations[name] = path
    return arguments, destinations


def _pipec_write_result(
    result: "object",
    split: "str",
    outputs: "tuple[str, ...]",
    destinations: "dict[str, str]",
    where: "_PipecSourceMap",
) -> "int":
    """Write RESULT as OUTPUTS the way SPLIT says; the exit status (4 wrong count, 6 unpicklable)."""
    import sys
    from builtins import (  # noqa: UP029
        Exception,
        TypeError,
        dict,
        enumerate,
        isinstance,
        len,
        list,
        print,
        type,
        zip,
    )

    if split == "none":  # return_values=[]: the result goes nowhere
        values = []
    elif split == "one":
        values = [result]
    elif split == "split":
        try:
            values = list(result)  # type: ignore[call-overload]  # as unpacking would
            got = f"{len(values)} values"
        except TypeError:
            values, got = [result], f"one {type(result).__name__}"
        if len(values) != len(outputs):
            print(
                f"error: {where.shown_as} returned {got} but return_values names "
                f"{len(outputs)}: {', '.join(outputs)}",
                file=sys.stderr,
            )
            return 4
    else:
        assert isinstance(result, dict), "glue returns its outputs in a dict"
        if split == "decision":
            decision = "true\n" if result["decision"] else "false\n"
            _pipec_write_text(decision, destinations["decision"])
            return 0
        if split == "explode":
            import os

            items = list(result["items"])
            for index, item in enumerate(items):
                _pipec_save(item, os.path.join(destinations["items"], f"{index}.pkl"))
            count = os.path.join(destinations["items"], "count.json")
            _pipec_write_text(f'{{"count": {len(items)}}}\n', count)
            return 0
        values = [result[name] for name in outputs]
    for name, value in zip(outputs, values, strict=True):
        try:
            _pipec_save(value, destinations[name])
        except Exception as error:  # noqa: BLE001 - whatever pickling raises, the step failed
            print(
                f"error: output {name} cannot be pickled: {type(error).__name__}: {error}",
                file=sys.stderr,
            )
            return 6
    return 0


def _pipec_make_home(namespace: "dict[str, object]") -> "None":
    """Give the pipeline file's classes and functions that this script carries one importable home.

    Defined in a script they belong to `__main__`, which every script has: pickled by value, a
    class arrives in the next script as a copy, and `isinstance`, `==` of enum members and `is`
    fail. So the module `_pipec_pipeline` answers for them, and outputs refer to them through it
    (`_pipec_home_reference`); in every script that module answers with the script's own
    definition, and for one the script does not carry, with the build's
    steps/_pipec_pipeline.py, which holds them all. They keep `__module__ == "__main__"`: what
    the user prints of them (`type(x)`, a traceback) reads as in `python pipeline.py`.
    """
    import sys
    from builtins import (  # noqa: UP029
        AttributeError,
        ModuleNotFoundError,
        callable,
        getattr,
        isinstance,
        list,
        type,
        vars,
    )
    from types import ModuleType

    home_name = "_pipec_pipeline"
    own: dict[str, object] = {}
    for name, value in list(namespace.items()):
        if name.startswith(("_pipec_", "_Pipec")):
            continue
        if not (isinstance(value, type) or callable(value)):
            continue
        if getattr(value, "__module__", None) != "__main__":
            continue
        if getattr(value, "__qualname__", None) != name:
            continue
        own[name] = value

    class _PipecHome(ModuleType):
        def __getattr__(self, name: "str") -> "object":
            if name in own:
                return own[name]
            return getattr(_pipec_full_home(namespace), name)

    home = _PipecHome(home_name)
    home.__dict__["_pipec_own"] = own
    sys.modules[home_name] = home

    main = sys.modules.get("__main__")
    if main is None or vars(main) is not namespace:
        return

    class _PipecMain(ModuleType):
        # In Python `__main__` holds every definition of the file; a script holds those its code
        # names. The others are found in the full home, so that the user's own
        # `pickle.dumps(box)` (which names `__main__.Box`) works in any step, as in Python.
        def __getattr__(self, name: "str") -> "object":
            if not name.startswith("__"):
                try:
                    found = vars(_pipec_full_home(namespace))
                except ModuleNotFoundError:
                    found = {}
                if name in found:
                    return found[name]
            raise AttributeError(f"module '__main__' has no attribute '{name}'")

    if type(main) is ModuleType:  # a `__main__` of a class of its own (a tool's) is left as is
        main.__class__ = _PipecMain


def _pipec_home_reference(obj: "object") -> "tuple[object, tuple[object, ...]] | None":
    """How a pickle refers to OBJ through the module `_pipec_pipeline`, when OBJ is the home
    itself or one of the pipeline file's classes and functions it answers for; else None.

    On load, `getattr(__import__("_pipec_pipeline"), "Box")`: the loading script's own
    definition, or the full home's (`_pipec_make_home`). A nested class or a method is found
    through its outer class (`getattr(Outer, "Inner")`), which pickle refers to the same way.
    """
    import sys
    from builtins import (  # noqa: UP029
        Exception,
        __import__,
        callable,
        getattr,
        isinstance,
        str,
        type,
        vars,
    )

    home = sys.modules.get("_pipec_pipeline")
    if home is None:
        return None
    if obj is home:
        return __import__, ("_pipec_pipeline",)
    if not (isinstance(obj, type) or callable(obj)):
        return None
    try:
        if getattr(obj, "__module__", None) != "__main__":
            return None
        qualname = getattr(obj, "__qualname__", None)
        if not isinstance(qualname, str) or "<" in qualname:
            return None  # a lambda, or a local function or class: only cloudpickle copies it
        first, *rest = qualname.split(".")
        own = vars(home).get("_pipec_own", {})
        full = sys.modules.get("_pipec_pipeline_file")  # never loaded just to answer this
        outer = own.get(first)
        if outer is None and full is not None:
            outer = vars(full).get(first)
        parent, found = home, outer
        for name in rest:
            parent, found = found, getattr(found, name, None)
    except Exception:  # noqa: BLE001 - an object whose attributes raise: pickle decides
        return None
    if found is not obj:
        return None
    return getattr, (parent, qualname.rpartition(".")[2])


def _pipec_full_home(script: "dict[str, object]") -> "object":
    """steps/_pipec_pipeline.py beside the script, loaded once under a name of its own.

    Python runs a module's top level once per process, and the script has already run its share
    of it: every setup statement, and what its own code needs. So the home starts from the
    script's module-level names and runs only the statements that bind a name the script lacks.
    Running the rest again would repeat the setup (`random.seed(1)`, `os.environ[...] = ...`,
    `logger.addHandler(...)`), and a second `CONFIG = {}` would hide what it put in the first.
    """
    import os
    import sys
    from builtins import ModuleNotFoundError, isinstance, str  # noqa: UP029
    from importlib import util

    loaded = sys.modules.get("_pipec_pipeline_file")
    if loaded is not None:
        return loaded
    file = script.get("__file__")
    folder = os.path.dirname(os.path.abspath(file)) if isinstance(file, str) else os.getcwd()
    path = os.path.join(folder, "_pipec_pipeline.py")
    if not os.path.exists(path):
        raise ModuleNotFoundError(f"no {path}: the build that wrote this input is incomplete")
    spec = util.spec_from_file_location("_pipec_pipeline", path)
    assert spec is not None
    module = util.module_from_spec(spec)
    namespace = module.__dict__
    for name, value in script.items():
        if not name.startswith(("_pipec_", "_Pipec", "__")):
            namespace[name] = value
    # The rest of the file the script started: its classes and functions belong to `__main__`,
    # as in `python pipeline.py` (pickles still find them through `_pipec_pipeline`).
    namespace["__name__"] = "__main__"
    sys.modules["_pipec_pipeline_file"] = module
    _pipec_run_the_rest(path, namespace)
    return module


def _pipec_run_the_rest(path: "str", namespace: "dict[str, object]") -> "None":
    """Run the module at PATH in NAMESPACE, less the top-level statements whose names it holds.

    A statement that binds no name (a setup call, an item assignment) is left out too: every
    script runs those itself. Future imports stay: they change how the rest compiles.
    """
    import ast
    from builtins import any, compile, exec, isinstance, open  # noqa: UP029

    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    tree.body = [
        statement
        for statement in tree.body
        if (isinstance(statement, ast.ImportFrom) and statement.module == "__future__")
        or any(name not in namespace for name in _pipec_bound_names(statement))
    ]
    exec(compile(tree, path, "exec"), namespace)  # noqa: S102 - the build's own module, as import runs it


def _pipec_bound_names(statement: "object") -> "list[str]":
    """The module-level names a top-level statement binds (a star import binds none we know)."""
    import ast
    from builtins import isinstance, list  # noqa: UP029

    names: list[str] = []
    pending = [statement]
    while pending:
        node = pending.pop()
        if not isinstance(node, ast.AST):
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
            continue  # what its body binds is its own
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.extend(
                alias.asname or alias.name.split(".")[0]
                for alias in node.names
                if alias.name != "*"
            )
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.append(node.id)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.append(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.append(node.rest)
        elif isinstance(
            node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
        ):
            continue  # scopes of their own: their loop variables bind nothing at module level
        pending.extend(ast.iter_child_nodes(node))
    return names


def _pipec_run(
    function: "_pipec_abc.Callable[..., object]",
    description: "str | None",
    *,
    parameters: "tuple[str, ...]",
    required: "tuple[str, ...]",
    outputs: "tuple[str, ...]",
    split: "str",
    source: "str | None" = None,
    lines: "tuple[tuple[int, int, int], ...]" = (),
    shown_as: "str | None" = None,
    local_files: "tuple[str, ...]" = (),
) -> "None":
    """The script's entry point: run `_pipec_main` on the command line and exit with its status.

    SOURCE, LINES, SHOWN_AS and LOCAL_FILES say where the script's code came from, so that a
    traceback points at the pipeline file (see `_PipecSourceMap`).
    """
    import sys
    from builtins import SystemExit

    argv = sys.argv[1:]
    _pipec_make_home(sys._getframe(0).f_globals)  # the script's namespace: its user code is there
    where = _PipecSourceMap(source, lines, function.__name__, shown_as, local_files)
    raise SystemExit(
        _pipec_main(function, description, argv, parameters, required, outputs, split, where)
    )


# The end of the step runner: what follows is this module's own, and not copied.

_RUNNER_START = (
    "# pipec's step runner (pipec/step_runner.py), the same in every script pipec writes."
)
_RUNNER_END = "# The end of the step runner: what follows is this module's own, and not copied."


def runner_code() -> str:
    """The runner's source as every generated script carries it, from `_RUNNER_START` to the
    line before `_RUNNER_END`."""
    # importlib.resources rather than __file__: it also reads a package installed as a zip.
    from importlib import resources

    text = resources.files("pipec").joinpath("step_runner.py").read_text(encoding="utf-8")
    start = text.index("\n" + _RUNNER_START + "\n") + 1
    return text[start : text.index("\n\n\n" + _RUNNER_END + "\n", start) + 1]
