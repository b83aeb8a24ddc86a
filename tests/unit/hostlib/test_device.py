"""The protocol client against the real firmware app (in-process, virtual time)."""

import numpy as np
import pytest

from afbms.device import Device, DeviceTimeout, ProtocolMismatch, Refused
from afbms.protocol.enums import Command, ConfigKey, ConfigStatus, ErrorCode, MsgType, State
from afbms.protocol.fast import FastStats
from tests.unit.app.apprig import AppRig


class AppTransport:
    """Bytes to and from an App in this process; each read runs ~100 ms of its loop."""

    def __init__(self, rig: AppRig) -> None:
        self.rig = rig
        self.closed = False

    def write(self, data: bytes) -> None:
        self.rig.board.port.inject(data)

    def read(self, timeout: float) -> bytes:
        app, board = self.rig.app, self.rig.board
        for _ in range(20):
            app.link.poll()
            wait = app.sampler.ms_until_due()
            if wait <= 0:
                app.step()
            board.advance(5)
        return board.port.take_tx()

    def close(self) -> None:
        self.closed = True


class SilentTransport:
    def write(self, data: bytes) -> None:
        pass

    def read(self, timeout: float) -> bytes:
        return b""

    def close(self) -> None:
        pass


@pytest.fixture
def device(tmp_path):
    device = Device(AppTransport(AppRig(tmp_path)), timeout=2.0)
    device.hello()
    return device


def test_hello_returns_the_board(device):
    assert device.info["board"] == "bench" and device.info["device_id"] == bytes.fromhex(
        "be0c4b0a7d000001"
    )


def test_config_get_all_lists_every_key(device):
    values = device.config_get()
    assert set(values) == set(ConfigKey)
    assert values[ConfigKey.V_MAX_UV] == 4_250_000


def test_config_set_ok_and_refused(device):
    assert device.config_set(ConfigKey.V_MAX_UV, 4_300_000) == (ConfigStatus.OK, 4_300_000)
    status, value = device.config_set(ConfigKey.V_MAX_UV, 9_000_000)
    assert (status, value) == (ConfigStatus.OUT_OF_RANGE, 4_300_000)


def test_refused_command_raises_with_its_reason(device):
    with pytest.raises(Refused) as info:
        device.command(0x55)
    assert info.value.error == ErrorCode.UNKNOWN_COMMAND


def test_telemetry_arrives_as_frames(device):
    frames = list(device.frames(timeout=0.5))
    telemetry = [f for f in frames if f.msg_type == MsgType.TELEMETRY]
    assert telemetry and telemetry[-1].payload["state"] == State.IDLE


def test_log_readout_in_numpy_pages(device):
    device.frames(timeout=0.5)  # let some samples be logged
    list(device.frames(timeout=1.0))
    device.command(Command.FLUSH_LOG)
    info = device.log_info()
    stats = FastStats()
    pages = list(device.read_log(info["first_seq"], info["next_seq"] - info["first_seq"],
                                 stats=stats))  # fmt: skip
    records = np.concatenate(pages)
    assert len(records) == info["next_seq"] - info["first_seq"]
    assert (np.diff(records["seq"]) == 1).all() and stats.bad_records == 0


def test_log_read_past_end_is_refused(device):
    info = device.log_info()
    with pytest.raises(Refused) as excinfo:
        list(device.read_log(info["next_seq"] + 100, 10))
    assert excinfo.value.error == ErrorCode.LOG_RANGE


def test_other_schema_is_refused(tmp_path, monkeypatch):
    from bms import wire

    monkeypatch.setattr(wire, "SCHEMA_HASH", wire.SCHEMA_HASH ^ 0x5A5A)
    device = Device(AppTransport(AppRig(tmp_path)))
    with pytest.raises(ProtocolMismatch):
        device.hello()


def test_silent_port_times_out():
    with pytest.raises(DeviceTimeout):
        Device(SilentTransport(), timeout=0.2).hello()


def test_readout_is_resumable_and_deduplicated(device, tmp_path):
    from afbms.readout import readout
    from afbms.store import Store

    list(device.frames(timeout=1.5))
    with Store.open(tmp_path / "log.sqlite") as store:
        first = readout(device, store)
        again = readout(device, store)
        dev = first.device
        assert first.new == first.received > 0 and first.bad_records == 0
        # The board kept sampling in between: the second readout resumes where the first
        # stopped and stores only what is new; nothing is stored twice.
        assert again.asked_from == first.next_seq and again.new == again.received
        assert store.record_count(dev) == first.new + again.new
        list(device.frames(timeout=1.0))
        third = readout(device, store)
        assert third.asked_from == again.next_seq and third.new > 0


def test_monitor_records_live_frames(device, tmp_path):
    from afbms.monitor import monitor
    from afbms.store import Store

    seen = []
    with Store.open(tmp_path / "live.sqlite") as store:
        counts = monitor(device, duration=None, sink=lambda k, p: seen.append(k), store=store,
                         frames_max=5)  # fmt: skip
        assert (
            counts["telemetry"] == 5 == len(store.live("telemetry", device.info["device_id"].hex()))
        )
    assert seen == ["telemetry"] * 5


class DroppingTransport(AppTransport):
    """The app's bytes with chosen LOG_DATA frames dropped, as a link drops a page while
    the host is not reading."""

    def __init__(self, rig: AppRig, drop: set[int]) -> None:
        super().__init__(rig)
        self.drop = drop  # ordinal numbers (from 0) of the LOG_DATA frames to drop
        self.log_frames = 0
        self._partial = b""

    def read(self, timeout: float) -> bytes:
        from afbms.protocol.fast import unframe

        *frames, self._partial = (self._partial + super().read(timeout)).split(b"\0")
        out = []
        for chunk in frames:
            raw = unframe(chunk) if chunk else None
            if raw is not None and raw[1] == MsgType.LOG_DATA:
                self.log_frames += 1
                if self.log_frames - 1 in self.drop:
                    continue
            out.append(chunk + b"\0")
        return b"".join(out)


def test_readout_asks_again_for_a_page_lost_on_the_link(tmp_path):
    from afbms.readout import readout
    from afbms.store import Store

    transport = DroppingTransport(AppRig(tmp_path / "board"), drop={1})
    device = Device(transport, timeout=2.0)
    device.hello()
    list(device.frames(timeout=0.5))  # enough samples for several pages
    with Store.open(tmp_path / "log.sqlite") as store:
        result = readout(device, store)
        dev = result.device
        assert transport.log_frames > 3  # the second page was dropped, then asked again
        assert result.lost == 0 and store.gaps(dev) == [] and store.holes(dev) == []
        assert store.record_count(dev) == result.next_seq - result.asked_from


def test_readout_records_as_lost_only_what_the_device_skips(tmp_path):
    from afbms.readout import readout
    from afbms.store import Store

    rig = AppRig(tmp_path / "board")
    device = Device(AppTransport(rig), timeout=2.0)
    device.hello()
    list(device.frames(timeout=0.5))
    rig.app.log.flush()
    seg = sorted((tmp_path / "board").rglob("*.seg"))[0]
    data = bytearray(seg.read_bytes())
    assert len(data) >= 40 * 30
    data[40 * 20 + 10] ^= 0xFF  # damage record 21 of the first segment
    seg.write_bytes(bytes(data))
    bad_seq = int.from_bytes(data[40 * 20 : 40 * 20 + 4], "little")
    with Store.open(tmp_path / "log.sqlite") as store:
        result = readout(device, store)
        dev = result.device
        assert result.lost == 1
        assert [(a, b) for a, b, _ in store.gaps(dev)] == [(bad_seq, bad_seq)]
        assert store.holes(dev) == []
