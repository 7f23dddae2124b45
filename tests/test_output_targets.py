"""`--output` writes where the user points, never replacing a link or a device node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpaudit.cli import cli

TUNED = Path(__file__).resolve().parents[1] / "examples" / "tuned"


def _audit(output: Path | str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["audit", "--root", str(TUNED), "--format", "json", "-o", str(output)]
    )
    return result.exit_code, result.output


def test_a_symlink_keeps_pointing_at_the_report(tmp_path: Path) -> None:
    (tmp_path / "existing.json").write_text("old")
    (tmp_path / "link.json").symlink_to("existing.json")
    assert _audit(tmp_path / "link.json")[0] == 0
    assert (tmp_path / "link.json").is_symlink()
    assert json.loads((tmp_path / "existing.json").read_text())["grade"] == "A"
    assert (tmp_path / "existing.json").stat().st_mode & 0o777 == 0o600


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert _audit(fifo)[0] == 0
    reader.join(timeout=10)
    assert json.loads(received[0])["grade"] == "A"
    assert fifo.is_fifo()


def test_dev_stdout_receives_the_report() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tcpaudit", "audit", "--root", str(TUNED), "--format", "json",
         "-o", "/dev/stdout"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["grade"] == "A"
    assert Path("/dev/stdout").is_symlink()


def test_errors_name_the_target_not_a_temporary_file(tmp_path: Path) -> None:
    code, output = _audit(tmp_path / "missing" / "report.json")
    assert code == 2
    assert f"{tmp_path / 'missing'}: no such directory" in output
    code, output = _audit(tmp_path)
    assert code == 2
    assert f"{tmp_path}: is a directory" in output
    assert not list(tmp_path.glob(".*"))


def test_a_name_near_the_longest_a_directory_holds_is_written(tmp_path: Path) -> None:
    # The temporary file beside it was named ".NAME.xxxxxxxx": over 255 bytes.
    for length in (245, 250, 255):
        target = tmp_path / ("b" * length)
        code, output = _audit(target)
        assert code in (0, 1), output
        assert json.loads(target.read_text())["grade"]


def test_a_device_that_refuses_the_write_is_named_in_one_line() -> None:
    code, output = _audit("/dev/full")
    assert code == 2
    assert output.count("\n") <= 1 and "/dev/full" in output, output


def test_a_full_disk_is_named_in_one_line_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle: int, mode: str) -> None:
            self.stream = real_fdopen(handle, mode)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stream.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", Full)
    target = tmp_path / "report.json"
    code, output = _audit(target)
    assert code == 2
    assert output.count("\n") <= 1 and str(target) in output and "No space left" in output, output
    assert list(tmp_path.iterdir()) == []
