"""The real application on a bench board (emulated chips, real drivers), with a
host side that speaks the protocol through the board's memory port."""

from afbms.chips.benchboard import BenchBoard
from afbms.protocol.enums import MsgType
from afbms.protocol.frame import FrameReader, encode_frame
from afbms.protocol.schema import SCHEMA_HASH
from afbms.protocol.version import PROTOCOL_VERSION
from bms import wire
from bms.app import App
from bms.storage import OsFs

HEALTHY = (3_800_000, 0, 5_000_000, 25_000)  # µV, µA, Pa, m°C


class AppRig:
    def __init__(self, data_dir, board: BenchBoard | None = None):
        self.data_dir = str(data_dir)
        self.board = board or BenchBoard(OsFs(), self.data_dir)
        self.board.set_cell(*HEALTHY)
        self.app = App(self.board.hardware)
        self.reader = FrameReader()
        self.seq = 0

    def reboot(self) -> "AppRig":
        """A new App over the same flash and chips (a reset keeps the cell as it is)."""
        self.app.log.flush()
        board = self.board
        self.app = App(board.hardware)
        return self

    def host_send(self, msg_type, payload=b"", **kw):
        self.seq += 1
        self.board.port.inject(encode_frame(msg_type, payload, seq=self.seq, **kw))

    def hello(self):
        self.host_send(MsgType.HELLO, {"protocol_version": PROTOCOL_VERSION,
                                       "schema_hash": SCHEMA_HASH})  # fmt: skip
        return self.poll()

    def poll(self):
        self.app.link.poll()
        return self.frames()

    def frames(self):
        return list(self.reader.feed(self.board.port.take_tx()))

    def steps(self, n, period_ms=None):
        """n sample periods: advance virtual time to each deadline and step."""
        for _ in range(n):
            wait = self.app.sampler.ms_until_due()
            if wait > 0:
                self.board.advance(wait)
            self.app.step()
        return self.frames()

    def of_type(self, frames, msg_type):
        return [f for f in frames if f.msg_type == msg_type]

    @property
    def outputs(self):
        return self.board.charge.on, self.board.discharge.on

    @property
    def state(self):
        return self.app.protection.state

    def latched(self):
        return self.app.protection.latched


def fault_bits(mask):
    return {name for name in dir(wire) if name.startswith("FAULT_") and getattr(wire, name) & mask}
