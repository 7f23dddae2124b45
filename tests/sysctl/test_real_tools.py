"""tcpaudit's persistent verdict equals what the real boot tools leave behind.

Each case is a generated tree of sysctl files. For both boot tools, the real
program (systemd-sysctl, procps `sysctl --system`) applies it inside fresh
mount and network namespaces (realtool.py), and every compared key must hold
what tcpaudit says: its persistent value when tcpaudit finds one, else the
value the namespace started with. Missing tools or privileges fail the test:
this comparison is the evidence that the precedence model is right.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from realtool import COMPARED_KEYS, host_values, run_real_tool, write_files

from tcpaudit.sysctl import load_sysctl
from tcpaudit.sysctl.model import BootTool
from tcpaudit.sysctl.values import parse_value

CASES: dict[str, dict[str, str | tuple[str, str]]] = {
    "directories-masks-and-order": {
        "usr/lib/sysctl.d/10-a.conf": "net.ipv4.tcp_keepalive_time = 100\n",
        "etc/sysctl.d/10-a.conf": ("link", "/dev/null"),
        "usr/lib/sysctl.d/11-b.conf": "net.ipv4.tcp_keepalive_intvl = 11\n",
        "run/sysctl.d/11-b.conf": "",
        "lib/sysctl.d/20-lib.conf": "net.ipv4.tcp_keepalive_probes = 4\n",
        "usr/local/lib/sysctl.d/05-local.conf": "net.ipv4.tcp_retries1 = 5\n",
        "usr/lib/sysctl.d/06-usr.conf": "net.ipv4.tcp_retries1 = 6\n",
        "etc/sysctl.d/B.conf": "net.ipv4.tcp_fin_timeout = 30\n",
        "etc/sysctl.d/a.conf": "net.ipv4.tcp_fin_timeout = 40\n",
        "etc/sysctl.d/x.conf.disabled": "net.ipv4.tcp_syn_retries = 2\n",
        "etc/sysctl.conf": "net.ipv4.tcp_synack_retries = 3\r\nnet.core.somaxconn = 1000\n",
        "etc/sysctl.d/99-sysctl.conf": ("link", "../sysctl.conf"),
        "run/sysctl.d/999-late.conf": "net.ipv4.tcp_synack_retries = 4\nnet.core.somaxconn = 2000\n",
    },
    "syntax": {
        "etc/sysctl.d/20-syntax.conf": (
            "  # comment\n ; also a comment\n"
            "net/ipv4/tcp_syn_retries = 3\n"
            "net.ipv4/tcp_retries2 = 7\n"
            "-net.ipv4.tcp_retries1 = 4\n"
            "net.ipv4.tcp_synack_retries = 4 # not a comment\n"
            "no equals sign\n"
            "\tnet.ipv4.tcp_orphan_retries=  2  \r\n"
            "net.ipv4.tcp_rmem = 4096\t100000   5000000\n"
            "net.ipv4.ip_local_port_range = 1024 65000\n"
            "net.core.somaxconn = 0x100\n"
            "net.ipv4.tcp_keepalive_probes = 010\n"
            "net.ipv4.tcp_keepalive_intvl = -1\n"
        ),
    },
    # systemd strips only " \t\n\r" (procps any isspace()): a form feed or a
    # vertical tab stays in its key (no such file) or value (the kernel
    # takes only a blank, a tab or a newline after a number).
    "form-feed-and-vertical-tab": {
        "etc/sysctl.d/50-x.conf": (
            "\fnet.ipv4.tcp_keepalive_time = 111\n"
            "net.ipv4.tcp_fin_timeout = 22\f\n"
            "\vnet.core.somaxconn\v=\v333\v\n"
            "net.ipv4.tcp_rmem = 4096\v87380 6291456\n"
            "net.ipv4.tcp_wmem = \v4096 16384 4000000\n"
            "net.ipv4.tcp_keepalive_intvl = 31\r\n"
        ),
    },
    "refused-values": {
        "usr/lib/sysctl.d/10-base.conf": (
            "net.ipv4.tcp_syn_retries = 3\nnet.ipv4.tcp_keepalive_time = 600\n"
            "net.ipv4.tcp_fin_timeout = 20\nnet.ipv4.tcp_orphan_retries = 3\n"
            "net.core.somaxconn = 1024\nnet.ipv4.ip_local_port_range = 2000 50001\n"
            "net.ipv4.tcp_wmem = 4096 16384 4000000\n"
        ),
        "etc/sysctl.d/20-bad.conf": (
            "net.ipv4.tcp_syn_retries = 200\nnet.ipv4.tcp_keepalive_time = 5x\n"
            "net.ipv4.tcp_fin_timeout =\nnet.ipv4.tcp_orphan_retries = abc\n"
            "net.core.somaxconn = 99999999999\nnet.ipv4.ip_local_port_range = 100 200\n"
            "net.ipv4.tcp_wmem = 0 16384 4000000\nnet.ipv4.tcp_retries2 = 256\n"
            "net.ipv4.tcp_synack_retries = 2\n"
        ),
    },
    # proc_dou8vec_minmax refuses any sign on a u8 key, "-0" too; an int
    # key takes "-0" as 0.
    "u8-keys-refuse-a-sign": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.tcp_retries2 = 7\nnet.ipv4.tcp_abort_on_overflow = 1\n",
        "etc/sysctl.d/20-b.conf": (
            "net.ipv4.tcp_retries2 = -0\nnet.ipv4.tcp_abort_on_overflow = -0\n"
            "net.ipv4.tcp_fin_timeout = -0\nnet.core.somaxconn = -0\n"
        ),
    },
    # The two port keys bound each other, each against what the other holds
    # when it is written.
    "port-start-then-range": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.ip_unprivileged_port_start = 500\n",
        "etc/sysctl.d/20-b.conf": "net.ipv4.ip_local_port_range = 600 60000\n",
    },
    "range-then-start-above-it": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.ip_local_port_range = 1500 60000\n",
        "etc/sysctl.d/20-b.conf": "net.ipv4.ip_unprivileged_port_start = 2000\n",
    },
    "start-above-the-range": {
        "etc/sysctl.d/10-a.conf": (
            "net.ipv4.ip_unprivileged_port_start = 40000\nnet.ipv4.tcp_retries1 = 5\n"
        ),
    },
    # Fewer fields than the key holds: the kernel keeps the others.
    "range-of-one-field": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.ip_local_port_range = 1024\n",
    },
    "globs": {
        "etc/sysctl.d/10-a.conf": (
            "net.ipv4.tcp_keepalive_* = 40\n-net.ipv4.tcp_keepalive_probes\n"
            "-net.ipv4.tcp_keepalive_i*\nnet.ipv4.tcp_retries? = 5\n"
            "net.ipv4.tcp_syn*_retries = 3\nnet.ipv4.tcp_fin_timeout = 33\n"
        ),
        "etc/sysctl.d/20-b.conf": "net.ipv4.tcp_syn*_retries = 4\nnet.ipv4.tcp_retries? = 9\n",
        "etc/sysctl.d/30-c.conf": "net.ipv4.tcp_fin_* = 44\nnet.ipv4.tcp_retries2 = 8\n",
    },
    "glob-equal-value-keeps-its-place": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.tcp_syn*_retries = 3\n",
        "etc/sysctl.d/20-b.conf": "net.ipv4.tcp_syn?ck_retries = 4\n",
        "etc/sysctl.d/30-c.conf": "net.ipv4.tcp_syn*_retries = 3\n",
    },
    "hidden-files-directories-and-sysctl-conf": {
        "etc/sysctl.d/.hidden.conf": "net.ipv4.tcp_keepalive_probes = 4\n",
        "usr/lib/sysctl.d/50-dir.conf": "net.ipv4.tcp_retries1 = 7\n",
        "etc/sysctl.d/50-dir.conf": ("dir", ""),
        "etc/sysctl.conf": "net.ipv4.tcp_fin_timeout = 21\n",
        "etc/sysctl.d/60-missing.conf": ("link", "/etc/nowhere.conf"),
        "etc/sysctl.d/70-abs.conf": ("link", "/usr/lib/sysctl.d/real.txt"),
        "usr/lib/sysctl.d/real.txt": "net.ipv4.tcp_syn_retries = 4\n",
    },
}


@pytest.mark.parametrize("tool", ["procps", "systemd"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_persistent_verdict_matches_real_tool(tmp_path: Path, case: str, tool: str) -> None:
    assert os.geteuid() == 0, "the real-tool comparison needs root for unshare and mount"
    tree = write_files(tmp_path / "tree", CASES[case])
    host_before = host_values()

    before, after, output = run_real_tool(tree, tmp_path / "scratch", tool)

    assert host_values() == host_before, "the run changed the host's own values"
    boot: BootTool = "procps" if tool == "procps" else "systemd"
    settings = load_sysctl(root=tree, boot=boot, kernel=os.uname().release)
    expected: dict[str, object] = {}
    for key in COMPARED_KEYS:
        setting = settings.settings.get(key)  # a key tcpaudit does not track unless set
        persistent = setting.persistent if setting is not None else None
        expected[key] = persistent.value if persistent else parse_value(before[key])
    actual = {key: parse_value(after[key]) for key in COMPARED_KEYS}
    assert actual != {key: parse_value(before[key]) for key in COMPARED_KEYS}, (
        f"{tool} changed nothing, so this case proves nothing:\n{output}"
    )
    assert actual == expected, f"{tool} output:\n{output}\nnotes:\n" + "\n".join(
        str(note) for note in settings.notes
    )


# Per-interface keys, a blank after the dash, and keys the kernel lacks. The
# namespace the tools run in has the interfaces of a host at boot: all,
# default and lo under conf/ (lo alone under neigh/, which has no default
# outside the initial namespace).
INTERFACE_KEYS = (
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.default.rp_filter",
    "net.ipv4.conf.lo.rp_filter",
    "net.ipv4.conf.lo.accept_redirects",
    "net.ipv4.conf.all.log_martians",
    "net.ipv4.conf.lo.log_martians",
    "net.ipv4.conf.all.accept_redirects",
    "net.ipv4.conf.all.forwarding",
    "net.ipv4.conf.default.forwarding",
    "net.ipv4.conf.lo.forwarding",
    "net.ipv4.ip_forward",
    "net.ipv4.conf.lo.promote_secondaries",
    "net.ipv4.neigh.lo.gc_stale_time",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_fin_timeout",
)
FAITHFUL_CASES: dict[str, dict[str, str | tuple[str, str]]] = {
    "interface-globs-dash-blank-unknown-keys": {
        "etc/sysctl.d/10-net.conf": (
            "net.ipv4.conf.*.rp_filter = 2\n"
            "net/ipv4/conf/lo/accept_redirects = 0\n"
            "net.ipv4.conf.a*.log_martians = 1\n"
            "net.ipv4.neigh.*.gc_stale_time = 77\n"
            "- net.ipv4.tcp_retries2 = 9\n"
            "-\tnet.ipv4.tcp_fin_timeout = 21\n"
            "net.ipv4.tcp_keepalive_tme = 5\n"
            "net.ipv4.tcp_keepalive_intvl = 30\n"
            "-net.ipv4.tcp_keepalive_probez = 3\n"
        ),
    },
    # systemd-sysctl ends a line at \r and NUL too; procps reads a line up to
    # its first NUL (the \r stays in the value, which the kernel refuses).
    "carriage-returns-and-nuls": {
        "etc/sysctl.d/10-a.conf": (
            "net.ipv4.tcp_fin_timeout = 21\rnet.ipv4.tcp_keepalive_time = 99\r\n"
            "net.ipv4.tcp_retries2 = 9\0net.ipv4.tcp_keepalive_intvl = 31\n"
        ),
    },
    # The kernel copies a write to conf/default to every interface whose own
    # value was never written: lo's log_martians is written (procps) or left
    # alone because it already holds 0 (systemd), and excluded from a glob.
    "default-copied-to-interfaces-never-written": {
        "etc/sysctl.d/10-a.conf": (
            "net.ipv4.conf.default.rp_filter = 2\n"
            "net.ipv4.conf.lo.log_martians = 0\n"
            "net.ipv4.conf.default.log_martians = 1\n"
            "net.ipv4.conf.default.promote_secondaries = 1\n"
        ),
    },
    "glob-exclusion-then-default": {
        "etc/sysctl.d/10-a.conf": "-net.ipv4.conf.lo.rp_filter\n",
        "etc/sysctl.d/20-b.conf": "net.ipv4.conf.*.rp_filter = 2\n",
    },
    # ip_forward is conf/all/forwarding; changing it sets every interface's.
    "ip-forward-sets-every-interface": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.ip_forward = 1\n",
    },
    # procps sets no key whose name ends in a separator (silently); systemd
    # drops the separator.
    "trailing-separators": {
        "etc/sysctl.d/10-a.conf": (
            "net.ipv4.tcp_keepalive_time. = 306\n"
            "net/ipv4/tcp_keepalive_intvl/ = 21\n"
            "net.ipv4.tcp_fin_tim*. = 22\n"
            "net.ipv4.tcp_retries2 = 9\n"
        ),
    },
    "unknown-key-then-real-one": {
        "etc/sysctl.d/10-a.conf": "net.ipv4.tcp_retries2 = 7\nnet.ipv4.tcp_retires2 = 3\n",
        "etc/sysctl.d/20-b.conf": "net.ipv4.conf.lo.rp_filtre = 1\nnet.ipv4.conf.*.rp_filter = 1\n",
    },
}


@pytest.mark.parametrize("tool", ["procps", "systemd"])
@pytest.mark.parametrize("case", sorted(FAITHFUL_CASES))
def test_interfaces_and_unknown_keys_match_real_tool(tmp_path: Path, case: str, tool: str) -> None:
    assert os.geteuid() == 0, "the real-tool comparison needs root for unshare and mount"
    tree = write_files(tmp_path / "tree", FAITHFUL_CASES[case])
    before, after, output = run_real_tool(tree, tmp_path / "scratch", tool, INTERFACE_KEYS)
    boot: BootTool = "procps" if tool == "procps" else "systemd"
    settings = load_sysctl(root=tree, boot=boot, kernel=os.uname().release)
    expected: dict[str, object] = {}
    for key in INTERFACE_KEYS:
        setting = settings.settings.get(key)
        persistent = setting.persistent if setting is not None else None
        expected[key] = persistent.value if persistent else parse_value(before[key])
    actual = {key: parse_value(after[key]) for key in INTERFACE_KEYS}
    assert actual != {key: parse_value(before[key]) for key in INTERFACE_KEYS}, output
    assert actual == expected, f"{tool} output:\n{output}\nnotes:\n" + "\n".join(
        str(note) for note in settings.notes
    )
    # Every key the tool could not set is named, with the key it was meant to be.
    messages = "\n".join(note.message for note in settings.notes)
    for typo, meant in (
        ("net.ipv4.tcp_keepalive_tme", "net.ipv4.tcp_keepalive_time"),
        ("net.ipv4.tcp_retires2", "net.ipv4.tcp_retries2"),
        ("net.ipv4.conf.lo.rp_filtre", "net.ipv4.conf.lo.rp_filter"),
    ):
        if typo in str(FAITHFUL_CASES[case]).replace("/", "."):
            assert f"unknown key '{typo}'" in messages and f"probably {meant}" in messages
            if tool == "systemd":
                assert "Couldn't write '" in output and typo.replace(".", "/") in output
    if "- net.ipv4.tcp_retries2" in str(FAITHFUL_CASES[case]):
        dropped = "procps drops '- net.ipv4.tcp_retries2' silently" in messages
        assert dropped == (tool == "procps")
    if "tcp_keepalive_time. =" in str(FAITHFUL_CASES[case]):
        dropped = "procps drops 'net.ipv4.tcp_keepalive_time.' silently" in messages
        assert dropped == (tool == "procps")


# Interfaces besides lo when the tool runs (a veth pair made in the namespace,
# one named with a dot, spelled '/' in keys); tcpaudit learns them from the
# tree's proc/sys, as from a host's.
VETH_KEYS = (
    "net.ipv4.conf.eth0.rp_filter",
    "net.ipv4.conf.a/1.rp_filter",
    "net.ipv4.conf.a/1.forwarding",
    "net.ipv4.conf.eth0.forwarding",
    "net.ipv4.conf.default.rp_filter",
)
VETH_CASES = {
    # a/1 written, eth0 left to default's copy (systemd: eth0's 0 is no write).
    "written-or-copied": "net.ipv4.conf.a/1.rp_filter = 1\nnet.ipv4.conf.eth0.rp_filter = 0\n"
    "net.ipv4.conf.default.rp_filter = 2\n",
    "forwarding-everywhere": "net.ipv4.ip_forward = 1\n",
    # systemd strips blanks only (" \t\n\r"): "0\v" differs from the file's 0,
    # so it is written (and refused), which marks the interface all the same.
    "refused-equal-looking-value": "net.ipv4.conf.a/1.rp_filter = 0\v\n"
    "net.ipv4.conf.eth0.rp_filter = 0\u00a0\nnet.ipv4.conf.default.rp_filter = 2\n",
    # Each file there is one int (proc_dointvec): a second field and a comment
    # after a blank are ignored, "x", "+2" and an int's overflow refused.
    "one-int-each": "net.ipv4.conf.default.rp_filter = 2 3\n"
    "net.ipv4.conf.default.forwarding = 1 # on\n"
    "net.ipv4.conf.a/1.rp_filter = x\n"
    "net.ipv4.conf.eth0.forwarding = +2\n"
    "net.ipv4.conf.a/1.forwarding = 99999999999\n",
}


@pytest.mark.parametrize("tool", ["procps", "systemd"])
@pytest.mark.parametrize("case", sorted(VETH_CASES))
def test_interfaces_present_at_boot_match_real_tool(tmp_path: Path, case: str, tool: str) -> None:
    assert os.geteuid() == 0, "the real-tool comparison needs root for unshare and mount"
    tree = write_files(tmp_path / "tree", {"etc/sysctl.d/10-a.conf": VETH_CASES[case]})
    for interface in ("all", "default", "lo", "eth0", "a.1"):
        directory = tree / "proc/sys/net/ipv4/conf" / interface
        directory.mkdir(parents=True)
        for name in ("rp_filter", "forwarding"):
            (directory / name).write_text("0\n")
    (tree / "proc/sys/net/ipv4/ip_forward").write_text("0\n")
    before, after, output = run_real_tool(
        tree,
        tmp_path / "scratch",
        tool,
        VETH_KEYS,
        setup="ip link add a.1 type veth peer name eth0",
    )
    boot: BootTool = "procps" if tool == "procps" else "systemd"
    settings = load_sysctl(root=tree, boot=boot, kernel=os.uname().release)
    expected: dict[str, object] = {}
    for key in VETH_KEYS:
        setting = settings.settings.get(key)
        persistent = setting.persistent if setting is not None else None
        expected[key] = persistent.value if persistent else parse_value(before[key])
    actual = {key: parse_value(after[key]) for key in VETH_KEYS}
    assert actual != {key: parse_value(before[key]) for key in VETH_KEYS}, output
    assert actual == expected, f"{tool} output:\n{output}"
    # No key the kernel lacks: an interface's '.' stays '/' in every key made.
    assert not [key for key in settings.settings if key.count(".") > 4]
