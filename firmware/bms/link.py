"""The framed protocol over the console: a dispatcher that never blocks protection.

``poll()`` reads what the port has (never waits), feeds the COBS decoder and
answers each complete request. Long answers (log readout) are sent one page
per poll so the sample loop keeps its schedule. Requests other than HELLO
need a session: a HELLO whose protocol major and schema hash match ours.

The port is any object with ``any()`` (bytes waiting), ``readinto(buf, n)``
and ``write(buf, n)``. The handler (the app) answers the questions:

    device_id, board_name (bytes), capabilities, fw_version (3-tuple)
    uptime_s(), session_opened() (a HELLO with our declarations arrived)
    config_value(key) -> int or None (unknown key)
    config_keys -> iterable of key ids
    config_set(key, value) -> (wire.CFGST_*, value in force)
    command(code, arg) -> 0 or wire.ERR_*
    log_info() -> (first_seq, next_seq, capacity, unflushed)
    log_read_into(start_seq, buf, max_records) -> (first_seq, count), records
        copied to buf[0:] (a memoryview into the frame buffer: no copy later)
    sim_control(action, arg0, arg1) -> 0 or wire.ERR_*
"""

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):
        return __x


_RX_CHUNK = const(64)  # bytes read from the port per read call
_PROTOCOL_MAJOR = wire.PROTOCOL_VERSION >> 4
_HS = wire.HEADER_SIZE  # payloads start here in a frame buffer


class Link:
    def __init__(self, port, handler):
        self.port = port
        self.handler = handler
        self.dec = wire.Decoder()
        self.enc = wire.Encoder()
        self.rx = bytearray(_RX_CHUNK)
        # Where LOG_DATA records go in the frame buffer; made once (slicing allocates).
        self._page = memoryview(self.enc.raw)[_HS + wire.LOG_DATA_SIZE :]
        self.session = False
        # Set once the console is handed over (reboot, maintenance): nothing more is
        # read or answered, so no host mistakes a board about to reset for a live one.
        self.closed = False
        self.requests = 0  # frames dispatched
        self.nacks = 0
        self._log_next = 0  # pending LOG_READ: next seq, records left, request seq
        self._log_left = 0
        self._log_req = 0

    # ------------------------------------------------------------ receive

    def poll(self, budget=512):
        """Read at most ``budget`` waiting bytes, answer complete requests, send one
        pending log page. Returns the number of bytes read."""
        port = self.port
        rx = self.rx
        dec = self.dec
        total = 0
        if self.closed:
            return 0
        while total < budget:
            waiting = port.any()
            if waiting <= 0:
                break
            n = port.readinto(rx, waiting if waiting < _RX_CHUNK else _RX_CHUNK)
            if not n:
                break
            total += n
            pos = 0
            while pos < n:
                pos = dec.feed(rx, pos, n)
                if dec.ready:
                    self._dispatch()
                    if self.closed:
                        return total
        if self._log_left > 0:
            self._send_log_page()
        return total

    def _dispatch(self):
        dec = self.dec
        self.requests += 1
        msg = dec.msg_type
        if dec.version >> 4 != _PROTOCOL_MAJOR:
            self._nack(msg, wire.ERR_UNSUPPORTED_VERSION, dec.version)
            return
        size = wire.PAYLOAD_SIZE.get(msg, -1)
        if size < 0:
            self._nack(msg, wire.ERR_UNKNOWN_TYPE, msg)
            return
        if dec.length < size:
            self._nack(msg, wire.ERR_BAD_LENGTH, size)
            return
        if msg == wire.MSG_HELLO:
            self._hello()
        elif not self.session:
            self._nack(msg, wire.ERR_NO_SESSION, 0)
        elif msg == wire.MSG_COMMAND:
            self._command()
        elif msg == wire.MSG_CONFIG_GET:
            self._config_get()
        elif msg == wire.MSG_CONFIG_SET:
            self._config_set()
        elif msg == wire.MSG_LOG_INFO_REQ:
            self._log_info()
        elif msg == wire.MSG_LOG_READ:
            self._log_read()
        elif msg == wire.MSG_SIM_CONTROL:
            self._sim_control()
        else:  # a device-to-host message sent to us
            self._nack(msg, wire.ERR_UNKNOWN_TYPE, msg)

    # ------------------------------------------------------------ requests

    def _hello(self):
        buf = self.dec.buf
        version = buf[_HS]
        schema = buf[_HS + 1] | buf[_HS + 2] << 8 | buf[_HS + 3] << 16 | buf[_HS + 4] << 24
        self.session = version >> 4 == _PROTOCOL_MAJOR and schema == wire.SCHEMA_HASH
        h = self.handler
        if self.session:
            h.session_opened()
        major, minor, patch = h.fw_version
        n = wire.pack_info(
            self.enc.raw,
            _HS,
            h.device_id,
            major,
            minor,
            patch,
            h.board_name,
            wire.PROTOCOL_VERSION,
            wire.SCHEMA_HASH,
            h.capabilities,
            wire.LOG_RECORD_SIZE,
            wire.MAX_PAYLOAD,
            h.uptime_s(),
        )
        self._reply(wire.MSG_INFO, n, 0)

    def _command(self):
        code, arg = wire.unpack_command(self.dec.buf, _HS)
        err = self.handler.command(code, arg)
        if err:
            self._nack(wire.MSG_COMMAND, err, code)
        else:
            self._ack(wire.MSG_COMMAND)

    def _config_get(self):
        key = wire.unpack_config_get(self.dec.buf, _HS)[0]
        h = self.handler
        if key == wire.CONFIG_KEY_ALL:
            keys = h.config_keys
            last = len(keys) - 1
            for i in range(len(keys)):
                k = keys[i]
                n = wire.pack_config_value(self.enc.raw, _HS, k, h.config_value(k))
                self._reply(wire.MSG_CONFIG_VALUE, n, 0 if i == last else wire.FLAG_MORE)
            return
        value = h.config_value(key)
        if value is None:
            self._nack(wire.MSG_CONFIG_GET, wire.ERR_BAD_VALUE, key)
            return
        n = wire.pack_config_value(self.enc.raw, _HS, key, value)
        self._reply(wire.MSG_CONFIG_VALUE, n, 0)

    def _config_set(self):
        key, value = wire.unpack_config_set(self.dec.buf, _HS)
        status, now = self.handler.config_set(key, value)
        n = wire.pack_config_result(self.enc.raw, _HS, key, status, now)
        self._reply(wire.MSG_CONFIG_RESULT, n, 0)

    def _log_info(self):
        first, nxt, capacity, unflushed = self.handler.log_info()
        n = wire.pack_log_info(
            self.enc.raw, _HS, first, nxt, capacity, wire.LOG_RECORD_SIZE,
            wire.LOG_PAGE_RECORDS, unflushed,
        )  # fmt: skip
        self._reply(wire.MSG_LOG_INFO, n, 0)

    def _log_read(self):
        start, count = wire.unpack_log_read(self.dec.buf, _HS)
        first, nxt, _, _ = self.handler.log_info()
        if start >= nxt and count:
            self._nack(wire.MSG_LOG_READ, wire.ERR_LOG_RANGE, nxt)
            return
        if start < first:
            start = first  # older records were overwritten by the ring
        left = nxt - start
        self._log_next = start
        self._log_left = count if count < left else left
        self._log_req = self.dec.seq
        if self._log_left == 0:
            self._send_log_page()  # an empty, final page answers an empty range

    def _send_log_page(self):
        want = self._log_left if self._log_left < wire.LOG_PAGE_RECORDS else wire.LOG_PAGE_RECORDS
        raw = self.enc.raw
        first, count = self.handler.log_read_into(self._log_next, self._page, want)
        if count == 0:
            first = self._log_next
            self._log_left = 0  # nothing readable any more (lost to the ring or a power cut)
        else:
            self._log_next = first + count
            self._log_left -= count if count < self._log_left else self._log_left
        wire.pack_log_data(raw, _HS, first, count)
        size = wire.LOG_DATA_SIZE + count * wire.LOG_RECORD_SIZE
        flags = wire.FLAG_RESPONSE | (wire.FLAG_MORE if self._log_left > 0 else 0)
        self._send(self.enc.finish(wire.MSG_LOG_DATA, size, flags, self._log_req))

    def _sim_control(self):
        action, arg0, arg1 = wire.unpack_sim_control(self.dec.buf, _HS)
        err = self.handler.sim_control(action, arg0, arg1)
        if err:
            self._nack(wire.MSG_SIM_CONTROL, err, action)
        else:
            self._ack(wire.MSG_SIM_CONTROL)

    # ------------------------------------------------------------ transmit

    def _send(self, n):
        self.port.write(self.enc.wire, n)

    def _reply(self, msg_type, n, flags):
        self._send(self.enc.finish(msg_type, n, wire.FLAG_RESPONSE | flags, self.dec.seq))

    def _ack(self, msg_type):
        n = wire.pack_ack(self.enc.raw, _HS, msg_type)
        self._reply(wire.MSG_ACK, n, 0)

    def _nack(self, msg_type, error, detail):
        self.nacks += 1
        n = wire.pack_nack(self.enc.raw, _HS, msg_type & 0xFF, error, detail)
        self._reply(wire.MSG_NACK, n, 0)

    def send_telemetry(self, s, charge_uah, state, faults):
        """TELEMETRY from a Sample; charge_uah is the net charge of the current cycle."""
        n = wire.pack_telemetry(
            self.enc.raw, _HS, s.t_s, s.t_sub_ms, s.voltage_uv, s.current_ua, s.pressure_pa,
            s.temperature_mc, charge_uah, state, faults,
        )  # fmt: skip
        self._send(self.enc.finish(wire.MSG_TELEMETRY, n, 0, -1))

    def send_event(self, s, kind, severity, value, state, faults):
        """EVENT with a snapshot of the Sample."""
        n = wire.pack_event(
            self.enc.raw, _HS, s.t_s, s.t_sub_ms, kind, severity, value, s.voltage_uv,
            s.current_ua, s.pressure_pa, s.temperature_mc, state, faults,
        )  # fmt: skip
        self._send(self.enc.finish(wire.MSG_EVENT, n, 0, -1))

    def send_estimate(self, t_s, est):
        """ESTIMATE from an estimator exposing the ESTIMATE fields as attributes."""
        n = wire.pack_estimate(
            self.enc.raw, _HS, t_s, est.cycle_count, est.inventory_uah, est.inventory_ppm,
            est.ce_last_ppm, est.ce_rolling_ppm, est.loss_total_uah, est.loss_sei_uah,
            est.loss_dead_uah, est.plated_nm, est.dead_nm, est.slippage_uah,
            est.cycles_to_eol, est.eol_sigma,
        )  # fmt: skip
        self._send(self.enc.finish(wire.MSG_ESTIMATE, n, 0, -1))
