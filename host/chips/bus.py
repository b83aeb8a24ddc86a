"""A stand-in for MicroPython's ``machine.I2C`` and ``machine.ADC``, plus fault channels.

Written in the MicroPython subset (plain classes, ints, bytearray) so the same
file also runs inside the MicroPython VM as ``chips.bus``.

A device attached to the bus implements::

    read_register(reg, buf)    # fill all of buf from register reg onwards
    write_register(reg, data)  # data: the bytes written after the register address

Register reads must not allocate (the drivers' allocation checks run through them).
"""

import errno


class I2CBus:
    """The ``machine.I2C`` subset the drivers use, routed to attached emulators.

    ``nack(address)`` makes every access to that address raise ``OSError(EIO)``, as
    MicroPython's rp2 port does when a device does not acknowledge; so does an
    address with nothing attached. ``reads``/``writes`` count successful transfers.
    """

    def __init__(self):
        self._devices = {}
        self._nacked = {}
        self.reads = 0
        self.writes = 0

    def attach(self, address, device):
        """Put ``device`` at 7-bit ``address`` (replacing any device there)."""
        self._devices[address] = device
        return device

    def detach(self, address):
        self._devices.pop(address, None)

    def nack(self, address, on=True):
        """Make ``address`` stop (or resume) acknowledging."""
        if on:
            self._nacked[address] = True
        else:
            self._nacked.pop(address, None)

    def _device(self, addr):
        if addr in self._nacked or addr not in self._devices:
            raise OSError(errno.EIO)
        return self._devices[addr]

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).read_register(memaddr, buf)
        self.reads += 1

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._device(addr).write_register(memaddr, buf)
        self.writes += 1

    def scan(self):
        """Addresses that acknowledge, ascending."""
        return sorted(a for a in self._devices if a not in self._nacked)


class ADC:
    """The ``machine.ADC`` subset: ``read_u16()`` from a source with ``read_u16()``
    (e.g. the NTC emulator). ``fail=True`` makes reads raise OSError(EIO)."""

    def __init__(self, source):
        self.source = source
        self.fail = False
        self.reads = 0

    def read_u16(self):
        if self.fail:
            raise OSError(errno.EIO)
        self.reads += 1
        return self.source.read_u16()


class Channel:
    """One physical input of an emulated chip with injectable faults, in the input's
    own unit (µA, µV, m°C, mN...).

    ``value(true)`` is what the chip converts: ``stuck`` if set, else
    ``true × (1 + gain_ppm/1e6) + offset + noise()``. ``noise`` is an optional
    deterministic callable returning an offset per conversion. Not on the
    allocation-free path: chips precompute register values when inputs change.
    """

    def __init__(self):
        self.clear()

    def clear(self):
        self.stuck = None
        self.offset = 0
        self.gain_ppm = 0
        self.noise = None

    def set(self, stuck=None, offset=0, gain_ppm=0, noise=None):
        self.stuck = stuck
        self.offset = offset
        self.gain_ppm = gain_ppm
        self.noise = noise

    def value(self, true):
        if self.stuck is not None:
            return self.stuck
        v = true + rdiv(true * self.gain_ppm, 1000000) + self.offset
        if self.noise is not None:
            v += self.noise()
        return v


def rdiv(n, d):
    """n / d rounded to the nearest integer (halves up), d > 0."""
    return (2 * n + d) // (2 * d)


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v
