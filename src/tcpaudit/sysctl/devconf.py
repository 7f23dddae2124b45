"""What the kernel does besides storing a value written under net/ipv4/conf/.

net/ipv4/devinet.c, as Linux 4.x to 6.18 have it:

- Most files there (``devinet_conf_proc``) mark the value of their interface
  as set when written, refused or not; a write to ``conf/default/X`` then
  copies default's X to every interface whose X was never written
  (``devinet_copy_dflt_conf``). So ``net.ipv4.conf.default.rp_filter = 2``
  alone sets lo's rp_filter to 2, and so does a glob whose exclusion
  (``-net.ipv4.conf.lo.rp_filter``) kept it from writing lo itself.
- The flushing files (disable_xfrm, disable_policy, promote_secondaries,
  route_localnet, drop_unicast_in_l2_multicast) neither mark nor copy.
- ``forwarding`` (and ``net.ipv4.ip_forward``, the same value as
  conf/all/forwarding): a change of all's value sets default's and every
  interface's forwarding to it and all's accept_redirects to its negation
  (``inet_forward_change``).

systemd-sysctl 252 does not write a value equal to what the file holds
(WRITE_STRING_FILE_SUPPRESS_REDUNDANT_VIRTUAL), so such a line marks
nothing; procps writes every line. What the files hold when the boot tool
starts is taken to be the kernel's defaults (``BOOT_VALUES``).
tests/sysctl/test_real_tools.py compares these rules with both tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MAX_COPIES", "Devconf", "boot_value", "conf_parts"]

# Values the kernel's copies may set in all (as globs' writes are bounded):
# 20,000 conf/default lines on a host with 700 interfaces would be 14 million.
MAX_COPIES = 100_000

# ipv4_devconf (all, and what every interface starts from) and
# ipv4_devconf_dflt (default): the values that are not 0.
_NOT_ZERO = {
    "accept_redirects": 1,
    "send_redirects": 1,
    "secure_redirects": 1,
    "shared_media": 1,
    "igmpv2_unsolicited_report_interval": 10000,
    "igmpv3_unsolicited_report_interval": 1000,
    "arp_evict_nocarrier": 1,
}
# default (and so every interface, a copy of default when it appears) accepts source routes.
_NOT_ZERO_BUT_ALL = {"accept_source_route": 1}
_FLUSHING = frozenset(
    {
        "disable_xfrm",
        "disable_policy",
        "promote_secondaries",
        "route_localnet",
        "drop_unicast_in_l2_multicast",
    }
)
_READ_ONLY = frozenset({"mc_forwarding"})
# inetdev_init sets these on the loopback interface.
_LOOPBACK_ONE = frozenset({"disable_xfrm", "disable_policy"})
_ALL_FORWARDING = "net.ipv4.conf.all.forwarding"


def conf_parts(key: str) -> tuple[str, str] | None:
    """(interface, name) of a ``net.ipv4.conf.<interface>.<name>`` key, else None."""
    if key == "net.ipv4.ip_forward":
        return "all", "forwarding"
    parts = key.split(".")
    if len(parts) == 5 and parts[:3] == ["net", "ipv4", "conf"]:
        return parts[3], parts[4]
    return None


def boot_value(interface: str, name: str) -> int:
    """The kernel's value of conf/<interface>/<name> before any write (an
    interface other than all starts as a copy of default)."""
    if name in _NOT_ZERO:
        return _NOT_ZERO[name]
    if interface == "lo" and name in _LOOPBACK_ONE:
        return 1
    return 0 if interface == "all" else _NOT_ZERO_BUT_ALL.get(name, 0)


@dataclass
class Devconf:
    """The writes under net/ipv4/conf/ so far, and the interfaces they reach.

    Args:
        interfaces: the interfaces whose conf directories the boot tool
            finds (other than all and default).
    """

    interfaces: tuple[str, ...]  # as keys spell them: "eth0/100" for the directory eth0.100
    # (interface, name) whose value was written (the kernel's state bit).
    marked: set[tuple[str, str]] = field(default_factory=set)
    copies_left: int = MAX_COPIES
    stopped: bool = False  # a write's copies were left out: the budget ran out

    def attempted(self, key: str, value: str, current: object, systemd: bool) -> bool:
        """Whether the boot tool writes ``value`` to ``key`` at all: systemd
        leaves a file alone that already holds the same text."""
        if not systemd:
            return True
        parts = conf_parts(key)
        if current is None and parts is not None:
            # An interface present when the tool runs holds what it started with.
            current = boot_value(*parts)
        # The value as systemd keeps it (text.py stripped only its own blanks:
        # a trailing \v or U+00A0 makes another text, so a write, refused or not).
        return current is None or str(current) != value

    def written(self, key: str, accepted: int | None, before: object) -> list[tuple[str, int]]:
        """Record a write to ``key`` (``accepted``: the value the kernel took, or
        None when it refused it); return the other keys the kernel changed with
        it, and their values."""
        parts = conf_parts(key)
        if parts is None:
            return []
        interface, name = parts
        if name == "forwarding":
            return self._forwarding(interface, accepted, before)
        if name in _FLUSHING or name in _READ_ONLY:
            return []
        if interface not in ("all", "default"):
            self.marked.add(parts)
            return []
        if interface != "default" or accepted is None:
            return []
        if not self._spend(len(self.interfaces)):
            return []
        return [
            (f"net.ipv4.conf.{other}.{name}", accepted)
            for other in self.interfaces
            if (other, name) not in self.marked
        ]

    def _forwarding(
        self, interface: str, accepted: int | None, before: object
    ) -> list[tuple[str, int]]:
        if accepted is None:
            return []
        if interface not in ("all", "default"):
            self.marked.add((interface, "forwarding"))
            return []
        if interface == "default" or before == accepted:
            return []
        if not self._spend(len(self.interfaces) + 4):
            return []
        # inet_forward_change: ip_forward and all/forwarding are one value.
        changed = [
            ("net.ipv4.ip_forward", accepted),
            (_ALL_FORWARDING, accepted),
            ("net.ipv4.conf.all.accept_redirects", int(not accepted)),
            ("net.ipv4.conf.default.forwarding", accepted),
        ]
        for other in self.interfaces:
            self.marked.add((other, "forwarding"))
            changed.append((f"net.ipv4.conf.{other}.forwarding", accepted))
        return changed

    def _spend(self, copies: int) -> bool:
        if copies > self.copies_left:
            self.stopped = True
            return False
        self.copies_left -= copies
        return True
