"""Reliability procedures on the virtual board running the real MicroPython VM, shared by
the slow tests (tests/vboard/test_reliability.py, small counts) and the bench that prints
the figures (bench/bench_reliability.py, the issue's counts):

* :func:`fuzz_running_firmware`: mutated frames of every message type into the running
  firmware; counts crashes and state changes nobody asked for;
* :func:`power_cuts_while_logging`: power cuts at random instants while the firmware
  logs, the whole log read out over the protocol after each power-on and checked;
* :func:`interrupted_flashes`: ``afbms flash`` cut at random instants (the procedure of
  tests/flash/test_flash.py), then whether the board still boots an image.

Each returns a small result object whose fields are the figures; none of them asserts.
"""

from __future__ import annotations

import inspect
import itertools
import json
import random
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cobs import cobs

from afbms.cellconfig import firmware_module
from afbms.device import Device, DeviceError, Refused
from afbms.paths import protocol_dir
from afbms.protocol.crc import crc16
from afbms.protocol.enums import Command, ConfigKey, EventKind, Fault, MsgType, SimAction
from afbms.protocol.frame import HEADER_SIZE, encode_frame
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_MAJOR, PROTOCOL_VERSION
from afbms.transport import SerialTransport, TransportError
from afbms.vboard import MinimalPlant, VirtualBoard, deploy_firmware
from afbms.vboard.plant import FAULT_VOLTAGE_STUCK

Progress = Callable[[str], None]

# What a firmware that left its sample loop or died prints on its console.
CONSOLE_ALARMS = (b"Traceback", b">>> ", b"MemoryError", b"Fatal")


def _quiet(_: str) -> None:
    pass


class TapTransport:
    """A serial transport that also keeps what arrived, to look for console text
    (tracebacks, a REPL prompt) between the frames the protocol reader skips."""

    def __init__(self, port: str) -> None:
        self.serial = SerialTransport(port)
        self._tail = b""
        self.alarms: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.serial.write(data)

    def read(self, timeout: float) -> bytes:
        data = self.serial.read(timeout)
        if data:
            window = self._tail + data
            for marker in CONSOLE_ALARMS:
                at = window.find(marker)
                if at >= 0 and at + len(marker) > len(self._tail):
                    self.alarms.append(window[max(0, at - 80) : at + 200])
            self._tail = window[-32:]
        return data

    def close(self) -> None:
        self.serial.close()


def _hello(device: Device, timeout: float) -> dict[str, Any]:
    """HELLO until it answers (the firmware may still be booting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return device.hello()
        except (DeviceError, TransportError):
            if time.monotonic() > deadline:
                raise


def _wait_running(board: VirtualBoard, timeout: float = 30.0) -> None:
    """Until the firmware drives the enables (it has disabled Ctrl-C by then)."""
    from afbms.boards.sim import board as sim

    deadline = time.monotonic() + timeout
    while board.plant.pin_read(sim.CHARGE_EN_PIN) != sim.EN_ACTIVE_LEVEL:
        if time.monotonic() > deadline:
            raise TimeoutError("the firmware did not start")
        time.sleep(0.01)


def _fresh_board(flash_dir: Path, **kw: Any) -> VirtualBoard:
    if flash_dir.exists():
        shutil.rmtree(flash_dir)
    deploy_firmware(flash_dir, compiled=True)
    return VirtualBoard(flash_dir, vm="micropython", **kw)


# ====================================================================== protocol fuzz


def _templates() -> list[bytes]:
    """Valid wire frames of every message type: the golden vectors (both directions),
    plus each command, each simulator action and config keys with good and bad values."""
    golden = json.loads((protocol_dir() / "vectors" / "golden.json").read_text())
    frames = [bytes.fromhex(v["hex"]) for v in golden["vectors"]]
    hello = {"protocol_version": PROTOCOL_VERSION, "schema_hash": SCHEMA_HASH}
    frames.append(encode_frame(MsgType.HELLO, hello))
    for command in Command:
        for arg in (0, 1, -1, 1000, 848_000_000, 0x7FFFFFFF, -0x80000000):
            frames.append(encode_frame(MsgType.COMMAND, {"command": command, "arg": arg}))
    for action in SimAction:
        for arg0, arg1 in ((0, 0), (-1, 5), (FAULT_VOLTAGE_STUCK, 4_500_000), (99, -3)):
            payload = {"action": action, "arg0": arg0, "arg1": arg1}
            frames.append(encode_frame(MsgType.SIM_CONTROL, payload))
    for key in ConfigKey:
        for value in (-1, 0, 1000, 4_300_000, 0x7FFFFFFF):
            frames.append(encode_frame(MsgType.CONFIG_SET, {"key": key, "value": value}))
        frames.append(encode_frame(MsgType.CONFIG_GET, {"key": key}))
    frames.append(encode_frame(MsgType.CONFIG_GET, {"key": 0xFFFF}))
    frames.append(encode_frame(MsgType.LOG_INFO_REQ))
    for start, count in ((0, 0), (1, 24), (0xFFFFFFF0, 0xFFFFFFFF), (5, 3)):
        frames.append(encode_frame(MsgType.LOG_READ, {"start_seq": start, "count": count}))
    return frames


def _reseal(body: bytearray) -> bytes:
    return bytes(body) + crc16(bytes(body)).to_bytes(2, "little")


def mutate(rng: random.Random, frame: bytes) -> bytes:
    """One random mutation of a valid wire frame (COBS + 0x00); the result is wire bytes.
    About half re-seal the CRC, so the dispatcher itself sees the damage."""
    raw = bytearray(cobs.decode(frame[:-1]))
    kind = rng.randrange(12)
    if kind == 0:  # bit flips anywhere (the CRC catches these)
        for _ in range(rng.randrange(1, 4)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncated
        raw = raw[: rng.randrange(len(raw))]
    elif kind == 2:  # wrong CRC
        raw[-1] ^= rng.randrange(1, 256)
    elif kind == 3:  # bytes appended after the CRC
        raw += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    elif kind == 4:  # garbage, sometimes longer than any frame (decoder overflow)
        size = rng.choice((rng.randrange(0, 60), rng.randrange(900, 1400)))
        return bytes(rng.randrange(256) for _ in range(size)) + b"\0"
    elif kind == 5:  # a frame cut off mid-wire, glued to the next one
        return frame[: rng.randrange(1, len(frame))]
    else:  # structural damage behind a valid CRC
        body = raw[:-2]
        if kind == 6:  # the length field lies
            lie = rng.choice((0, len(body) - HEADER_SIZE + 1, rng.randrange(65536)))
            body[5:7] = lie.to_bytes(2, "little")
        elif kind == 7:  # another message type on this payload, known or not
            body[1] = rng.choice([*(int(t) for t in MsgType), rng.randrange(256)])
        elif kind == 8:  # another protocol version
            body[0] = rng.randrange(256)
        elif kind == 9:  # payload truncated, length kept honest
            cut = rng.randrange(HEADER_SIZE, len(body) + 1)
            body = body[:cut]
            body[5:7] = (cut - HEADER_SIZE).to_bytes(2, "little")
        elif kind == 10:  # payload bytes randomised (bad arguments, unknown keys)
            for i in range(HEADER_SIZE, len(body)):
                if rng.random() < 0.5:
                    body[i] = rng.randrange(256)
        else:  # one byte anywhere
            body[rng.randrange(len(body))] = rng.randrange(256)
        raw = bytearray(_reseal(body))
    return cobs.encode(bytes(raw)) + b"\0" if raw else b"\0"


class RequestOracle:
    """Says whether the firmware could legitimately act on a frame: one it can decode (CRC,
    major version) whose request is state-changing with arguments the firmware's own
    rules (config table, simulator) accept. Conservative: it reads the fields from the
    bytes present, whatever the length field says, so a frame that might be honoured is
    never sent."""

    def __init__(self, config: dict[int, int]) -> None:
        self._cfg = firmware_module("bms.config")
        self._values = [0] * self._cfg.NKEY
        for key, value in config.items():
            if int(key) < self._cfg.NKEY:
                self._values[int(key)] = value

    def _config_ok(self, key: int, value: int) -> bool:
        if self._cfg.check_value(key, value) != 0:
            return False
        values = list(self._values)
        values[key] = value
        return self._cfg.violated_rule(values, changed={key}) is None

    def state_changing(self, wire_bytes: bytes) -> str | None:
        """What a frame in ``wire_bytes`` could change, or None."""
        for chunk in wire_bytes.split(b"\0"):
            reason = self._chunk(chunk) if chunk else None
            if reason:
                return reason
        return None

    def _chunk(self, chunk: bytes) -> str | None:
        try:
            raw = cobs.decode(chunk)
        except cobs.DecodeError:
            return None
        if len(raw) < HEADER_SIZE + 2 or raw[0] >> 4 != PROTOCOL_MAJOR:
            return None
        if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
            return None
        msg, payload = raw[1], raw[HEADER_SIZE:-2]
        if msg == MsgType.COMMAND and len(payload) >= 5:
            code, arg = struct.unpack_from("<Bi", payload)
            if code == Command.SEND_ESTIMATE:
                return None  # asks for a frame, changes nothing
            if code == Command.SET_TIME and arg < 0:
                return None
            if code == Command.SET_TELEMETRY_PERIOD:
                return "COMMAND SET_TELEMETRY_PERIOD" if self._config_ok(
                    ConfigKey.TELEMETRY_PERIOD_MS, arg) else None  # fmt: skip
            return f"COMMAND {Command(code).name}" if code in Command._value2member_map_ else None
        if msg == MsgType.CONFIG_SET and len(payload) >= 6:
            key, value = struct.unpack_from("<Hi", payload)
            return f"CONFIG_SET {key}" if self._config_ok(key, value) else None
        if msg == MsgType.SIM_CONTROL and len(payload) >= 9:
            action, arg0, arg1 = struct.unpack_from("<Bii", payload)
            if action == SimAction.SET_SPEED:
                return "SIM SET_SPEED" if arg0 >= 0 else None
            if action == SimAction.POWER_CUT:
                return "SIM POWER_CUT" if arg0 >= 0 and arg1 >= 0 else None
            # the plant's own answer, on a scratch plant
            return f"SIM {action}" if MinimalPlant().sim_control(action, arg0, arg1) == 0 else None
        return None


@dataclass
class FuzzResult:
    frames: int = 0  # mutated frames sent into the running firmware
    bytes_sent: int = 0
    withheld: int = 0  # mutations that became valid state-changing requests: not sent
    withheld_kinds: dict[str, int] = field(default_factory=dict)
    checks: int = 0  # HELLO round trips (one per batch)
    state_checks: int = 0  # full state comparisons
    crashes: int = 0  # HELLO unanswered, board off, traceback or REPL on the console
    unintended_changes: int = 0  # state differing from the baseline, or an EVENT
    details: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def _sim(device: Device, action: SimAction, arg0: int = 0, arg1: int = 0) -> None:
    device.request(MsgType.SIM_CONTROL, {"action": action, "arg0": arg0, "arg1": arg1})


def _state(device: Device, board: VirtualBoard, log_window: int) -> dict[str, Any]:
    """Everything a stray frame must not change: config, protection state and latched
    faults (from the next telemetry), the oldest log records, the simulated world."""
    config = device.config_get()
    telemetry = None
    stale = [f for f in device._pending if f.msg_type != MsgType.TELEMETRY]
    device._pending.clear()  # telemetry queued earlier says nothing of now
    device._pending.extend(stale)
    for frame in device.frames(3.0):
        if frame.msg_type == MsgType.TELEMETRY:
            telemetry = frame.payload
            break
    assert isinstance(telemetry, dict), "no telemetry within 3 s"
    info = device.log_info()
    records = []
    for page in device.read_log(info["first_seq"], log_window):
        records += [page[i].tobytes() for i in range(len(page))]
    truth = board.plant.truth()
    return {
        "config": config,
        "state": int(telemetry["state"]),
        "faults": int(telemetry["faults"]),
        "log_first": info["first_seq"],
        "log": records,
        "temperature_mc": truth["temperature_mc"],
        "speed": board.speed,
    }


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = [
        f"{k}: {before[k]!r} -> {after[k]!r}"
        for k in before
        if k not in ("log", "log_first") and before[k] != after[k]
    ]
    if before["log_first"] == after["log_first"] and before["log"] != after["log"]:
        out.append("log: records already written changed")
    return out


def fuzz_running_firmware(
    work: Path,
    frames: int = 20_000,
    seed: int = 7,
    batch: int = 40,
    check_every: int = 2_000,
    progress: Progress = _quiet,
) -> FuzzResult:
    """Mutated frames into the firmware running in the VM on a virtual board.

    Set-up: a fault is made to trip and latch (OVER_TEMPERATURE, the simulated cell then
    cooled down again), so protection sits in FAULT with a latch that only a valid CLEAR_FAULTS
    may lift. Then batches of ``batch`` mutated frames, each followed by a HELLO that
    must be answered; every ``check_every`` frames the whole state is compared with the
    baseline, and any EVENT seen (config changed, faults cleared, state change...)
    counts as an unintended change."""
    result = FuzzResult()
    rng = random.Random(seed)
    templates = _templates()
    started = time.monotonic()
    board = _fresh_board(work / "fuzz-flash")
    with board:
        tap = TapTransport(board.port)
        device = Device(tap, timeout=5.0)
        try:
            _wait_running(board)
            _hello(device, 20.0)
            room_mc = board.plant.truth()["temperature_mc"]
            _sim(device, SimAction.SET_TEMPERATURE, 95_000)  # above any T_MAX
            _wait_telemetry(device, lambda p: p["faults"] & Fault.OVER_TEMPERATURE, 20.0)
            _sim(device, SimAction.SET_TEMPERATURE, room_mc)
            time.sleep(1.0)  # virtual minutes: whatever follows the trip has settled
            baseline = _state(device, board, 48)
            oracle = RequestOracle(baseline["config"])
            list(device.frames(0.2))  # events of the set-up
            device._pending.clear()
            progress(f"fuzz: baseline state {baseline['state']}, faults 0x{baseline['faults']:x}")
            next_check = check_every
            while result.frames < frames:
                chunk = bytearray()
                for _ in range(min(batch, frames - result.frames)):
                    data = mutate(rng, rng.choice(templates))
                    reason = oracle.state_changing(data)
                    if reason is not None:
                        result.withheld += 1
                        result.withheld_kinds[reason] = result.withheld_kinds.get(reason, 0) + 1
                        continue
                    chunk += b"\0" + data
                    result.frames += 1
                chunk += b"\0"  # close whatever the last mutation left open
                tap.write(bytes(chunk))
                result.bytes_sent += len(chunk)
                if not _alive(device, board, tap, result):
                    progress(result.details[-1])
                    _recover(board, device, tap)
                    baseline = _state(device, board, 48)
                    device._pending.clear()  # the reboot's own events
                    continue
                result.checks += 1
                events = [f for f in device._pending if f.msg_type == MsgType.EVENT]
                device._pending.clear()
                if events:
                    result.unintended_changes += len(events)
                    kinds = [EventKind(e.payload["kind"]).name for e in events]  # type: ignore[index]
                    result.details.append(f"after {result.frames} frames: events {kinds}")
                if result.frames >= next_check or result.frames >= frames:
                    next_check += check_every
                    now = _state(device, board, 48)
                    result.state_checks += 1
                    diff = _differences(baseline, now)
                    if diff:
                        result.unintended_changes += 1
                        result.details.append(f"after {result.frames} frames: {diff}")
                        baseline = now
                    progress(f"fuzz: {result.frames} frames, {result.crashes} crashes, "
                             f"{result.unintended_changes} unintended changes")  # fmt: skip
        finally:
            device.close()
    result.wall_s = time.monotonic() - started
    return result


def _wait_telemetry(device: Device, until: Callable[[dict], Any], timeout: float) -> dict:
    for frame in device.frames(timeout):
        if frame.msg_type == MsgType.TELEMETRY and until(frame.payload):  # type: ignore[arg-type]
            return frame.payload  # type: ignore[return-value]
    raise TimeoutError("the telemetry never showed the expected condition")


def _alive(device: Device, board: VirtualBoard, tap: TapTransport, result: FuzzResult) -> bool:
    problem = ""
    hello = {"protocol_version": PROTOCOL_VERSION, "schema_hash": SCHEMA_HASH}
    for _ in range(3):  # the answer to a fuzz frame that carried our seq is not ours
        try:
            answer = device.request(MsgType.HELLO, hello)[-1]
            if answer.msg_type == MsgType.INFO:
                problem = ""
                break
            problem = f"HELLO answered by {answer.msg_type!r}"
        except Refused as exc:
            problem = f"HELLO refused ({exc})"
        except (DeviceError, TransportError) as exc:
            problem = f"HELLO unanswered ({exc})"
            break
    if not board.powered:
        problem = "the VM stopped"
    if tap.alarms:
        problem = f"console: {tap.alarms[0]!r}"
        tap.alarms.clear()
    if problem:
        result.crashes += 1
        result.details.append(f"after {result.frames} frames: {problem}")
    return not problem


def _recover(board: VirtualBoard, device: Device, tap: TapTransport) -> None:
    board.hard_reset()
    time.sleep(2.0)  # past main.py's start-up, where a 0x03 in a frame is Ctrl-C
    _hello(device, 30.0)
    tap.alarms.clear()


# ====================================================================== power cuts


@dataclass
class PowerCutResult:
    cuts: int = 0
    readouts: int = 0
    records_served: int = 0
    corrupted_served: int = 0  # records whose CRC failed, as received
    bad_frames: int = 0  # LOG_DATA frames that failed their own checks
    out_of_order: int = 0  # a seq not above the one before it
    gaps_within_a_boot: int = 0  # missing seqs not at a boot boundary
    boundary_gap_too_big: int = 0  # a boot-boundary gap wider than two batches
    durable_lost_or_changed: int = 0  # records of an earlier boot that vanished or changed
    lost_beyond_unflushed: int = 0  # a cut took more than the last unflushed batch
    max_tail_lost: int = 0  # most records a cut took (the unflushed batch)
    stalls: int = 0  # LOG_INFO unanswered within the timeout (asked again)
    batch_records: int = 0
    details: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def corrupted(self) -> int:
        return (self.corrupted_served + self.out_of_order + self.gaps_within_a_boot
                + self.boundary_gap_too_big + self.durable_lost_or_changed
                + self.lost_beyond_unflushed)  # fmt: skip


def _batch_records() -> int:
    flashlog = firmware_module("bms.flashlog")
    return inspect.signature(flashlog.FlashLog.__init__).parameters["batch_records"].default


def _is_boot(record: Any) -> bool:
    wire = firmware_module("bms.wire")
    return int(record["kind"]) == wire.LOG_EVENT and int(record["code"]) == EventKind.BOOT


def power_cuts_while_logging(
    work: Path,
    cuts: int = 100,
    seed: int = 11,
    max_delay_s: float = 1.5,
    readout_speed: float | None = 1.0,
    progress: Progress = _quiet,
) -> PowerCutResult:
    """Cut the power at random instants while the firmware samples and logs (virtual
    time as fast as it goes: a batch of records is flushed every few tens of ms of
    wall time); after each power-on read the whole log out over the protocol.

    Checked on every readout: each record's CRC as served, seqs strictly rising, a gap
    only where a boot starts (and no wider than the lost batch plus the batch a boot
    skips), every record of an earlier boot still there and byte for byte the same,
    and of the records the cut boot was seen to hold (the readout after its power-on
    and the newest records read just before the cut, RAM batch included), only a tail
    of at most one batch (the unflushed one) missing."""
    from afbms.protocol.fast import FastStats

    result = PowerCutResult(batch_records=_batch_records())
    batch = result.batch_records
    rng = random.Random(seed)
    started = time.monotonic()
    durable: dict[int, bytes] = {}  # seq -> record, from boots that ended
    last_boot: dict[int, bytes] = {}  # the running boot's records at the last readout
    board = _fresh_board(work / "cuts-flash")
    with board:
        device = Device(SerialTransport(board.port), timeout=5.0)
        try:
            for cut in range(cuts + 1):
                # Read out at ``readout_speed`` (default real time, as in the field). At
                # full speed (None) the firmware logs and flushes all through the readout:
                # readouts then showed whole batches missing inside a boot (see the report).
                board.set_speed(readout_speed)
                _wait_running(board)
                _hello(device, 20.0)
                info = _log_info(device, board, result, f"readout {cut}")
                stats = FastStats()
                records = [
                    page[i]
                    for page in device.read_log(
                        info["first_seq"], info["next_seq"] - info["first_seq"], stats=stats
                    )
                    for i in range(len(page))
                ]
                result.readouts += 1
                result.records_served += len(records)
                result.corrupted_served += stats.bad_records
                result.bad_frames += stats.bad_frames
                served = {int(r["seq"]): r.tobytes() for r in records}
                _check_readout(result, records, batch, f"readout {cut}")
                # The oldest record served: the ring may drop segments while the readout
                # runs (the firmware keeps logging), so LOG_INFO's first_seq is stale.
                first = int(records[0]["seq"]) if records else info["first_seq"]
                for seq, data in durable.items():
                    if seq >= first and served.get(seq) != data:
                        result.durable_lost_or_changed += 1
                        result.details.append(f"readout {cut}: record {seq} lost or changed")
                # The boot that was cut: what the last readout saw minus a tail.
                missing = sorted(s for s in last_boot if s >= first and s not in served)
                kept = [s for s in last_boot if s in served]
                if missing and kept and missing[0] < max(kept):
                    result.durable_lost_or_changed += 1
                    result.details.append(f"readout {cut}: records lost before the tail")
                result.max_tail_lost = max(result.max_tail_lost, len(missing))
                if len(missing) > batch:
                    result.lost_beyond_unflushed += 1
                    result.details.append(f"readout {cut}: a cut took {len(missing)} records")
                durable.update({s: served[s] for s in kept})
                # This boot's records: from its BOOT record on.
                boots = [i for i, r in enumerate(records) if _is_boot(r)]
                mine = records[boots[-1] :] if boots else []
                last_boot = {int(r["seq"]): r.tobytes() for r in mine}
                if cut == cuts:
                    break
                # Every other cut at 20x real time: the RAM batch then spans most of a
                # second of wall time, so the read just below sees records the cut loses.
                # The others as fast as it goes: a flush every few ms, cut anywhere.
                board.set_speed(None if cut % 2 else 20.0)
                time.sleep(rng.uniform(0.0, max_delay_s))
                # The newest records, RAM batch included, just before the cut.
                info = _log_info(device, board, result, f"before cut {cut + 1}")
                tail = max(info["first_seq"], info["next_seq"] - 2 * batch)
                for page in device.read_log(tail, info["next_seq"] - tail):
                    for i in range(len(page)):
                        if int(page[i]["seq"]) >= min(last_boot, default=0):
                            last_boot[int(page[i]["seq"])] = page[i].tobytes()
                time.sleep(rng.uniform(0.0, 0.05))
                board.power_cut()
                result.cuts += 1
                board.power_on()
                if (cut + 1) % 10 == 0:
                    progress(f"power cuts: {cut + 1}, corrupted so far {result.corrupted}")
        finally:
            device.close()
    result.wall_s = time.monotonic() - started
    return result


def _log_info(device: Device, board: VirtualBoard, result: PowerCutResult, where: str) -> dict:
    """LOG_INFO; a board that does not answer within the device timeout is asked twice
    more (and the stall is counted, with how far its virtual time moved meanwhile)."""
    for attempt in range(3):
        vt = board.bridge.vm_time_ms()
        try:
            return device.log_info()
        except DeviceError as exc:
            if attempt == 2:
                raise
            result.stalls += 1
            moved = board.bridge.vm_time_ms() - vt
            result.details.append(f"{where}: {exc}; virtual time moved {moved} ms meanwhile")
    raise AssertionError("unreachable")


def _check_readout(result: PowerCutResult, records: list, batch: int, where: str) -> None:
    for before, after in itertools.pairwise(records):
        a, b = int(before["seq"]), int(after["seq"])
        if b <= a:
            result.out_of_order += 1
            result.details.append(f"{where}: seq {b} after {a}")
        elif b > a + 1:
            if not _is_boot(after):
                result.gaps_within_a_boot += 1
                result.details.append(f"{where}: gap {a + 1}..{b - 1} inside a boot")
            elif b - a - 1 > 2 * batch:
                result.boundary_gap_too_big += 1
                result.details.append(f"{where}: gap of {b - a - 1} records at a boot")


# ====================================================================== interrupted flashes


@dataclass
class FlashCutResult:
    flashes_cut: int = 0
    cut_mid_flash: int = 0  # cuts that landed before the flash had finished
    unbootable: int = 0  # no HELLO within 30 s of the power coming back
    final_flash_confirmed: bool = False
    details: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def interrupted_flashes(
    work: Path, count: int = 50, seed: int = 50, progress: Progress = _quiet
) -> FlashCutResult:
    """``afbms flash`` cut at random instants (0.02..0.8 s in; a full flash onto the
    virtual board takes well under a second) until ``count`` cuts have landed mid-flash, as in
    tests/flash/test_flash.py::test_fifty_power_cuts_during_flash: after each, the board
    must boot an image and answer HELLO; at the end a flash must complete."""
    from afbms.flash import flash
    from tests.flash.test_flash import cut_during_flash, hello

    result = FlashCutResult()
    rng = random.Random(seed)
    started = time.monotonic()
    flash_dir = work / "flash-cuts"
    if flash_dir.exists():
        shutil.rmtree(flash_dir)
    with VirtualBoard(flash_dir, vm="micropython") as board:
        flash(board.port, "sim", timeout=30)
        # Until ``count`` cuts have landed while a flash was running (a cut after the
        # flash finished is counted but proves less), at most 3 x count cuts.
        i = 0
        while result.cut_mid_flash < count and i < 3 * count:
            i += 1
            result.cut_mid_flash += cut_during_flash(board, rng.uniform(0.02, 0.8))
            result.flashes_cut += 1
            try:
                hello(board.port, timeout=30)
            except Exception as exc:  # any failure to answer is the figure
                result.unbootable += 1
                result.details.append(f"cut {i}: no HELLO ({exc})")
                board.hard_reset()
            if i % 10 == 0:
                progress(f"interrupted flashes: {result.cut_mid_flash} of {count}, "
                         f"unbootable so far {result.unbootable}")  # fmt: skip
        result.final_flash_confirmed = flash(board.port, "sim", timeout=30).confirmed
    result.wall_s = time.monotonic() - started
    return result
