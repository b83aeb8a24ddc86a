"""The virtual board: the real MicroPython VM (or CPython) on a pseudo-terminal, the
plant behind its pins. See :class:`VirtualBoard` and ``afbms sim``."""

from afbms.vboard.board import VirtualBoard, VirtualBoardError
from afbms.vboard.deploy import deploy_firmware, firmware_image
from afbms.vboard.plant import MinimalPlant, SimpleCell

__all__ = [
    "MinimalPlant",
    "SimpleCell",
    "VirtualBoard",
    "VirtualBoardError",
    "deploy_firmware",
    "firmware_image",
]
