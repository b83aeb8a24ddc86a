"""Byte transports to a board: a serial port (real board or virtual board's pty).

Errors are layered: a transport problem (no such port, busy, unplugged) is a
``TransportError``; protocol problems live in :mod:`afbms.device`.
"""

from __future__ import annotations

import contextlib
import errno
import time
from collections.abc import Iterable
from typing import Protocol

import serial
from serial.tools import list_ports

# USB vendor ids of boards that run MicroPython: Raspberry Pi (Pico), Espressif
# (ESP32-S3 native USB), MicroPython's own VID used by some builds.
KNOWN_VIDS = {0x2E8A: "Raspberry Pi", 0x303A: "Espressif", 0xF055: "MicroPython"}


class TransportError(Exception):
    """The port cannot be opened, is busy, or went away."""


class Transport(Protocol):
    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """Whatever arrived within ``timeout`` seconds (possibly nothing)."""
        ...

    def close(self) -> None: ...


class SerialTransport:
    """A serial port opened exclusively (a second afbms on the same port fails cleanly)."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self.port = port
        try:
            self._serial = serial.Serial(port, baudrate, timeout=0, exclusive=True)
        except serial.SerialException as exc:
            raise TransportError(_describe_open_error(port, exc)) from exc

    def write(self, data: bytes) -> None:
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.port}: write failed ({exc})") from exc

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        try:
            while True:
                waiting = self._serial.in_waiting
                if waiting:
                    return self._serial.read(waiting)
                if time.monotonic() >= deadline:
                    return b""
                time.sleep(0.002)
        except (serial.SerialException, OSError) as exc:
            raise TransportError(f"{self.port}: read failed ({exc})") from exc

    def close(self) -> None:
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()


def _describe_open_error(port: str, exc: serial.SerialException) -> str:
    """One line for the user, chosen by errno (pyserial keeps the OSError's)."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return f"no such port: {port}"
    if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY):
        return f"port {port} is busy (another program has it open)"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to open {port} (add yourself to the dialout group)"
    return f"cannot open {port}: {exc}"


def candidate_ports(ports: Iterable | None = None) -> list[tuple[str, str]]:
    """(device path, description) of USB serial ports that look like MicroPython boards."""
    found = []
    for info in ports if ports is not None else list_ports.comports():
        if info.vid in KNOWN_VIDS:
            serial_no = f" serial {info.serial_number}" if info.serial_number else ""
            found.append((info.device, f"{KNOWN_VIDS[info.vid]}{serial_no}"))
    return found


def find_port(port: str | None = None, serial_number: str | None = None) -> str:
    """The port to use: ``port`` if given, else the only connected board (by USB VID)."""
    if port:
        return port
    candidates = candidate_ports()
    if serial_number:
        candidates = [c for c in candidates if serial_number in c[1]]
    if not candidates:
        raise TransportError("no board found: connect one or pass --port")
    if len(candidates) > 1:
        names = ", ".join(path for path, _ in candidates)
        raise TransportError(f"several boards found ({names}): choose one with --port")
    return candidates[0][0]
