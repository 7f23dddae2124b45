"""The lab's apache2: its configuration and the files every cell shares.

``write_lab_config`` writes a self-contained httpd.conf for one cell (its own
directory, ports on 127.0.0.1, two workers, a CGI that reads its input, a
large file, an optional TLS listener with a throw-away certificate made by
the ``openssl`` command, name-based virtual hosts, a proxied WebSocket).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diagnose"))

# The shared harness, one directory over (start, stop, ports, worker account).
from apache_server import MODULE_DIR, _worker_account

__all__ = [
    "WORKERS",
    "LabConfig",
    "LabFiles",
    "VirtualHostSpec",
    "check_tls",
    "lab_files",
    "write_lab_config",
]

WORKERS = 2
_BIG_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class VirtualHostSpec:
    """A name-based ``<VirtualHost>`` on the lab's plain listener."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabConfig:
    """One configuration of the lab's server.

    Attributes:
        name: a short label for tables (``reqtimeout``, ``none``, ...).
        mpm: prefork, worker or event.
        timeout: Timeout (s).
        keepalive_timeout: KeepAliveTimeout as written (``2``, ``1500ms``).
        keepalive: KeepAlive On or Off.
        reqtimeout: the RequestReadTimeout arguments; ``""`` loads mod_reqtimeout
            without the directive; None leaves the module out.
        accept_filter: the AcceptFilter of the plain listener (``none`` or ``data``).
        tls: a TLS listener too (mod_ssl), with AcceptFilter https none.
        tls_listen: the protocol its Listen line names ("" for none: mod_ssl
            speaks TLS there all the same, its vhost having SSLEngine on).
        websocket: proxy ``/ws/`` to a WebSocket backend (mod_proxy_wstunnel).
        vhosts: name-based virtual hosts on the plain listener, in order.
        target: the Host the stalled clients name once they send a header.
        extra: more lines for the main server (``@PORT@`` stands for the plain
            listener's port).
    """

    name: str
    mpm: str
    timeout: int = 4
    keepalive_timeout: str = "2"
    keepalive: bool = True
    reqtimeout: str | None = None
    accept_filter: str = "none"
    tls: bool = False
    websocket: bool = False
    tls_listen: str = "https"
    vhosts: tuple[VirtualHostSpec, ...] = ()
    target: str = "localhost"
    extra: tuple[str, ...] = ()

    def longest_timer_seconds(self) -> float:
        """The longest time any timer of this configuration can run, in seconds."""
        numbers = [float(self.timeout), _seconds(self.keepalive_timeout)]
        texts = [self.reqtimeout or "", *(" ".join(v.lines) for v in self.vhosts)]
        for text in texts:
            # Timeout N, KeepAliveTimeout N, stage=N or stage=N-M (MinRate is no time).
            for match in re.finditer(r"(minrate=|=|-|timeout )(\d+)", text.lower()):
                if match.group(1) != "minrate=":
                    numbers.append(float(match.group(2)))
        return max(numbers)

    def with_mpm(self, mpm: str) -> LabConfig:
        return replace(self, mpm=mpm)


def _seconds(text: str) -> float:
    if text.endswith("ms"):
        return int(text[:-2]) / 1000
    return float(text)


@dataclass(frozen=True)
class LabFiles:
    """Files every cell shares: a large file to serve and a TLS key pair."""

    directory: Path
    big_file: Path
    certificate: Path
    key: Path
    # A response the socket's send buffer takes whole: a quarter of the most
    # it grows to (net.ipv4.tcp_wmem's third field; 4 MiB by default).
    fitting_file: Path | None = None


def send_buffer_max_bytes() -> int:
    """The most a TCP socket's send buffer grows to here (tcp_wmem's maximum)."""
    return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


@contextlib.contextmanager
def lab_files() -> Iterator[LabFiles]:
    """Make the shared files in a fresh directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="tcpaudit-holdlab-"))
    directory.chmod(0o755)
    try:
        big = directory / "big.bin"
        with big.open("wb") as handle:
            handle.truncate(_BIG_FILE_BYTES)  # sparse: costs no disk
        big.chmod(0o644)
        certificate, key = directory / "cert.pem", directory / "key.pem"
        openssl = shutil.which("openssl")
        if openssl is None:
            raise AssertionError("the lab needs the openssl command (Debian: openssl)")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-out", str(certificate), "-days", "2",
             "-subj", "/CN=localhost"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        key.chmod(0o644)
        fitting = directory / "fits.bin"
        with fitting.open("wb") as handle:
            handle.truncate(send_buffer_max_bytes() // 4)
        fitting.chmod(0o644)
        yield LabFiles(directory, big, certificate, key, fitting)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _modules(config: LabConfig) -> list[str]:
    modules = [f"mpm_{config.mpm}", "authz_core", "alias"]
    modules.append("cgi" if config.mpm == "prefork" else "cgid")
    if config.reqtimeout is not None:
        modules.append("reqtimeout")
    if config.tls:
        modules += ["socache_shmcb", "ssl"]
    if config.websocket:
        modules += ["proxy", "proxy_http", "proxy_wstunnel"]
    return modules


def write_lab_config(
    workdir: Path,
    config: LabConfig,
    files: LabFiles,
    port: int,
    tls_port: int | None,
    backend_port: int | None = None,
) -> Path:
    """Write the cell's httpd.conf and its CGI; return the configuration's path."""
    for directory in ("logs", "run", "htdocs", "cgi"):
        (workdir / directory).mkdir(exist_ok=True)
    (workdir / "htdocs" / "index.html").write_text("hello\n")
    account = _worker_account()
    if account is not None:
        shutil.chown(workdir / "run", user=account[0], group=account[1])
    script = workdir / "cgi" / "read"
    # Reads its whole input, as an upload handler does, then answers.
    script.write_text(
        "#!/bin/sh\ncat >/dev/null\nprintf 'Content-Type: text/plain\\r\\n\\r\\nread\\n'\n"
    )
    script.chmod(0o755)
    lines = [
        f"ServerRoot {workdir}",
        *(f"LoadModule {m}_module {MODULE_DIR}/mod_{m}.so" for m in _modules(config)),
        "ServerName localhost",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {workdir}/run/httpd.pid",
        f"ErrorLog {workdir}/logs/error.log",
        "LogLevel info",
        f"DefaultRuntimeDir {workdir}/run",
        f"Mutex file:{workdir}/run default",
        f"DocumentRoot {workdir}/htdocs",
        f"Timeout {config.timeout}",
        f"KeepAlive {'On' if config.keepalive else 'Off'}",
        f"KeepAliveTimeout {config.keepalive_timeout}",
        "MaxKeepAliveRequests 100",
        f"AcceptFilter http {config.accept_filter}",
        f"Alias /big {files.big_file}",
        *([f"Alias /fits {files.fitting_file}"] if files.fitting_file else []),
        f"ScriptAlias /read {script}",
        *(line.replace("@PORT@", str(port)) for line in config.extra),
    ]
    if config.mpm != "prefork":
        lines.append(f"ScriptSock {workdir}/run/cgid.sock")
    if backend_port is not None:
        lines.append(f"ProxyPass /ws/ ws://127.0.0.1:{backend_port}/")
    if config.mpm == "prefork":
        lines += [
            f"StartServers {WORKERS}",
            "MinSpareServers 1",
            f"MaxSpareServers {WORKERS}",
            f"ServerLimit {WORKERS}",
            f"MaxRequestWorkers {WORKERS}",
        ]
    else:
        lines += [
            "StartServers 1",
            "ServerLimit 1",
            f"ThreadsPerChild {WORKERS}",
            f"ThreadLimit {WORKERS}",
            f"MaxRequestWorkers {WORKERS}",
            "MinSpareThreads 1",
            f"MaxSpareThreads {WORKERS}",
        ]
    if config.reqtimeout:
        lines.append(f"RequestReadTimeout {config.reqtimeout}")
    if account is not None:
        lines += ["<IfModule unixd_module>", f"    User {account[0]}", f"    Group {account[1]}",
                  "</IfModule>"]  # fmt: skip
    for vhost in config.vhosts:
        lines += [
            f"<VirtualHost 127.0.0.1:{port}>",
            f"    ServerName {vhost.name}",
            *(f"    {line}" for line in vhost.lines),
            "</VirtualHost>",
        ]
    if config.tls and tls_port is not None:
        lines += [
            f"Listen 127.0.0.1:{tls_port}" + (f" {config.tls_listen}" if config.tls_listen else ""),
            "AcceptFilter https none",
            f"SSLSessionCache shmcb:{workdir}/run/ssl_scache(512000)",
            f"<VirtualHost 127.0.0.1:{tls_port}>",
            "    ServerName localhost",
            "    SSLEngine on",
            f"    SSLCertificateFile {files.certificate}",
            f"    SSLCertificateKeyFile {files.key}",
            "</VirtualHost>",
        ]
    conf = workdir / "httpd.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def check_tls(port: int) -> None:
    """A full TLS handshake works on the lab's TLS listener (the stall is the only fault)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        if not tls.recv(64).startswith(b"HTTP/1.1"):
            raise AssertionError("no HTTP response over TLS")
