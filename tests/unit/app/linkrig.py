"""A link wired to a fake application, for link tests and the dispatcher fuzz."""

from afbms.protocol.enums import MsgType
from afbms.protocol.frame import FrameReader, encode_frame
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION
from bms import wire
from bms.link import Link
from bms.port import MemoryPort


class FakeApp:
    """Records every state-changing call; answers like a small device."""

    device_id = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    board_name = b"test"
    capabilities = wire.CAP_FLASH_LOG
    fw_version = (0, 1, 0)

    def __init__(self, records: int = 100):
        self.config = {wire.CFG_V_MAX_UV: 4_250_000, wire.CFG_V_MIN_UV: 3_000_000}
        self.config_keys = tuple(sorted(self.config))
        self.calls: list[tuple] = []
        self.first_seq = 10
        self.records = records

    def uptime_s(self):
        return 42

    def session_opened(self):
        self.sessions = getattr(self, "sessions", 0) + 1

    def config_value(self, key):
        return self.config.get(key)

    def config_set(self, key, value):
        if key not in self.config:
            return wire.CFGST_UNKNOWN_KEY, 0
        if not 1_000_000 <= value <= 5_000_000:
            return wire.CFGST_OUT_OF_RANGE, self.config[key]
        self.calls.append(("config_set", key, value))
        self.config[key] = value
        return wire.CFGST_OK, value

    def command(self, code, arg):
        if code not in (wire.CMD_CLEAR_FAULTS, wire.CMD_SET_TIME):
            return wire.ERR_UNKNOWN_COMMAND
        self.calls.append(("command", code, arg))
        return 0

    def log_info(self):
        return self.first_seq, self.first_seq + self.records, 1000, 0

    def log_read_into(self, start, buf, max_records):
        end = min(start + max_records, self.first_seq + self.records)
        for i, seq in enumerate(range(start, end)):
            wire.pack_log_record(
                buf, i * wire.LOG_RECORD_SIZE, seq, 800_000_000 + seq, 0, wire.LOG_SAMPLE,
                0, 0, 0, seq, -seq, 0, 0, 0,
            )  # fmt: skip
        return start, max(0, end - start)

    def sim_control(self, action, arg0, arg1):
        return wire.ERR_NOT_SIMULATED


class LinkRig:
    def __init__(self, app: FakeApp | None = None):
        self.app = app or FakeApp()
        self.port = MemoryPort()
        self.link = Link(self.port, self.app)
        self.reader = FrameReader()
        self.seq = 0

    def send(self, msg_type, payload=b"", **kw):
        self.seq = kw.pop("seq", self.seq + 1)
        self.port.inject(encode_frame(msg_type, payload, seq=self.seq, **kw))
        self.link.poll()
        return list(self.reader.feed(self.port.take_tx()))

    def hello(self, schema_hash=SCHEMA_HASH, version=PROTOCOL_VERSION):
        return self.send(MsgType.HELLO, {"protocol_version": version, "schema_hash": schema_hash})

    def drain(self, polls=100):
        frames = []
        for _ in range(polls):
            self.link.poll()
            frames += self.reader.feed(self.port.take_tx())
        return frames
