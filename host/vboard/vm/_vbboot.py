# Boot helper of the virtual board (MicroPython; installed by the runner, not flashed).
#
# start(): import machine from the runner's in-memory /vboard folder, then make the
# flash (the host directory the runner mounted at /flash) the root of the VFS, as a
# board's LittleFS is. run(path, g): pyexec_file for boot.py / main.py.

import sys

import _vbridge


def start():
    import os

    import machine  # noqa: F401  (stays in sys.modules: the board's built-in module)

    sys.path.pop(0)  # the runner's /vboard, put first to import this module and machine
    os.umount("/")
    flash = os.VfsPosix("/flash")
    os.mount(flash, "/")
    os.chdir("/")
    os.ilistdir = _ilistdir_with_sizes(os.ilistdir, os.stat)
    os.rename = _rename_on(flash, os.getcwd, os.chdir)


def _rename_on(vfs, getcwd, chdir):
    """os.rename for the flash. This build's VfsPosix builds both of rename's paths in one
    buffer when it has a root, so an absolute new path overwrites the old one (ENOENT).
    A relative new path is not prefixed, so it is given relative to the root."""

    def rename(old, new):
        cwd = getcwd()
        if not old.startswith("/"):
            old = cwd.rstrip("/") + "/" + old
        if not new.startswith("/"):
            new = cwd.rstrip("/") + "/" + new
        if cwd != "/":
            chdir("/")
        try:
            vfs.rename(old, new[1:])
        finally:
            if cwd != "/":
                chdir(cwd)

    return rename


def _ilistdir_with_sizes(ilistdir, stat):
    """ilistdir as LittleFS gives it on a board: (name, type, inode, size)."""

    def _ilistdir(path="."):
        if isinstance(path, bytes):
            yield from ilistdir(path)
            return
        base = path.rstrip("/")
        if path.startswith("/") and not base:
            base = "/"
        for entry in ilistdir(path):
            name = entry[0]
            size = 0
            if entry[1] == 0x8000:
                try:  # noqa: SIM105  (MicroPython: no contextlib)
                    size = stat((base + "/" if base and base != "/" else base) + name)[6]
                except OSError:
                    pass
            yield (name, entry[1], 0, size)

    return _ilistdir


def run(path, g):
    """Execute a file of the flash in the REPL's globals, like pyexec_file_if_exists:
    0 done or missing, 1 an exception (traceback printed), 2 SystemExit (soft reboot)."""
    import micropython

    rc = 0
    try:
        f = open(path)  # noqa: SIM115  (closed below; MicroPython)
    except OSError:
        _vbridge.result(0)
        return
    try:
        src = f.read()
    finally:
        f.close()
    micropython.kbd_intr(3)
    try:
        code = compile(src, path, "exec")
        src = None
        exec(code, g)
    except SystemExit:
        rc = 2
    except BaseException as e:
        sys.print_exception(e)
        rc = 1
    finally:
        micropython.kbd_intr(-1)
    # A Ctrl-C that came as the file ended is still pending: it fires at the next backward
    # jump, here, rather than in the runner's code (no new one can come: kbd_intr(-1)).
    try:
        for _ in range(2):
            pass
    except KeyboardInterrupt:
        if not rc:
            print("KeyboardInterrupt")
    _vbridge.result(rc)
