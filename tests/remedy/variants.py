"""Trees the fix was not written against, made from real ones by small edits.

Each builder copies a real tree (the Debian 12 corpus tree, the incident
example) and changes it the way hosts differ: a module disabled, a value set
twice with the later one winning, a continued line, a value set only in a
virtual host reached through a link, an Include by glob, CRLF line ends, a
file without a final newline, sysctl values set in /etc/sysctl.conf and in a
sysctl.d file that sorts after the usual drop-in name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from test_apache_differential import TREES_2_4, Tree

REPO = Path(__file__).resolve().parents[2]
DEBIAN = REPO / "tests" / "corpus" / "debian-12-apache2.4"
INCIDENT = REPO / "examples" / "closewait-incident"
DEBIAN_TREE = TREES_2_4["debian-12-apache2.4"]


def _debian(root: Path) -> Path:
    shutil.copytree(DEBIAN, root, symlinks=True)
    return root / "etc" / "apache2"


def _prefork(conf: Path) -> None:
    """Switch Debian's tree to prefork as a2dismod/a2enmod do (links)."""
    for name in ("mpm_event.load", "mpm_event.conf"):
        (conf / "mods-enabled" / name).unlink()
    for name in ("mpm_prefork.load", "mpm_prefork.conf"):
        (conf / "mods-enabled" / name).symlink_to(f"../mods-available/{name}")


def reqtimeout_disabled_prefork_vhost_override(root: Path) -> None:
    """a2dismod reqtimeout, prefork, and a site (through its link) with its own timers."""
    conf = _debian(root)
    _prefork(conf)
    for name in ("reqtimeout.load", "reqtimeout.conf"):
        (conf / "mods-enabled" / name).unlink()
    site = conf / "sites-available" / "000-default.conf"
    text = site.read_text().replace(
        "\tServerAdmin webmaster@localhost\n",
        "\tServerAdmin webmaster@localhost\n\tTimeout 120\n\tKeepAliveTimeout 30\n",
    )
    site.write_text(text)


def set_twice_later_wins_by_glob(root: Path) -> None:
    """Timeout set in apache2.conf, then again by a conf-enabled file (glob Include)."""
    conf = _debian(root)
    (conf / "conf-available" / "zz-timeouts.conf").write_text(
        "# Set late: wins over apache2.conf's line.\nTimeout 600\nKeepAliveTimeout 20\n"
    )
    (conf / "conf-enabled" / "zz-timeouts.conf").symlink_to("../conf-available/zz-timeouts.conf")
    _prefork(conf)


def continued_line_crlf_no_final_newline(root: Path) -> None:
    """A continued Timeout line, CRLF line ends, and no newline at the end of the file."""
    conf = _debian(root)
    main = conf / "apache2.conf"
    text = main.read_text().replace("Timeout 300\n", "Timeout \\\n    300\n")
    main.write_bytes(text.rstrip("\n").replace("\n", "\r\n").encode())
    _prefork(conf)


def incident_sysctl_conf_and_late_drop_in(root: Path) -> None:
    """The incident with tcp_keepalive_time in /etc/sysctl.conf (procps applies it last)
    and tcp_retries2 in a sysctl.d file whose name sorts after 99-tcpaudit.conf."""
    shutil.copytree(INCIDENT, root, symlinks=True)
    with (root / "etc" / "sysctl.conf").open("a") as conf:
        conf.write("\n# Raised by hand once.\nnet.ipv4.tcp_keepalive_time = 7200\n")
    (root / "etc" / "sysctl.d").mkdir()
    (root / "etc" / "sysctl.d" / "zz-vendor.conf").write_text("net.ipv4.tcp_retries2 = 15\n")


def keepalive_in_milliseconds_in_vhost(root: Path) -> None:
    """KeepAliveTimeout written in ms in a prefork virtual host."""
    conf = _debian(root)
    _prefork(conf)
    site = conf / "sites-available" / "000-default.conf"
    site.write_text(
        site.read_text().replace(
            "<VirtualHost *:80>\n", "<VirtualHost *:80>\n\tKeepAliveTimeout 15000ms\n"
        )
    )


VARIANTS: dict[str, tuple[Callable[[Path], None], Tree | None]] = {
    "reqtimeout-disabled-prefork-vhost-override": (
        reqtimeout_disabled_prefork_vhost_override,
        DEBIAN_TREE,
    ),
    "set-twice-later-wins-by-glob": (set_twice_later_wins_by_glob, DEBIAN_TREE),
    "continued-line-crlf-no-final-newline": (continued_line_crlf_no_final_newline, DEBIAN_TREE),
    "incident-sysctl-conf-and-late-drop-in": (incident_sysctl_conf_and_late_drop_in, None),
    "keepalive-in-milliseconds-in-vhost": (keepalive_in_milliseconds_in_vhost, DEBIAN_TREE),
}
