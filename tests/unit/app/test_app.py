"""The application on a bench board: real drivers on emulated chips, real stores on a
temporary flash folder, the protocol through the board's port."""

import itertools

import pytest

from afbms.protocol.enums import (
    Command,
    ConfigKey,
    ConfigStatus,
    ErrorCode,
    EventKind,
    Fault,
    FrameFlag,
    LogKind,
    MsgType,
    State,
)
from bms import wire
from bms.app import STOP_MAINTENANCE, STOP_REBOOT, STOP_STEPS
from tests.unit.app.apprig import HEALTHY, AppRig


@pytest.fixture
def rig(tmp_path):
    rig = AppRig(tmp_path)
    rig.hello()
    return rig


def over_voltage(rig):
    _, current, pressure, temperature = HEALTHY
    rig.board.set_cell(4_400_000, current, pressure, temperature)


def test_outputs_stay_off_until_the_first_sample(tmp_path):
    rig = AppRig(tmp_path)
    assert rig.outputs == (False, False) and rig.state == State.INIT
    rig.steps(1)
    assert rig.outputs == (True, True) and rig.state == State.IDLE


def test_telemetry_every_period_with_monotonic_time(rig):
    telemetry = rig.of_type(rig.steps(10), MsgType.TELEMETRY)
    times = [f.payload["t_s"] * 1000 + f.payload["t_ms"] for f in telemetry]
    assert len(telemetry) == 10
    assert all(b - a == 1000 for a, b in itertools.pairwise(times))
    assert abs(telemetry[-1].payload["voltage_uv"] - HEALTHY[0]) < 1_000


def test_telemetry_period_command_changes_the_rate(rig):
    rig.host_send(MsgType.COMMAND, {"command": Command.SET_TELEMETRY_PERIOD, "arg": 3000})
    frames = rig.poll()
    assert [f.msg_type for f in frames] == [MsgType.EVENT, MsgType.ACK]  # CONFIG_CHANGED, then ACK
    assert len(rig.of_type(rig.steps(9), MsgType.TELEMETRY)) == 3


def test_over_voltage_trips_after_debounce_and_opens_both_paths_in_that_step(rig):
    rig.steps(2)
    over_voltage(rig)
    states = []
    for _ in range(3):  # DEBOUNCE_SAMPLES defaults to 3
        rig.steps(1)
        states.append((rig.state, rig.outputs))
    assert states[:2] == [(State.IDLE, (True, True))] * 2
    assert states[2] == (State.FAULT, (False, False))
    assert rig.latched() & Fault.OVER_VOLTAGE


def test_trip_is_reported_as_event_and_logged(rig):
    over_voltage(rig)
    frames = rig.steps(4)
    [event] = [
        e for e in rig.of_type(frames, MsgType.EVENT) if e.payload["kind"] == EventKind.FAULT_SET
    ]
    assert event.payload["value"] & Fault.OVER_VOLTAGE and event.payload["voltage_uv"] > 4_300_000
    rig.app.log.flush()
    buf = bytearray(40 * 64)
    _, count = rig.app.log.read_into(0, buf, 64)
    kinds = [(buf[i * 40 + 10], buf[i * 40 + 11]) for i in range(count)]
    assert (LogKind.EVENT, EventKind.FAULT_SET) in kinds


def test_latched_fault_survives_reboot_and_holds_outputs(rig):
    over_voltage(rig)
    rig.steps(4)
    rig.board.set_cell(*HEALTHY)
    rig.reboot()
    rig.steps(1)
    assert rig.latched() & Fault.OVER_VOLTAGE and rig.outputs == (False, False)


def test_clear_refused_while_active_then_accepted(rig):
    over_voltage(rig)
    rig.steps(4)
    rig.host_send(MsgType.COMMAND, {"command": Command.CLEAR_FAULTS, "arg": 0})
    [nack] = [f for f in rig.poll() if f.msg_type == MsgType.NACK]
    assert nack.payload["error"] == ErrorCode.NOT_ALLOWED
    rig.board.set_cell(*HEALTHY)
    rig.steps(1)
    rig.host_send(MsgType.COMMAND, {"command": Command.CLEAR_FAULTS, "arg": 0})
    assert MsgType.ACK in [f.msg_type for f in rig.poll()]
    rig.steps(1)
    assert (rig.latched(), rig.outputs) == (0, (True, True))


def test_config_set_applies_persists_and_survives_reboot(rig):
    rig.host_send(MsgType.CONFIG_SET, {"key": ConfigKey.V_MAX_UV, "value": 4_450_000})
    [result] = rig.of_type(rig.poll(), MsgType.CONFIG_RESULT)
    assert (result.payload["status"], result.payload["value"]) == (ConfigStatus.OK, 4_450_000)
    over_voltage(rig)  # 4.40 V is now inside the window
    rig.steps(4)
    assert rig.state == State.IDLE
    rig.reboot()
    assert rig.app.config.get(wire.CFG_V_MAX_UV) == 4_450_000


@pytest.mark.parametrize(
    "key,value,status",
    [
        (ConfigKey.V_MAX_UV, 9_000_000, ConfigStatus.OUT_OF_RANGE),
        (ConfigKey.V_MIN_UV, 4_200_000, ConfigStatus.INCONSISTENT),
    ],
)
def test_invalid_config_is_refused_with_its_reason(rig, key, value, status):
    rig.host_send(MsgType.CONFIG_SET, {"key": key, "value": value})
    [result] = rig.of_type(rig.poll(), MsgType.CONFIG_RESULT)
    assert result.payload["status"] == status
    assert rig.app.config.get(int(key)) == result.payload["value"] != value


def test_sample_period_config_reschedules_sampling(rig):
    rig.host_send(MsgType.CONFIG_SET, {"key": ConfigKey.TELEMETRY_PERIOD_MS, "value": 2000})
    rig.host_send(MsgType.CONFIG_SET, {"key": ConfigKey.SAMPLE_PERIOD_MS, "value": 2000})
    rig.poll()
    start = rig.board.clock.ticks_ms()
    rig.steps(3)
    assert rig.board.clock.ticks_diff(rig.board.clock.ticks_ms(), start) >= 4000


def test_current_monitor_nack_trips_sensor_fault_at_once(rig):
    rig.steps(1)
    rig.board.bus.nack(0x40)
    rig.steps(1)
    assert rig.latched() & Fault.SENSOR_CURRENT and rig.outputs == (False, False)


def test_log_readout_over_the_protocol(rig):
    rig.steps(30)
    rig.host_send(MsgType.COMMAND, {"command": Command.FLUSH_LOG, "arg": 0})
    rig.host_send(MsgType.LOG_INFO_REQ)
    frames = rig.poll()
    [info] = rig.of_type(frames, MsgType.LOG_INFO)
    rig.host_send(MsgType.LOG_READ, {"start_seq": info.payload["first_seq"], "count": 1000})
    pages = []
    for _ in range(10):
        pages += rig.of_type(rig.poll(), MsgType.LOG_DATA)
    records = [r for p in pages for r in p.payload["records"]]
    samples = [r for r in records if r["kind"] == LogKind.SAMPLE]
    assert len(samples) == 30
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert all(abs(r["v0"] - HEALTHY[0]) < 1_000 for r in samples)


def test_maintenance_stops_the_loop_with_outputs_safe(rig):
    rig.steps(2)
    rig.host_send(MsgType.COMMAND, {"command": Command.ENTER_MAINTENANCE, "arg": 0})
    stop = rig.app.run(max_steps=50)
    assert stop == STOP_MAINTENANCE
    assert rig.outputs == (False, False) and rig.state == State.MAINTENANCE
    assert MsgType.ACK in [f.msg_type for f in rig.frames()]


@pytest.mark.parametrize(
    ("command", "stop"),
    [(Command.REBOOT, STOP_REBOOT), (Command.ENTER_MAINTENANCE, STOP_MAINTENANCE)],
)
def test_nothing_is_answered_after_the_console_is_handed_over(rig, command, stop):
    # A request right behind REBOOT must not be answered by a board about to reset.
    rig.host_send(MsgType.COMMAND, {"command": command, "arg": 0})
    rig.host_send(MsgType.LOG_INFO_REQ)
    assert rig.app.run(max_steps=50) == stop
    answers = [f.msg_type for f in rig.frames() if f.flags & FrameFlag.RESPONSE]
    assert answers == [MsgType.ACK]


def test_protection_trips_while_a_host_floods_requests(rig):
    # A host hammering the link must not delay protection: queue a burst of
    # requests, raise the voltage, and let the real loop run on virtual time.
    for _ in range(40):
        rig.host_send(MsgType.CONFIG_GET, {"key": 0xFFFF})
        rig.host_send(MsgType.LOG_INFO_REQ)
    over_voltage(rig)
    start = rig.board.clock.ticks_ms()
    assert rig.app.run(max_steps=3) == STOP_STEPS
    elapsed = rig.board.clock.ticks_diff(rig.board.clock.ticks_ms(), start)
    assert rig.state == State.FAULT and rig.outputs == (False, False)
    assert elapsed <= 3 * 1000 + 5


def test_corrupt_config_file_boots_safe_with_config_invalid(tmp_path):
    rig = AppRig(tmp_path)
    rig.app.config.set(wire.CFG_V_MAX_UV, 4_300_000)
    (tmp_path / "config.bin").write_bytes(b"AFST garbage")
    rig.reboot()
    rig.steps(1)
    assert rig.latched() & Fault.CONFIG_INVALID and rig.outputs == (False, False)


def test_corrupt_fault_file_holds_outputs_safe(tmp_path):
    rig = AppRig(tmp_path)
    over_voltage(rig)
    rig.steps(4)
    (tmp_path / "faults.bin").write_bytes(b"AFST\x01\x00\x04\x00\x00\x00xxxx\x00\x00")
    rig.board.set_cell(*HEALTHY)
    rig.reboot()
    rig.steps(1)
    assert rig.outputs == (False, False)


class FakeImage:
    def __init__(self, trial):
        self.trial = trial
        self.confirmed = 0

    def confirm(self):
        self.confirmed += 1
        self.trial = 0


def test_trial_image_confirms_itself_on_hello(tmp_path):
    rig = AppRig(tmp_path)
    rig.app.image = image = FakeImage(trial=1)
    rig.hello()
    assert (image.confirmed, image.trial) == (1, 0)


def test_unconfirmed_trial_image_stops_for_rollback(tmp_path):
    from bms.app import STOP_ROLLBACK, TRIAL_TIMEOUT_MS

    rig = AppRig(tmp_path)
    rig.app.image = FakeImage(trial=1)
    stop = rig.app.run(max_steps=TRIAL_TIMEOUT_MS // 1000 + 10)
    assert stop == STOP_ROLLBACK and rig.outputs == (False, False)
