"""Which configuration an instance runs, from a copied /proc: cmdline, parent, exe, environ.

The trees here are written by hand in the kernel's formats (``/proc/net/tcp``
lines, NUL-separated ``cmdline`` and ``environ``, ``stat``, ``fd`` links);
the live tests (``test_live_instances.py``) show the same on a real apache2.
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from diagnose_helpers import run, run_json

from tcpaudit.diagnose import diagnose
from tcpaudit.diagnose.counters import parse_netstat_counters

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
    "timeout inode\n"
)
NETSTAT = (
    "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPBacklogDrop\n"
    "TcpExt: 0 0 12 15 0\n"
    "IpExt: InNoRoutes InTruncatedPkts\n"
    "IpExt: 0 0\n"
)


def _hex(address: str, port: int) -> str:
    packed = socket.inet_aton(address)
    # /proc/net/tcp prints the 32-bit word in host byte order.
    return f"{struct.unpack('=I', packed)[0]:08X}:{port:04X}"


def _line(
    n: int, local: tuple[str, int], remote: tuple[str, int], state: int, rx: int, inode: int
) -> str:
    return (
        f"{n:4d}: {_hex(*local)} {_hex(*remote)} {state:02X} 00000000:{rx:08X} 00:00000000 "
        f"00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
    )


def _process(root: Path, pid: int, parent: int, command: str, argv: list[str], inodes: list[int],
              exe: str | None = None, environ: dict[str, str] | None = None) -> None:  # fmt: skip
    directory = root / "proc" / str(pid)
    (directory / "fd").mkdir(parents=True)
    (directory / "comm").write_text(command + "\n")
    (directory / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (directory / "stat").write_text(f"{pid} ({command}) S {parent} {pid} {pid} 0 -1 4194560\n")
    if environ is not None:
        (directory / "environ").write_bytes(
            b"".join(f"{k}={v}".encode() + b"\0" for k, v in environ.items())
        )
    if exe is not None:
        os.symlink(exe, directory / "exe")
    for number, inode in enumerate(inodes, start=3):
        os.symlink(f"socket:[{inode}]", directory / "fd" / str(number))


def _site_tree(root: Path) -> None:
    """httpd 500 (parent) and 501 (child) on 8080, started with -d, a relative -f, -D, -C."""
    conf = root / "opt" / "site" / "conf"
    (conf.parent / "conf.d").mkdir(parents=True)
    conf.mkdir()
    (conf / "main.conf").write_text(
        "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
        "Listen 8080\n"
        "<IfDefine EDGE>\n"
        "    KeepAliveTimeout 9\n"
        "</IfDefine>\n"
        "Include conf.d/*.conf\n"
        "ErrorLog ${SITE_LOGS}/error.log\n"
    )
    (conf.parent / "conf.d" / "proxy.conf").write_text(
        "LoadModule proxy_module modules/mod_proxy.so\n"
        "LoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so\n"
        "ProxyPass /app/ fcgi://10.0.0.5:9000/ ttl=60\n"
        "ProxyPass /n/ http://backend.internal:8081/\n"
    )
    (root / "proc" / "net").mkdir(parents=True)
    (root / "proc" / "net" / "tcp").write_text(
        HEADER
        + _line(0, ("0.0.0.0", 8080), ("0.0.0.0", 0), 0x0A, 2, 100)
        + _line(1, ("10.0.0.1", 8080), ("198.51.100.7", 40001), 0x08, 1, 0)
        + _line(2, ("10.0.0.1", 8080), ("198.51.100.7", 40002), 0x08, 300, 0)
        + _line(3, ("10.0.0.1", 8080), ("198.51.100.8", 40003), 0x01, 0, 201)
        + _line(4, ("10.0.0.1", 51000), ("10.0.0.5", 9000), 0x08, 1, 202)
        + _line(5, ("10.0.0.1", 51001), ("10.0.0.6", 8081), 0x08, 1, 203)
        + _line(6, ("10.0.0.1", 51002), ("10.9.9.9", 3306), 0x08, 1, 204)
        + _line(7, ("10.0.0.1", 8080), ("198.51.100.9", 40004), 0x03, 0, 0)
    )
    (root / "proc" / "net" / "netstat").write_text(NETSTAT)
    argv = ["/opt/httpd/bin/httpd", "-d", "/opt/site", "-f", "conf/main.conf", "-D", "EDGE",
            "-C", "Timeout 45", "-k", "start"]  # fmt: skip
    environ = {"SITE_LOGS": "/var/log/site", "PATH": "/usr/bin"}
    _process(root, 500, 1, "httpd", argv, [100], exe="/opt/httpd/bin/httpd", environ=environ)
    _process(root, 501, 500, "httpd", argv, [100, 201, 202, 203, 204])


def test_the_command_line_decides_the_file_defines_directives_and_server_root(
    tmp_path: Path,
) -> None:
    _site_tree(tmp_path)
    result = diagnose(tmp_path, ports=[8080])
    instance = result.instance
    assert instance is not None and instance.pid == 500 and instance.command == "httpd"
    # -f conf/main.conf is relative to -d /opt/site.
    assert instance.config_file == "opt/site/conf/main.conf"
    assert instance.arguments[:4] == ["-d", "/opt/site", "-f", "conf/main.conf"]
    assert "-f conf/main.conf = /opt/site/conf/main.conf" in instance.found_by
    assert result.apache is not None and result.apache.mpm == "prefork"
    settings = {f.setting: f for f in result.findings}
    # -D EDGE: the <IfDefine> line; -C Timeout 45: read before the file, which sets none.
    assert settings["KeepAliveTimeout"].current == 9
    assert settings["KeepAliveTimeout"].location is not None
    assert settings["KeepAliveTimeout"].location.line == 4
    assert {f.current for f in result.findings if f.setting == "Timeout"} == {45}
    c = result.connections
    assert (c.close_wait_unaccepted, c.close_wait_unaccepted_fin_only, c.established) == (2, 1, 1)
    assert (c.syn_recv, c.close_wait_other) == (1, 3)
    notes = " | ".join(n.message for n in result.notes)
    # exe names a file the copy does not hold: the build comes from the root, and a note says so.
    assert "/proc/500/exe names /opt/httpd/bin/httpd, which is not an httpd binary" in notes
    # ${SITE_LOGS} came from the process's environ: no undefined-variable note.
    assert "SITE_LOGS" not in notes


def test_directives_after_the_file_from_the_command_line_are_applied(tmp_path: Path) -> None:
    # httpd -c reads its directive after the main file: over -C Timeout 45
    # (and the user's own -c after the instance's).
    _site_tree(tmp_path)
    for pid in ("500", "501"):
        cmdline = tmp_path / "proc" / pid / "cmdline"
        cmdline.write_bytes(cmdline.read_bytes() + b"-c\0Timeout 120\0")
    result = diagnose(tmp_path, ports=[8080])
    assert {f.current for f in result.findings if f.setting == "Timeout"} == {120}
    later = diagnose(tmp_path, ports=[8080], late_directives=["Timeout 90"])
    assert {f.current for f in later.findings if f.setting == "Timeout"} == {90}
    assert "-c" not in " ".join(n.message for n in later.notes).split()


def test_kernel_counters_and_backends_in_the_verdict(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    code, data = run_json("--root", str(tmp_path), "--ports", "8080")
    assert code == 1
    kernel = data["kernel"]
    assert (kernel["listen_overflows"], kernel["listen_drops"]) == (12, 15)
    assert kernel["counters_source"].endswith("proc/net/netstat")
    backends = {b["backend"]: b for b in data["backends"]}
    fcgi = backends["10.0.0.5:9000"]
    assert (fcgi["line"], fcgi["ttl"], fcgi["matched_by"]) == (3, "60", "address and port")
    assert fcgi["file"] == "opt/site/conf.d/proxy.conf" and fcgi["pids"] == [501]
    named = backends["10.0.0.6:8081"]
    assert named["line"] == 4 and named["matched_by"].startswith("port")
    assert backends["10.9.9.9:3306"]["route"] is None
    verdict = data["verdict"]
    assert "The kernel has dropped 12 connection attempts at a full accept queue since boot" in (
        verdict
    )
    assert "(TcpExt ListenOverflows 12, ListenDrops 15" in verdict
    assert "1 connection in SYN-RECV on the ports" in verdict
    assert (
        "toward the backend 10.0.0.5:9000 of `ProxyPass /app/ fcgi://10.0.0.5:9000/ ttl=60` at "
        "opt/site/conf.d/proxy.conf:3: pooled backend connection that the backend closed"
    ) in verdict
    assert "its ttl=60 is longer than the backend keeps an idle connection" in verdict
    assert "(matched by port)" in verdict
    assert "toward 10.9.9.9:3306, which no proxy line of the configuration names" in verdict
    # The generic "other ports" sentence gives way to the named backends.
    assert "Apache also holds" not in verdict


def test_no_visible_holder_falls_back_and_says_so(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    for pid in ("500", "501"):
        for link in (tmp_path / "proc" / pid / "fd").iterdir():
            link.unlink()
    (tmp_path / "etc" / "httpd" / "conf").mkdir(parents=True)
    (tmp_path / "etc" / "httpd" / "conf" / "httpd.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nListen 8080\nTimeout 60\n"
    )
    result = diagnose(tmp_path, ports=[8080])
    assert result.instance is not None and result.instance.pid is None
    assert result.apache is not None and result.apache.main_file == "etc/httpd/conf/httpd.conf"
    messages = [n.message for n in result.notes]
    assert any(
        m.startswith("no process visibly holds the listening socket of 0.0.0.0:8080 (tcpaudit "
                     "not run as root, the server in another PID namespace, or a hidepid /proc):"
                     " judged the configuration the host's service starts httpd with")
        for m in messages
    )  # fmt: skip
    assert result.instance.found_by in messages


def test_without_ports_the_httpd_listeners_are_taken(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    result = diagnose(tmp_path)
    assert result.ports == [8080] and result.instance is not None and result.instance.pid == 500


def test_netstat_counters_parse_only_tcpext() -> None:
    assert parse_netstat_counters(NETSTAT)["ListenOverflows"] == 12
    assert parse_netstat_counters("TcpExt: A B\nTcpExt: 1\n") == {}
    assert parse_netstat_counters("") == {}


def test_a_proxy_holding_the_port_is_not_taken_for_httpd(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    # haproxy in front holds 8080 instead: its -f is haproxy's, not httpd's.
    for pid in ("500", "501"):
        for entry in (tmp_path / "proc" / pid).iterdir():
            if entry.is_dir() and not entry.is_symlink():
                for link in entry.iterdir():
                    link.unlink()
                entry.rmdir()
            else:
                entry.unlink()
        (tmp_path / "proc" / pid).rmdir()
    argv = ["/usr/sbin/haproxy", "-f", "/etc/haproxy/haproxy.cfg", "-Ws"]
    _process(tmp_path, 600, 1, "haproxy", argv, [100], exe="/usr/sbin/haproxy")
    (tmp_path / "etc" / "httpd" / "conf").mkdir(parents=True)
    (tmp_path / "etc" / "httpd" / "conf" / "httpd.conf").write_text(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\nListen 8080\nTimeout 60\n"
    )
    result = diagnose(tmp_path, ports=[8080])
    assert result.instance is not None and result.instance.command is None
    assert result.instance.found_by.startswith(
        "process 600 (haproxy), which holds 0.0.0.0:8080, is not an httpd"
    )
    assert result.apache is not None and result.apache.main_file == "etc/httpd/conf/httpd.conf"
    assert "-c" not in " ".join(n.message for n in result.notes).split()


def test_what_the_service_adds_beyond_the_command_line_is_named(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    # A RHEL host whose httpd.service would pass -DEXTRA: process 500 was started by hand.
    (tmp_path / "etc" / "sysconfig").mkdir(parents=True)
    (tmp_path / "etc" / "sysconfig" / "httpd").write_text('OPTIONS="-DEXTRA"\n')
    (tmp_path / "etc" / "os-release").write_text("ID=rhel\nVERSION_ID=9.4\n")
    result = diagnose(tmp_path, ports=[8080])
    notes = " | ".join(n.message for n in result.notes)
    # RHEL's unit runs `httpd $OPTIONS -DFOREGROUND`: both are the service's, not the process's.
    assert "adds -D EXTRA, -D FOREGROUND, which process 500 was not started with" in notes
    # The instance's own -D EDGE is no addition.
    assert "-D EDGE" not in notes


def test_a_binary_replaced_since_start_is_not_read(tmp_path: Path) -> None:
    _site_tree(tmp_path)
    # An upgrade without a restart: the kernel's link names the old file, gone.
    exe = tmp_path / "proc" / "500" / "exe"
    exe.unlink()
    os.symlink("/opt/httpd/bin/httpd (deleted)", exe)
    (tmp_path / "opt" / "httpd" / "bin").mkdir(parents=True)
    (tmp_path / "opt" / "httpd" / "bin" / "httpd").write_bytes(b"\0Apache/2.4.99 (Unix)\0")
    result = diagnose(tmp_path, ports=[8080])
    assert result.instance is not None and result.instance.binary_version is None
    assert result.instance.binary == "/opt/httpd/bin/httpd"
    notes = " | ".join(n.message for n in result.notes)
    assert (
        "/proc/500/exe points to /opt/httpd/bin/httpd (deleted): the binary was replaced" in notes
    )
    assert result.apache is not None and result.apache.version != "2.4.99"


def test_a_command_line_define_used_as_a_password_is_hidden_everywhere(tmp_path: Path) -> None:
    # -C "Define UPSTREAM_X ..." is a Define like any other: used as a URL's
    # password, its value is a secret wherever the command line is shown
    # (arguments, found_by), the --apache-conf comparison with the running
    # server included (which judges another file, so never learns the use).
    _site_tree(tmp_path)
    secret = "hunter2-xyzzy-42"
    proxy = tmp_path / "opt" / "site" / "conf.d" / "proxy.conf"
    proxy.write_text(
        proxy.read_text() + "ProxyPass /s/ http://user:${UPSTREAM_X}@backend.internal:8081/\n"
    )
    for pid in ("500", "501"):
        cmdline = tmp_path / "proc" / pid / "cmdline"
        cmdline.write_bytes(cmdline.read_bytes() + f"-C\0Define UPSTREAM_X {secret}\0".encode())
    for extra in ([], ["--apache-conf", "/opt/site/conf/main.conf"]):
        for output in ("json", "table"):
            code, out, err = run(
                "--root", str(tmp_path), "--ports", "8080", "--format", output, *extra
            )
            assert code in (0, 1), err
            assert "UPSTREAM_X" in out, (extra, output)
            assert secret not in out + err, (extra, output)
            if extra and output == "json":
                assert "the server running there is process 500" in out
