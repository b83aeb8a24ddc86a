"""Put the firmware tree on ``sys.path`` so its modules import as on the board
(``bms.app``, ``drivers.ina228``). Imported for that side effect, first."""

import sys

from afbms.paths import firmware_dir

_PATH = str(firmware_dir())
if _PATH not in sys.path:
    sys.path.append(_PATH)  # last: never shadows the standard library
