"""Which sysctl keys exist: glob expansion, unknown keys and the key they were probably meant to be.

systemd-sysctl and procps expand a glob line (``net.ipv4.conf.*.rp_filter``)
over the files under /proc/sys when they run, and a key with no file there
cannot be set (systemd-sysctl warns "Couldn't write ... ignoring", procps
skips it silently; both seen with systemd 252 and procps 4.0.2 in
tests/sysctl/test_real_tools.py). ``KeyUniverse`` is tcpaudit's picture of
those files: the live tree's when one was read, else the keys of current
kernels listed here, with the interfaces that exist at boot on every host
(``all``, ``default`` and ``lo`` under conf/; ``default`` and ``lo`` under
neigh/).

Per-interface keys of an interface the tree does not have are never called
unknown: udev runs systemd-sysctl again for each interface that appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources

from .globs import component_matches
from .values import SECRET_KEYS, is_glob, is_secret_key, key_to_path

__all__ = [
    "BOOT_CONF_INTERFACES",
    "BOOT_NEIGH_INTERFACES",
    "CONF_KEYS",
    "NEIGH_DEFAULT_KEYS",
    "NEIGH_KEYS",
    "REMOVED_KEYS",
    "TOP_LEVEL_KEYS",
    "KeyUniverse",
]

_KEY_LISTS = "kernel-keys-6.18.txt"


def _key_lists() -> dict[str, frozenset[str]]:
    """The sections of kernel-keys-6.18.txt: the files of each /proc/sys tree tcpaudit knows."""
    text = resources.files(__package__).joinpath(_KEY_LISTS).read_text(encoding="utf-8")
    sections: dict[str, set[str]] = {}
    current: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif line and not line.startswith("#"):
            current.add(line)
    return {name: frozenset(names) for name, names in sections.items()}


_LISTS = _key_lists()
# net.ipv4 and net.core files of Linux 6.18 (initial network namespace), the
# kernel the test suite ran on; per-interface directories excluded.
TOP_LEVEL_KEYS: frozenset[str] = frozenset(
    f"{tree}.{name}" for tree in ("net.ipv4", "net.core") for name in _LISTS[tree]
)
# Keys older kernels had and 6.18 has not: no typo when a file for an old host names one.
REMOVED_KEYS: frozenset[str] = frozenset(
    f"net.ipv4.{name}"
    for name in (
        "tcp_tw_recycle",  # removed in 4.12
        "tcp_thin_dupack",  # 4.13
        "tcp_max_ssthresh",  # 3.13
        "tcp_frto_response",  # 3.10
        "tcp_cookie_size",  # 3.10
        "tcp_dma_copybreak",  # 4.1
        "tcp_abc",  # 3.9
        "tcp_default_win_scale",  # 2.6.x
        "ip_conntrack_max",  # moved to net.netfilter
        "tcp_mem_pressure",
        "route.flush",
    )
)
# Files of /proc/sys/net/ipv4/conf/<interface>/ and neigh/<interface>/; the
# initial namespace's neigh/default has the garbage-collector keys too.
CONF_KEYS: frozenset[str] = _LISTS["net.ipv4.conf.<interface>"]
NEIGH_KEYS: frozenset[str] = _LISTS["net.ipv4.neigh.<interface>"]
NEIGH_DEFAULT_KEYS: frozenset[str] = NEIGH_KEYS | _LISTS["net.ipv4.neigh.default"]
# What exists when the boot tool runs, before any other interface is up.
BOOT_CONF_INTERFACES = ("all", "default", "lo")
BOOT_NEIGH_INTERFACES = ("default", "lo")
# SequenceMatcher ratio above which an unknown key is called a probable typo.
_LIKELY_RATIO = 0.8

_Tree = dict[str, "_Tree | None"]


@dataclass
class KeyUniverse:
    """The keys a boot tool finds under /proc/sys, as far as tcpaudit knows them.

    Attributes:
        top_level: net.ipv4.X and net.core.X keys.
        complete: True when ``top_level`` is a live tree's listing, so a key
            outside it certainly does not exist.
        conf: interface -> names of its files under net/ipv4/conf/.
        neigh: interface -> names of its files under net/ipv4/neigh/.
    """

    top_level: frozenset[str] = TOP_LEVEL_KEYS
    complete: bool = False
    conf: dict[str, frozenset[str]] = field(default_factory=dict)
    neigh: dict[str, frozenset[str]] = field(default_factory=dict)
    _tree: _Tree | None = field(default=None, init=False, repr=False)
    _secrets: KeyUniverse | None = field(default=None, init=False, repr=False)

    @classmethod
    def at_boot(cls, extra: Iterable[str] = ()) -> KeyUniverse:
        """The keys of a current kernel with only the boot-time interfaces, plus ``extra``."""
        return cls(
            top_level=TOP_LEVEL_KEYS | frozenset(extra),
            conf=dict.fromkeys(BOOT_CONF_INTERFACES, CONF_KEYS),
            neigh={"default": NEIGH_DEFAULT_KEYS, "lo": NEIGH_KEYS},
        )

    @classmethod
    def of_keys(cls, keys: Iterable[str]) -> KeyUniverse:
        """A universe of exactly ``keys`` (dotted, top-level or per interface)."""
        top: set[str] = set()
        conf: dict[str, set[str]] = {}
        neigh: dict[str, set[str]] = {}
        for key in keys:
            parts = key.split(".")
            if len(parts) == 5 and parts[:2] == ["net", "ipv4"] and parts[2] in ("conf", "neigh"):
                interface = parts[3].replace("/", ".")  # as the directory is named
                (conf if parts[2] == "conf" else neigh).setdefault(interface, set()).add(parts[4])
            else:
                top.add(key)
        return cls(
            top_level=frozenset(top),
            complete=True,
            conf={name: frozenset(names) for name, names in conf.items()},
            neigh={name: frozenset(names) for name, names in neigh.items()},
        )

    def exists(self, key: str) -> bool | None:
        """True or False when tcpaudit knows; None when it cannot tell."""
        if not key.startswith(("net.ipv4.", "net.core.")):
            return None  # other trees are not listed here
        parts = key.split(".")
        if len(parts) == 5 and parts[:2] == ["net", "ipv4"] and parts[2] in ("conf", "neigh"):
            interfaces = self.conf if parts[2] == "conf" else self.neigh
            names = interfaces.get(parts[3].replace("/", "."))
            if names is not None:
                return parts[4] in names
            # An interface that is not there now may appear later (udev applies it then).
            known = CONF_KEYS if parts[2] == "conf" else NEIGH_DEFAULT_KEYS
            return None if parts[4] in known else False
        if key in self.top_level:
            return True
        if key.count(".") != 2:
            return None  # deeper trees (route/, ipv6) are not listed here
        if self.complete:
            return False
        return None if key in REMOVED_KEYS else False

    def likely(self, key: str) -> str | None:
        """The existing key ``key`` was most probably meant to be, if one is close."""
        import difflib  # only for a key the kernel lacks: kept out of every start

        parts = key.split(".")
        if len(parts) == 5 and parts[2] in ("conf", "neigh"):
            names = CONF_KEYS if parts[2] == "conf" else NEIGH_DEFAULT_KEYS
            found = difflib.get_close_matches(parts[4], names, n=1, cutoff=_LIKELY_RATIO)
            return ".".join([*parts[:4], found[0]]) if found else None
        parent, _, name = key.rpartition(".")
        siblings = [k.rpartition(".")[2] for k in self.top_level if k.startswith(parent + ".")]
        found = difflib.get_close_matches(name, siblings, n=1, cutoff=_LIKELY_RATIO)
        return f"{parent}.{found[0]}" if found else None

    def secrets(self) -> KeyUniverse:
        """The secret keys among these and SECRET_KEYS, for telling which globs name one."""
        if self._secrets is None:
            found = {key for key in self.top_level if is_secret_key(key)} | set(SECRET_KEYS)
            for branch, interfaces in (("conf", self.conf), ("neigh", self.neigh)):
                for interface, names in interfaces.items():
                    found.update(
                        _dotted(["net", "ipv4", branch, interface, name])
                        for name in names
                        if is_secret_key(name)
                    )
            self._secrets = KeyUniverse.of_keys(found)
        return self._secrets

    def expand(self, pattern: str, limit: int) -> list[str]:
        """The existing keys a glob names, sorted; at most ``limit`` of them.

        Matches per path component like glob(3): ``*`` never crosses a
        separator, so ``net.ipv4.*`` names net.ipv4.tcp_retries2 but not
        net.ipv4.conf.all.rp_filter.
        """
        wanted = key_to_path(pattern).split("/")
        found: list[str] = []
        if not wanted or not wanted[0]:
            return found
        for key in _walk(self._keys_tree(), wanted, []):
            found.append(key)
            if len(found) >= limit:
                break
        return sorted(found)

    def _keys_tree(self) -> _Tree:
        if self._tree is None:
            tree: _Tree = {}
            for key in self.top_level:
                node = tree
                *parents, last = key_to_path(key).split("/")
                for part in parents:
                    node = _branch(node, part)
                node.setdefault(last, None)
            ipv4 = _branch(_branch(tree, "net"), "ipv4")
            # One leaf mapping per name set, shared by every interface that has it.
            for branch, interfaces in (("conf", self.conf), ("neigh", self.neigh)):
                if interfaces:
                    shared: dict[frozenset[str], _Tree] = {}
                    ipv4[branch] = {
                        name: shared.setdefault(keys, dict.fromkeys(keys))
                        for name, keys in interfaces.items()
                    }
            self._tree = tree
        return self._tree


def _branch(node: _Tree, name: str) -> _Tree:
    child = node.get(name)
    if child is None:
        child = node[name] = {}
    return child


def _walk(node: _Tree, wanted: list[str], path: list[str]) -> Iterator[str]:
    head, rest = wanted[0], wanted[1:]
    if is_glob(head):
        names: Iterable[str] = sorted(name for name in node if component_matches(name, head))
    else:
        names = [head] if head in node else []
    for name in names:
        child = node[name]
        if rest:
            if child is not None:
                yield from _walk(child, rest, [*path, name])
        elif child is None:
            yield _dotted([*path, name])


def _dotted(parts: list[str]) -> str:
    """The dotted key of path components: a dot inside one (eth0.100) is written as a slash."""
    return ".".join(part.replace(".", "/") for part in parts)
