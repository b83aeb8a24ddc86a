"""Board commands of the CLI (info, config): thin handlers over afbms.device.

Each handler opens the port, says HELLO, does its work and closes the port in
``finally``. Output is human text, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from afbms.cellconfig import (
    ConfigError,
    check,
    format_value,
    from_toml,
    key_by_name,
    parse_value,
    preset_config,
    to_toml,
    unit_of,
)
from afbms.device import Device
from afbms.protocol.enums import Capability, Command, ConfigKey, ConfigStatus
from afbms.transport import SerialTransport, find_port


def add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help="serial port (default: the one connected board)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for answers")


@contextmanager
def connected(args: argparse.Namespace) -> Iterator[Device]:
    """A Device with an open session; the port is closed whatever happens."""
    transport = SerialTransport(find_port(args.port))
    device = Device(transport, timeout=args.timeout)
    try:
        device.hello()
        yield device
    finally:
        device.close()


def _describe_info(info: dict[str, Any]) -> dict[str, Any]:
    caps = Capability(info["capabilities"])
    return {
        "board": info["board"],
        "device_id": info["device_id"].hex(),
        "firmware": f"{info['fw_major']}.{info['fw_minor']}.{info['fw_patch']}",
        "protocol": f"{info['protocol_version'] >> 4}.{info['protocol_version'] & 15}",
        "schema_hash": f"0x{info['schema_hash']:08X}",
        "capabilities": [c.name.lower() for c in Capability if c in caps],
        "uptime_s": info["uptime_s"],
    }


def cmd_info(args: argparse.Namespace) -> int:
    with connected(args) as device:
        assert device.info is not None
        described = _describe_info(device.info)
    if args.json:
        print(json.dumps(described, indent=1))
    else:
        for name, value in described.items():
            shown = ", ".join(value) if isinstance(value, list) else value
            print(f"{name:<13} {shown}")
    return 0


def _config_rows(values: dict[Any, int]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(values, key=int):
        try:
            k = ConfigKey(key)
        except ValueError:
            continue
        unit = unit_of(k)
        rows.append(
            {
                "key": k.name.lower(),
                "value": values[key],
                "unit": unit.symbol if unit else "",
                "shown": format_value(k, values[key]),
            }
        )
    return rows


def cmd_config(args: argparse.Namespace) -> int:
    actions: dict[str, Callable[[argparse.Namespace], int]] = {
        "get": _config_get,
        "set": _config_set,
        "export": _config_export,
        "import": _config_import,
        "presets": _config_presets,
    }
    return actions[args.action](args)


def _config_get(args: argparse.Namespace) -> int:
    key = key_by_name(args.key) if args.key else None
    with connected(args) as device:
        values = device.config_get(key)
    rows = _config_rows(values)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            print(f"{row['key']:<20} {row['shown']:>12}   ({row['value']} {row['unit']})")
    return 0


def parse_assignments(items: list[str]) -> dict[ConfigKey, int]:
    changes = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"expected key=value, got {item!r}")
        key = key_by_name(name)
        changes[key] = parse_value(key, text)
    return changes


def _apply(device: Device, changes: dict[ConfigKey, int]) -> list[str]:
    """Validate on the host (the firmware's own rules), then set each key on the board."""
    current = device.config_get()
    check({int(k): v for k, v in current.items()}, changes)
    done = []
    for key, value in changes.items():
        status, now = device.config_set(key, value)
        if status != ConfigStatus.OK:
            name = status.name if isinstance(status, ConfigStatus) else status
            raise ConfigError(f"board refused {key.name.lower()} = {format_value(key, value)}: "
                              f"{name} (still {format_value(key, now)})")  # fmt: skip
        done.append(f"{key.name.lower()} = {format_value(key, now)}")
    return done


def _config_set(args: argparse.Namespace) -> int:
    changes = preset_config(args.preset) if args.preset else {}
    changes.update(parse_assignments(args.assignments))  # explicit values win over the preset
    if not changes:
        raise ConfigError("nothing to set: give key=value pairs or --preset NAME")
    with connected(args) as device:
        for line in _apply(device, changes):
            print(line)
    return 0


def _config_presets(args: argparse.Namespace) -> int:
    from afbms.plant.presets import PRESETS

    for name, preset in PRESETS.items():
        print(f"{name:<38} {preset.title}")
    return 0


def _config_export(args: argparse.Namespace) -> int:
    with connected(args) as device:
        values = device.config_get()
        assert device.info is not None
        meta = _describe_info(device.info)
    keep = ("board", "device_id", "firmware", "schema_hash")
    text = to_toml(values, {name: meta[name] for name in keep})
    out = Path(args.file)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}") from exc
    print(f"wrote {len(values)} keys to {out}")
    return 0


def _config_import(args: argparse.Namespace) -> int:
    values, unknown = from_toml(Path(args.file))
    for name in unknown:
        print(f"skipped {name}: this afbms does not know it")
    with connected(args) as device:
        current = device.config_get()
        changes = {k: v for k, v in values.items() if current.get(k) != v}
        for line in _apply(device, changes):
            print(line)
    print(f"{len(changes)} changed, {len(values) - len(changes)} already so")
    return 0


def _jsonable(value: Any) -> Any:
    if hasattr(value, "name") and isinstance(value, int):
        return value.name if value.name else int(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def progress_bar(args: argparse.Namespace, *columns: Any) -> Any:
    """A rich progress bar on stderr, shown only on a terminal (never in --json runs, pipes
    or logs, so stderr keeps to its one line per error)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, console=console, transient=True,
                    disable=args.json or not console.is_terminal)  # fmt: skip


def cmd_readout(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    from afbms.readout import readout
    from afbms.store import Store

    with Store.open(args.store) as store, connected(args) as device:
        columns = (TextColumn("readout"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeRemainingColumn())  # fmt: skip
        with progress_bar(args, *columns) as bar:
            task = bar.add_task("readout", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = readout(device, store, progress)
    summary = {k: getattr(result, k) for k in ("device", "asked_from", "next_seq", "received",
                                                "new", "lost", "bad_records")}  # fmt: skip
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"device {result.device}: {result.new} new records ({result.received} read, "
              f"{result.lost} no longer on the device), store {args.store}")  # fmt: skip
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from afbms.monitor import format_frame, monitor
    from afbms.store import Store

    def sink(kind: str, payload: dict[str, Any]) -> None:
        if args.json:
            # "frame": telemetry, estimate or event; an event's own kind stays "kind"
            print(json.dumps({"frame": kind, **{k: _jsonable(v) for k, v in payload.items()}}),
                  flush=True)  # fmt: skip
        else:
            print(format_frame(kind, payload), flush=True)

    store = Store.open(args.store) if args.store else None
    try:
        with connected(args) as device:
            if args.rate is not None:
                device.command(Command.SET_TELEMETRY_PERIOD, args.rate)
            counts = monitor(device, args.duration, sink, store=store, frames_max=args.count)
    finally:
        if store is not None:
            store.close()
    if not args.json:
        print(f"{counts['telemetry']} telemetry, {counts['estimate']} estimates, "
              f"{counts['event']} events")  # fmt: skip
    return 0


def cmd_flash(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, DownloadColumn, TextColumn

    from afbms.flash import flash

    port = find_port(args.port)
    with progress_bar(args, TextColumn("flash"), BarColumn(), DownloadColumn()) as bar:
        task = bar.add_task("flash", total=None)

        def progress(what: str, done: int, total: int) -> None:
            if total:
                bar.update(task, completed=done, total=total)

        report = flash(port, args.board, dry_run=args.dry_run, verify_only=args.verify_only,
                       force=args.force, full=args.full, timeout=args.timeout,
                       progress=progress)  # fmt: skip
    if args.json:
        print(json.dumps(report.__dict__))
    elif args.dry_run and report.up_to_date:
        print(f"nothing to do: slot {report.slot} already holds this firmware")
    elif args.dry_run:
        print(f"would upload {len(report.uploaded)} of {report.files} files to slot "
              f"{report.slot}, copy {len(report.copied)} on the board, remove "
              f"{len(report.removed)}; loader "
              f"{'changes' if report.loader_updated else 'unchanged'}")  # fmt: skip
    elif args.verify_only:
        print(f"slot {report.slot}: all {report.files} files match this firmware")
    elif report.up_to_date:
        print(f"slot {report.slot} already holds this firmware ({report.files} files "
              f"verified on the board); restarted, confirmed by HELLO in "
              f"{report.seconds:.1f} s")  # fmt: skip
    else:
        print(f"flashed slot {report.slot} ({len(report.uploaded)} files uploaded, "
              f"{len(report.copied)} copied on the board, {report.unchanged} unchanged, "
              f"{report.bytes_sent} bytes), verified, confirmed by HELLO in "
              f"{report.seconds:.1f} s; slot {report.previous} kept")  # fmt: skip
    return 0


def add_board_commands(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    p = sub.add_parser("info", help="who is on the port: board, firmware, protocol")
    add_port_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("config", help="read or change the cell configuration on the board")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("get", help="all keys, or one")
    a.add_argument("key", nargs="?", help="e.g. v_max")
    a.add_argument("--json", action="store_true")
    add_port_options(a)
    a = actions.add_parser("set", help="key=value ... (units welcome: v_max=4.25V)")
    a.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    a.add_argument("--preset", help="start from a cell preset (see: afbms config presets)")
    add_port_options(a)
    actions.add_parser("presets", help="list the cell presets (from the seeds' tables)")
    a = actions.add_parser("export", help="write the board's config to a TOML file")
    a.add_argument("file")
    add_port_options(a)
    a = actions.add_parser("import", help="apply a TOML file (validated as a whole first)")
    a.add_argument("file")
    add_port_options(a)
    p = sub.add_parser("flash", help="compile and flash the firmware (staged, verified, atomic)")
    p.add_argument("--board", required=True, help="board definition: pico, esp32s3, sim")
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    p.add_argument("--verify-only", action="store_true",
                   help="check the active image against this firmware")  # fmt: skip
    p.add_argument("--full", action="store_true",
                   help="send every file over the link (no copies on the board)")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help="flash even if the running firmware says it is another board")  # fmt: skip
    p.add_argument("--json", action="store_true", help="machine-readable report")
    add_port_options(p)
    p.set_defaults(timeout=20.0)

    p = sub.add_parser("readout", help="read the board's log into the local store (resumable)")
    p.add_argument("--store", default="afbms.sqlite", help="SQLite store file")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    add_port_options(p)

    p = sub.add_parser("monitor", help="live telemetry, estimates and events")
    p.add_argument("--store", help="also record everything into this SQLite store")
    p.add_argument("--rate", type=int, help="telemetry period in ms (set on the board)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--count", type=int, help="stop after this many frames")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_port_options(p)
    return {
        "info": cmd_info,
        "config": cmd_config,
        "flash": cmd_flash,
        "readout": cmd_readout,
        "monitor": cmd_monitor,
    }
