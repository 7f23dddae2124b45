"""Record fixtures/proxied-site/ from the live proxying site of ``live_site.py``.

Run as root (``python tests/diagnose/capture_site.py``) on a host with
Debian's apache2. It starts the prefork site exactly as the live tests do
(``apache2 -f DIR/site.conf -D SLOWSITE``, two Python backends), drives it
to the tested state, then:

- copies what ``tcpaudit diagnose`` reads into a ``--root`` tree:
  ``proc/net/tcp``, ``tcp6`` (lines of the site's and the backends' ports),
  ``proc/net/netstat``, and for each server process ``comm``, ``cmdline``,
  ``stat``, ``environ``, the ``exe`` link and its socket fd links; the
  configuration at ``srv/site/site.conf`` (the temporary directory renamed
  /srv/site everywhere, command lines included) and this host's
  ``etc/os-release``;
- records a real ``tcpaudit diagnose --ports P --watch 1 --count 4`` on the
  live site while one more client gives up in the queue every second
  (``watch-recorded.txt``: the samples and the verdict, the port renamed 8080).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_site import Site, drive, give_up, running_site  # run as a script

TARGET = Path(__file__).resolve().parent / "fixtures" / "proxied-site"
SHOWN_DIR = "/srv/site"
SHOWN_PORT = 8080


def _rename(text: str, site: Site) -> str:
    return text.replace(str(site.conf.parent), SHOWN_DIR)


def _table_lines(name: str, ports: set[int]) -> str:
    lines = Path(f"/proc/net/{name}").read_text().splitlines()
    wanted = {f":{port:04X}" for port in ports}
    kept = [lines[0]] + [
        line for line in lines[1:] if any(w in " ".join(line.split()[1:3]) for w in wanted)
    ]
    return "\n".join(kept) + "\n"


def record_tree(site: Site) -> None:
    assert site.server is not None
    if TARGET.exists():
        shutil.rmtree(TARGET)
    (TARGET / "proc" / "net").mkdir(parents=True)
    ports = {site.port, site.pooled_backend.port, site.slow_backend.port}
    for name in ("tcp", "tcp6"):
        (TARGET / "proc" / "net" / name).write_text(_table_lines(name, ports))
    shutil.copy("/proc/net/netstat", TARGET / "proc" / "net" / "netstat")
    for pid in [site.server.process.pid, *site.server.workers()]:
        source = Path(f"/proc/{pid}")
        links = {
            fd: os.readlink(source / "fd" / fd)
            for fd in os.listdir(source / "fd")
            if os.readlink(source / "fd" / fd).startswith("socket:[")
        }
        target = TARGET / "proc" / str(pid)
        (target / "fd").mkdir(parents=True)
        for entry in ("comm", "cmdline", "stat", "environ"):
            data = (source / entry).read_bytes()
            (target / entry).write_bytes(_rename(data.decode(), site).encode())
        os.symlink(os.readlink(source / "exe"), target / "exe")
        for fd, link in links.items():
            os.symlink(link, target / "fd" / fd)
    conf = TARGET / SHOWN_DIR.lstrip("/")
    (conf / "htdocs").mkdir(parents=True)
    (conf / "site.conf").write_text(_rename(site.conf.read_text(), site))
    (conf / "htdocs" / "index.html").write_text("hello\n")
    (TARGET / "etc").mkdir()
    shutil.copy("/etc/os-release", TARGET / "etc" / "os-release")
    (TARGET / "etc" / "hostname").write_text("web1\n")


def record_watch(site: Site) -> None:
    stop = threading.Event()

    def more_clients() -> None:
        while not stop.wait(1.0):
            give_up(site.connect())

    feeder = threading.Thread(target=more_clients, daemon=True)
    tcpaudit = Path(sys.executable).with_name("tcpaudit")
    feeder.start()
    try:
        output = subprocess.run(
            [str(tcpaudit), "diagnose", "--ports", str(site.port), "--watch", "1", "--count", "4"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        ).stdout
    finally:
        stop.set()
        feeder.join()
    # The samples and the verdict; the audit report that follows is the tree's own sample.
    shown = output.split("\nDiagnosis of ", 1)[0].rstrip("\n")
    verdict = output.split("\nVerdict:\n", 1)[1].split("\n\n", 1)[0]

    def shown_text(text: str) -> str:
        return re.sub(rf"\b{site.port}\b", str(SHOWN_PORT), _rename(text, site))

    # Wrapped again as the command wraps it: the renamed paths are shorter.
    paragraph = " ".join(line.strip() for line in verdict.splitlines())
    wrapped = textwrap.fill(
        shown_text(paragraph),
        88,
        initial_indent="  ",
        subsequent_indent="  ",
        break_on_hyphens=False,
        break_long_words=False,
    )
    command = f"$ tcpaudit diagnose --ports {SHOWN_PORT} --watch 1 --count 4"
    text = f"{command}\n{shown_text(shown)}\n...\nVerdict:\n{wrapped}\n"
    (TARGET / "watch-recorded.txt").write_text(text)


def main() -> None:
    release = threading.Event()
    with running_site("prefork", release) as site:
        drive(site)
        time.sleep(0.2)
        record_tree(site)
        record_watch(site)
        print(f"recorded {TARGET} (port {site.port})")


if __name__ == "__main__":
    main()
