"""Mutated frames into the link dispatcher: nothing escapes, nothing changes state
except a frame that is, byte for byte, a valid state-changing request."""

import random

import pytest
from cobs import cobs

from afbms.protocol.crc import crc16
from afbms.protocol.enums import Command, ConfigKey, MsgType
from afbms.protocol.frame import FrameReader, encode_frame
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_VERSION
from bms import wire
from tests.unit.app.linkrig import FakeApp, LinkRig

TEMPLATES = [
    (MsgType.HELLO, {"protocol_version": PROTOCOL_VERSION, "schema_hash": SCHEMA_HASH}),
    (MsgType.COMMAND, {"command": Command.SET_TIME, "arg": 848_000_000}),
    (MsgType.COMMAND, {"command": Command.CLEAR_FAULTS, "arg": 0}),
    (MsgType.CONFIG_SET, {"key": ConfigKey.V_MAX_UV, "value": 4_300_000}),
    (MsgType.CONFIG_GET, {"key": ConfigKey.V_MIN_UV}),
    (MsgType.LOG_INFO_REQ, {}),
    (MsgType.LOG_READ, {"start_seq": 10, "count": 30}),
    (MsgType.SIM_CONTROL, {"action": 1, "arg0": 2, "arg1": 3}),
]


def mutate(rng: random.Random, frame: bytes) -> bytes:
    """One random mutation; half of them re-seal the CRC so the dispatcher sees them."""
    raw = bytearray(cobs.decode(frame[:-1]))
    kind = rng.randrange(8)
    if kind == 0:  # flip bits anywhere (CRC catches these)
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        raw = raw[: rng.randrange(len(raw))]
    elif kind == 2:  # random bytes appended
        raw += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    elif kind == 3:  # pure garbage
        raw = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
    else:  # structural mutations with a valid CRC
        body = raw[:-2]
        if kind == 4:
            body[rng.randrange(len(body))] = rng.randrange(256)
        elif kind == 5:  # payload length field lies
            body[5] = rng.randrange(256)
        elif kind == 6:  # another message type on this payload
            body[1] = rng.choice([*(int(t) for t in MsgType), rng.randrange(256)])
        else:  # payload bytes randomised, length kept honest
            for i in range(7, len(body)):
                if rng.random() < 0.5:
                    body[i] = rng.randrange(256)
        raw = body + crc16(bytes(body)).to_bytes(2, "little")
    return cobs.encode(bytes(raw)) + b"\0" if raw else b"\0"


def expected_effect(frame, app: FakeApp, session: bool):
    """(calls the app must see, session afterwards) per the reference host decoder."""
    if frame.msg_type == MsgType.HELLO:
        p = frame.payload
        return [], p["protocol_version"] >> 4 == PROTOCOL_MAJOR and p["schema_hash"] == SCHEMA_HASH
    if not session:
        return [], session
    if frame.msg_type == MsgType.COMMAND:
        code, arg = int(frame.payload["command"]), frame.payload["arg"]
        if code in (wire.CMD_CLEAR_FAULTS, wire.CMD_SET_TIME):
            return [("command", code, arg)], session
    if frame.msg_type == MsgType.CONFIG_SET:
        key, value = int(frame.payload["key"]), frame.payload["value"]
        if key in app.config and 1_000_000 <= value <= 5_000_000:
            return [("config_set", key, value)], session
    return [], session


def run_fuzz(count: int, seed: int) -> dict:
    rng = random.Random(seed)
    rig = LinkRig()
    rig.hello()
    session = True
    stats = {"frames": 0, "accepted_by_reference": 0, "state_changes": 0}
    for _ in range(count):
        msg_type, payload = rng.choice(TEMPLATES)
        wire_bytes = mutate(rng, encode_frame(msg_type, payload, seq=rng.randrange(65536)))
        reference = list(FrameReader().feed(b"\0" + wire_bytes))
        expected = []
        for frame in reference:
            calls, session = expected_effect(frame, rig.app, session)
            expected += calls
        before = len(rig.app.calls)
        rig.port.inject(b"\0" + wire_bytes)
        rig.link.poll(budget=4096)  # any exception here fails the test
        rig.port.take_tx()
        assert rig.app.calls[before:] == expected
        assert rig.link.session == session
        stats["frames"] += 1
        stats["accepted_by_reference"] += len(reference)
        stats["state_changes"] += len(expected)
        if rng.random() < 0.01:  # now and then, a proper HELLO to reopen the session
            rig.hello()
            session = True
    return stats


def test_fuzz_dispatcher_fast():
    stats = run_fuzz(20_000, seed=1)
    assert stats["frames"] == 20_000
    assert stats["state_changes"] > 100  # the fuzz does reach the state-changing paths


@pytest.mark.slow
def test_fuzz_dispatcher_one_million():
    stats = run_fuzz(1_000_000, seed=2)
    print(stats)
    assert stats["frames"] == 1_000_000


def app_snapshot(app) -> tuple:
    return (
        tuple(app.config.get(k) for k in app.config.keys),
        app.protection.latched,
        app.protection.state,
        app.clock.time_s(),
        app.telemetry_period_ms,
        app.stop,
    )


STATE_CHANGING = {MsgType.CONFIG_SET, MsgType.COMMAND}


def test_fuzz_real_application(tmp_path):
    """Mutated frames into the real App: nothing escapes, and its state (config,
    faults, protection state, clock, telemetry rate) changes only when the frame was
    a well-formed CONFIG_SET or COMMAND."""
    from tests.unit.app.apprig import AppRig

    rig = AppRig(tmp_path)
    rig.hello()
    rig.steps(2)
    rng = random.Random(3)
    changed_by_valid = 0
    for _ in range(5_000):
        msg_type, payload = rng.choice(TEMPLATES)
        wire_bytes = mutate(rng, encode_frame(msg_type, payload, seq=rng.randrange(65536)))
        reference = list(FrameReader().feed(b"\0" + wire_bytes))
        before = app_snapshot(rig.app)
        rig.board.port.inject(b"\0" + wire_bytes)
        rig.app.link.poll(budget=4096)
        rig.board.port.take_tx()
        rig.app.stop = 0  # a valid REBOOT/MAINTENANCE would stop the loop: keep fuzzing
        rig.app.link.closed = False  # ... and hand the console over
        rig.board.port.rx_pos = rig.board.port.rx_len  # what a closed link left unread
        if app_snapshot(rig.app) != before:
            assert any(f.msg_type in STATE_CHANGING for f in reference), reference
            changed_by_valid += 1
        if not rig.app.link.session:
            rig.hello()
    assert changed_by_valid > 10
