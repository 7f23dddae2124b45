"""Run the real boot tools on a generated tree, without touching the host's kernel.

systemd-sysctl and procps `sysctl --system` have no --root option, so each run
happens in a new mount and network namespace (``unshare --mount --net``):
a throw-away root is assembled from the host's /usr plus the tree's etc/,
run/, usr/local/, usr/lib/sysctl.d and lib/sysctl.d, the tool runs chrooted
there, and the values it left are read from /proc/sys in that namespace. The
net.ipv4 and net.core keys compared here are per network namespace, so the
host keeps its values; ``host_values`` lets a test check that it did.

Needs root, util-linux ``unshare`` and ``chroot``, procps and systemd.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "COMPARED_KEYS",
    "SYSTEMD_SYSCTL",
    "host_values",
    "make_tree",
    "run_real_tool",
    "write_files",
]

# Per-network-namespace keys (each has a per-netns copy in struct netns_ipv4
# or netns_core), so writing them in a new namespace leaves the host alone.
COMPARED_KEYS = (
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_retries1",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.core.somaxconn",
)
SYSTEMD_SYSCTL = "/usr/lib/systemd/systemd-sysctl"
TREE_DIRECTORIES = (
    "etc/sysctl.d",
    "run/sysctl.d",
    "usr/local/lib/sysctl.d",
    "usr/lib/sysctl.d",
    "lib/sysctl.d",
)

_SCRIPT = r"""
set -eu
tree=$1; new=$2; tool=$3; shift 3
mount -t tmpfs tmpfs "$new"
mkdir -p "$new/usr" "$new/proc" "$new/dev" "$new/etc" "$new/run" "$new/tmp" "$new/lib/sysctl.d"
mount --rbind /usr "$new/usr"
mount --rbind /proc "$new/proc"
mount --rbind /dev "$new/dev"
# The dynamic loader and libc live in /lib/<triplet> on Debian.
for dir in /usr/lib/*-linux-gnu*; do
    [ -d "$dir" ] || continue
    mkdir -p "$new/lib/${dir##*/}"
    mount --rbind "$dir" "$new/lib/${dir##*/}"
done
ln -s usr/bin "$new/bin"; ln -s usr/sbin "$new/sbin"; ln -s usr/lib64 "$new/lib64"
mount --bind "$tree/etc" "$new/etc"
mount --bind "$tree/run" "$new/run"
mount --bind "$tree/usr/local" "$new/usr/local"
mount --bind "$tree/usr/lib/sysctl.d" "$new/usr/lib/sysctl.d"
mount --bind "$tree/lib/sysctl.d" "$new/lib/sysctl.d"
show() { for key in "$@"; do printf '%s %s\t%s\n' "$phase" "$key" "$(cat "/proc/sys/$(echo "$key" | tr ./ /.)")"; done; }
eval "$TCPAUDIT_NAMESPACE_SETUP"
phase=before; show "$@"
if [ "$tool" = procps ]; then
    chroot "$new" /usr/sbin/sysctl --system >&2 || true
else
    chroot "$new" SYSTEMD_SYSCTL >&2 || true
fi
phase=after; show "$@"
""".replace("SYSTEMD_SYSCTL", SYSTEMD_SYSCTL)


def make_tree(root: Path) -> Path:
    """Create the directories every run binds, empty."""
    for directory in TREE_DIRECTORIES:
        (root / directory).mkdir(parents=True, exist_ok=True)
    return root


def host_values(keys: tuple[str, ...] = COMPARED_KEYS) -> dict[str, str]:
    """The host namespace's values of ``keys``, as /proc/sys shows them."""
    return {
        key: Path("/proc/sys", key.replace(".", "/")).read_text(encoding="ascii").strip()
        for key in keys
    }


def run_real_tool(
    tree: Path,
    scratch: Path,
    tool: str,
    keys: tuple[str, ...] = COMPARED_KEYS,
    setup: str = "",
) -> tuple[dict[str, str], dict[str, str], str]:
    """Apply ``tree``'s sysctl files with the real ``tool`` in fresh namespaces.

    ``scratch`` is an empty directory outside ``tree``; the throw-away root is
    mounted on it inside the namespace only, so it is empty again afterwards.
    ``setup`` is shell run in the namespace first (``ip link add ...``: the
    interfaces present when the tool runs).

    Returns:
        The values before the run (the new namespace's own), the values after,
        and the tool's stderr/stdout for failure messages.

    Raises:
        RuntimeError: a needed program is missing or the namespace cannot be made.
    """
    for program in ("unshare", "chroot", "mount"):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} is required for the real-tool comparison")
    if tool == "procps" and not Path("/usr/sbin/sysctl").is_file():
        raise RuntimeError("procps /usr/sbin/sysctl is required (apt-get install procps)")
    if tool == "systemd" and not Path(SYSTEMD_SYSCTL).is_file():
        raise RuntimeError(f"{SYSTEMD_SYSCTL} is required (apt-get install systemd)")
    scratch.mkdir(parents=True, exist_ok=True)
    command = ["unshare", "--mount", "--net", "--fork", "sh", "-c", _SCRIPT, "sh"]
    completed = subprocess.run(
        [*command, str(tree), str(scratch), tool, *keys],
        env={**os.environ, "TCPAUDIT_NAMESPACE_SETUP": setup},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"real-tool run failed ({completed.returncode}): {completed.stderr}")
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for line in completed.stdout.splitlines():
        head, _, value = line.partition("\t")
        phase, _, key = head.partition(" ")
        (before if phase == "before" else after)[key] = value
    return before, after, completed.stderr


def write_files(root: Path, files: dict[str, str | tuple[str, str]]) -> Path:
    """Write ``{"etc/sysctl.d/10-a.conf": "text", "etc/x.conf": ("link", "/dev/null")}`` under root."""
    make_tree(root)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            kind, target = content
            if kind == "link":
                path.symlink_to(target)
            else:
                path.mkdir()
        else:
            path.write_bytes(content.encode("utf-8"))
    return root
