"""Line grammar of sysctl files and of `sysctl -a` / `sysctl -n` output."""

from __future__ import annotations

from pathlib import Path

from tcpaudit.provenance import Note
from tcpaudit.sysctl import load_sysctl
from tcpaudit.sysctl.text import parse_assignments, parse_sysctl_n, parse_sysctl_text

SECRET = "00000000-deadbeef-cafe0000-12345678"


def test_comments_blanks_crlf_and_dash_prefix() -> None:
    notes: list[Note] = []
    text = (
        "# hash comment\n"
        "   ; semicolon comment after blanks\n"
        "\n"
        "net.ipv4.tcp_keepalive_time = 600\r\n"
        "\t net.ipv4.tcp_keepalive_intvl=30   \n"
        "-net.ipv4.tcp_retries1 = 4\n"
        "-net.ipv4.tcp_retries2\n"
        "net/ipv4/tcp_syn_retries = 3\n"
    )
    found = parse_assignments(text, "etc/sysctl.d/a.conf", notes)
    assert [(a.key, a.value, a.line, a.ignore_failure) for a in found] == [
        ("net.ipv4.tcp_keepalive_time", "600", 4, False),
        ("net.ipv4.tcp_keepalive_intvl", "30", 5, False),
        ("net.ipv4.tcp_retries1", "4", 6, True),
        ("net.ipv4.tcp_retries2", None, 7, False),  # exclusion line
        ("net.ipv4.tcp_syn_retries", "3", 8, False),
    ]
    assert notes == []


def test_hash_after_a_value_is_part_of_the_value() -> None:
    found = parse_assignments("net.ipv4.tcp_retries2 = 8 # lower\n", "f", [])
    assert found[0].value == "8 # lower"


def test_line_without_equals_is_a_warning_with_file_and_line() -> None:
    notes: list[Note] = []
    found = parse_assignments(
        "net.ipv4.tcp_retries2 = 8\nnet.ipv4.tcp_retries1 3\n", "f.conf", notes
    )
    assert [a.key for a in found] == ["net.ipv4.tcp_retries2"]
    assert len(notes) == 1
    assert (notes[0].file, notes[0].line) == ("f.conf", 2)
    assert "without '='" in notes[0].message


def test_mixed_separators_are_kept_but_flagged() -> None:
    notes: list[Note] = []
    found = parse_assignments("net.ipv4/tcp_retries2 = 7\n", "f.conf", notes)
    assert found[0].key == "net.ipv4/tcp_retries2"
    assert notes[0].line == 1 and "net/ipv4.tcp_retries2" in notes[0].message


def test_globs_are_recognised() -> None:
    found = parse_assignments("net.ipv4.conf.*.rp_filter = 1\nnet.ipv4.tcp_retries2 = 8\n", "f", [])
    assert [a.is_glob for a in found] == [True, False]


def test_secret_keys_are_dropped_and_never_quoted() -> None:
    notes: list[Note] = []
    text = (
        f"net.ipv4.tcp_fastopen_key = {SECRET}\n"
        f"net/ipv4/tcp_fastopen_key = {SECRET}\n"
        f"net.ipv4.tcp_fastopen_key {SECRET}\n"
        "net.ipv4.tcp_retries2 = 8\n"
    )
    found = parse_assignments(text, "f", notes)
    assert [a.key for a in found] == ["net.ipv4.tcp_retries2"]
    assert SECRET not in repr(found) + repr(notes)
    assert [(note.line, "secret" in note.message) for note in notes] == [
        (1, True),
        (2, True),
        (3, True),  # the line without '=' is quoted by a placeholder, not its text
    ]


def test_a_secret_behind_a_line_end_of_the_other_tool_is_never_kept(tmp_path: Path) -> None:
    # procps reads "21\rnet...key = S" as one value (refused, then quoted in a
    # note); systemd-sysctl ends the line at \r and NUL. Neither shows S.
    for boot in ("procps", "systemd"):
        for end in ("\r", "\0", "\r\0"):
            for spelled in ("net.ipv4.tcp_fastopen_key", "net/ipv4/tcp_fastopen_ke?", "-x.*_key"):
                text = f"net.ipv4.tcp_fin_timeout = 21{end}{spelled} = {SECRET}\n"
                notes: list[Note] = []
                found = parse_assignments(text, "f", notes, boot=boot)
                assert SECRET[:8] not in repr(notes), (boot, end, spelled)
                if boot == "procps":
                    assert SECRET[:8] not in repr(found), (boot, end, spelled)
                # A glob's value waits for apply, which withholds it: nothing shows it.
                root = tmp_path / f"{boot}-{end.encode().hex()}-{spelled.replace('/', '.')}"
                (root / "etc/sysctl.d").mkdir(parents=True)
                (root / "etc/sysctl.d/10-a.conf").write_text(text)
                settings = load_sysctl(root=root, boot=boot, kernel="6.1.0")  # type: ignore[arg-type]
                assert SECRET[:8] not in settings.model_dump_json(), (boot, end, spelled)
                if boot == "systemd" or "\0" not in end:  # procps never reads past a NUL
                    assert any("secret" in note.message for note in settings.notes), (boot, end)


def test_line_ends_are_those_of_each_boot_tool() -> None:
    text = "a.b = 1\rc.d = 2\r\ne.f = 3\0g.h = 4\n\ni.j = 5\r\0\rk.l = 6\n"
    systemd = parse_assignments(text, "f", [], boot="systemd")
    assert [(a.key, a.value, a.line) for a in systemd] == [
        ("a.b", "1", 1), ("c.d", "2", 1), ("e.f", "3", 2), ("g.h", "4", 2),
        ("i.j", "5", 4), ("k.l", "6", 4),
    ]  # fmt: skip
    procps = parse_assignments(text, "f", [], boot="procps")
    # One line per \n, each read up to its first NUL; a \r inside is kept.
    assert [(a.key, a.value, a.line) for a in procps] == [
        ("a.b", "1\rc.d = 2", 1), ("e.f", "3", 2), ("i.j", "5", 4),
    ]  # fmt: skip


def test_sysctl_a_output_last_line_wins_and_fields_become_lists() -> None:
    notes: list[Note] = []
    text = (
        "net.core.somaxconn = 4096\n"
        "net.ipv4.tcp_rmem = 4096\t131072\t6291456\n"
        "net.ipv4.tcp_congestion_control = cubic\n"
        "net.core.somaxconn = 1024\n"
    )
    values = parse_sysctl_text(text, "sysctl-a.txt", notes)
    assert values["net.core.somaxconn"].value == 1024
    assert values["net.core.somaxconn"].line == 4
    assert values["net.ipv4.tcp_rmem"].value == [4096, 131072, 6291456]
    assert values["net.ipv4.tcp_congestion_control"].value == "cubic"
    assert notes == []


def test_sysctl_n_output_is_matched_to_the_keys_asked() -> None:
    notes: list[Note] = []
    values = parse_sysctl_n(
        ["net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_rmem", "net.ipv4.tcp_fastopen_key"],
        f"7200\n4096\t131072\t6291456\n{SECRET}\n",
        "sysctl-n.txt",
        notes,
    )
    assert values["net.ipv4.tcp_keepalive_time"].value == 7200
    assert values["net.ipv4.tcp_rmem"].value == [4096, 131072, 6291456]
    assert "net.ipv4.tcp_fastopen_key" not in values
    assert notes == []


def test_sysctl_n_with_missing_lines_says_so() -> None:
    notes: list[Note] = []
    values = parse_sysctl_n(["net.core.somaxconn", "net.ipv4.tcp_retries2"], "4096\n", "n", notes)
    assert list(values) == ["net.core.somaxconn"]
    assert "1 lines for 2 keys" in notes[0].message


def test_sysctl_a_oddities_are_noted_at_their_own_line() -> None:
    notes: list[Note] = []
    text = (
        "net.core.somaxconn = 4096\n"
        "dev.cdrom.info = CD-ROM information\n"
        "drive name:\n"
        "net.ipv4.conf.*.rp_filter = 1\n"
        "net.ipv4.conf.eth0/100.rp_filter = 2\n"
    )
    values = parse_sysctl_text(text, "dump", notes)
    assert [(note.line, "'='" in note.message) for note in notes] == [(3, True), (4, False)]
    assert "globs" in notes[1].message
    assert values["net.ipv4.conf.eth0/100.rp_filter"].value == 2
    assert "net.ipv4.conf.*.rp_filter" not in values


def test_vlan_interface_keys_are_not_flagged_as_mixed() -> None:
    notes: list[Note] = []
    found = parse_assignments("net.ipv4.conf.eth0/100.rp_filter = 1\n", "f", notes)
    assert found[0].key == "net.ipv4.conf.eth0/100.rp_filter"
    assert notes == []


def test_line_of_unicode_space_is_ignored_with_a_note() -> None:
    from tcpaudit.sysctl.text import parse_sysctl_text

    notes: list[Note] = []
    assert (
        parse_sysctl_text("\x85\nnet.ipv4.tcp_retries2 = 8\n", "x.conf", notes)[
            "net.ipv4.tcp_retries2"
        ].value
        == 8
    )
    assert any(note.line == 1 for note in notes)
