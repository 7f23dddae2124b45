"""tcpaudit.inputs: every input file is read whole, bounded, and only if it is regular."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpaudit.inputs import NotRegularFileError, TooLargeError, read_bytes, read_text

CHUNK = 1024 * 1024


@settings(max_examples=60, deadline=None)
@given(
    size=st.sampled_from([0, 1, 4095, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7]),
    slack=st.integers(-2, 2),
)
def test_reads_exactly_the_file_or_refuses_above_the_limit(size: int, slack: int) -> None:
    data = os.urandom(size)
    limit = max(0, size + slack)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "input"
        path.write_bytes(data)
        if size > limit:
            with pytest.raises(TooLargeError):
                read_bytes(path, limit)
        else:
            assert read_bytes(path, limit) == data


def test_proc_files_report_size_zero_and_are_read_whole() -> None:
    assert os.stat("/proc/self/maps").st_size == 0
    text = read_text("/proc/self/maps")
    assert text.endswith("\n") and "[stack]" in text
    assert read_bytes("/proc/sys/kernel/ostype") == b"Linux\n"


def test_a_proc_file_larger_than_the_limit_is_refused() -> None:
    with pytest.raises(TooLargeError):
        read_bytes("/proc/self/maps", limit=64)


def test_small_files_do_not_allocate_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "small.conf"
    path.write_text("Timeout 60\n")
    tracemalloc.start()
    try:
        assert read_bytes(path) == b"Timeout 60\n"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, peak


def test_non_regular_files_are_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFileError):
        read_bytes(fifo)  # would block forever if opened for reading
    with pytest.raises(NotRegularFileError):
        read_bytes(tmp_path)
    with pytest.raises(NotRegularFileError):
        read_bytes("/dev/null")


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conf"
    path.write_bytes(b"ServerAdmin caf\xe9@example.org\n")
    assert read_text(path) == "ServerAdmin caf\ufffd@example.org\n"
