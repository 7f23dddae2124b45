"""Live values from a /proc/sys tree: fields, permissions, secrets, unreadable files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tcpaudit.provenance import Note
from tcpaudit.rootfs import RootFS
from tcpaudit.sysctl.proc import read_proc_tree

SECRET = "00000000-deadbeef-cafe0000-12345678"


def _proc(root: Path, files: dict[str, tuple[str, int]]) -> Path:
    proc_sys = root / "proc/sys"
    for relative, (content, mode) in files.items():
        path = proc_sys / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        path.chmod(mode)
    return proc_sys


def test_reads_top_level_keys_with_fields_and_display_paths(tmp_path: Path) -> None:
    proc_sys = _proc(
        tmp_path,
        {
            "net/ipv4/tcp_keepalive_time": ("7200\n", 0o644),
            "net/ipv4/tcp_rmem": ("4096\t131072\t6291456\n", 0o644),
            "net/ipv4/ip_local_port_range": ("32768\t60999\n", 0o644),
            "net/ipv4/conf/all/rp_filter": ("1\n", 0o644),
            "net/core/somaxconn": ("4096\n", 0o644),
        },
    )
    notes: list[Note] = []
    values = read_proc_tree(RootFS(tmp_path), proc_sys, notes)
    assert {key: source.value for key, source in values.items()} == {
        "net.ipv4.tcp_keepalive_time": 7200,
        "net.ipv4.tcp_rmem": [4096, 131072, 6291456],
        "net.ipv4.ip_local_port_range": [32768, 60999],
        "net.core.somaxconn": 4096,
    }
    assert values["net.core.somaxconn"].file == "proc/sys/net/core/somaxconn"
    assert notes == []


def test_keys_that_are_not_world_readable_are_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc_sys = _proc(
        tmp_path,
        {
            "net/ipv4/tcp_fastopen_key": (SECRET, 0o600),
            "net/ipv4/tcp_private": ("1\n", 0o600),
            "net/ipv4/tcp_retries2": ("15\n", 0o644),
        },
    )
    opened: list[str] = []
    real_open = os.open

    def spy(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
        if not flags & os.O_DIRECTORY:
            opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    values = read_proc_tree(RootFS(tmp_path), proc_sys, [])
    assert list(values) == ["net.ipv4.tcp_retries2"]
    # Opened by name inside net/ipv4, never by a path a link could redirect.
    assert opened == ["tcp_retries2"]


def test_secret_key_is_skipped_even_when_a_copy_made_it_readable(tmp_path: Path) -> None:
    proc_sys = _proc(tmp_path, {"net/ipv4/tcp_fastopen_key": (SECRET, 0o644)})
    values = read_proc_tree(RootFS(tmp_path), proc_sys, [])
    assert values == {}


def test_unreadable_entry_is_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc_sys = _proc(
        tmp_path,
        {"net/ipv4/tcp_retries2": ("15\n", 0o644), "net/ipv4/tcp_broken": ("1\n", 0o644)},
    )
    real_open = os.open

    def failing(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("tcp_broken"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing)
    notes: list[Note] = []
    values = read_proc_tree(RootFS(tmp_path), proc_sys, notes)
    assert list(values) == ["net.ipv4.tcp_retries2"]
    assert notes[0].file == "proc/sys/net/ipv4/tcp_broken"
    assert "Permission denied" in notes[0].message
