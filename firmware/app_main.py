"""The application's entry: build the board's hardware, run the app, stop safely.

Called by the image loader (main.py) from the active image slot. Ctrl-C is
disabled while the protocol owns the console (a stray 0x03 in a frame must not
stop protection); the host stops the loop with COMMAND ENTER_MAINTENANCE,
which leaves the outputs safe and returns to the REPL so a flasher can work.
"""

import micropython

import board  # pyright: ignore[reportMissingImports]  (boards/<name>/board.py, in the image)
import hw
from bms.app import STOP_REBOOT, STOP_ROLLBACK, App


def main(image=None):
    """``image``: the loader's Image (trial state, confirm, rollback), or None."""
    hardware = hw.build(board)
    app = App(hardware, watchdog_reset=hw.watchdog_caused_reset(), image=image)
    micropython.kbd_intr(-1)
    try:
        stop = app.run()
    finally:
        micropython.kbd_intr(3)
        hardware.charge_out.set(False)
        hardware.discharge_out.set(False)
    if stop == STOP_ROLLBACK and image is not None:
        image.rollback()
    if stop in (STOP_REBOOT, STOP_ROLLBACK):
        hw.reset()
