// Run one MicroPython script inside the MicroPython WebAssembly VM.
//
// Reads one JSON document from stdin:
//   {"module": "/abs/path/micropython.mjs", "heapsize": 2097152,
//    "files": {"/lib/bms/wire.mpy": "<base64>", ...}, "script": "<python source>"}
// writes the files into the VM's in-memory file system and runs the script.
//
// Python's stdout goes to our stdout byte for byte, Python's stderr to our stderr.
// Exit status: 0 the script finished; 1 the script raised (traceback on stderr, then a
// last line "PythonError: <type>"); n for sys.exit(n); 2 the runner itself failed
// (one line on stderr starting with "mpvm runner:").

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const EXIT_RAISED = 1;
const EXIT_RUNNER = 2;

class RunnerError extends Error {}

// Line-buffered byte sink for one file descriptor. The VM hands over one byte per call;
// bytes are written out at each newline (so a script killed on timeout still shows what it
// printed), when the buffer is full, and at the end.
class ByteSink {
  constructor(fd) {
    this.fd = fd;
    this.buf = Buffer.allocUnsafe(1 << 16);
    this.len = 0;
    this.broken = false; // the reader went away (EPIPE...): drop further output
  }

  push(bytes) {
    for (let i = 0; i < bytes.length; i++) {
      if (this.len === this.buf.length) {
        this.flush();
      }
      const byte = bytes[i];
      this.buf[this.len++] = byte;
      if (byte === 10) {
        this.flush();
      }
    }
  }

  flush() {
    let offset = 0;
    while (offset < this.len && !this.broken) {
      try {
        offset += fs.writeSync(this.fd, this.buf, offset, this.len - offset);
      } catch (err) {
        if (err.code !== "EAGAIN") {
          this.broken = true;
          break;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1); // pipe full: wait 1 ms
      }
    }
    this.len = 0;
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseRequest(text) {
  let request;
  try {
    request = JSON.parse(text);
  } catch (err) {
    throw new RunnerError(`stdin is not valid JSON: ${err.message}`);
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new RunnerError("stdin must hold a JSON object");
  }
  const { module, heapsize, files = {}, script } = request;
  if (typeof module !== "string" || !path.isAbsolute(module)) {
    throw new RunnerError('"module" must be the absolute path of micropython.mjs');
  }
  if (!Number.isInteger(heapsize) || heapsize <= 0) {
    throw new RunnerError('"heapsize" must be a positive integer (bytes)');
  }
  if (files === null || typeof files !== "object" || Array.isArray(files)) {
    throw new RunnerError('"files" must map absolute VM paths to base64 strings');
  }
  for (const [name, data] of Object.entries(files)) {
    if (!name.startsWith("/") || typeof data !== "string") {
      throw new RunnerError(`"files" entry ${JSON.stringify(name)}: need an absolute path and base64`);
    }
  }
  if (typeof script !== "string") {
    throw new RunnerError('"script" must be a string of Python source');
  }
  return { module, heapsize, files, script };
}

async function loadVm(module, heapsize, stdout, stderr) {
  if (!fs.existsSync(module)) {
    throw new RunnerError(`MicroPython module not found: ${module} (run \`npm ci\`)`);
  }
  let loadMicroPython;
  try {
    ({ loadMicroPython } = await import(pathToFileURL(module).href));
  } catch (err) {
    throw new RunnerError(`cannot import ${module}: ${err.message}`);
  }
  if (typeof loadMicroPython !== "function") {
    throw new RunnerError(`${module} does not export loadMicroPython`);
  }
  return loadMicroPython({
    heapsize,
    linebuffer: false,
    stdout: (bytes) => stdout.push(bytes),
    stderr: (bytes) => stderr.push(bytes),
  });
}

function makeDirs(FS, dir) {
  let current = "";
  for (const part of dir.split("/").filter(Boolean)) {
    current += `/${part}`;
    if (!FS.analyzePath(current).exists) {
      FS.mkdir(current);
    }
  }
}

function writeFiles(FS, files) {
  for (const [name, data] of Object.entries(files)) {
    try {
      makeDirs(FS, path.posix.dirname(name));
      FS.writeFile(name, Buffer.from(data, "base64"));
    } catch (err) {
      throw new RunnerError(`cannot write ${name} into the VM: ${err.message ?? err}`);
    }
  }
}

// Exit status for a SystemExit, following CPython: no argument or None is 0, an int is
// that int, anything else is printed to stderr and gives 1. MicroPython only hands over
// the traceback text, so the argument is read back from its "SystemExit: ..." line (an
// int-looking string such as sys.exit("3") is therefore taken as the int 3).
function systemExitStatus(message, stderr) {
  const marker = "SystemExit: ";
  const at = message.lastIndexOf(`\n${marker}`);
  const arg = at < 0 ? "" : message.slice(at + 1 + marker.length).replace(/\n$/, "");
  if (arg === "" || arg === "None") {
    return 0;
  }
  if (/^-?\d+$/.test(arg)) {
    return Number(BigInt.asUintN(8, BigInt(arg)));
  }
  stderr.push(Buffer.from(`${arg}\n`));
  return 1;
}

async function main() {
  const stdout = new ByteSink(1);
  const stderr = new ByteSink(2);
  let status = 0;
  try {
    const request = parseRequest(await readStdin());
    const mp = await loadVm(request.module, request.heapsize, stdout, stderr);
    writeFiles(mp.FS, request.files);
    try {
      mp.runPython(request.script);
    } catch (err) {
      if (err?.name !== "PythonError") {
        throw new RunnerError(`the VM failed: ${err?.message ?? err}`);
      }
      if (err.type === "SystemExit") {
        status = systemExitStatus(err.message, stderr);
      } else {
        const traceback = err.message.endsWith("\n") ? err.message : `${err.message}\n`;
        stderr.push(Buffer.from(`${traceback}PythonError: ${err.type}\n`));
        status = EXIT_RAISED;
      }
    }
  } catch (err) {
    const text = String(err?.message ?? err).replace(/\s*\n\s*/g, " ").trim();
    stderr.push(Buffer.from(`mpvm runner: ${text}\n`));
    status = EXIT_RUNNER;
  }
  stdout.flush();
  stderr.flush();
  process.exit(status);
}

await main();
