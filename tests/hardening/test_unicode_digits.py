"""Numbers int() refuses (over 4,300 digits, or digits str.isdigit takes but
int does not: '²') are one error line or are skipped, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpaudit.cli import cli

_TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
    "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
    "        0 555 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:0050 0100007F:9C40 08 00000000:00000000 00:00000000 00000000     0"
    "        0 556 1 0000000000000000 100 0 0 10 0\n"
)


def _proc(root: Path, netstat: str) -> None:
    (root / "proc/net").mkdir(parents=True)
    (root / "proc/net/tcp").write_text(_TCP)
    (root / "proc/net/tcp6").write_text(_TCP.splitlines()[0] + "\n")
    (root / "proc/net/netstat").write_text(netstat)


@pytest.mark.parametrize(
    "netstat",
    [
        "TcpExt: ListenOverflows ListenDrops\nTcpExt: " + "1" * 5000 + " 0\n",
        "TcpExt: ListenOverflows ListenDrops\nTcpExt: ² 0\n",
    ],
    ids=["long", "superscript"],
)
def test_a_counter_int_refuses_is_no_counter(tmp_path: Path, netstat: str) -> None:
    _proc(tmp_path, netstat)
    result = CliRunner().invoke(cli, ["diagnose", "--root", str(tmp_path), "--ports", "80"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), result.output


def test_a_process_directory_of_unicode_digits_is_no_process(tmp_path: Path) -> None:
    _proc(tmp_path, "")
    fd = tmp_path / "proc/²/fd"
    fd.mkdir(parents=True)
    (fd / "3").symlink_to("socket:[555]")
    result = CliRunner().invoke(cli, ["diagnose", "--root", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), result.output


@pytest.mark.parametrize("ports", ["²", "8" * 5000])
def test_a_port_int_refuses_is_one_error_line(tmp_path: Path, ports: str) -> None:
    _proc(tmp_path, "")
    result = CliRunner().invoke(cli, ["diagnose", "--root", str(tmp_path), "--ports", ports])
    assert result.exit_code == 2, result.output
    assert "is not a TCP port" in result.stderr


@pytest.mark.parametrize(
    ("lines", "line"),
    [
        (["<Directory />", "Require ip 10.0.0.0/" + "1" * 5000, "</Directory>"], 6),
        (["<AuthzProviderAlias ip lan 10.0.0.0/" + "1" * 5000 + ">", "</AuthzProviderAlias>"], 5),
        (["<IfVersion >= 2.²>", "Timeout 5", "</IfVersion>"], 5),
    ],
    ids=["require-ip", "alias", "ifversion"],
)
def test_apache_numbers_int_refuses_are_one_error_line(
    tmp_path: Path, lines: list[str], line: int
) -> None:
    conf = tmp_path / "etc/apache2/apache2.conf"
    conf.parent.mkdir(parents=True)
    modules = "/usr/lib/apache2/modules"
    conf.write_text(
        "\n".join(
            [
                f"LoadModule mpm_event_module {modules}/mod_mpm_event.so",
                f"LoadModule authz_core_module {modules}/mod_authz_core.so",
                f"LoadModule authz_host_module {modules}/mod_authz_host.so",
                f"LoadModule version_module {modules}/mod_version.so",
                *lines,
            ]
        )
        + "\n"
    )
    result = CliRunner().invoke(
        cli, ["facts", "--root", str(tmp_path), "--apache-build", "upstream"]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"tcpaudit: error: etc/apache2/apache2.conf:{line}: ")


def test_an_apache_version_of_unicode_digits_is_no_traceback(tmp_path: Path) -> None:
    conf = tmp_path / "etc/apache2/apache2.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n")
    result = CliRunner().invoke(
        cli, ["facts", "--root", str(tmp_path), "--apache-version", "2.4.²"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 2), result.output
