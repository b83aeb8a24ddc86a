"""Atomic file write and CRC-checked read, used by the config store and the flash log.

Container (little-endian), the whole file::

    off  size  field
    0    4     magic b"AFST"
    4    1     format version of the payload (chosen by the caller)
    5    1     reserved, 0
    6    4     payload length n
    10   n     payload
    10+n 2     CRC-16/CCITT-FALSE of bytes 0 .. 10+n (header and payload)

A torn (short), padded (long) or corrupt file fails the check: the length must
match the file size exactly and the CRC must match.

Atomic replace: ``write_atomic`` writes ``path + ".new"``, flushes, closes, then
renames it over ``path`` (LittleFS and POSIX replace atomically). If the file
system refuses to rename onto an existing file, the old file is removed first
and the rename retried; a cut between the two leaves only a complete ``.new``,
which ``read_versioned`` (and ``read_checked``) recovers. At every instant a
valid old or a valid new file exists.

Files go through an injected ``fs`` (the MicroPython ``os`` subset plus
``open``); ``OsFs`` is the real one.
"""

import os
from struct import pack_into, unpack_from

from bms import wire

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


MAGIC = b"AFST"
HEADER_SIZE = const(10)
TRAILER_SIZE = const(2)
OVERHEAD = const(12)  # HEADER_SIZE + TRAILER_SIZE
NEW_SUFFIX = ".new"
_CRC_INIT = const(0xFFFF)
_HEADER_FMT = "<BBI"  # after the magic: version, reserved, length


class StorageError(Exception):
    """Base of the errors of this module."""


class CorruptFile(StorageError):
    """A file exists but neither it nor its ``.new`` companion holds a valid container."""


class OsFs:
    """The real file system: MicroPython's (or CPython's) ``os`` plus builtin ``open``."""

    def open(self, path, mode):
        return open(path, mode)

    def rename(self, a, b):
        os.rename(a, b)

    def remove(self, path):
        os.remove(path)

    def stat(self, path):
        return os.stat(path)

    def listdir(self, path):
        return os.listdir(path)

    def mkdir(self, path):
        os.mkdir(path)

    def sync(self):
        """Commit file-system caches where the port can (MicroPython ``os.sync``)."""
        s = getattr(os, "sync", None)
        if s is not None:
            s()


def exists(fs, path):
    """True when ``path`` exists (file or folder)."""
    try:
        fs.stat(path)
        return True
    except OSError:
        return False


def size(fs, path):
    """File size in bytes, or -1 when missing."""
    try:
        return fs.stat(path)[6]
    except OSError:
        return -1


def makedirs(fs, path):
    """Create ``path`` and its parents when missing (``/``-separated)."""
    if not path or exists(fs, path):
        return
    i = path.rfind("/")
    if i > 0:
        makedirs(fs, path[:i])
    try:
        fs.mkdir(path)
    except OSError:
        if not exists(fs, path):
            raise


def pack(version, data):
    """The container bytes for ``data`` with payload format ``version`` (0..255)."""
    n = len(data)
    buf = bytearray(n + OVERHEAD)
    buf[0:4] = MAGIC
    pack_into(_HEADER_FMT, buf, 4, version, 0, n)
    buf[HEADER_SIZE : HEADER_SIZE + n] = data
    end = HEADER_SIZE + n
    crc = wire.crc16(buf, 0, end, _CRC_INIT)
    buf[end] = crc & 0xFF
    buf[end + 1] = crc >> 8
    return buf


def unpack(buf):
    """(version, payload) of a container, or None when torn, padded or corrupt."""
    total = len(buf)
    if total < OVERHEAD or bytes(buf[0:4]) != MAGIC:
        return None
    version, _, n = unpack_from(_HEADER_FMT, buf, 4)
    end = HEADER_SIZE + n
    if end + TRAILER_SIZE != total:
        return None
    if wire.crc16(buf, 0, end, _CRC_INIT) != buf[end] | (buf[end + 1] << 8):
        return None
    return version, bytes(buf[HEADER_SIZE:end])


def _read_file(fs, path):
    """The whole file, or None when it cannot be opened."""
    try:
        f = fs.open(path, "rb")
    except OSError:
        return None
    try:
        return f.read()
    finally:
        f.close()


def write_atomic(fs, path, data, version):
    """Replace ``path`` with a container of ``data`` so a power cut leaves old or new.

    Raises OSError when the write fails (the old file then stays in place).
    """
    tmp = path + NEW_SUFFIX
    buf = pack(version, data)
    f = fs.open(tmp, "wb")
    try:
        n = f.write(buf)
        if n is not None and n != len(buf):
            raise OSError(28)  # ENOSPC: a short write
        f.flush()
    finally:
        f.close()
    sync = getattr(fs, "sync", None)
    if sync is not None:
        sync()
    _commit(fs, tmp, path)


def _commit(fs, tmp, path):
    """Rename ``tmp`` over ``path``; if the fs refuses to replace, remove ``path`` first."""
    try:
        fs.rename(tmp, path)
    except OSError:
        if not exists(fs, path):
            raise
        fs.remove(path)
        fs.rename(tmp, path)


def read_checked(fs, path):
    """The payload of the valid file at ``path``, or None when there is none.

    As ``read_versioned`` without the version; raises CorruptFile the same way.
    """
    got = read_versioned(fs, path)
    return None if got is None else got[1]


def read_versioned(fs, path):
    """(version, payload) of the valid file at ``path``, or None when there is none.

    Recovery: when ``path`` is missing or corrupt but ``path.new`` is complete
    and valid, ``path.new`` is committed (renamed over ``path``) and returned.
    A leftover ``path.new`` next to a valid ``path`` is an uncommitted write:
    it is removed, and so is a torn ``path.new`` with no ``path`` (a first
    write that never committed: None). Raises CorruptFile when ``path``
    exists but is invalid and no valid ``path.new`` stands in for it.
    """
    tmp = path + NEW_SUFFIX
    raw = _read_file(fs, path)
    got = unpack(raw) if raw is not None else None
    if got is not None:
        if exists(fs, tmp):
            try:
                fs.remove(tmp)
            except OSError:
                pass
        return got
    raw_new = _read_file(fs, tmp)
    got_new = unpack(raw_new) if raw_new is not None else None
    if got_new is not None:
        try:
            _commit(fs, tmp, path)
        except OSError:
            pass  # still readable from .new next time
        return got_new
    if raw is None:
        # Never committed: a first write torn before its rename is no file at all.
        if raw_new is not None:
            try:
                fs.remove(tmp)
            except OSError:
                pass
        return None
    raise CorruptFile(path)
