"""Which files the boot tools apply, in which order, and which assignment wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from realtool import write_files

from tcpaudit.provenance import Note
from tcpaudit.rootfs import RootFS
from tcpaudit.sysctl.apply import apply_assignments, glob_matches
from tcpaudit.sysctl.limits import check_value
from tcpaudit.sysctl.model import BootTool
from tcpaudit.sysctl.persistent import detect_boot_tool, list_config_files
from tcpaudit.sysctl.text import parse_assignments

KNOWN = frozenset(
    {
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_retries1",
        "net.ipv4.tcp_retries2",
        "net.ipv4.conf.all.rp_filter",
    }
)


def _listed(root: Path, boot: BootTool) -> list[str | None]:
    fs = RootFS(root)
    return [
        None if config.real is None else fs.display(config.real)
        for config in list_config_files(fs, boot)
    ]


def test_etc_masks_same_name_and_names_sort_across_directories(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "usr/lib/sysctl.d/50-a.conf": "x",
            "etc/sysctl.d/50-a.conf": "x",
            "run/sysctl.d/10-run.conf": "x",
            "usr/local/lib/sysctl.d/10-run.conf": "x",
            "lib/sysctl.d/05-lib.conf": "x",
            "usr/lib/sysctl.d/B.conf": "x",
            "usr/lib/sysctl.d/a.conf": "x",
            "etc/sysctl.d/notes.txt": "x",
        },
    )
    assert _listed(tmp_path, "systemd") == [
        "lib/sysctl.d/05-lib.conf",
        "run/sysctl.d/10-run.conf",
        "etc/sysctl.d/50-a.conf",
        "usr/lib/sysctl.d/B.conf",  # byte order: upper case first
        "usr/lib/sysctl.d/a.conf",
    ]


def test_dev_null_link_masks_and_sets_nothing(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "usr/lib/sysctl.d/50-a.conf": "net.ipv4.tcp_retries2 = 5\n",
            "etc/sysctl.d/50-a.conf": ("link", "/dev/null"),
        },
    )
    configs = list_config_files(RootFS(tmp_path), "systemd")
    assert [(c.listed, c.real) for c in configs] == [("/etc/sysctl.d/50-a.conf", None)]


def test_procps_applies_sysctl_conf_last_and_systemd_only_through_a_link(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "etc/sysctl.conf": "x",
            "etc/sysctl.d/99-sysctl.conf": ("link", "../sysctl.conf"),
            "run/sysctl.d/999-late.conf": "x",
        },
    )
    assert _listed(tmp_path, "procps") == [
        "etc/sysctl.conf",
        "run/sysctl.d/999-late.conf",
        "etc/sysctl.conf",
    ]
    assert _listed(tmp_path, "systemd") == ["etc/sysctl.conf", "run/sysctl.d/999-late.conf"]


def test_hidden_files_count_for_procps_only(tmp_path: Path) -> None:
    write_files(tmp_path, {"etc/sysctl.d/.local.conf": "x", "etc/sysctl.d/.conf": "x"})
    assert _listed(tmp_path, "procps") == ["etc/sysctl.d/.conf", "etc/sysctl.d/.local.conf"]
    assert _listed(tmp_path, "systemd") == []


def test_boot_tool_detection_says_which(tmp_path: Path) -> None:
    notes: list[Note] = []
    assert detect_boot_tool(RootFS(tmp_path), notes) == "procps"
    write_files(tmp_path, {"usr/lib/systemd/systemd-sysctl": ""})
    assert detect_boot_tool(RootFS(tmp_path), notes) == "systemd"
    assert "procps" in notes[0].message and "systemd-sysctl" in notes[1].message


def _apply(text: str, boot: BootTool) -> tuple[dict[str, object], list[Note]]:
    notes: list[Note] = []
    assignments = parse_assignments(text, "f.conf", notes)
    result = apply_assignments(assignments, boot, KNOWN, check_value, notes)
    return {key: (source.value, source.line, source.glob) for key, source in result.items()}, notes


@pytest.mark.parametrize("boot", ["procps", "systemd"])
def test_last_assignment_wins(boot: BootTool) -> None:
    result, _ = _apply("net.ipv4.tcp_retries2 = 5\nnet.ipv4.tcp_retries2 = 8\n", boot)
    assert result == {"net.ipv4.tcp_retries2": (8, 2, None)}


def test_refused_later_value_procps_keeps_the_earlier_one() -> None:
    result, notes = _apply("net.ipv4.tcp_retries2 = 5\nnet.ipv4.tcp_retries2 = 300\n", "procps")
    assert result == {"net.ipv4.tcp_retries2": (5, 1, None)}
    assert notes[0].line == 2
    assert notes[0].message.endswith("it keeps 5 from f.conf:1")


def test_refused_later_value_systemd_keeps_the_boot_value() -> None:
    result, notes = _apply("net.ipv4.tcp_retries2 = 5\nnet.ipv4.tcp_retries2 = 300\n", "systemd")
    assert result == {}
    assert notes[0].line == 2 and "boot value" in notes[0].message


@pytest.mark.parametrize("boot", ["procps", "systemd"])
def test_named_keys_beat_globs_wherever_they_are(boot: BootTool) -> None:
    text = (
        "net.ipv4.tcp_keepalive_time = 600\n"
        "net.ipv4.tcp_keepalive_* = 40\n"
        "-net.ipv4.tcp_keepalive_probes\n"
        "-net.ipv4.tcp_keepalive_i*\n"
    )
    result, _ = _apply(text, boot)
    assert result == {
        "net.ipv4.tcp_keepalive_time": (600, 1, None),
        # a glob exclusion excludes nothing
        "net.ipv4.tcp_keepalive_intvl": (40, 2, "net.ipv4.tcp_keepalive_*"),
    }


def test_equal_value_keeps_its_place_in_systemd_only() -> None:
    # systemd keeps the first entry of an unchanged glob line, so the
    # second glob is written after it; procps writes all three in order.
    text = "net.ipv4.tcp_ret*2 = 3\nnet.ipv4.tcp_retr?es2 = 4\nnet.ipv4.tcp_ret*2 = 3\n"
    assert _apply(text, "procps")[0]["net.ipv4.tcp_retries2"] == (3, 3, "net.ipv4.tcp_ret*2")
    assert _apply(text, "systemd")[0]["net.ipv4.tcp_retries2"] == (4, 2, "net.ipv4.tcp_retr?es2")


def test_glob_star_does_not_cross_separators() -> None:
    assert glob_matches("net.ipv4.*", KNOWN) == sorted(k for k in KNOWN if k.count(".") == 2)
    assert glob_matches("net.ipv4.conf.*.rp_filter", KNOWN) == ["net.ipv4.conf.all.rp_filter"]


def test_a_glob_that_names_a_secret_key_is_never_applied() -> None:
    # The boot tools write the value to tcp_fastopen_key too, so it may be the
    # secret: it is kept by no key, and the note says why.
    notes: list[Note] = []
    assignments = parse_assignments("net.ipv4.tcp_fast* = 1\nnet.ipv4.tcp_s* = 0\n", "f", notes)
    known = frozenset({"net.ipv4.tcp_fastopen", "net.ipv4.tcp_fastopen_key", "net.ipv4.tcp_sack"})
    result = apply_assignments(assignments, "procps", known, check_value, notes)
    assert list(result) == ["net.ipv4.tcp_sack"]
    assert notes[0].line == 1 and "names a secret key" in notes[0].message
