"""The `pipec` command: a thin shell around the compiler's pure core and the runtime's commands."""

from __future__ import annotations

import signal


def _interrupted_while_starting(signum: int, frame: object) -> None:
    raise SystemExit(130)


# Ctrl-C while pipec is still loading ends it quietly, as Ctrl-C does at any other moment
# before a run starts; main() hands SIGINT back to KeyboardInterrupt once it can handle it.
signal.signal(signal.SIGINT, _interrupted_while_starting)
# (hence the imports below the handler)

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

if TYPE_CHECKING:
    from pipec.compiler.build import BuildPlace, BuildResult

__all__ = ["main"]


EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 70


def _display_path(path: Path) -> str:
    """The path as the user would type it from here; never an absolute path of this host."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path.name
    return path.name if relative.startswith("..") else Path(relative).as_posix()


def _read_source(path: Path) -> str:
    """The file's text as Python reads it: UTF-8, or the encoding its coding cookie declares."""
    import io
    import tokenize

    data = path.read_bytes()
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:  # an unknown encoding in the cookie: let decoding say what is wrong
        encoding = "utf-8-sig"
    return data.decode(encoding)


def _compile(args: argparse.Namespace) -> tuple[BuildResult | None, int]:
    from pipec.compiler.build import build
    from pipec.compiler.diagnostics import UserError, format_all
    from pipec.compiler.project_files import DirectoryProject
    from pipec.compiler.requirements import InstalledEnvironment

    path = Path(args.file)
    if not path.is_file():
        print(f"pipec: error: {args.file}: no such file", file=sys.stderr)
        return None, EXIT_USER_ERROR
    display = _display_path(path)
    try:
        text = _read_source(path)
    except UnicodeDecodeError as exc:
        print(
            f"{display}:1:1: error: the file is not {exc.encoding} ({exc.reason}); "
            "declare its encoding with a `# -*- coding: NAME -*-` line",
            file=sys.stderr,
        )
        return None, EXIT_USER_ERROR
    regenerate = f"pipec build {display}" + (
        f" --pipeline {args.pipeline}" if args.pipeline else ""
    )
    try:
        result = build(
            text,
            display,
            environment=InstalledEnvironment(),
            project=DirectoryProject(path.parent, path),
            pipeline=args.pipeline,
            regenerate=regenerate,
            strict_clearml=args.strict_clearml,
            pins=getattr(args, "pins", "exact"),
            place=_place(path),
        )
    except UserError as error:
        print(format_all(error.diagnostics, {display: text}), file=sys.stderr)
        errors = sum(1 for d in error.diagnostics if d.is_error)
        print(
            f"pipec: {errors} error{'s' if errors != 1 else ''}; nothing was written",
            file=sys.stderr,
        )
        return None, EXIT_USER_ERROR
    if result.diagnostics:
        print(format_all(result.diagnostics, {display: text}), file=sys.stderr)
    return result, 0


def _place(path: Path) -> BuildPlace:
    """Where the file is, as `__file__` names it when Python runs it from here (symlinks kept)."""
    from pipec.compiler.build import BuildPlace

    return BuildPlace(os.path.abspath(path), os.path.realpath(path))


def _write_build(files: dict[str, bytes], out: Path) -> None:
    """Write the whole folder beside `out`, then swap it in: never a half-written build."""
    import shutil
    import tempfile

    out = out.absolute()
    if out.exists() and not (out / "manifest.json").is_file() and any(out.iterdir()):
        raise _OutputError(f"{out} exists and is not a pipec build; choose another folder with -o")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for relative, content in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        if out.exists():
            runs = out / "runs"
            if runs.is_dir():  # past runs of this build survive a rebuild
                runs.rename(staging / "runs")
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class _OutputError(Exception):
    pass


def _cmd_build(args: argparse.Namespace) -> int:
    from pipec.manifest import NodeKind

    result, code = _compile(args)
    if result is None:
        return code
    out = Path(args.output) if args.output else Path("build") / result.name
    try:
        _write_build(dict(result.files), out)
    except _OutputError as error:
        print(f"pipec: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    nodes = result.manifest.nodes
    steps = sum(1 for n in nodes if n.kind is NodeKind.STEP)
    print(
        f"built {_display_path(out)}: {steps} step node(s), {len(nodes) - steps} glue node(s) "
        f"{_shape(result)}"
    )
    return 0


def _shape(result: BuildResult) -> str:
    """How parallel the DAG is: its waves of nodes that could run together, and the widest."""
    widest = max((len(wave) for wave in result.stages), default=0)
    return f"in {len(result.stages)} stage(s), up to {widest} at once"


def _cmd_check(args: argparse.Namespace) -> int:
    result, code = _compile(args)
    if result is None:
        return code
    print(f"{args.file}: ok ({len(result.manifest.nodes)} nodes {_shape(result)})")
    return 0


def _parser(include_runtime: bool = True, only_run: bool = False) -> argparse.ArgumentParser:
    from pipec import __version__
    from pipec.help_formatter import ArgumentParser

    # Typed as argparse's class: the runtime's commands register on its subparsers.
    parser: argparse.ArgumentParser = ArgumentParser(
        prog="pipec",
        description="Compile ClearML-style decorator pipelines into standalone scripts, and run them.",
    )
    parser.add_argument("--version", action="version", version=f"pipec {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    build = commands.add_parser("build", help="compile a pipeline file into a build folder")
    build.add_argument("file", help="the pipeline file (it is read, never imported or run)")
    build.add_argument("-o", "--output", help="the build folder (default: build/<pipeline name>)")
    build.add_argument("--pipeline", help="the pipeline to build when the file holds several")
    build.add_argument(
        "--pins",
        choices=("exact", "compatible", "none"),
        default="exact",
        help="how requirements found from the installed packages are pinned: ==X.Y.Z "
        "(default), >=X.Y,<X+1 (compatible), or by name only (none); packages= is kept as written",
    )
    build.set_defaults(func=_cmd_build)

    check = commands.add_parser("check", help="report a pipeline file's problems; write nothing")
    check.add_argument("file", help="the pipeline file (it is read, never imported or run)")
    check.add_argument("--pipeline", help="the pipeline to check when the file holds several")
    check.set_defaults(func=_cmd_check)
    for command in (build, check):
        command.add_argument(
            "--strict-clearml",
            action="store_true",
            help="refuse calls that talk to a ClearML server (Task.init, Dataset.get, ...)",
        )

    if include_runtime:
        from pipec import commands as runtime_commands

        runtime_commands.register(commands, only_run=only_run)
    return parser


def _exempt_loaded_objects() -> None:
    """Leave the objects made so far (pipec's modules, functions and classes, which live as
    long as the process) out of every later garbage collection.

    They are never garbage, yet each full collection walks them, and the collection Python
    makes at exit walked them all once more: a few milliseconds of every command.  Objects
    made later, by the command itself, are collected as before."""
    import gc

    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        arguments = list(sys.argv[1:] if argv is None else argv)
        # `pipec build` and `pipec check` need nothing of the runtime: skip importing it.
        compiling = bool(arguments) and arguments[0] in ("build", "check")
        # `pipec run` parses its own options only: the other commands' modules are not loaded.
        parser = _parser(include_runtime=not compiling, only_run=arguments[:1] == ["run"])
        if argv is None:  # this process is pipec (the console script), not a caller's
            _exempt_loaded_objects()
        args = parser.parse_args(arguments)
        if args.command is None:  # `pipec` alone: say what it can do
            parser.print_help()
            return 0
        code: int = args.func(args)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` that stopped reading: end quietly, as `cat` does, and keep
        # Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception:
        import traceback  # only for pipec's own bugs: not on every command's path

        traceback.print_exc()
        print(
            "pipec: internal error: this is a bug in pipec, not in your pipeline; "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
