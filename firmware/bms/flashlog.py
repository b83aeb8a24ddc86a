"""Flash log: fixed-size records in a bounded ring of segment files, batched, power-cut safe.

Records are ``wire.pack_log_record`` (LOG_RECORD_SIZE = 40 bytes: seq, t_s,
t_ms, kind, code, aux, faults, v0..v4, CRC-16). ``append`` packs one into a RAM
batch allocated once (no heap allocation); ``flush`` writes the batch to the
current segment with one ``write`` and a file flush; a full batch flushes
itself.

Segments: ``<folder>/<first seq, 8 hex digits>.seg``, each a run of records
with consecutive sequence numbers, record i at byte 40*i holding seq
first+i. A segment is closed after ``seg_records`` records (it may overrun by
less than a batch, one write per flush); every boot starts a new one and so
does any gap in the numbering (a failed flush). When a segment receives its
first records and there are more than ``max_segments``, the oldest go, so the
ring holds at most ``max_segments`` files of at most
(seg_records + batch_records - 1) records, plus this boot's empty one.
``capacity`` (LOG_INFO) is seg_records x max_segments; partly filled segments
left by reboots hold less.

Sequence numbers are never reused: records in the RAM batch can be read
(LOG_READ) before they are flushed, so a boot numbers on from the highest
number any file could have held (first + ceil(size / 40) of the newest
segment) plus one whole batch. The new boot's segment file is created (empty)
at open, before older empty ones are removed, so that bound survives a cut at
any instant, even one before the first flush.

Power cuts: a cut tears at most the write in flight (a prefix of the batch
reaches the file), and loses what was still in RAM. Readers check every
record's CRC and its expected seq (first + index), so a torn or damaged
record is never served; the torn tail stays in a segment that is never
appended to again, so later records stay aligned.

Defaults (16-record batches, 256-record segments, 16 segments) keep 4096
records (~160 KiB); at one record per second a batch is 16 s of data.
"""

from bms import storage, wire

try:
    from micropython import const
except ImportError:  # CPython, for host-side tests

    def const(__x):
        return __x


_REC = const(40)  # wire.LOG_RECORD_SIZE
_NAME_LEN = const(12)  # "xxxxxxxx.seg"
SUFFIX = ".seg"
FIRST_SEQ = const(1)  # seq of the first record of a brand-new log


def _seq_at(buf, off):
    return buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)


class FlashLog:
    """A ring of 40-byte records in ``folder`` through ``fs``.

    ``error`` becomes True (Fault LOG_ERROR) when a flush fails; ``lost``
    counts the records dropped with failed batches, ``errors`` the failures.
    """

    def __init__(self, fs, folder, batch_records=16, seg_records=256, max_segments=16):
        if batch_records < 1 or seg_records < batch_records or max_segments < 2:
            raise ValueError("log geometry")
        self.fs = fs
        self.folder = folder
        self.batch_records = batch_records
        self.seg_records = seg_records
        self.max_segments = max_segments
        self.capacity = seg_records * max_segments
        self._buf = bytearray(batch_records * _REC)
        self._mv = memoryview(self._buf)
        self._n = 0  # records in the RAM batch
        self._f = None  # the segment being appended (created by this boot)
        self._sfirst = []  # first seq of each segment, oldest first
        self._scount = []  # records (slots) in each segment
        self.next_seq = FIRST_SEQ
        self._batch_first = FIRST_SEQ
        self.error = False
        self.errors = 0
        self.lost = 0
        self.open()

    # -- start-up ----------------------------------------------------------

    def _path(self, first):
        return "%s/%08x%s" % (self.folder, first, SUFFIX)

    def open(self):
        """Scan the folder, recover the numbering and start this boot's segment."""
        fs = self.fs
        storage.makedirs(fs, self.folder)
        segs = []
        for name in fs.listdir(self.folder):
            if len(name) != _NAME_LEN or not name.endswith(SUFFIX):
                continue
            try:
                first = int(name[0:8], 16)
            except ValueError:
                continue
            n = storage.size(fs, self.folder + "/" + name)
            if n >= 0:
                segs.append((first, n))
        segs.sort()
        nxt = FIRST_SEQ
        for first, n in segs:
            top = first + (n + _REC - 1) // _REC
            if top > nxt:
                nxt = top
        if segs:
            nxt += self.batch_records  # the RAM batch of the last boot may have been read
        self._sfirst = []
        self._scount = []
        for first, n in segs:
            self._sfirst.append(first)
            self._scount.append(n // _REC)
        self._n = 0
        self.next_seq = nxt
        self._batch_first = nxt
        self._f = None
        try:
            self._new_segment(nxt)
        except OSError:
            self.error = True  # flush retries; the numbering bound is already safe
            self.errors += 1

    def _new_segment(self, first):
        """Close the current segment and create the one starting at ``first``."""
        fs = self.fs
        if self._f is not None:
            f = self._f
            self._f = None
            f.close()
        self._f = fs.open(self._path(first), "wb")
        self._sfirst.append(first)
        self._scount.append(0)
        # Empty segments (a boot that never flushed) are dropped once a newer file exists.
        i = len(self._sfirst) - 2
        while i >= 0:
            if self._scount[i] == 0:
                fs.remove(self._path(self._sfirst[i]))
                self._sfirst.pop(i)
                self._scount.pop(i)
            i -= 1

    def _prune(self):
        """Delete the oldest segments past ``max_segments`` (the current one included)."""
        while len(self._sfirst) > self.max_segments:
            self.fs.remove(self._path(self._sfirst[0]))
            self._sfirst.pop(0)
            self._scount.pop(0)

    # -- writing -------------------------------------------------------------

    def append(self, t_s, t_ms, kind, code, aux, faults, v0, v1, v2, v3, v4):
        """Add one record to the RAM batch (flushing it when full); returns its seq."""
        seq = self.next_seq
        n = self._n
        wire.pack_log_record(
            self._buf, n * _REC, seq, t_s, t_ms, kind, code, aux, faults, v0, v1, v2, v3, v4
        )
        self.next_seq = seq + 1
        self._n = n + 1
        if n + 1 >= self.batch_records:
            self.flush()
        return seq

    def flush(self):
        """Write the RAM batch with one write. False (and the batch dropped) on failure."""
        n = self._n
        if n == 0:
            return True
        first = self._batch_first
        try:
            last = len(self._sfirst) - 1
            if (
                self._f is None
                or self._scount[last] >= self.seg_records
                or self._sfirst[last] + self._scount[last] != first
            ):
                self._new_segment(first)
                last = len(self._sfirst) - 1
            if self._scount[last] == 0:
                self._prune()  # the segment gets its first records: make room
                last = len(self._sfirst) - 1
            f = self._f
            if f is None:
                raise OSError(5)  # EIO: no segment could be created
            size = n * _REC
            w = f.write(self._buf if n == self.batch_records else self._mv[0:size])
            if w is not None and w != size:
                raise OSError(28)  # ENOSPC
            f.flush()
        except OSError:
            self.error = True
            self.errors += 1
            self.lost += n
            self._n = 0
            self._batch_first = self.next_seq
            f = self._f
            self._f = None  # the tail may be torn: the next flush starts a new segment
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
            return False
        self._scount[last] += n
        self._n = 0
        self._batch_first = self.next_seq
        return True

    def close(self):
        """Flush and close the current segment."""
        ok = self.flush()
        f = self._f
        self._f = None
        if f is not None:
            f.close()
        return ok

    # -- reading -------------------------------------------------------------

    def info(self):
        """(first_seq, next_seq, capacity, unflushed) for LOG_INFO."""
        first = self._batch_first if self._n else self.next_seq
        for i in range(len(self._sfirst)):
            if self._scount[i]:
                first = self._sfirst[i]
                break
        return first, self.next_seq, self.capacity, self._n

    def read_into(self, start_seq, buf, max_records):
        """Copy valid consecutive records from the first seq >= ``start_seq`` into ``buf``.

        Returns (seq of the first record in buf, count). Only records whose CRC
        matches and whose seq is the one expected at their place are copied; a
        page stops at a gap or a bad record (the next read skips past it).
        count 0: nothing at or after ``start_seq`` (first is then ``next_seq``).
        """
        room = len(buf) // _REC
        if max_records < room:
            room = max_records
        first = -1
        count = 0
        for i in range(len(self._sfirst)):
            if count >= room:
                break
            s0 = self._sfirst[i]
            slots = self._scount[i]
            if s0 + slots <= start_seq or slots == 0:
                continue
            if count and s0 != first + count:
                break  # a gap ends the page
            j = (first + count if count else max(start_seq, s0)) - s0
            _, first, count, stop = self._read_segment(i, j, buf, room, first, count)
            if stop:
                return first, count
        if count < room and self._n:
            b0 = self._batch_first
            if count == 0 or b0 == first + count:
                j = (first + count if count else max(start_seq, b0)) - b0
                while j < self._n and count < room:
                    if count == 0:
                        first = b0 + j
                    buf[count * _REC : (count + 1) * _REC] = self._mv[j * _REC : (j + 1) * _REC]
                    count += 1
                    j += 1
        if count == 0:
            return self.next_seq, 0
        return first, count

    def _read_segment(self, i, j, buf, room, first, count):
        """Read segment i from record j into buf after ``count`` records.

        Returns (records read, first, count, stop) where stop means the page ended
        on a bad record after valid ones.
        """
        s0 = self._sfirst[i]
        slots = self._scount[i]
        if i == len(self._sfirst) - 1 and self._f is not None:
            self._f.flush()
        try:
            f = self.fs.open(self._path(s0), "rb")
        except OSError:
            return 0, first, count, count > 0
        mv = memoryview(buf)
        read = 0
        try:
            f.seek(j * _REC)
            while j < slots and count < room:
                k = slots - j
                if k > room - count:
                    k = room - count
                got = f.readinto(mv[count * _REC : (count + k) * _REC])
                k = (got or 0) // _REC
                if k == 0:
                    return read, first, count, count > 0  # short file: a torn tail
                dst = count * _REC
                for r in range(k):
                    off = (count + r) * _REC
                    seq = s0 + j + r
                    if _seq_at(buf, off) != seq or not wire.log_record_ok(buf, off):
                        if dst:
                            return read, first, dst // _REC, True
                        continue  # nothing served yet: skip the bad record
                    if dst == 0:
                        first = seq
                    if off != dst:
                        buf[dst : dst + _REC] = mv[off : off + _REC]
                    dst += _REC
                    read += 1
                j += k
                count = dst // _REC
        finally:
            f.close()
        return read, first, count, False
