"""Byte ports the link talks through: ``any()``, ``readinto(buf, n)``, ``write(buf, n)``.

``ConsolePort`` is the USB serial console of a real board (non-blocking via
select.poll; Ctrl-C is disabled by main.py while the protocol runs).
``MemoryPort`` is an in-memory pair of byte queues for tests and benchmarks.
"""

import select
import sys


class ConsolePort:
    """sys.stdin/sys.stdout as a non-blocking byte port."""

    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._one = bytearray(1)
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def any(self):
        for _ in self._poll.ipoll(0):  # ipoll reuses its tuple: no allocation
            return 1
        return 0

    def readinto(self, buf, n):
        """Read up to n bytes that are already waiting (one at a time: a console
        read of more would block until all of them arrive)."""
        got = 0
        one = self._one
        while got < n and self.any():
            if not self._in.readinto(one):
                break
            buf[got] = one[0]
            got += 1
        return got

    def write(self, buf, n):
        self._out.write(buf, n)


class MemoryPort:
    """Host-to-device bytes in ``rx``, device-to-host bytes collected in ``tx``."""

    def __init__(self, size=4096):
        self.rx = bytearray(size)
        self.rx_len = 0
        self.rx_pos = 0
        self.tx = bytearray()
        self.keep_tx = True  # benchmarks turn this off to measure without growth
        self.tx_bytes = 0

    def inject(self, data):
        """Queue bytes for the device to read."""
        pending = self.rx_len - self.rx_pos
        if pending + len(data) > len(self.rx):
            raise OSError(105)  # ENOBUFS: the test queued more than the port holds
        self.rx[0:pending] = self.rx[self.rx_pos : self.rx_len]
        self.rx[pending : pending + len(data)] = data
        self.rx_len = pending + len(data)
        self.rx_pos = 0

    def any(self):
        return self.rx_len - self.rx_pos

    def readinto(self, buf, n):
        avail = self.rx_len - self.rx_pos
        if n > avail:
            n = avail
        for i in range(n):
            buf[i] = self.rx[self.rx_pos + i]
        self.rx_pos += n
        return n

    def write(self, buf, n):
        self.tx_bytes += n
        if self.keep_tx:
            self.tx.extend(buf[0:n])

    def take_tx(self):
        """Bytes the device sent since the last call."""
        data = bytes(self.tx)
        self.tx = bytearray()
        return data
