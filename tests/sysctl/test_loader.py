"""``load_sysctl``: sources merged per key, defaults by kernel, drift, notes, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from realtool import write_files

from tcpaudit.errors import SysctlError
from tcpaudit.sysctl import load_sysctl

SECRET = "00000000-deadbeef-cafe0000-12345678"


def _root(tmp_path: Path, files: dict[str, str | tuple[str, str]]) -> Path:
    return write_files(tmp_path, files)


def test_live_then_persistent_then_default_with_drift_and_both_locations(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "proc/sys/kernel/osrelease": "6.1.0-27-amd64\n",
            "proc/sys/net/ipv4/tcp_keepalive_time": "7200\n",
            "proc/sys/net/ipv4/tcp_retries2": "8\n",
            "etc/sysctl.d/50-ka.conf": "# tuned\nnet.ipv4.tcp_keepalive_time = 600\n"
            "net.ipv4.tcp_fin_timeout = 30\nnet.ipv4.tcp_retries2 = 8\n",
        },
    )
    settings = load_sysctl(root=root, boot="systemd")
    assert settings.kernel == "6.1.0-27-amd64"
    ka = settings.settings["net.ipv4.tcp_keepalive_time"]
    assert (ka.value, ka.source, ka.drifts) == (7200, "live", True)
    assert ka.live is not None and ka.live.file == "proc/sys/net/ipv4/tcp_keepalive_time"
    assert ka.persistent is not None
    assert (ka.persistent.value, ka.persistent.file, ka.persistent.line) == (
        600,
        "etc/sysctl.d/50-ka.conf",
        2,
    )
    assert str(ka.location) == "etc/sysctl.d/50-ka.conf:2"
    assert not settings.settings["net.ipv4.tcp_retries2"].drifts
    fin = settings.settings["net.ipv4.tcp_fin_timeout"]
    assert (fin.value, fin.source) == (30, "persistent")
    syn = settings.settings["net.ipv4.tcp_syn_retries"]
    assert (syn.value, syn.source, syn.default) == (6, "default", 6)
    assert settings.persistent_files == ["etc/sysctl.d/50-ka.conf"]


@pytest.mark.parametrize(
    ("kernel", "somaxconn", "rmem", "ports", "syn_retries"),
    [
        ("3.2.0", 128, [4096, 87380, 6291456], [32768, 61000], 5),
        ("4.19.0-21-amd64", 128, [4096, 87380, 6291456], [32768, 60999], 6),
        ("5.4.0", 4096, [4096, 131072, 6291456], [32768, 60999], 6),
        ("6.1.0", 4096, [4096, 131072, 6291456], [32768, 60999], 6),
    ],
)
def test_defaults_follow_the_kernel_version(
    tmp_path: Path, kernel: str, somaxconn: int, rmem: list[int], ports: list[int], syn_retries: int
) -> None:
    settings = load_sysctl(root=tmp_path, boot="procps", kernel=kernel)
    assert settings.int_value("net.core.somaxconn") == somaxconn
    assert settings.settings["net.ipv4.tcp_rmem"].value == rmem
    assert settings.settings["net.ipv4.ip_local_port_range"].value == ports
    assert settings.int_value("net.ipv4.tcp_syn_retries") == syn_retries
    assert settings.settings["net.core.somaxconn"].source == "default"


def test_kernel_version_comes_from_the_roots_osrelease(tmp_path: Path) -> None:
    root = _root(tmp_path, {"proc/sys/kernel/osrelease": "4.19.0-21-amd64\n"})
    assert load_sysctl(root=root, boot="procps").int_value("net.core.somaxconn") == 128
    assert (
        load_sysctl(root=root, boot="procps", kernel="6.1").int_value("net.core.somaxconn") == 4096
    )


def test_memory_dependent_default_is_marked_not_guessed(tmp_path: Path) -> None:
    backlog = load_sysctl(root=tmp_path, boot="procps").settings["net.ipv4.tcp_max_syn_backlog"]
    assert backlog.default is None and backlog.value is None
    assert backlog.default_depends_on_memory
    assert (
        not load_sysctl(root=tmp_path, boot="procps")
        .settings["net.ipv4.tcp_retries2"]
        .default_depends_on_memory
    )


def test_orphan_retries_zero_is_kept_raw_and_means_eight(tmp_path: Path) -> None:
    settings = load_sysctl(root=tmp_path, boot="procps")
    assert settings.int_value("net.ipv4.tcp_orphan_retries") == 0
    assert settings.effective_int_value("net.ipv4.tcp_orphan_retries") == 8
    assert settings.effective_int_value("net.ipv4.tcp_retries2") == 15


def test_sysctl_a_text_is_a_live_source(tmp_path: Path) -> None:
    dump = tmp_path / "sysctl-a.txt"
    dump.write_text(
        "kernel.osrelease = 4.19.0\nnet.core.somaxconn = 512\n"
        "net.ipv4.tcp_wmem = 4096\t16384\t4194304\n"
    )
    settings = load_sysctl(dump, root=tmp_path, boot="procps")
    assert settings.kernel == "4.19.0"
    somaxconn = settings.settings["net.core.somaxconn"]
    assert (somaxconn.value, somaxconn.default, somaxconn.live and somaxconn.live.line) == (
        512,
        128,
        2,
    )
    assert settings.settings["net.ipv4.tcp_wmem"].value == [4096, 16384, 4194304]
    assert "kernel.osrelease" not in settings.settings


def test_unreadable_source_file_raises_sysctl_error(tmp_path: Path) -> None:
    with pytest.raises(SysctlError) as caught:
        load_sysctl(tmp_path / "missing.txt", root=tmp_path)
    assert caught.value.file is not None and "missing.txt" in caught.value.file


def test_bad_lines_become_notes_with_file_and_line_never_errors(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "proc/sys/net/ipv4/tcp_retries2": "15\n",
            "etc/sysctl.d/10-bad.conf": (
                "net.ipv4.tcp_retries2 = many\n"
                "net.ipv4.tcp_syn_retries = 300\n"
                "net.ipv4.tcp_no_such_setting = 1\n"
                "net.ipv4.tcp_keepalive_time 600\n"
                "net.ipv4/tcp_fin_timeout = 30\n"
            ),
        },
    )
    settings = load_sysctl(root=root, boot="systemd", kernel="6.1")
    located = {(note.file, note.line) for note in settings.notes}
    assert {("etc/sysctl.d/10-bad.conf", line) for line in range(1, 6)} <= located
    messages = " | ".join(note.message for note in settings.notes)
    assert "'many' is not a number" in messages
    assert "outside 1..127" in messages
    assert "unknown key 'net.ipv4.tcp_no_such_setting'" in messages
    assert "without '='" in messages
    assert "mixes '.' and '/'" in messages
    assert settings.settings["net.ipv4.tcp_retries2"].persistent is None


def test_detected_boot_tool_is_named_in_a_note(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "lib/systemd/systemd-sysctl": "",
            "etc/sysctl.conf": "net.ipv4.tcp_retries2 = 9\n",
        },
    )
    settings = load_sysctl(root=root)
    assert settings.boot == "systemd"
    assert any("systemd-sysctl" in note.message for note in settings.notes)
    # systemd does not read /etc/sysctl.conf without a sysctl.d link to it
    assert settings.settings["net.ipv4.tcp_retries2"].persistent is None
    assert load_sysctl(root=root, boot="procps").int_value("net.ipv4.tcp_retries2") == 9


def test_globs_set_tracked_keys_and_are_kept_as_written(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "etc/sysctl.d/10-glob.conf": "net.ipv4.tcp_keepalive_* = 60\n"
            "-net.ipv4.tcp_keepalive_probes\nnet.ipv4.conf.*.rp_filter = 1\n"
        },
    )
    settings = load_sysctl(root=root, boot="systemd")
    time = settings.settings["net.ipv4.tcp_keepalive_time"].persistent
    assert time is not None and (time.value, time.glob) == (60, "net.ipv4.tcp_keepalive_*")
    assert settings.settings["net.ipv4.tcp_keepalive_probes"].persistent is None
    assert [(g.pattern, g.value, g.line) for g in settings.globs] == [
        ("net.ipv4.tcp_keepalive_*", "60", 1),
        ("net.ipv4.tcp_keepalive_probes", None, 2),
        ("net.ipv4.conf.*.rp_filter", "1", 3),
    ]


def test_planted_fastopen_key_never_reaches_the_model(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "proc/sys/net/ipv4/tcp_fastopen_key": SECRET,
            "proc/sys/net/ipv4/tcp_retries2": "15\n",
            "etc/sysctl.d/10-tfo.conf": f"net.ipv4.tcp_fastopen_key = {SECRET}\n"
            f"net.ipv4.tcp_fastopen_key {SECRET}\n",
        },
    )
    (root / "proc/sys/net/ipv4/tcp_fastopen_key").chmod(0o600)
    text_dump = tmp_path / "sysctl-a.txt"
    text_dump.write_text(f"net.ipv4.tcp_fastopen_key = {SECRET}\nnet.core.somaxconn = 4096\n")
    text_dump.chmod(0o644)
    for source in (None, text_dump):
        settings = load_sysctl(source, root=root, boot="procps")
        dumped = settings.model_dump_json()
        assert SECRET not in dumped
        assert "tcp_fastopen_key" not in settings.settings
        assert settings.int_value("net.ipv4.tcp_retries2") == 15
    # also when the copy made the file world-readable
    (root / "proc/sys/net/ipv4/tcp_fastopen_key").chmod(0o644)
    assert SECRET not in load_sysctl(root=root, boot="systemd").model_dump_json()


def test_masked_file_is_noted_and_left_out_of_the_applied_files(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "usr/lib/sysctl.d/50-a.conf": "net.ipv4.tcp_retries2 = 5\n",
            "etc/sysctl.d/50-a.conf": ("link", "/dev/null"),
            "etc/sysctl.conf": "net.ipv4.tcp_fin_timeout = 30\n",
            "etc/sysctl.d/99-sysctl.conf": ("link", "../sysctl.conf"),
        },
    )
    settings = load_sysctl(root=root, boot="systemd")
    assert settings.persistent_files == ["etc/sysctl.d/99-sysctl.conf"]
    assert settings.settings["net.ipv4.tcp_retries2"].persistent is None
    fin = settings.settings["net.ipv4.tcp_fin_timeout"].persistent
    # the value is located in the file the link points to, where one edits it
    assert fin is not None and (fin.file, fin.line) == ("etc/sysctl.conf", 1)
    assert any(
        note.file == "etc/sysctl.d/50-a.conf" and "/dev/null" in note.message
        for note in settings.notes
    )


def test_root_only_keys_exist_for_the_unknown_key_check(tmp_path: Path) -> None:
    root = _root(
        tmp_path,
        {
            "proc/sys/net/core/bpf_jit_harden": "0\n",
            "proc/sys/net/core/somaxconn": "4096\n",
            "etc/sysctl.d/10-harden.conf": "net.core.bpf_jit_harden = 2\n",
        },
    )
    (root / "proc/sys/net/core/bpf_jit_harden").chmod(0o600)
    settings = load_sysctl(root=root, boot="procps")
    assert not any("unknown key" in note.message for note in settings.notes)
    harden = settings.settings["net.core.bpf_jit_harden"]
    assert harden.live is None and harden.persistent is not None
    assert harden.persistent.value == 2


def test_a_proc_like_directory_is_a_live_source_with_its_own_osrelease(tmp_path: Path) -> None:
    snapshot = write_files(
        tmp_path / "snapshot",
        {"kernel/osrelease": "5.4.0-150-generic\n", "net/core/somaxconn": "1024\n"},
    )
    settings = load_sysctl(snapshot, root=tmp_path / "empty-root", boot="procps")
    assert settings.kernel == "5.4.0-150-generic"
    somaxconn = settings.settings["net.core.somaxconn"]
    assert (somaxconn.value, somaxconn.default) == (1024, 4096)
    assert somaxconn.live is not None and somaxconn.live.file.endswith("net/core/somaxconn")
