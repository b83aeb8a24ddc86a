// The virtual board: one MicroPython WebAssembly VM behind a serial console.
//
// Started by afbms.vboard (Python) as
//   node runner.mjs '<json config>'
// with fd 0 and fd 1 = the master side of a pseudo-terminal (the "USB serial" the host
// opens as /dev/pts/N), fd 2 = a log, and two extra pipes (config reqFd / respFd) to the
// host's plant. No native node modules: everything is synchronous fs calls on those fds.
//
// Execution model
//   The VM runs synchronously on node's main thread: boot.py, main.py (the firmware's
//   endless loop) and whatever the REPL executes are one long JS call each. The console
//   stays alive while Python runs because every place where the VM reaches out to JS
//   (sys.stdin reads and select.poll on it, stdout writes, the machine bridge, the VM's
//   own tick counter used by time.sleep) first "pumps" the console: a non-blocking read of
//   fd 0 into the input queue. A byte equal to the interrupt character (micropython.
//   kbd_intr) schedules KeyboardInterrupt instead of being queued. When no Python runs,
//   node's event loop reads fd 0 ('data' events) and feeds the VM's event-driven REPL
//   (replProcessChar) byte by byte, which implements the friendly and raw REPL.
//   A pure-compute loop that never touches time, I/O or machine cannot be interrupted.
//
// Board behaviour on top of the VM's REPL
//   * raw-paste requests (Ctrl-E 'A' Ctrl-A at the start of a raw-REPL line) are answered
//     "R\x00" (not supported): this port's raw-paste reader misbehaves; clients fall back.
//   * soft reboot (Ctrl-D on an empty line, SystemExit, machine.soft_reset()): prints
//     "MPY: soft reboot\r\n", starts a fresh VM instance, runs boot.py, then main.py only
//     in friendly-REPL mode, and comes back in the REPL mode it left (as real ports do).
//   * machine.reset() / watchdog: a fresh VM instance, no message, friendly mode.
//   * the flash: a host directory mounted at the VM's root through HOSTFS below, every
//     write goes straight to the host file (write-through), so killing node at any
//     instant (a power cut) leaves exactly the bytes written so far.
//
// Bridge to the plant (host process): request = 20-byte header <BBHiiiI (op, n, a, b, c,
// d, t) + n payload bytes; response = 6-byte header <iBB (status, flags, n) + n bytes.
// t is the VM's virtual tick count (ms, wraps at 2**30); flags bit 0 = the host paces
// virtual time (sleeps must go through the bridge). See afbms/vboard/bridge.py.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const cfg = JSON.parse(process.argv[2]);
const CON_IN = 0;
const CON_OUT = 1;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms) {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function log(text) {
  try {
    fs.writeSync(2, `vboard: ${text}\n`);
  } catch {
    // the log is gone: nothing to do
  }
}

// ------------------------------------------------------------------ errno translation
// Emscripten numbers errors its own way (ENOENT = 44); MicroPython's errno module and its
// stream layer use Linux numbers (ENOENT = 2, EAGAIN = 11). System calls are translated
// so OSError(2) means ENOENT on the virtual board as on a real one. EINTR stays in
// emscripten numbering: libc compares it internally.
const EM_TO_LINUX = {
  63: 1, 44: 2, 71: 3, 29: 5, 60: 6, 8: 9, 6: 11, 48: 12, 2: 13, 21: 14, 10: 16, 20: 17,
  75: 18, 43: 19, 54: 20, 31: 21, 28: 22, 41: 23, 33: 24, 59: 25, 22: 27, 51: 28, 70: 29,
  69: 30, 34: 31, 64: 32, 68: 34, 37: 36, 52: 38, 55: 39, 32: 40, 138: 95, 73: 110,
};
const NODE_TO_EM = {
  EPERM: 63, ENOENT: 44, EIO: 29, EBADF: 8, EAGAIN: 6, ENOMEM: 48, EACCES: 2, EBUSY: 10,
  EEXIST: 20, EXDEV: 75, ENODEV: 43, ENOTDIR: 54, EISDIR: 31, EINVAL: 28, ENFILE: 41,
  EMFILE: 33, EFBIG: 22, ENOSPC: 51, EROFS: 69, EMLINK: 34, ENAMETOOLONG: 37,
  ENOTEMPTY: 55, ELOOP: 32, EDQUOT: 51,
};
const EM_EINTR = 27;

function translateErrno(e) {
  return e === EM_EINTR ? e : EM_TO_LINUX[e] ?? e;
}

// ------------------------------------------------------------------ console input
class InputQueue {
  constructor() {
    this.buf = new Uint8Array(4096);
    this.at = new Float64Array(4096); // when each byte has "arrived" (baud emulation)
    this.head = 0;
    this.len = 0;
    this.lastAt = 0;
  }

  push(byte, now) {
    if (this.len === this.buf.length) {
      const n = this.buf.length * 2;
      const buf = new Uint8Array(n);
      const at = new Float64Array(n);
      for (let i = 0; i < this.len; i++) {
        const j = (this.head + i) % this.buf.length;
        buf[i] = this.buf[j];
        at[i] = this.at[j];
      }
      this.buf = buf;
      this.at = at;
      this.head = 0;
    }
    const j = (this.head + this.len) % this.buf.length;
    this.buf[j] = byte;
    if (byteMs > 0) {
      this.lastAt = Math.max(now, this.lastAt) + byteMs;
      this.at[j] = this.lastAt;
    }
    this.len++;
  }

  // bytes that have arrived by now
  available(now) {
    if (byteMs <= 0 || this.len === 0) {
      return this.len;
    }
    let n = 0;
    while (n < this.len && this.at[(this.head + n) % this.buf.length] <= now) {
      n++;
    }
    return n;
  }

  msUntilNext(now) {
    return this.len ? Math.max(0, this.at[this.head] - now) : -1;
  }

  shift() {
    const b = this.buf[this.head];
    this.head = (this.head + 1) % this.buf.length;
    this.len--;
    return b;
  }
}

const byteMs = cfg.baud ? 10000 / cfg.baud : 0; // 8N1: 10 bit times per byte
const inq = new InputQueue();
const readBuf = Buffer.allocUnsafe(4096);
let lastPump = 0;
let running = false; // Python code is executing (not idle in the REPL)
let interruptPending = false;
const PUMP_INTERVAL_MS = 0.5;

function interruptChar() {
  return vm ? vm.M.ccall("mp_hal_get_interrupt_char", "number", [], []) : -1;
}

// Take console bytes: while Python runs, the interrupt character schedules
// KeyboardInterrupt (and is dropped, as on a real board); everything else is queued.
function accept(bytes, n) {
  const now = performance.now();
  const ic = running && vm ? interruptChar() : -1;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === ic) {
      vm.M.ccall("mp_sched_keyboard_interrupt", "null", [], []);
      interruptPending = true;
      continue;
    }
    inq.push(b, now);
  }
}

// The host process that started us went away (killed): power off, whatever runs.
const parentPid = process.ppid;
let lastParentCheck = 0;
function checkParent(now) {
  if (now - lastParentCheck >= 1000) {
    lastParentCheck = now;
    if (process.ppid !== parentPid) {
      log("the host process is gone: powering off");
      process.exit(3);
    }
  }
}

// Non-blocking read of whatever the host has sent (rate-limited unless forced).
function pump(force) {
  const now = performance.now();
  if (!force && now - lastPump < PUMP_INTERVAL_MS) {
    return;
  }
  lastPump = now;
  checkParent(now);
  for (;;) {
    let n;
    try {
      n = fs.readSync(CON_IN, readBuf, 0, readBuf.length, null);
    } catch (err) {
      if (err.code === "EAGAIN" || err.code === "EIO") {
        return; // nothing waiting (EIO: no client has the port open right now)
      }
      throw err;
    }
    if (n <= 0) {
      return;
    }
    accept(readBuf, n);
    if (n < readBuf.length) {
      return;
    }
  }
}

// ------------------------------------------------------------------ console output
let outStalledSince = 0;
let outDropping = false;
let linkFreeAt = 0;
let muted = false;
let stripPrefix = null; // bytes dropped if the next output starts with them
let stripAt = 0;
let watch = null; // collects output while the runner needs to look at it

function conWrite(bytes) {
  if (watch !== null) {
    watch += Buffer.from(bytes).toString("latin1");
  }
  if (muted) {
    return;
  }
  let off = 0;
  while (stripPrefix !== null && off < bytes.length) {
    if (bytes[off] === stripPrefix[stripAt]) {
      off++;
      stripAt++;
      if (stripAt === stripPrefix.length) {
        stripPrefix = null;
      }
    } else {
      stripPrefix = null;
    }
  }
  if (byteMs > 0 && bytes.length > off) {
    // Emulated link rate: the write returns once its bytes are on the wire.
    const now = performance.now();
    linkFreeAt = Math.max(now, linkFreeAt) + (bytes.length - off) * byteMs;
    const wait = linkFreeAt - now;
    if (wait >= 1) {
      sleepMs(Math.floor(wait));
    }
  }
  while (off < bytes.length) {
    try {
      off += fs.writeSync(CON_OUT, bytes, off, bytes.length - off);
      outStalledSince = 0;
      outDropping = false;
    } catch (err) {
      if (err.code !== "EAGAIN") {
        return; // the port is gone: drop
      }
      // Nobody reads the port: wait a little, then drop (as USB CDC does when the host
      // does not read), and keep dropping without waiting until a write gets through.
      if (outDropping) {
        return;
      }
      const now = performance.now();
      if (outStalledSince === 0) {
        outStalledSince = now;
      } else if (now - outStalledSince > 200) {
        outDropping = true;
        return;
      }
      pump(true);
      sleepMs(1);
    }
  }
}

function conWriteText(text) {
  conWrite(Buffer.from(text, "latin1"));
}

// ------------------------------------------------------------------ the host's plant
const OP = {
  I2C_READ: 1, I2C_WRITE: 2, I2C_SCAN: 3, ADC_READ: 4, PIN_WRITE: 5, PIN_READ: 6,
  SLEEP: 7, SYNC: 8, SIM_CONTROL: 9, BOOT: 10, INFO: 11,
};
const REQ_HEADER = 20;
const RESP_HEADER = 6;
const req = Buffer.alloc(REQ_HEADER + 256);
const reqView = new DataView(req.buffer, req.byteOffset, req.length);
const resp = Buffer.alloc(RESP_HEADER + 256);
const respView = new DataView(resp.buffer, resp.byteOffset, resp.length);
let respLen = 0;
let hostFlags = 0;

function hostLost(err) {
  log(`the host's plant is gone (${err?.code ?? err}): powering off`);
  process.exit(3);
}

// One synchronous request/response. Returns the status; the payload is resp[6..6+respLen].
function call(op, a, b, c, d, t, payload, n) {
  pump(false);
  reqView.setUint8(0, op);
  reqView.setUint8(1, n);
  reqView.setUint16(2, a & 0xffff, true);
  reqView.setInt32(4, b | 0, true);
  reqView.setInt32(8, c | 0, true);
  reqView.setInt32(12, d | 0, true);
  reqView.setUint32(16, t >>> 0, true);
  if (n) {
    req.set(payload.subarray(0, n), REQ_HEADER);
  }
  try {
    let off = 0;
    const total = REQ_HEADER + n;
    while (off < total) {
      off += fs.writeSync(cfg.reqFd, req, off, total - off);
    }
    let got = 0;
    while (got < RESP_HEADER || got < RESP_HEADER + resp[5]) {
      const r = fs.readSync(cfg.respFd, resp, got, resp.length - got, null);
      if (r <= 0) {
        hostLost("EOF");
      }
      got += r;
    }
  } catch (err) {
    if (err.code === "EAGAIN") {
      throw err; // the pipes are blocking: cannot happen
    }
    hostLost(err);
  }
  hostFlags = resp[4];
  respLen = resp[5];
  if (sharedAddr) {
    heap()[sharedAddr] = hostFlags & 1;
  }
  return respView.getInt32(0, true);
}

// ------------------------------------------------------------------ wasm instantiation
// Patch WebAssembly.instantiate (the emscripten loader calls it) to: compile the binary
// once (a soft reboot instantiates again in ~10 ms), keep a handle on the instance's
// memory (machine copies I2C data straight into Python buffers), translate errno values,
// and pump the console whenever the VM reads its tick counter.
let compiled = null;
let memory = null;
let heapView = null;
const origInstantiate = WebAssembly.instantiate.bind(WebAssembly);

function heap() {
  if (heapView === null || heapView.buffer !== memory.buffer) {
    heapView = new Uint8Array(memory.buffer);
  }
  return heapView;
}

function wrapImports(imports) {
  const wrapped = {};
  for (const [ns, table] of Object.entries(imports)) {
    const out = {};
    for (const [name, fn] of Object.entries(table)) {
      if (typeof fn !== "function") {
        out[name] = fn;
      } else if (name.startsWith("__syscall_")) {
        out[name] = (...args) => {
          const r = fn(...args);
          return r < 0 ? -translateErrno(-r) : r;
        };
      } else if (name.startsWith("fd_")) {
        out[name] = (...args) => {
          const r = fn(...args);
          return r > 0 ? translateErrno(r) : r;
        };
      } else if (name === "mp_js_ticks_ms") {
        out[name] = () => {
          if (running) {
            pump(false);
          }
          return fn();
        };
      } else {
        out[name] = fn;
      }
    }
    wrapped[ns] = out;
  }
  return wrapped;
}

WebAssembly.instantiate = async (source, imports) => {
  if (source instanceof WebAssembly.Module) {
    return origInstantiate(source, imports);
  }
  if (compiled === null) {
    compiled = await WebAssembly.compile(source);
  }
  const instance = await origInstantiate(compiled, wrapImports(imports));
  memory = instance.exports.memory;
  heapView = null;
  return { module: compiled, instance };
};

// ------------------------------------------------------------------ HOSTFS: the flash
// A minimal emscripten file system whose nodes are files of a host directory. Reads and
// writes are positional fs calls on a host fd held per open stream: nothing is cached.
function makeHostFs(FS) {
  const S_IFMT = 0o170000;
  const S_IFDIR = 0o040000;
  const S_IFREG = 0o100000;

  function fail(err) {
    if (err?.name === "ErrnoError") {
      throw err;
    }
    throw new FS.ErrnoError(NODE_TO_EM[err?.code] ?? 29);
  }

  function realPath(node) {
    const parts = [];
    while (node.parent !== node) {
      parts.push(node.name);
      node = node.parent;
    }
    parts.push(node.mount.opts.root);
    return path.join(...parts.reverse());
  }

  const HOSTFS = {
    mount(mount) {
      const st = fs.statSync(mount.opts.root);
      return HOSTFS.createNode(null, "/", st.mode, 0);
    },
    createNode(parent, name, mode, dev) {
      const node = FS.createNode(parent, name, mode, dev);
      node.node_ops = HOSTFS.node_ops;
      node.stream_ops = HOSTFS.stream_ops;
      return node;
    },
    node_ops: {
      getattr(node) {
        try {
          const st = fs.lstatSync(realPath(node));
          return {
            dev: 1, ino: node.id, mode: st.mode, nlink: st.nlink, uid: 0, gid: 0, rdev: 0,
            size: st.size, atime: st.atime, mtime: st.mtime, ctime: st.ctime,
            blksize: 4096, blocks: Math.ceil(st.size / 4096),
          };
        } catch (err) {
          return fail(err);
        }
      },
      setattr(node, attr) {
        try {
          if (attr.size !== undefined) {
            fs.truncateSync(realPath(node), attr.size);
          }
        } catch (err) {
          fail(err);
        }
      },
      lookup(parent, name) {
        let st;
        try {
          st = fs.lstatSync(path.join(realPath(parent), name));
        } catch (err) {
          return fail(err);
        }
        return HOSTFS.createNode(parent, name, st.mode, 0);
      },
      mknod(parent, name, mode, dev) {
        const p = path.join(realPath(parent), name);
        try {
          if ((mode & S_IFMT) === S_IFDIR) {
            fs.mkdirSync(p);
          } else if ((mode & S_IFMT) === S_IFREG) {
            fs.closeSync(fs.openSync(p, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY));
          } else {
            throw new FS.ErrnoError(63);
          }
        } catch (err) {
          fail(err);
        }
        return HOSTFS.createNode(parent, name, mode, dev);
      },
      rename(oldNode, newDir, newName) {
        let target = null;
        try {
          target = FS.lookupNode(newDir, newName);
        } catch {
          target = null;
        }
        try {
          fs.renameSync(realPath(oldNode), path.join(realPath(newDir), newName));
        } catch (err) {
          fail(err);
        }
        if (target !== null && target !== oldNode) {
          FS.hashRemoveNode(target);
        }
        oldNode.name = newName;
      },
      unlink(parent, name) {
        try {
          fs.unlinkSync(path.join(realPath(parent), name));
        } catch (err) {
          fail(err);
        }
      },
      rmdir(parent, name) {
        try {
          fs.rmdirSync(path.join(realPath(parent), name));
        } catch (err) {
          fail(err);
        }
      },
      readdir(node) {
        try {
          return [".", "..", ...fs.readdirSync(realPath(node))];
        } catch (err) {
          return fail(err);
        }
      },
      symlink() {
        throw new FS.ErrnoError(63);
      },
      readlink() {
        throw new FS.ErrnoError(28);
      },
    },
    stream_ops: {
      open(stream) {
        if ((stream.node.mode & S_IFMT) === S_IFDIR) {
          stream.hostFd = null;
          return;
        }
        const acc = stream.flags & 3;
        const flags = acc === 0 ? fs.constants.O_RDONLY : acc === 1 ? fs.constants.O_WRONLY : fs.constants.O_RDWR;
        try {
          stream.hostFd = fs.openSync(realPath(stream.node), flags);
        } catch (err) {
          fail(err);
        }
      },
      close(stream) {
        if (stream.hostFd !== null && stream.hostFd !== undefined) {
          try {
            fs.closeSync(stream.hostFd);
          } catch {
            // already gone
          }
          stream.hostFd = null;
        }
      },
      read(stream, buffer, offset, length, position) {
        try {
          return fs.readSync(stream.hostFd, buffer, offset, length, position);
        } catch (err) {
          return fail(err);
        }
      },
      write(stream, buffer, offset, length, position) {
        try {
          return fs.writeSync(stream.hostFd, buffer, offset, length, position);
        } catch (err) {
          return fail(err);
        }
      },
      llseek(stream, offset, whence) {
        let position = offset;
        if (whence === 1) {
          position += stream.position;
        } else if (whence === 2 && stream.hostFd !== null) {
          try {
            position += fs.fstatSync(stream.hostFd).size;
          } catch (err) {
            fail(err);
          }
        }
        if (position < 0) {
          throw new FS.ErrnoError(28);
        }
        return position;
      },
      fsync() {
        return 0; // written data is in the host's page cache: a power cut (kill) keeps it
      },
    },
  };
  return HOSTFS;
}

// ------------------------------------------------------------------ the VM
class HardReset extends Error {
  constructor(cause) {
    super("machine reset");
    this.resetCause = cause;
  }
}

const PWRON_RESET = 1;
const HARD_RESET = 2;
const FORCED_EXIT = 0x100;

let loadMicroPython = null;
let vm = null; // {mp, M}
let sharedAddr = 0;
let resetCause = PWRON_RESET;
let fileResult = 0;
let rawMode = false; // the REPL mode, kept across soft reboots
let rawLineEmpty = true;
let pasteState = 0;
let booting = true;
let draining = false;
let libFiles = [];
let crashes = [];

const bridgeApi = {
  i2c_read(addr, reg, ptr, n, t) {
    if (n > 255) {
      return -22; // EINVAL: longer than one bridge response
    }
    const st = call(OP.I2C_READ, addr, reg, n, 0, t, null, 0);
    if (st === 0) {
      heap().set(resp.subarray(RESP_HEADER, RESP_HEADER + Math.min(n, respLen)), ptr);
    }
    return st;
  },
  i2c_write(addr, reg, ptr, n, t) {
    if (n > 255) {
      return -22; // EINVAL: longer than one bridge request
    }
    return call(OP.I2C_WRITE, addr, reg, 0, 0, t, heap().subarray(ptr, ptr + n), n);
  },
  i2c_scan(ptr, cap, t) {
    const st = call(OP.I2C_SCAN, 0, 0, 0, 0, t, null, 0);
    const n = Math.min(respLen, cap);
    heap().set(resp.subarray(RESP_HEADER, RESP_HEADER + n), ptr);
    return st < 0 ? st : n;
  },
  adc_read(pin, t) {
    return call(OP.ADC_READ, pin, 0, 0, 0, t, null, 0);
  },
  pin_write(pin, value, t) {
    return call(OP.PIN_WRITE, pin, value, 0, 0, t, null, 0);
  },
  pin_read(pin, t) {
    return call(OP.PIN_READ, pin, 0, 0, 0, t, null, 0);
  },
  sleep(t) {
    return call(OP.SLEEP, 0, 0, 0, 0, t, null, 0);
  },
  sync(t) {
    return call(OP.SYNC, 0, 0, 0, 0, t, null, 0);
  },
  sim_control(action, a0, a1, t) {
    return call(OP.SIM_CONTROL, 0, action, a0, a1, t, null, 0);
  },
  // Device time (s since 2000) at virtual time t; unique id into ptr (8 bytes).
  info(ptr, t) {
    const st = call(OP.INFO, 0, 0, 0, 0, t, null, 0);
    heap().set(resp.subarray(RESP_HEADER, RESP_HEADER + 8), ptr);
    return st;
  },
  shared(ptr) {
    sharedAddr = ptr;
    heap()[sharedAddr] = hostFlags & 1;
    return 0;
  },
  reset_cause() {
    return resetCause;
  },
  reset(cause) {
    throw new HardReset(cause || HARD_RESET);
  },
  result(rc) {
    fileResult = rc;
    return 0;
  },
};

function patchStreams(FS) {
  const stdin = FS.getStream(0);
  stdin.stream_ops = {
    ...stdin.stream_ops,
    poll() {
      pump(false);
      return inq.available(performance.now()) > 0 ? 5 : 4; // POLLIN|POLLOUT : POLLOUT
    },
    read(stream, buffer, offset, length) {
      // Blocking, like a board's console: wait for at least one byte. A scheduled
      // KeyboardInterrupt ends the wait (0 bytes) so the VM can raise it.
      for (;;) {
        const n = Math.min(length, inq.available(performance.now()));
        if (n > 0) {
          for (let i = 0; i < n; i++) {
            buffer[offset + i] = inq.shift();
          }
          return n;
        }
        if (interruptPending) {
          interruptPending = false;
          return 0;
        }
        pump(true);
        if (inq.available(performance.now()) === 0) {
          sleepMs(1);
        }
      }
    },
  };
  for (const fd of [1, 2]) {
    const s = FS.getStream(fd);
    s.stream_ops = {
      ...s.stream_ops,
      write(stream, buffer, offset, length) {
        if (running) {
          pump(false);
        }
        conWrite(buffer.subarray(offset, offset + length));
        return length;
      },
    };
  }
}

const BOOT_PY = `
import sys
sys.path.insert(0, '/vboard')
import _vbboot
del sys
_vbboot.start()
del _vbboot
`;

function runFile(name) {
  fileResult = 0;
  vm.mp.runPython(`__import__('_vbboot').run(${JSON.stringify(name)}, globals())`);
  return fileResult;
}

// Run fn with Python executing: catches what ends this VM instance.
// Returns null, or {kind, cause} when the board must restart.
function guarded(fn) {
  running = true;
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof HardReset) {
      return { kind: "hard", cause: err.resetCause };
    }
    if (err?.name === "PythonError" && err.type === "KeyboardInterrupt") {
      return null; // a Ctrl-C that landed between user code and the runner: done with it
    }
    if (err?.name === "PythonError") {
      // User code runs under _vbboot.run or the REPL, which catch everything: this is
      // the runner's own Python failing. Rebooting would fail the same way.
      fatal(`python error outside user code: ${err.message}`);
    }
    // The VM itself failed (a trap): a real board would hard-fault and reset.
    const now = performance.now();
    crashes = crashes.filter((t) => now - t < 2000);
    crashes.push(now);
    if (crashes.length > 3) {
      fatal(`the vm keeps crashing: ${err?.stack ?? err}`);
    }
    log(`vm crashed, resetting: ${err?.stack ?? err}`);
    return { kind: "hard", cause: HARD_RESET };
  } finally {
    running = false;
    interruptPending = false;
  }
}

async function boot(kind) {
  booting = true;
  for (;;) {
    vm = null;
    sharedAddr = 0;
    if (kind === "soft") {
      conWriteText("MPY: soft reboot\r\n");
    } else {
      rawMode = false; // a reset comes back to the friendly REPL
    }
    const mp = await loadMicroPython({
      heapsize: cfg.heapsize,
      pystack: cfg.pystack,
      linebuffer: false,
      stdin: () => null,
      stdout: () => {},
      stderr: () => {},
    });
    vm = { mp, M: mp._module };
    const FS = mp.FS;
    patchStreams(FS);
    FS.mkdir("/flash");
    FS.mount(makeHostFs(FS), { root: cfg.flashDir }, "/flash");
    FS.mkdir("/vboard");
    for (const [name, data] of libFiles) {
      FS.writeFile(`/vboard/${name}`, data);
    }
    mp.registerJsModule("_vbridge", bridgeApi);
    call(OP.BOOT, 0, kind === "soft" ? 1 : 0, resetCause, 0, 0, null, 0);

    let restart = guarded(() => mp.runPython(BOOT_PY));
    let rc = 0;
    if (restart === null) {
      restart = guarded(() => {
        rc = runFile("boot.py");
      });
    }
    if (restart === null && rc !== 2 && !rawMode) {
      restart = guarded(() => {
        rc = runFile("main.py");
      });
    }
    if (restart === null && rc === 2) {
      restart = { kind: "soft" }; // SystemExit: soft reboot, as pyexec does
    }
    if (restart === null) {
      restart = guarded(() => startRepl());
    }
    if (restart === null) {
      break;
    }
    kind = restart.kind;
    if (kind === "hard") {
      resetCause = restart.cause;
    }
  }
  booting = false;
}

function startRepl() {
  pasteState = 0;
  if (rawMode) {
    muted = true;
    try {
      vm.mp.replInit();
    } finally {
      muted = false;
    }
    stripPrefix = Buffer.from("\r\n");
    stripAt = 0;
    vm.mp.replProcessChar(1);
    rawLineEmpty = true;
  } else {
    stripPrefix = Buffer.from("\r\n");
    stripAt = 0;
    vm.mp.replInit();
  }
  stripPrefix = null;
}

// One byte for the REPL. Returns a restart request or null.
function replByte(b) {
  let ret = 0;
  if (b === 1 && !rawMode) {
    watch = "";
  }
  const restart = guarded(() => {
    ret = vm.mp.replProcessChar(b);
  });
  if (watch !== null) {
    rawMode = watch.includes("raw REPL; CTRL-B to exit");
    watch = null;
    if (rawMode) {
      rawLineEmpty = true;
    }
  } else if (rawMode) {
    if (b === 2) {
      rawMode = false;
    } else {
      rawLineEmpty = b === 1 || b === 3 || b === 4;
    }
  }
  if (restart !== null) {
    return restart;
  }
  if (ret & FORCED_EXIT) {
    return { kind: "soft" };
  }
  return null;
}

// Raw-paste requests are refused here; everything else goes to the VM's REPL.
function handleByte(b) {
  if (pasteState === 1) {
    if (b === 0x41) {
      pasteState = 2;
      return null;
    }
    pasteState = 0;
    const r = replByte(5);
    if (r !== null) {
      return r;
    }
  } else if (pasteState === 2) {
    pasteState = 0;
    if (b === 1) {
      conWriteText("R\x00");
      return null;
    }
    let r = replByte(5);
    if (r === null) {
      r = replByte(0x41);
    }
    if (r !== null) {
      return r;
    }
  }
  if (rawMode && rawLineEmpty && b === 5) {
    pasteState = 1;
    return null;
  }
  return replByte(b);
}

function drain() {
  if (booting || draining) {
    return;
  }
  draining = true;
  let restart = null;
  try {
    while (restart === null) {
      const now = performance.now();
      if (inq.available(now) === 0) {
        const wait = inq.msUntilNext(now);
        if (wait >= 0) {
          setTimeout(drain, Math.max(1, Math.ceil(wait)));
        }
        break;
      }
      restart = handleByte(inq.shift());
    }
  } finally {
    draining = false;
  }
  if (restart !== null) {
    if (restart.kind === "hard") {
      resetCause = restart.cause;
    }
    boot(restart.kind).then(drain, fatal);
  }
}

function fatal(err) {
  log(`runner failed: ${err?.stack ?? err}`);
  process.exit(2);
}

async function main() {
  ({ loadMicroPython } = await import(pathToFileURL(cfg.module).href));
  libFiles = cfg.lib.map((p) => [path.basename(p), fs.readFileSync(p)]);
  process.stdin.on("data", (chunk) => {
    accept(chunk, chunk.length);
    drain();
  });
  process.stdin.on("error", (err) => log(`console: ${err.code ?? err}`));
  setInterval(() => checkParent(performance.now()), 1000);
  await boot("power");
  drain();
}

main().catch(fatal);
