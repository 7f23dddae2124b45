"""Helpers for the Ansible tests: the facts module loaded from its file, and root-like trees.

The module runs on targets as a standalone file, so it is imported here from
its path, the way Ansible ships it, not as a package.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "src" / "ansible_collections" / "tcpaudit" / "audit"
FACTS_MODULE_FILE = COLLECTION / "plugins" / "modules" / "facts.py"
INCIDENT = REPO / "examples" / "closewait-incident"
TUNED = REPO / "examples" / "tuned"
PLAYBOOK_DIR = REPO / "examples" / "ansible"


def load_facts_module() -> ModuleType:
    """Import plugins/modules/facts.py from its file (needs ansible-core for AnsibleModule)."""
    name = "tcpaudit_ansible_facts_module"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FACTS_MODULE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write(root: Path, tree_path: str, text: str, mode: int = 0o644) -> Path:
    path = root / tree_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def link(root: Path, tree_path: str, target: str) -> None:
    path = root / tree_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def debian_tree(root: Path) -> Path:
    """A Debian-layout host: envvars, enabled-dir symlinks (relative and absolute),
    an included directory, a ${VAR} include, sysctl.d masks and links, merged /usr.
    """
    write(root, "/etc/hostname", "deb1.example\n")
    write(
        root,
        "/etc/apache2/envvars",
        "export APACHE_RUN_USER=www-data\nexport APACHE_CONFDIR=/etc/apache2\n"
        "export APACHE_LOG_DIR=/var/log/apache2$SUFFIX\n",
    )
    write(
        root,
        "/etc/apache2/apache2.conf",
        "DefaultRuntimeDir ${APACHE_RUN_DIR}\n"
        "Timeout 120\n"
        "KeepAlive On\n"
        "KeepAliveTimeout 5\n"
        "IncludeOptional mods-enabled/*.load\n"
        "IncludeOptional mods-enabled/*.conf\n"
        "Include ports.conf\n"
        "Define EXTRA ${APACHE_CONFDIR}/extra\n"
        "Include ${EXTRA}/\n"
        "IncludeOptional conf-enabled/*.conf\n"
        "IncludeOptional sites-enabled/*.conf\n",
    )
    write(
        root,
        "/etc/apache2/ports.conf",
        "Listen 80\n<IfModule ssl_module>\n\tListen 443\n</IfModule>\n",
    )
    write(
        root,
        "/etc/apache2/mods-available/mpm_prefork.load",
        "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n",
    )
    write(
        root,
        "/etc/apache2/mods-available/mpm_prefork.conf",
        "<IfModule mpm_prefork_module>\n\tMaxRequestWorkers 150\n</IfModule>\n",
    )
    write(
        root,
        "/etc/apache2/mods-available/reqtimeout.load",
        "LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so\n",
    )
    write(root, "/etc/apache2/mods-available/unused.load", "LoadModule status_module x.so\n")
    link(root, "/etc/apache2/mods-enabled/mpm_prefork.load", "../mods-available/mpm_prefork.load")
    link(root, "/etc/apache2/mods-enabled/mpm_prefork.conf", "../mods-available/mpm_prefork.conf")
    # An absolute link: on the host it names the host's file, here a file in the tree.
    link(
        root,
        "/etc/apache2/mods-enabled/reqtimeout.load",
        "/etc/apache2/mods-available/reqtimeout.load",
    )
    write(root, "/etc/apache2/extra/10-keepalive.conf", "MaxKeepAliveRequests 100\n")
    write(root, "/etc/apache2/extra/sub/20-proxy.conf", "LimitRequestFields 100\n")
    (root / "etc/apache2/conf-enabled").mkdir(parents=True)
    write(
        root,
        "/etc/apache2/sites-available/shop.conf",
        "<VirtualHost *:80>\n\tServerName shop.example\n\tKeepAliveTimeout 3\n</VirtualHost>\n",
    )
    link(root, "/etc/apache2/sites-enabled/shop.conf", "../sites-available/shop.conf")
    for key, value in {
        "net/ipv4/tcp_keepalive_time": "7200",
        "net/ipv4/tcp_keepalive_intvl": "75",
        "net/ipv4/tcp_keepalive_probes": "9",
        "net/ipv4/tcp_retries2": "15",
        "net/core/somaxconn": "4096",
    }.items():
        write(root, f"/proc/sys/{key}", value + "\n")
    write(root, "/proc/sys/kernel/osrelease", "6.1.0-27-amd64\n")
    write(root, "/etc/sysctl.conf", "net.ipv4.tcp_keepalive_time = 600\n")
    link(root, "/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf")
    write(root, "/usr/lib/sysctl.d/50-default.conf", "net.ipv4.tcp_retries2 = 8\n")
    write(root, "/usr/lib/sysctl.d/60-masked.conf", "net.core.somaxconn = 10\n")
    link(root, "/etc/sysctl.d/60-masked.conf", "/dev/null")
    (root / "etc/sysctl.d/70-dir.conf").mkdir()
    link(root, "/lib", "usr/lib")
    write(root, "/usr/lib/systemd/systemd-sysctl", "\x7fELF", mode=0o755)
    return root
