"""Boot: build the board's hardware, run the application, stop safely.

Ctrl-C is disabled while the protocol owns the console (a stray 0x03 in a
frame must not stop protection); the host stops the loop with COMMAND
ENTER_MAINTENANCE, which leaves the outputs safe and returns to the REPL so a
flasher can work.
"""

import micropython

import board  # pyright: ignore[reportMissingImports]  (boards/<name>/board.py, deployed as /board.py)
import hw
from bms.app import STOP_REBOOT, App


def main():
    hardware = hw.build(board)
    app = App(hardware, watchdog_reset=hw.watchdog_caused_reset())
    micropython.kbd_intr(-1)
    try:
        stop = app.run()
    finally:
        micropython.kbd_intr(3)
        hardware.charge_out.set(False)
        hardware.discharge_out.set(False)
    if stop == STOP_REBOOT:
        hw.reset()


main()
