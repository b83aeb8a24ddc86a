"""Image loader: pick the active firmware slot, try a new image, roll back a bad one.

Layout on the board's flash::

    /main.py        this loader (small, rarely changes)
    /fw/state       "active previous trial tries" (written atomically)
    /fw/a/, /fw/b/  complete images: app_main, hw, board, bms/, drivers/

``afbms flash`` uploads a new image into the inactive slot, verifies it and
switches with ``trial=1``. Each boot of a trial image counts a try; the image
confirms itself when a host opens a session (HELLO answered). An image that
is not confirmed within its tries (it crashes at start-up, or never answers)
is abandoned: the loader goes back to the previous slot by itself. Without
/fw/state (firmware copied straight to the root) the root is the image.
"""

import os
import sys

try:
    import micropython

    # First thing: until the protocol owns the console, a 0x03 byte inside a host's
    # first frame would be Ctrl-C and stop the firmware at boot.
    micropython.kbd_intr(-1)
except ImportError:  # CPython, for tests
    micropython = None

FW_DIR = "/fw"  # where the slots and the state live (tests point it elsewhere)
MAX_TRIES = 3  # boots a trial image gets before the loader rolls back


def _write_state(active, previous, trial, tries):
    state = FW_DIR + "/state"
    with open(state + ".new", "w") as f:
        f.write("%s %s %d %d\n" % (active, previous, trial, tries))
    os.rename(state + ".new", state)


def _read_state():
    state = FW_DIR + "/state"
    for path in (state, state + ".new"):  # .new: a cut after writing it, before the rename
        try:
            with open(path) as f:
                parts = f.read().split()
            if len(parts) == 4 and parts[0] in ("a", "b"):
                return parts[0], parts[1], int(parts[2]), int(parts[3])
        except (OSError, ValueError):
            pass
    return None


class Image:
    """What the running image knows about itself."""

    def __init__(self, slot, previous, trial):
        self.slot = slot
        self.previous = previous
        self.trial = trial

    def confirm(self):
        """A host reached this image: keep it."""
        if self.trial:
            _write_state(self.slot, self.previous, 0, 0)
            self.trial = 0

    def rollback(self):
        """Give up this image: boot the previous slot next time."""
        if self.previous in ("a", "b"):
            _write_state(self.previous, self.slot, 0, 0)


def boot():
    state = _read_state()
    if state is None:
        import app_main

        app_main.main(None)
        return
    active, previous, trial, tries = state
    if trial:
        tries += 1
        if tries > MAX_TRIES and previous in ("a", "b"):
            active, previous, trial, tries = previous, active, 0, 0
        _write_state(active, previous, trial, tries)
    sys.path.insert(0, FW_DIR + "/" + active)
    try:
        import app_main
    except Exception:  # a broken image: count the try, go back at once if it was one
        if trial and previous in ("a", "b"):
            _write_state(previous, active, 0, 0)
        raise
    app_main.main(Image(active, previous, trial))



if __name__ == "__main__":  # MicroPython runs main.py as __main__ at power-up
    try:
        boot()
    finally:
        if micropython is not None:
            micropython.kbd_intr(3)  # the REPL gets Ctrl-C back whatever happened
