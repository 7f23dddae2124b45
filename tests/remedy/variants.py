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


# Characters str.splitlines() breaks at and httpd does not (it ends a line at LF only).
ODD_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r"


def breaks_httpd_does_not_break_at(root: Path) -> None:
    """Comments before Timeout hold a form feed, NEL, U+2028 and a lone CR: no line ends there."""
    conf = _debian(root)
    main = conf / "apache2.conf"
    odd = "".join(f"# page{char}break\n" for char in ODD_BREAKS)
    main.write_text(main.read_text().replace("Timeout 300\n", f"{odd}Timeout 300\n"))
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


_CONF = "usr/local/apache2/conf/"


def _tree(files: dict[str, str], links: dict[str, str] | None = None) -> Callable[[Path], None]:
    """A builder writing ``files`` and making ``links`` (path -> target) under the root."""

    def build(root: Path) -> None:
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for name, target in (links or {}).items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)

    return build


_PREFORK = "LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n"
_SMALL_TREES: dict[str, Callable[[Path], None]] = {
    # Values set inside <IfModule>: replaced there, indentation kept.
    "values-inside-ifmodule": _tree(
        {
            _CONF + "httpd.conf": _PREFORK
            + "LoadModule reqtimeout_module modules/mod_reqtimeout.so\n"
            "<IfModule mpm_prefork_module>\n    Timeout 300\n    KeepAliveTimeout 15\n"
            "</IfModule>\nListen 80\n"
        }
    ),
    # The main file is a link; two vhosts in an Include by glob set their own values.
    "main-file-is-a-link-two-vhosts": _tree(
        {
            _CONF + "real.conf": "LoadModule mpm_worker_module modules/mod_mpm_worker.so\n"
            "Timeout 300\nInclude conf/extra/*.conf\n",
            _CONF + "extra/v.conf": "<VirtualHost *:80>\n\tServerName a\n\tKeepAliveTimeout 20\n"
            "</VirtualHost>\n<VirtualHost *:80>\n\tServerName b\n\tKeepAliveTimeout 40\n"
            "</VirtualHost>\n",
        },
        {_CONF + "httpd.conf": "real.conf"},
    ),
    # A directory reached through an absolute link inside the root; trailing blanks.
    "vhost-behind-an-absolute-link": _tree(
        {
            _CONF + "httpd.conf": _PREFORK + "IncludeOptional /etc/sites/*.conf\n",
            "srv/sites/s.conf": "<VirtualHost *:80>\n  ServerName s\n  Timeout 200  \n"
            "</VirtualHost>\n",
        },
        {"etc/sites": "/srv/sites"},
    ),
    # A vendor file, a slash-spelt key, and an existing 99-tcpaudit.conf setting another value.
    "sysctl-vendor-slash-and-existing-drop-in": _tree(
        {
            _CONF + "httpd.conf": "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
            "LoadModule reqtimeout_module modules/mod_reqtimeout.so\nTimeout 30\n",
            "usr/lib/sysctl.d/50-default.conf": "net.ipv4.tcp_keepalive_time = 7200\n",
            "etc/sysctl.d/10-x.conf": "net/ipv4/tcp_retries2 = 15\n",
            "etc/sysctl.d/99-tcpaudit.conf": "net.ipv4.tcp_retries2 = 12\nnet.core.somaxconn = 4096\n",
        }
    ),
    # One file included twice: its line wins from the second reading.
    "file-included-twice": _tree(
        {
            _CONF + "httpd.conf": _PREFORK + "Include conf/t.conf\nInclude conf/t.conf\n",
            _CONF + "t.conf": "Timeout 300\n",
        }
    ),
}


VARIANTS: dict[str, tuple[Callable[[Path], None], Tree | None]] = {
    "reqtimeout-disabled-prefork-vhost-override": (
        reqtimeout_disabled_prefork_vhost_override,
        DEBIAN_TREE,
    ),
    "set-twice-later-wins-by-glob": (set_twice_later_wins_by_glob, DEBIAN_TREE),
    "continued-line-crlf-no-final-newline": (continued_line_crlf_no_final_newline, DEBIAN_TREE),
    "breaks-httpd-does-not-break-at": (breaks_httpd_does_not_break_at, DEBIAN_TREE),
    "incident-sysctl-conf-and-late-drop-in": (incident_sysctl_conf_and_late_drop_in, None),
    "keepalive-in-milliseconds-in-vhost": (keepalive_in_milliseconds_in_vhost, DEBIAN_TREE),
    **{name: (build, None) for name, build in _SMALL_TREES.items()},
}
