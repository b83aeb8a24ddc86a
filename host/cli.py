"""The ``afbms`` command line: a thin dispatch table over the library.

Every handler takes the parsed arguments and returns an exit code. User and
device errors are raised as :class:`CliError` (or a library error listed in
``_USER_ERRORS``) and end as one line on stderr with a non-zero exit code,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from afbms import __version__
from afbms.commands import add_board_commands


class CliError(Exception):
    """A user mistake or device problem: printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _cmd_describe(args: argparse.Namespace) -> int:
    from afbms.describe import catalogue, render_catalogue

    cat = catalogue()
    if args.json:
        print(json.dumps(cat, indent=1))
    else:
        print(render_catalogue(cat))
    return 0


def _cmd_decode(args: argparse.Namespace) -> int:
    from afbms.describe import decode_stream

    if args.file:
        path = Path(args.file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    else:
        if not args.hex:
            raise CliError("give hex frames or --file CAPTURE")
        try:
            data = bytes.fromhex("".join(args.hex))
        except ValueError as exc:
            raise CliError(f"not hex: {exc}") from exc
    frames, stats = decode_stream(data)
    if args.json:
        print(json.dumps({"frames": frames, "stats": stats}, indent=1))
    else:
        for frame in frames:
            fields = " ".join(f"{k}={v}" for k, v in frame["payload"].items())
            print(f"{frame['msg_type']} seq={frame['seq']} flags={frame['flags']} {fields}")
        print(f"{stats['accepted']} frames, {stats['rejected']} rejected", file=sys.stderr)
    return 0 if stats["accepted"] or not data else 1


def _cmd_codegen(args: argparse.Namespace) -> int:
    from afbms.protocol import codegen

    return codegen.main(["--check"] if args.check else [])


def _cmd_vectors(args: argparse.Namespace) -> int:
    from afbms.protocol import vectors

    return vectors.main(["--check"] if args.check else [])


def _cmd_demo(args: argparse.Namespace) -> int:
    from afbms.demo import run_demo

    return run_demo(out_dir=Path(args.out), cycles=args.cycles)


def _cmd_export(args: argparse.Namespace) -> int:
    from afbms.export import ExportError, run
    from afbms.store import StoreError

    try:
        return run(args)
    except (StoreError, ExportError) as exc:
        raise CliError(str(exc)) from exc


def _cmd_plot(args: argparse.Namespace) -> int:
    from afbms.plot import PlotError, run
    from afbms.store import StoreError

    try:
        return run(args)
    except (StoreError, PlotError) as exc:
        raise CliError(str(exc)) from exc


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="afbms",
        description="Battery management for anode-free solid-state cells: host tools.",
    )
    parser.add_argument("--version", action="version", version=f"afbms {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("describe", help="print the protocol's message catalogue")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("decode", help="decode captured frames (hex or a binary capture)")
    p.add_argument("hex", nargs="*", help="hex bytes of one or more COBS frames")
    p.add_argument("--file", help="binary capture of the serial stream")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("codegen", help="regenerate firmware/bms/wire.py from protocol/")
    p.add_argument("--check", action="store_true", help="exit 1 if the file is stale")

    p = sub.add_parser("vectors", help="regenerate the golden vectors")
    p.add_argument("--check", action="store_true", help="exit 1 if they are stale")

    board_commands = add_board_commands(sub)

    p = sub.add_parser("demo", help="the end-to-end demo on a virtual board (MicroPython VM)")
    p.add_argument("--out", default="out/demo", help="folder for the demo's outputs")
    p.add_argument("--cycles", type=_int_at_least(1), default=4, help="cycles to run")

    p = sub.add_parser("export", help="export a device's samples from the store")
    p.add_argument("--store", required=True, help="the store file (SQLite)")
    p.add_argument("--device", help="device id (hex, a unique prefix will do); optional "
                   "when the store holds one device")  # fmt: skip
    p.add_argument("--format", choices=("csv", "bdf", "parquet"), default="bdf",
                   help="csv: plain, SI units; bdf: Battery Data Format CSV; parquet: BDF "
                   "columns, typed (default: bdf)")  # fmt: skip
    p.add_argument(
        "--out", required=True, help="output file, or a folder (existing, or a path ending in /)"
    )

    p = sub.add_parser("plot", help="draw PNG figures of a device's log from the store")
    p.add_argument("--store", required=True, help="the store file (SQLite)")
    p.add_argument("--device", help="device id (hex, a unique prefix will do); optional "
                   "when the store holds one device")  # fmt: skip
    p.add_argument("--out", required=True, help="folder for the PNG files (created if needed)")
    p.add_argument("--kind", choices=("timeseries", "inventory", "thickness", "all"),
                   default="all", help="which figure (default: all that have data)")  # fmt: skip
    p.add_argument("--eol", type=float, default=80.0, metavar="PERCENT",
                   help="end of life at this %% of the initial inventory (default 80)")  # fmt: skip

    from afbms.vboard.cli import add_sim_arguments

    add_sim_arguments(sub.add_parser("sim", help="start a virtual board on a pseudo-terminal"))

    p = sub.add_parser("scenario", help="run scenario files: the firmware against the "
                       "simulated cell (exit 1 when a check fails)")  # fmt: skip
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.toml", help="scenario files")
    p.add_argument("--json", action="store_true", help="one JSON summary per line")
    parser.set_defaults(board_commands=board_commands)
    return parser


def _cmd_sim(args: argparse.Namespace) -> int:
    from afbms.vboard.cli import run_sim

    return run_sim(args)


def _cmd_scenario(args: argparse.Namespace) -> int:
    from afbms.scenario import ScenarioError
    from afbms.scenario.__main__ import run_files

    try:
        return run_files(args.files, args.json)
    except ScenarioError as exc:
        raise CliError(str(exc)) from exc


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "describe": _cmd_describe,
    "decode": _cmd_decode,
    "codegen": _cmd_codegen,
    "vectors": _cmd_vectors,
    "demo": _cmd_demo,
    "export": _cmd_export,
    "plot": _cmd_plot,
    "sim": _cmd_sim,
    "scenario": _cmd_scenario,
}


# Exit codes: 1 failure, 2 a user mistake, 3 the port, 4 the board (no answer,
# refused, other protocol declarations), 130 interrupted.
EXIT_USER, EXIT_PORT, EXIT_DEVICE = 2, 3, 4


def _exit_code(exc: BaseException) -> int | None:
    """The exit code of an error meant for the user, or None for a bug."""
    from afbms.cellconfig import ConfigError
    from afbms.device import DeviceError
    from afbms.export import ExportError
    from afbms.flash import FlashError, UnknownBoard, WrongBoard
    from afbms.mpvm import VmError
    from afbms.plot import PlotError
    from afbms.store import StoreError
    from afbms.transport import TransportError

    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, ConfigError | UnknownBoard | WrongBoard | StoreError | ExportError
                  | PlotError):  # fmt: skip
        return EXIT_USER
    if isinstance(exc, FlashError):
        return EXIT_DEVICE
    if isinstance(exc, TransportError):
        return EXIT_PORT
    if isinstance(exc, DeviceError):
        return EXIT_DEVICE
    if isinstance(exc, VmError | OSError):
        return 1
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = COMMANDS.get(args.command) or args.board_commands[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("afbms: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        print(f"afbms {args.command}: {exc}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
