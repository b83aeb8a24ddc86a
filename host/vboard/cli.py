"""``afbms sim``: start a virtual board, print its port, run until stopped.

    afbms sim [--flash DIR] [--vm micropython|cpython] [--speed X|max] [--baud N]
              [--preset KEY | --scenario FILE] [--deploy auto|always|never] [--sources]

``--scenario FILE`` plays a scenario file (tests/scenarios/*.toml) on the plant in virtual
time: its cell, cycling protocol, sensor errors, ambient and faults at their onsets. The
firmware is configured for the scenario's cell over the protocol before the port is
printed; fault onsets are reported on stderr as they happen.

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
    p.add_argument("--scenario", default=None, metavar="FILE",
                   help="play a scenario file on the full cell model (faults at their "
                   "onsets, in virtual time); configures the firmware for its cell")  # fmt: skip
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


def _scenario_plant(path: str):
    from afbms.cli import CliError
    from afbms.scenario.spec import ScenarioError, load
    from afbms.vboard.scenario import ScenarioPlant

    try:
        return ScenarioPlant(load(path))
    except ScenarioError as exc:
        raise CliError(str(exc)) from exc


def _configure_for_scenario(port: str, plant) -> None:
    """Open the port, put the scenario's config on the firmware, close the port."""
    from afbms.cli import CliError
    from afbms.device import Device, DeviceError
    from afbms.scenario.spec import ScenarioError
    from afbms.transport import SerialTransport
    from afbms.vboard.scenario import configure

    device = Device(SerialTransport(port), timeout=3.0)
    try:
        deadline = time.monotonic() + 30.0
        while True:  # the firmware may still be booting
            try:
                device.hello()
                break
            except DeviceError:
                if time.monotonic() > deadline:
                    raise
        configure(device, plant)
    except (DeviceError, ScenarioError) as exc:
        raise CliError(f"could not configure the firmware for the scenario: {exc}", 4) from exc
    finally:
        device.close()


def _clear_after_formation(port: str) -> str:
    """COMMAND CLEAR_FAULTS once the operator's formation charge is done (as the
    scenario runner does); a client holding the port has to do it itself."""
    from afbms.device import Device, DeviceError
    from afbms.protocol.enums import Command
    from afbms.transport import SerialTransport, TransportError

    try:
        device = Device(SerialTransport(port), timeout=3.0)
    except TransportError:
        return "the port is in use: clear the formation's UNDER_VOLTAGE from your client"
    try:
        device.hello()
        device.command(Command.CLEAR_FAULTS)
        return "faults cleared"
    except DeviceError as exc:
        return f"could not clear the faults ({exc})"
    finally:
        device.close()


def run_sim(args: argparse.Namespace) -> int:
    from afbms.cli import CliError
    from afbms.vboard import VirtualBoard, deploy_firmware
    from afbms.vboard.scenario import EPOCH_S

    flash = Path(args.flash)
    if flash.exists() and not flash.is_dir():
        raise CliError(f"--flash {flash}: not a folder")
    if args.scenario and args.preset:
        raise CliError("--scenario brings its own cell: give --preset or --scenario, not both")
    scenario = _scenario_plant(args.scenario) if args.scenario else None
    plant = scenario if scenario is not None else _plant(args.preset)
    if args.deploy == "always" or (args.deploy == "auto" and not (flash / "main.py").exists()):
        written = deploy_firmware(flash, compiled=not args.sources)
        print(f"afbms sim: firmware deployed to {flash} ({len(written)} files)", file=sys.stderr)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Both explicitly: a shell starting us in the background sets SIGINT to "ignore",
    # and Python then installs no KeyboardInterrupt handler of its own.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    epoch = EPOCH_S if scenario is not None else None
    speed = args.speed
    vb = VirtualBoard(flash, vm=args.vm, speed=1.0 if scenario else speed, baud=args.baud,
                      plant=plant, epoch_s=epoch)  # fmt: skip
    try:
        vb.start()
        if scenario is not None:
            _configure_for_scenario(vb.port, scenario)
            vb.set_speed(speed)
            sc = scenario.scenario
            print(f"afbms sim: scenario {sc.name} ({sc.preset}): {len(sc.faults)} faults; "
                  "the firmware is configured for its cell", file=sys.stderr)  # fmt: skip
        print(vb.port, flush=True)
        shown = "max" if speed is None else f"{speed:g}x"
        print(
            f"afbms sim: virtual board on {vb.port} (vm={args.vm}, speed={shown}, "
            f"flash={flash}); Ctrl-C stops it",
            file=sys.stderr,
        )
        was_on = True
        reported = 0
        formation_said = False
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
            if scenario is None:
                continue
            for onset in scenario.onsets[reported:]:
                what = "injected" if onset["action"] == "inject" else "cleared"
                print(f"afbms sim: {onset['kind']} {what} at {onset['t_s'] / 3600:.2f} h",
                      file=sys.stderr)  # fmt: skip
                reported += 1
            if scenario.formation_end_s is not None and not formation_said:
                formation_said = True
                note = _clear_after_formation(vb.port)
                print(f"afbms sim: formation charge done at {scenario.formation_end_s / 3600:.2f} h"
                      f"; {note}", file=sys.stderr)  # fmt: skip
    except KeyboardInterrupt:
        print("afbms sim: stopped", file=sys.stderr)
        return 0
    finally:
        vb.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
