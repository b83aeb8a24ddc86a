"""Where the shipped trees live, in a checkout and in an installed package."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def _package_dir(name: str) -> Path:
    return Path(str(resources.files(name)))


def firmware_dir() -> Path:
    """The firmware tree that is deployed to boards (main.py, bms/, drivers/)."""
    return _package_dir("afbms.firmware")


def boards_dir() -> Path:
    """Board definitions, one folder per board."""
    return _package_dir("afbms.boards")


def protocol_dir() -> Path:
    """The protocol declarations and golden vectors."""
    return _package_dir("afbms.protocol")


def repo_root() -> Path | None:
    """The checkout this package runs from, or None for an installed wheel."""
    candidate = firmware_dir().parent
    return candidate if (candidate / "package.json").is_file() else None


def node_modules_dir() -> Path:
    """The node_modules folder holding the pinned MicroPython VM.

    ``AFBMS_NODE_MODULES`` overrides; otherwise the checkout's own folder.
    """
    override = os.environ.get("AFBMS_NODE_MODULES")
    if override:
        return Path(override)
    root = repo_root()
    if root is None:
        raise FileNotFoundError(
            "cannot find node_modules: set AFBMS_NODE_MODULES to a folder where "
            "`npm ci` installed @micropython/micropython-webassembly-pyscript"
        )
    return root / "node_modules"
