"""``afbms sim``: start a virtual board, print its port, run until stopped.

    afbms sim [--flash DIR] [--vm micropython|cpython] [--speed X|max] [--baud N]
              [--preset KEY] [--deploy auto|always|never] [--sources]

The port's path is the only line on stdout (``PORT=$(afbms sim ... | head -1)`` works);
what happens goes to stderr. Ctrl-C (or SIGTERM) switches the board off and exits 0.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

DEFAULT_FLASH = "out/sim/flash"


def _speed(text: str) -> float | None:
    if text.lower() in ("max", "0", "fast"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a speed: {text!r} (a number or 'max')") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text}")
    return value


def _baud(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a baud rate: {text!r}") from None
    if value < 300:
        raise argparse.ArgumentTypeError(f"baud must be at least 300, got {value}")
    return value


def add_sim_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flash", default=DEFAULT_FLASH, metavar="DIR",
                   help=f"the board's flash: a host folder (default: {DEFAULT_FLASH})")  # fmt: skip
    p.add_argument("--vm", choices=("micropython", "cpython"), default="micropython",
                   help="micropython: the real VM under node (faithful); cpython: the same "
                   "firmware in this process (fast)")  # fmt: skip
    p.add_argument("--speed", type=_speed, default=1.0, metavar="X|max",
                   help="simulated seconds per wall second, or 'max' (default: 1)")  # fmt: skip
    p.add_argument("--baud", type=_baud, default=None, metavar="N",
                   help="limit the console to N baud (8N1), as a UART link would")  # fmt: skip
    p.add_argument("--preset", default=None, metavar="KEY",
                   help="the full cell model with this preset (afbms.plant); default: the "
                   "minimal plant")  # fmt: skip
    p.add_argument("--deploy", choices=("auto", "always", "never"), default="auto",
                   help="copy the firmware into the flash first (auto: when it has no "
                   "main.py)")  # fmt: skip
    p.add_argument("--sources", action="store_true",
                   help="deploy .py sources instead of mpy-cross output")  # fmt: skip


def _plant(preset: str | None):
    if preset is None:
        return None
    from afbms.cli import CliError

    try:
        from afbms.plant.world import Plant
    except ImportError as exc:  # pragma: no cover - the plant ships with afbms
        raise CliError(f"the cell model is not available: {exc}") from exc
    try:
        return Plant(preset)
    except (KeyError, ValueError) as exc:
        raise CliError(f"unknown preset {preset!r}: {exc}") from exc


def run_sim(args: argparse.Namespace) -> int:
    from afbms.cli import CliError
    from afbms.vboard import VirtualBoard, deploy_firmware

    flash = Path(args.flash)
    if flash.exists() and not flash.is_dir():
        raise CliError(f"--flash {flash}: not a folder")
    plant = _plant(args.preset)
    if args.deploy == "always" or (args.deploy == "auto" and not (flash / "main.py").exists()):
        written = deploy_firmware(flash, compiled=not args.sources)
        print(f"afbms sim: firmware deployed to {flash} ({len(written)} files)", file=sys.stderr)

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    vb = VirtualBoard(flash, vm=args.vm, speed=args.speed, baud=args.baud, plant=plant)
    try:
        vb.start()
        print(vb.port, flush=True)
        speed = "max" if args.speed is None else f"{args.speed:g}x"
        print(
            f"afbms sim: virtual board on {vb.port} (vm={args.vm}, speed={speed}, "
            f"flash={flash}); Ctrl-C stops it",
            file=sys.stderr,
        )
        was_on = True
        while True:
            time.sleep(0.5)
            on = vb.powered
            if on != was_on:
                state = "on" if on else "off (power cut or crash; see the log below)"
                print(f"afbms sim: the board is {state}", file=sys.stderr)
                if not on and vb.vm == "micropython":
                    tail = vb.log().strip().splitlines()[-5:]
                    for line in tail:
                        print(f"  {line}", file=sys.stderr)
                was_on = on
    except KeyboardInterrupt:
        print("afbms sim: stopped", file=sys.stderr)
        return 0
    finally:
        vb.close()
        signal.signal(signal.SIGTERM, previous)
