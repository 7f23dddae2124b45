"""Key spelling, the kernel's number syntax, secret keys and value limits."""

from __future__ import annotations

import pytest

from tcpaudit.sysctl.limits import check_value
from tcpaudit.sysctl.values import (
    is_secret_key,
    key_to_path,
    normalise_key,
    parse_kernel_int,
    parse_value,
)


@pytest.mark.parametrize(
    ("written", "dotted", "path"),
    [
        ("net.ipv4.tcp_retries2", "net.ipv4.tcp_retries2", "net/ipv4/tcp_retries2"),
        ("net/ipv4/tcp_retries2", "net.ipv4.tcp_retries2", "net/ipv4/tcp_retries2"),
        ("/net/ipv4//tcp_retries2", "net.ipv4.tcp_retries2", "net/ipv4/tcp_retries2"),
        # a slash key keeps dots inside names (a VLAN interface)
        (
            "net/ipv4/conf/eth0.100/rp_filter",
            "net.ipv4.conf.eth0/100.rp_filter",
            "net/ipv4/conf/eth0.100/rp_filter",
        ),
        (
            "net.ipv4.conf.eth0/100.rp_filter",
            "net.ipv4.conf.eth0/100.rp_filter",
            "net/ipv4/conf/eth0.100/rp_filter",
        ),
        # mixed: the first separator decides, so this names a file that does not exist
        ("net.ipv4/tcp_retries2", "net.ipv4/tcp_retries2", "net/ipv4.tcp_retries2"),
    ],
)
def test_key_spellings_follow_the_boot_tools(written: str, dotted: str, path: str) -> None:
    assert normalise_key(written) == dotted
    assert key_to_path(written) == path


@pytest.mark.parametrize(
    ("token", "number"),
    [
        ("15", 15),
        ("0x1f", 31),
        ("0X10", 16),
        ("010", 8),
        ("0", 0),
        ("-1", -1),
        ("08", None),
        ("+1", None),
        ("1_0", None),
        ("5x", None),
        ("", None),
        ("0x", None),
    ],
)
def test_numbers_are_read_like_kstrtoul_base_0(token: str, number: int | None) -> None:
    assert parse_kernel_int(token) == number


def test_live_values_keep_several_fields_as_lists() -> None:
    assert parse_value("4096\t131072\t6291456\n") == [4096, 131072, 6291456]
    assert parse_value("32768\t60999") == [32768, 60999]
    assert parse_value("7200\n") == 7200
    assert parse_value("reno cubic") == "reno cubic"


@pytest.mark.parametrize(
    "key",
    [
        "net.ipv4.tcp_fastopen_key",
        "net.core.netdev_rss_key",
        "net.ipv6.conf.eth0.stable_secret",
        "net.ipv6.conf.all.stable_secret",
    ],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


def test_ordinary_keys_are_not_secret() -> None:
    assert not is_secret_key("net.ipv4.tcp_keepalive_time")
    assert not is_secret_key("net.ipv4.tcp_fastopen")


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("net.ipv4.tcp_retries2", "8", 8),
        ("net.ipv4.tcp_retries2", "255", 255),
        ("net.ipv4.tcp_syn_retries", "127", 127),
        ("net.ipv4.tcp_keepalive_intvl", "-1", -1),  # accepted by the kernel, seen on 6.18
        ("net.core.somaxconn", "0x100", 256),
        ("net.ipv4.tcp_rmem", "4096 131072\t6291456", [4096, 131072, 6291456]),
        ("net.ipv4.ip_local_port_range", "1024 65535", [1024, 65535]),
        ("net.ipv4.tcp_congestion_control", "bbr", "bbr"),  # no limits known: kept as text
    ],
)
def test_accepted_values(key: str, raw: str, value: object) -> None:
    checked = check_value(key, raw)
    assert checked.problem is None
    assert checked.value == value


@pytest.mark.parametrize(
    ("key", "raw", "problem"),
    [
        ("net.ipv4.tcp_retries2", "256", "outside 0..255"),
        ("net.ipv4.tcp_retries2", "-1", "has a sign"),
        ("net.ipv4.tcp_syn_retries", "0", "outside 1..127"),
        ("net.ipv4.tcp_syn_retries", "128", "outside 1..127"),
        ("net.ipv4.tcp_keepalive_time", "5x", "not a number"),
        ("net.ipv4.tcp_keepalive_time", "", "empty value"),
        ("net.core.somaxconn", "99999999999", "outside 0..2147483647"),
        ("net.ipv4.tcp_wmem", "0 16384 4000000", "outside 1..2147483647"),
        ("net.ipv4.ip_local_port_range", "100 200", "ip_unprivileged_port_start"),
        ("net.ipv4.ip_local_port_range", "40000 30000", "not above the high end"),
    ],
)
def test_refused_values_say_why(key: str, raw: str, problem: str) -> None:
    checked = check_value(key, raw)
    assert checked.value is None
    assert checked.problem is not None and problem in checked.problem


def test_text_after_a_number_is_ignored_with_a_remark() -> None:
    checked = check_value("net.ipv4.tcp_synack_retries", "4 # four")
    assert checked.value == 4
    assert checked.remark is not None and "ignores the rest" in checked.remark


def test_fewer_fields_than_the_key_holds_is_remarked() -> None:
    checked = check_value("net.ipv4.tcp_rmem", "4096 131072")
    assert checked.value == [4096, 131072]
    assert checked.remark is not None and "2 of 3 fields" in checked.remark


def test_u8_limits_apply_from_5_13_on() -> None:
    # Commit 4ecc1baf362c (the keys became u8) was merged for 5.13: RHEL 9's
    # 5.14 refuses 300 too.
    for kernel in ((5, 13), (5, 14), (5, 15), (6, 18)):
        assert check_value("net.ipv4.tcp_retries2", "300", kernel=kernel).value is None, kernel
    assert check_value("net.ipv4.tcp_retries2", "300", kernel=(5, 12)).value == 300
    assert check_value("net.ipv4.tcp_retries2", "300", kernel=(5, 10)).value == 300


def test_tcp_rto_max_ms_takes_one_to_120_seconds() -> None:
    # sysctl_net_ipv4.c (6.15): proc_dointvec_minmax, 1000 .. TCP_RTO_MAX in ms.
    assert check_value("net.ipv4.tcp_rto_max_ms", "500").value is None
    assert check_value("net.ipv4.tcp_rto_max_ms", "120001").value is None
    assert check_value("net.ipv4.tcp_rto_max_ms", "1000").value == 1000


def test_port_range_low_end_follows_unprivileged_port_start() -> None:
    assert check_value(
        "net.ipv4.ip_local_port_range", "100 200", unprivileged_port_start=0
    ).value == [100, 200]
