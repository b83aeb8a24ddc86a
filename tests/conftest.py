"""Shared test set-up: firmware modules import under CPython as on the board.

On a board the firmware tree is the root of the filesystem, so firmware code
says ``import bms.wire``. Putting the firmware folder on sys.path gives tests the
same names. It goes last, so the standard library keeps its own modules.
Markers are declared in pyproject.toml, not here.
"""

import sys

from afbms.paths import firmware_dir

_FIRMWARE = str(firmware_dir())
if _FIRMWARE not in sys.path:
    sys.path.append(_FIRMWARE)
