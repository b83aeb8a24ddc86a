"""A running afbms board, seen through the framed protocol.

Library first: every CLI command is a thin layer over :class:`Device`. Errors
are layered: ``TransportError`` (the port), ``DeviceError`` and its
subclasses (the board did not answer, refused, or speaks other declarations).
Unsolicited frames (TELEMETRY, EVENT, ESTIMATE) that arrive while waiting for
an answer are queued, never lost: :meth:`Device.frames` hands them out.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from afbms.protocol.enums import (
    Command,
    ConfigKey,
    ConfigStatus,
    ErrorCode,
    FrameFlag,
    MsgType,
)
from afbms.protocol.frame import DecodedFrame, FrameReader, encode_frame, parse_frame
from afbms.protocol.messages import CONFIG_KEY_ALL
from afbms.protocol.schema import SCHEMA_HASH, PeerMismatch, check_peer
from afbms.protocol.version import PROTOCOL_VERSION
from afbms.transport import Transport

if TYPE_CHECKING:
    import numpy as np

    from afbms.protocol.fast import FastStats

UNSOLICITED = {MsgType.TELEMETRY, MsgType.EVENT, MsgType.ESTIMATE}


class DeviceError(Exception):
    """The board did not do what was asked."""


class DeviceTimeout(DeviceError):
    """No answer within the timeout (wrong port? firmware not running?)."""


class ProtocolMismatch(DeviceError):
    """The firmware was built from other protocol declarations: refuse to talk."""


class Refused(DeviceError):
    """The board answered NACK."""

    def __init__(self, request: MsgType, error: ErrorCode | int, detail: int) -> None:
        name = error.name if isinstance(error, ErrorCode) else f"error {error}"
        super().__init__(f"{request.name} refused: {name} (detail {detail})")
        self.request = request
        self.error = error
        self.detail = detail


class Device:
    """A session with one board over a transport (serial port or pty)."""

    def __init__(self, transport: Transport, timeout: float = 2.0) -> None:
        self.transport = transport
        self.timeout = timeout
        self.reader = FrameReader()
        self.info: dict[str, Any] | None = None
        self._seq = 0
        self._pending: deque[DecodedFrame] = deque()

    # ------------------------------------------------------------ plumbing

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    def send(self, msg_type: MsgType, payload: dict[str, Any] | bytes = b"") -> int:
        seq = self._next_seq()
        self.transport.write(encode_frame(msg_type, payload, seq=seq))
        return seq

    def _receive(self, timeout: float) -> list[DecodedFrame]:
        return list(self.reader.feed(self.transport.read(timeout)))

    def request(
        self, msg_type: MsgType, payload: dict[str, Any] | bytes = b"", timeout: float | None = None
    ) -> list[DecodedFrame]:
        """Send a request; return its answer frames (several when flagged MORE).

        Raises Refused on NACK, DeviceTimeout when the answer does not come.
        """
        seq = self.send(msg_type, payload)
        answers: list[DecodedFrame] = []
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(
                    f"no answer to {msg_type.name} within {timeout or self.timeout:g} s "
                    "(is the afbms firmware running on this port?)"
                )
            for frame in self._receive(min(left, 0.05)):
                if frame.flags & FrameFlag.RESPONSE and frame.seq == seq:
                    if frame.msg_type == MsgType.NACK:
                        p = frame.payload
                        assert isinstance(p, dict)
                        raise Refused(msg_type, p["error"], p["detail"])
                    answers.append(frame)
                    if not frame.flags & FrameFlag.MORE:
                        return answers
                    deadline = time.monotonic() + (timeout or self.timeout)
                elif frame.msg_type in UNSOLICITED:
                    self._pending.append(frame)

    # ------------------------------------------------------------ session

    def hello(self) -> dict[str, Any]:
        """Open the session. Raises ProtocolMismatch for other declarations."""
        [info] = self.request(
            MsgType.HELLO, {"protocol_version": PROTOCOL_VERSION, "schema_hash": SCHEMA_HASH}
        )
        assert isinstance(info.payload, dict)
        try:
            check_peer(info.payload["protocol_version"], info.payload["schema_hash"])
        except PeerMismatch as exc:
            raise ProtocolMismatch(str(exc)) from exc
        self.info = info.payload
        return info.payload

    def command(self, command: Command, arg: int = 0) -> None:
        self.request(MsgType.COMMAND, {"command": command, "arg": arg})

    # ------------------------------------------------------------ config

    def config_get(self, key: ConfigKey | None = None) -> dict[ConfigKey | int, int]:
        """One key, or every key the firmware has."""
        want = CONFIG_KEY_ALL if key is None else int(key)
        values = {}
        for frame in self.request(MsgType.CONFIG_GET, {"key": want}):
            assert isinstance(frame.payload, dict)
            values[frame.payload["key"]] = frame.payload["value"]
        return values

    def config_set(self, key: ConfigKey, value: int) -> tuple[ConfigStatus | int, int]:
        """(status, value in force). The firmware validates; nothing changes unless OK."""
        [result] = self.request(MsgType.CONFIG_SET, {"key": int(key), "value": int(value)})
        assert isinstance(result.payload, dict)
        return result.payload["status"], result.payload["value"]

    # ------------------------------------------------------------ log

    def log_info(self) -> dict[str, int]:
        [frame] = self.request(MsgType.LOG_INFO_REQ)
        assert isinstance(frame.payload, dict)
        return frame.payload

    def read_log(
        self,
        start_seq: int,
        count: int,
        on_page: Callable[[np.ndarray], None] | None = None,
        stats: FastStats | None = None,
    ) -> Iterator[np.ndarray]:
        """Records from ``start_seq`` on, one numpy page per LOG_DATA frame (fast path:
        every frame and record CRC checked; damaged ones counted in ``stats``)."""
        from afbms.protocol.fast import FastStats  # numpy: imported only for readout

        stats = stats if stats is not None else FastStats()
        seq = self.send(MsgType.LOG_READ, {"start_seq": start_seq, "count": count})
        deadline = time.monotonic() + self.timeout
        buffer = bytearray()
        while True:
            if time.monotonic() > deadline:
                raise DeviceTimeout(f"log readout stalled after {stats.records} records")
            data = self.transport.read(0.05)
            if not data:
                continue
            deadline = time.monotonic() + self.timeout
            buffer += data
            *frames, rest = bytes(buffer).split(b"\0")
            buffer = bytearray(rest)
            for chunk in frames:
                if not chunk:
                    continue
                done, page = self._log_chunk(chunk, seq, stats)
                if page is not None:
                    if on_page is not None:
                        on_page(page)
                    yield page
                if done:
                    return

    def _log_chunk(
        self, chunk: bytes, seq: int, stats: FastStats
    ) -> tuple[bool, np.ndarray | None]:
        """One frame during readout: LOG_DATA pages take the fast path; anything else
        (a NACK, live telemetry) goes through the reference decoder."""
        from afbms.protocol.fast import decode_log_pages, unframe

        raw = unframe(chunk)
        if raw is None:
            stats.bad_frames += 1
            return False, None
        msg_type, frame_seq, flags = raw[1], raw[2] | raw[3] << 8, raw[4]
        if msg_type == MsgType.LOG_DATA and frame_seq == seq:
            return not flags & FrameFlag.MORE, decode_log_pages(chunk + b"\0", stats)
        frame = parse_frame(raw)
        if frame.msg_type == MsgType.NACK and frame.seq == seq:
            p = frame.payload
            assert isinstance(p, dict)
            raise Refused(MsgType.LOG_READ, p["error"], p["detail"])
        if frame.msg_type in UNSOLICITED:
            self._pending.append(frame)
        return False, None

    # ------------------------------------------------------------ live data

    def frames(self, timeout: float) -> Iterator[DecodedFrame]:
        """Unsolicited frames (telemetry, events, estimates) as they arrive, for ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                yield self._pending.popleft()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for frame in self._receive(min(left, 0.1)):
                if frame.msg_type in UNSOLICITED:
                    self._pending.append(frame)

    def close(self) -> None:
        self.transport.close()
