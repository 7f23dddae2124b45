"""Live sources that are not what they claim: bad values, binary files, wrong directories.

A value the kernel could not hold, a file that is no `sysctl -a` listing, a
directory that is not /proc/sys and a /proc file that cannot be read must
each say so, never turn into a text value, a pile of notes or a default.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from realtool import write_files

import tcpaudit
from tcpaudit.cli import cli
from tcpaudit.errors import SysctlError
from tcpaudit.sysctl import load_sysctl

RETRIES2 = "net.ipv4.tcp_retries2"
KEEPALIVE = "net.ipv4.tcp_keepalive_time"


def _audit_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "--fail-on", "never", *args])


def _root(tmp_path: Path) -> Path:
    """A root with one persistent file, so the CLI has something to audit."""
    return write_files(
        tmp_path / "root", {"etc/sysctl.d/60-retries.conf": "net.ipv4.tcp_retries2 = 8\n"}
    )


# 1. `sysctl -a` text


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("net.ipv4.tcp_keepalive_time = abc", "'abc' is not a number"),
        ("net.ipv4.tcp_keepalive_time = 7200 extra", "'extra' is not a number"),
        ("net.ipv4.tcp_keepalive_time =", "empty value"),
        ("net.ipv4.tcp_keepalive_time = 7200 75", "2 numbers where the kernel holds 1"),
    ],
)
def test_bad_value_of_a_tracked_key_is_a_note_at_its_line_and_not_a_value(
    tmp_path: Path, line: str, problem: str
) -> None:
    dump = tmp_path / "sysctl-a.txt"
    dump.write_text(f"net.core.somaxconn = 4096\n{line}\nnet.ipv4.tcp_congestion_control = cubic\n")
    settings = load_sysctl(dump, root=_root(tmp_path), boot="procps")
    keepalive = settings.settings[KEEPALIVE]
    # Not set by this listing: no text value, the kernel default applies.
    assert keepalive.live is None
    assert (keepalive.value, keepalive.source) == (7200, "default")
    notes = [note for note in settings.notes if note.line == 2]
    assert len(notes) == 1
    assert notes[0].file is not None and notes[0].file.endswith("sysctl-a.txt")
    assert problem in notes[0].message and KEEPALIVE in notes[0].message
    # Untracked keys keep their text, as the kernel prints it.
    assert settings.settings["net.ipv4.tcp_congestion_control"].value == "cubic"
    assert settings.settings["net.core.somaxconn"].value == 4096


def test_a_rule_that_needs_the_number_still_judges_the_key(tmp_path: Path) -> None:
    # Before: "15 extra" became a text value and TA202 vanished without a word.
    dump = tmp_path / "sysctl-a.txt"
    dump.write_text("net.ipv4.tcp_retries2 = 15 extra\n")
    facts = tcpaudit.gather(root=write_files(tmp_path / "root", {}), sysctl=dump)
    report = tcpaudit.audit(facts)
    assert [f.current for f in report.findings if f.rule == "TA202"] == [15]  # the default
    assert any("ignored net.ipv4.tcp_retries2" in note.message for note in report.notes)


def test_binary_file_is_one_error_naming_it_exit_2(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(8192)
    blob = tmp_path / "core.bin"
    blob.write_bytes(data.replace(b"=", b"-"))
    with pytest.raises(SysctlError) as caught:
        load_sysctl(blob, root=_root(tmp_path))
    assert caught.value.file is not None and caught.value.file.endswith("core.bin")
    assert "binary" in caught.value.reason
    result = _audit_cli("--root", str(_root(tmp_path / "cli")), "--sysctl", str(blob))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "core.bin" in lines[0], result.output


def test_mostly_binary_text_with_some_assignments_is_still_an_error(tmp_path: Path) -> None:
    blob = tmp_path / "mixed.bin"
    noise = bytes(range(0x80, 0x100)) * 8  # no NUL byte, none of it UTF-8
    blob.write_bytes(b"net.ipv4.tcp_retries2 = 8\n" + noise)
    with pytest.raises(SysctlError, match="not UTF-8"):
        load_sysctl(blob, root=_root(tmp_path))


def test_text_without_any_assignment_is_an_error(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "ServerRoot /etc/httpd\nTimeout 300\nRequestReadTimeout header=20-40\n<Directory />\n"
    )
    with pytest.raises(SysctlError, match="no `key = value` line") as caught:
        load_sysctl(conf, root=_root(tmp_path))
    assert caught.value.file is not None and caught.value.file.endswith("httpd.conf")
    result = _audit_cli("--root", str(_root(tmp_path / "cli")), "--sysctl", str(conf))
    assert result.exit_code == 2 and "httpd.conf" in result.output


def test_a_few_stray_bytes_in_a_real_listing_are_not_binary(tmp_path: Path) -> None:
    dump = tmp_path / "sysctl-a.txt"
    dump.write_bytes(
        b"# r\xe9glages du noyau (Latin-1)\nnet.ipv4.tcp_retries2 = 8\nnet.core.somaxconn = 1024\n"
    )
    settings = load_sysctl(dump, root=_root(tmp_path), boot="procps")
    assert settings.settings[RETRIES2].value == 8


# 2. --sysctl DIR


def test_empty_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SysctlError, match=r"no net/ directory") as caught:
        load_sysctl(empty, root=_root(tmp_path))
    assert caught.value.file == str(empty)
    result = _audit_cli("--root", str(_root(tmp_path / "cli")), "--sysctl", str(empty))
    assert result.exit_code == 2
    assert "unknown key" not in result.output and str(empty) in result.output


def test_proc_instead_of_proc_sys_suggests_its_sys_subdirectory(tmp_path: Path) -> None:
    host = write_files(tmp_path / "host", {"proc/sys/net/ipv4/tcp_retries2": "15\n"})
    with pytest.raises(SysctlError) as caught:
        load_sysctl(host / "proc", root=_root(tmp_path))
    assert caught.value.file == str(host / "proc")
    assert str(host / "proc" / "sys") in caught.value.reason
    # The directory it suggests is read as it should be.
    settings = load_sysctl(host / "proc" / "sys", root=_root(tmp_path))
    assert settings.settings[RETRIES2].value == 15
    assert not any("unknown key" in note.message for note in settings.notes)


def test_a_roots_proc_sys_without_net_is_a_note_not_a_live_tree(tmp_path: Path) -> None:
    # --root: the user did not name proc/sys, so no error; and no claim that the
    # file is missing from a /proc/sys that was never read: only that current
    # kernels have no such key, and the value stays as the file sets it.
    root = write_files(
        tmp_path / "root",
        {
            "proc/sys/kernel/osrelease": "6.1.0\n",
            "etc/sysctl.d/60-x.conf": "net.ipv4.tcp_retries2 = 8\nnet.ipv4.tcp_made_up = 1\n",
        },
    )
    settings = load_sysctl(root=root, boot="procps")
    assert settings.kernel == "6.1.0"
    messages = [note.message for note in settings.notes]
    assert "no net/ directory here: no live values" in messages
    assert not any("no such file in /proc/sys" in message for message in messages)
    assert any(
        message.startswith("unknown key 'net.ipv4.tcp_made_up': not a key of current kernels")
        for message in messages
    )
    assert settings.settings["net.ipv4.tcp_made_up"].persistent is not None


# 3. a /proc/sys file that exists but gives no value


def _proc_root(tmp_path: Path) -> Path:
    return write_files(
        tmp_path / "root",
        {
            "proc/sys/net/ipv4/tcp_retries2": "15\n",
            "proc/sys/net/core/somaxconn": "4096\n",
            "etc/sysctl.d/60-retries.conf": "net.ipv4.tcp_retries2 = 8\n",
        },
    )


def _assert_unknown(settings: tcpaudit.SysctlSettings, why: str) -> None:
    retries = settings.settings[RETRIES2]
    # Neither the persistent 8 nor the default 15 is claimed for it.
    assert (retries.value, retries.source, retries.live) == (None, "unknown", None)
    assert retries.persistent is not None and retries.persistent.value == 8
    assert retries.live_unknown is not None and why in retries.live_unknown
    note = next(note for note in settings.notes if note.file == "proc/sys/net/ipv4/tcp_retries2")
    assert why in note.message and "unknown" in note.message
    assert not retries.drifts


def test_tracked_key_that_is_not_world_readable_is_unknown_with_a_note(tmp_path: Path) -> None:
    root = _proc_root(tmp_path)
    (root / "proc/sys/net/ipv4/tcp_retries2").chmod(0o000)
    _assert_unknown(load_sysctl(root=root, boot="procps"), "not world-readable")


def test_tracked_key_whose_read_fails_is_unknown_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _proc_root(tmp_path)
    real_open = os.open

    def failing(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith("tcp_retries2"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing)
    _assert_unknown(load_sysctl(root=root, boot="procps"), "Permission denied")


def test_tracked_key_holding_garbage_is_unknown_with_a_note(tmp_path: Path) -> None:
    root = _proc_root(tmp_path)
    (root / "proc/sys/net/ipv4/tcp_retries2").write_text("fifteen\n")
    _assert_unknown(load_sysctl(root=root, boot="procps"), "'fifteen' is not a number")


def test_unknown_live_value_raises_no_finding_on_a_claimed_default(tmp_path: Path) -> None:
    root = _proc_root(tmp_path)
    (root / "etc/sysctl.d/60-retries.conf").unlink()
    (root / "proc/sys/net/ipv4/tcp_retries2").chmod(0o000)
    facts = tcpaudit.gather(root=root)
    report = tcpaudit.audit(facts)
    # Before: the default 15 was claimed and TA202 judged it.
    assert not [f for f in report.findings if f.setting == RETRIES2]
    assert facts.derived.retries2_giveup_seconds is None
    document = json.loads(facts.model_dump_json())["sysctl"]["settings"]
    assert "live_unknown" in document[RETRIES2]
    assert "live_unknown" not in document["net.core.somaxconn"]
