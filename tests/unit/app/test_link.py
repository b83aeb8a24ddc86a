"""The link dispatcher: sessions, every request type, refusals, paced log readout."""

import pytest

from afbms.protocol.enums import Command, ConfigKey, ConfigStatus, ErrorCode, FrameFlag, MsgType
from afbms.protocol.frame import encode_frame
from afbms.protocol.messages import CONFIG_KEY_ALL
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION
from bms import wire
from tests.unit.app.linkrig import LinkRig


@pytest.fixture
def rig():
    rig = LinkRig()
    rig.hello()
    return rig


def nack_error(frames):
    [frame] = frames
    assert frame.msg_type == MsgType.NACK
    return frame.payload["error"], frame.payload["detail"]


def test_hello_answers_info_echoing_seq():
    rig = LinkRig()
    [info] = rig.hello()
    assert (info.msg_type, info.seq, info.flags) == (MsgType.INFO, rig.seq, FrameFlag.RESPONSE)
    assert (info.payload["schema_hash"], info.payload["board"]) == (SCHEMA_HASH, "test")
    assert rig.link.session


def test_hello_with_other_schema_answers_but_opens_no_session():
    rig = LinkRig()
    [info] = rig.hello(schema_hash=SCHEMA_HASH ^ 0xFFFF)
    assert info.msg_type == MsgType.INFO and not rig.link.session
    frames = rig.send(MsgType.COMMAND, {"command": Command.SET_TIME, "arg": 1})
    assert nack_error(frames)[0] == ErrorCode.NO_SESSION
    assert rig.app.calls == []


def test_request_before_hello_is_refused():
    rig = LinkRig()
    assert nack_error(rig.send(MsgType.LOG_INFO_REQ))[0] == ErrorCode.NO_SESSION


def test_newer_minor_hello_with_longer_payload_is_accepted():
    rig = LinkRig()
    payload = bytes([PROTOCOL_VERSION | 0x0F]) + SCHEMA_HASH.to_bytes(4, "little") + b"xtra"
    [info] = rig.send(MsgType.HELLO, payload)
    assert info.msg_type == MsgType.INFO and rig.link.session


def test_other_major_is_refused(rig):
    frames = rig.send(MsgType.LOG_INFO_REQ, version=0x20)
    assert nack_error(frames) == (ErrorCode.UNSUPPORTED_VERSION, 0x20)


def test_unknown_type_is_nacked(rig):
    assert nack_error(rig.send(0x5A, b"\x01")) == (ErrorCode.UNKNOWN_TYPE, 0x5A)


def test_device_to_host_type_is_nacked(rig):
    frames = rig.send(MsgType.ACK, {"acked_type": MsgType.HELLO})
    assert nack_error(frames)[0] == ErrorCode.UNKNOWN_TYPE


def test_short_payload_is_nacked_with_expected_size(rig):
    frames = rig.send(MsgType.COMMAND, b"\x04")
    assert nack_error(frames) == (ErrorCode.BAD_LENGTH, wire.COMMAND_SIZE)
    assert rig.app.calls == []


def test_command_is_acked(rig):
    [ack] = rig.send(MsgType.COMMAND, {"command": Command.SET_TIME, "arg": 848_000_000})
    assert (ack.msg_type, ack.payload["acked_type"], ack.seq) == (
        MsgType.ACK,
        MsgType.COMMAND,
        rig.seq,
    )
    assert rig.app.calls == [("command", Command.SET_TIME, 848_000_000)]


def test_refused_command_is_nacked(rig):
    frames = rig.send(MsgType.COMMAND, {"command": Command.REBOOT, "arg": 0})
    assert nack_error(frames) == (ErrorCode.UNKNOWN_COMMAND, Command.REBOOT)


def test_config_get_one(rig):
    [value] = rig.send(MsgType.CONFIG_GET, {"key": ConfigKey.V_MAX_UV})
    assert (value.msg_type, value.payload["value"]) == (MsgType.CONFIG_VALUE, 4_250_000)


def test_config_get_all_flags_more_until_last(rig):
    frames = rig.send(MsgType.CONFIG_GET, {"key": CONFIG_KEY_ALL})
    assert [f.payload["key"] for f in frames] == [ConfigKey.V_MAX_UV, ConfigKey.V_MIN_UV]
    assert [bool(f.flags & FrameFlag.MORE) for f in frames] == [True, False]


def test_config_get_unknown_key(rig):
    frames = rig.send(MsgType.CONFIG_GET, {"key": ConfigKey.P_MAX_PA})
    assert nack_error(frames) == (ErrorCode.BAD_VALUE, ConfigKey.P_MAX_PA)


def test_config_set_reports_status_and_value_in_force(rig):
    [ok] = rig.send(MsgType.CONFIG_SET, {"key": ConfigKey.V_MAX_UV, "value": 4_300_000})
    [bad] = rig.send(MsgType.CONFIG_SET, {"key": ConfigKey.V_MAX_UV, "value": 9_000_000})
    assert (ok.payload["status"], ok.payload["value"]) == (ConfigStatus.OK, 4_300_000)
    assert (bad.payload["status"], bad.payload["value"]) == (ConfigStatus.OUT_OF_RANGE, 4_300_000)


def test_log_info(rig):
    [info] = rig.send(MsgType.LOG_INFO_REQ)
    assert (info.payload["first_seq"], info.payload["next_seq"]) == (10, 110)
    assert info.payload["page_records"] == wire.LOG_PAGE_RECORDS


def test_log_read_streams_one_page_per_poll(rig):
    first = rig.send(MsgType.LOG_READ, {"start_seq": 10, "count": 100})
    pages = first + rig.drain()
    seqs = [r["seq"] for p in pages for r in p.payload["records"]]
    assert seqs == list(range(10, 110))
    assert len(first) == 1  # the rest came on later polls, not in one burst
    assert [bool(p.flags & FrameFlag.MORE) for p in pages] == [True] * 4 + [False]
    assert all(p.seq == rig.seq for p in pages)


def test_log_read_before_first_starts_at_first(rig):
    pages = rig.send(MsgType.LOG_READ, {"start_seq": 0, "count": 3})
    assert [r["seq"] for r in pages[0].payload["records"]] == [10, 11, 12]


def test_log_read_past_the_end_is_refused(rig):
    frames = rig.send(MsgType.LOG_READ, {"start_seq": 500, "count": 3})
    assert nack_error(frames) == (ErrorCode.LOG_RANGE, 110)


def test_sim_control_on_a_real_board_is_refused(rig):
    frames = rig.send(MsgType.SIM_CONTROL, {"action": 1, "arg0": 0, "arg1": 0})
    assert nack_error(frames)[0] == ErrorCode.NOT_SIMULATED


def test_poll_reads_at_most_its_budget(rig):
    frame = encode_frame(MsgType.LOG_INFO_REQ, b"", seq=9)
    rig.port.inject(frame * 20)
    rig.link.poll(budget=len(frame))
    assert rig.port.any() > 0


def test_garbage_then_request_is_answered(rig):
    rig.port.inject(b"\x99" * 300 + b"\x00")
    [info] = rig.send(MsgType.LOG_INFO_REQ)
    assert info.msg_type == MsgType.LOG_INFO and rig.link.dec.rejected == 1
