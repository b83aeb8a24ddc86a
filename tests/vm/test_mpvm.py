"""The MicroPython WebAssembly runner (afbms.mpvm) against the real VM."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from afbms import fwbuild, mpvm

pytestmark = pytest.mark.vm


@pytest.fixture
def vm() -> None:
    """Fail, never skip, when node or the npm package is missing: `make test` installs
    both, so a missing VM means a broken set-up, not an optional feature."""
    try:
        mpvm.node_executable()
        mpvm.micropython_module()
    except mpvm.VmUnavailable as exc:
        pytest.fail(str(exc))


@pytest.fixture
def firmware_tree(tmp_path: Path) -> Path:
    """A small firmware folder shaped like the real one."""
    root = tmp_path / "firmware"
    (root / "bms").mkdir(parents=True)
    (root / "__init__.py").write_text("# host-side packaging, not firmware\n")
    (root / "main.py").write_text("import bms.wire\nSTARTED = True\n")
    (root / "bms" / "__init__.py").write_text("VERSION = 3\n")
    (root / "bms" / "wire.py").write_text(
        "from bms import VERSION\n\ndef frame(b):\n    return bytes([VERSION, len(b)]) + b\n"
    )
    (root / "bms" / "other.py").write_text("X = 1\n")
    return root


@pytest.mark.usefixtures("vm")
class TestRun:
    def test_print_output_comes_back(self) -> None:
        result = mpvm.run_script("print('hello', 6 * 7)\nprint('second line')")
        assert result.ok
        assert result.returncode == 0
        assert result.stdout == b"hello 42\nsecond line\n"
        assert result.stderr == ""

    def test_binary_stdout_is_byte_exact(self) -> None:
        result = mpvm.run_script("import sys\nsys.stdout.buffer.write(bytes(range(256)))")
        assert result.stdout == bytes(range(256))

    def test_large_output_is_complete(self) -> None:
        script = (
            "import sys\nb = bytes(range(256)) * 64\n"
            "for _ in range(64):\n    sys.stdout.buffer.write(b)"
        )
        result = mpvm.run_script(script)
        assert result.stdout == bytes(range(256)) * 64 * 64

    def test_python_stderr_is_separate(self) -> None:
        result = mpvm.run_script("import sys\nprint('out')\nprint('err', file=sys.stderr)")
        assert result.stdout == b"out\n"
        assert result.stderr == "err\n"

    def test_exception_raises_script_error(self) -> None:
        with pytest.raises(mpvm.VmScriptError) as info:
            mpvm.run_script("print('before')\nraise ValueError('bad cell')")
        result = info.value.result
        assert result.returncode == 1
        assert result.stdout == b"before\n"
        assert "ValueError: bad cell" in result.stderr
        assert result.stderr.rstrip().splitlines()[-1] == "PythonError: ValueError"
        assert "ValueError" in str(info.value)

    def test_check_false_returns_the_failure(self) -> None:
        result = mpvm.run_script("1 // 0", check=False)
        assert not result.ok
        assert result.returncode == 1
        assert "ZeroDivisionError" in result.stderr

    @pytest.mark.parametrize(
        ("script", "status", "stderr"),
        [
            ("import sys\nsys.exit()", 0, ""),
            ("import sys\nsys.exit(0)", 0, ""),
            ("raise SystemExit(None)", 0, ""),
            ("import sys\nsys.exit(5)", 5, ""),
            ("import sys\nsys.exit('fatal: no cells')", 1, "fatal: no cells\n"),
        ],
    )
    def test_sys_exit_sets_status(self, script: str, status: int, stderr: str) -> None:
        result = mpvm.run_script(script, check=False)
        assert result.returncode == status
        assert result.stderr == stderr

    def test_gc_mem_alloc_works(self) -> None:
        result = mpvm.run_script("import gc\ngc.collect()\nprint(gc.mem_alloc(), gc.mem_free())")
        alloc, free = (int(n) for n in result.stdout.split())
        assert alloc > 0
        assert free > 0

    def test_py_file_is_importable(self) -> None:
        files = {"/lib/cells/__init__.py": b"", "/lib/cells/pack.py": b"def n():\n    return 12\n"}
        result = mpvm.run_script("from cells import pack\nprint(pack.n())", files)
        assert result.stdout == b"12\n"

    def test_mpy_file_is_importable(self, tmp_path: Path) -> None:
        source = tmp_path / "soc.py"
        source.write_text("def percent(mv):\n    return (mv - 3000) // 12\n")
        mpy = fwbuild.compile_file(source)
        assert mpy[:1] == b"M"
        result = mpvm.run_script("import soc\nprint(soc.percent(4200))", {"/lib/soc.mpy": mpy})
        assert result.stdout == b"100\n"

    def test_infinite_loop_times_out_and_node_is_gone(self) -> None:
        pids: list[int] = []
        started = time.monotonic()
        with pytest.raises(mpvm.VmTimeout) as info:
            mpvm.run_script(
                "print('spinning')\nwhile True:\n    pass", timeout=2, on_start=pids.append
            )
        assert time.monotonic() - started < 10
        assert info.value.stdout == b"spinning\n"
        assert len(pids) == 1
        with pytest.raises(ProcessLookupError):
            os.kill(pids[0], 0)

    def test_runner_reports_bad_request(self) -> None:
        proc = subprocess.run(
            [mpvm.node_executable(), str(mpvm.RUNNER)],
            input=b"{not json",
            capture_output=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert proc.stdout == b""
        assert proc.stderr.decode().startswith("mpvm runner: stdin is not valid JSON")
        assert proc.stderr.decode().count("\n") == 1


class TestUnavailable:
    def test_missing_npm_package(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AFBMS_NODE_MODULES", str(tmp_path))
        with pytest.raises(mpvm.VmUnavailable, match="npm ci"):
            mpvm.run_script("print(1)")

    def test_missing_node(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", str(tmp_path))
        with pytest.raises(mpvm.VmUnavailable, match="node"):
            mpvm.run_script("print(1)")


class TestFirmwareFiles:
    def test_whole_tree_compiled(self, firmware_tree: Path) -> None:
        files = mpvm.firmware_files(root=firmware_tree)
        assert sorted(files) == [
            "/lib/bms/__init__.mpy",
            "/lib/bms/other.mpy",
            "/lib/bms/wire.mpy",
            "/lib/main.mpy",
        ]
        assert all(data[:1] == b"M" for data in files.values())

    def test_selection_brings_package_init(self, firmware_tree: Path) -> None:
        files = mpvm.firmware_files(
            ["bms/wire.py"], compile=False, prefix="/fw", root=firmware_tree
        )
        assert files == {
            "/fw/bms/__init__.py": (firmware_tree / "bms" / "__init__.py").read_bytes(),
            "/fw/bms/wire.py": (firmware_tree / "bms" / "wire.py").read_bytes(),
        }

    def test_unknown_module_is_an_error(self, firmware_tree: Path) -> None:
        with pytest.raises(FileNotFoundError):
            mpvm.firmware_files(["bms/missing.py"], root=firmware_tree)
        with pytest.raises(FileNotFoundError):
            mpvm.firmware_files(["__init__.py"], root=firmware_tree)

    @pytest.mark.usefixtures("vm")
    @pytest.mark.parametrize("compile", [True, False])
    def test_tree_runs_in_vm(self, firmware_tree: Path, compile: bool) -> None:
        files = mpvm.firmware_files(["main.py"], compile=compile, root=firmware_tree)
        files |= mpvm.firmware_files(["bms/wire.py"], compile=compile, root=firmware_tree)
        result = mpvm.run_script(
            "import main\nimport bms.wire\nprint(bms.wire.frame(b'ab'))", files
        )
        assert result.stdout == b"b'\\x03\\x02ab'\n"

    @pytest.mark.usefixtures("vm")
    def test_traceback_names_firmware_path(self, firmware_tree: Path) -> None:
        files = mpvm.firmware_files(["bms/wire.py"], root=firmware_tree)
        result = mpvm.run_script("import bms.wire\nbms.wire.frame(None)", files, check=False)
        assert result.returncode == 1
        assert 'File "bms/wire.py", line 4, in frame' in result.stderr

    def test_real_firmware_tree(self) -> None:
        files = mpvm.firmware_files(compile=False)
        assert all(name.startswith("/lib/") and name.endswith(".py") for name in files)
        assert "/lib/__init__.py" not in files
