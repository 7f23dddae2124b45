"""Which persistent assignment wins: the boot tools' write order, replayed.

Both tools read the same files in the same order (persistent.py) but apply
them differently; these rules were confirmed by running systemd-sysctl 252
and procps `sysctl --system` 4.0.2 in a private network namespace
(tests/sysctl/test_real_tools.py):

- procps writes every assignment in file order, so when a later value is
  refused by the kernel, the earlier accepted one stays in force.
- systemd-sysctl first keeps only the last assignment of each key (an equal
  value keeps the earlier entry and its place), then writes those; a refused
  last value leaves the key at its boot value even when an earlier line was
  valid.
- Glob lines (``net.ipv4.tcp_keepalive_* = 4``, ``net.ipv4.conf.*.rp_filter
  = 2``) are expanded over the files that exist when the tool runs
  (keys.KeyUniverse: at least all, default and lo under conf/), at their
  place in the order; a key named on a line of its own anywhere, including a
  ``-key`` exclusion line, is skipped by every glob. Exclusions match keys
  exactly: a glob exclusion (``-net.ipv4.conf.e*.rp_filter``) excludes
  nothing in either tool.
- A key with no file under /proc/sys is not set: systemd-sysctl warns and
  goes on, procps skips it. It is left out of the result, with a note naming
  the key it was probably meant to be.
- ``- key = value`` (a blank after the dash): systemd-sysctl applies it,
  procps drops it silently (text.py).

A glob that names a secret key (``net.ipv4.tcp_fastopen_ke? = ...``) is
never applied: its value may be the secret, and every key it sets would
show it. A refused write (limits.py) becomes a note with file and line; the
key then keeps what the earlier writes left, or its kernel default.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..provenance import Note
from .devconf import MAX_COPIES, Devconf, boot_value, conf_parts
from .globs import may_use_braces
from .keys import KeyUniverse
from .limits import Checked
from .model import BootTool, SysctlSource, SysctlValue
from .text import Assignment
from .values import is_secret_key, quoted

__all__ = ["MAX_GLOB_WRITES", "Checker", "apply_assignments", "glob_matches"]

# key, value, what keys hold when it is written -> the kernel's answer.
Checker = Callable[[str, str, Mapping[str, SysctlValue]], Checked]
# Keys all glob lines together may set; `net.ipv4.conf.*.*` on a host with a
# thousand interfaces sets 35,000.
MAX_GLOB_WRITES = 100_000
# Unknown keys that get a "probably <key>" suggestion.
MAX_SUGGESTIONS = 20


def glob_matches(pattern: str, keys: Iterable[str]) -> list[str]:
    """The keys a glob pattern names, matched per path component like glob(3).

    ``*`` never crosses a separator: ``net.ipv4.*`` names net.ipv4.tcp_retries2
    but not net.ipv4.conf.all.rp_filter.
    """
    return KeyUniverse.of_keys(keys).expand(pattern, MAX_GLOB_WRITES)


# Blanks and control characters: no key under /proc/sys holds one.
_NO_FILE_NAME = re.compile(r"[\x00-\x20\x7f]")


def _systemd_entries(assignments: list[Assignment]) -> list[Assignment]:
    # systemd 252 parse_file(): an equal value keeps the existing entry; a
    # different one removes it and appends the new one at the end.
    entries: dict[str, Assignment] = {}
    for item in assignments:
        existing = entries.get(item.key)
        if existing is not None:
            if existing.value == item.value:
                continue
            del entries[item.key]
        entries[item.key] = item
    return list(entries.values())


def secret_glob(pattern: str, universe: KeyUniverse) -> bool:
    """True when a glob names a secret key of ``universe`` or of SECRET_KEYS (a
    brace, which a boot tool may expand, is taken to)."""
    return may_use_braces(pattern) or bool(universe.secrets().expand(pattern, 1))


def apply_assignments(
    assignments: list[Assignment],
    boot: BootTool,
    known_keys: KeyUniverse | frozenset[str],
    check: Checker,
    notes: list[Note],
) -> dict[str, SysctlSource]:
    """The value each key holds after the boot tool ran, with the line that set it.

    Args:
        assignments: every assignment of the applied files, in order.
        boot: whose rules apply.
        known_keys: the keys that exist, for glob expansion and unknown keys
            (a plain set is taken as complete).
        check: predicts the kernel's answer to writing a value to a key.
        notes: receives a note for every refused write, unknown key, glob
            naming a secret and line procps drops.
    """
    universe = (
        known_keys if isinstance(known_keys, KeyUniverse) else KeyUniverse.of_keys(known_keys)
    )
    ordered = _systemd_entries(assignments) if boot == "systemd" else assignments
    named = {item.key for item in ordered if not item.is_glob}
    result: dict[str, SysctlSource] = {}
    # Keys spell an interface's '.' as '/' (net.ipv4.conf.eth0/100.rp_filter).
    interfaces = tuple(
        name.replace(".", "/") for name in sorted(universe.conf) if name not in ("all", "default")
    )
    writer = _Writer(check, result, notes, Devconf(interfaces), systemd=boot == "systemd")
    budget = MAX_GLOB_WRITES
    unknown: list[int] = [0]  # unknown keys met, so only the first get a suggestion
    for item in ordered:
        if item.value is None:
            continue
        if item.blank_after_dash and boot == "procps":
            notes.append(
                Note(
                    message=f"procps drops {quoted('- ' + item.spelled)} silently: the blank "
                    "after '-' becomes part of the key, which names no file "
                    "(systemd-sysctl strips it and applies the line)",
                    file=item.file,
                    line=item.line,
                )
            )
            continue
        if boot == "procps" and item.spelled[-1:] in (".", "/"):
            notes.append(
                Note(
                    message=f"procps drops {quoted(item.spelled)} silently: a key ending in "
                    f"{quoted(item.spelled[-1])} names no file for it (systemd-sysctl drops "
                    "the separator and applies the line)",
                    file=item.file,
                    line=item.line,
                )
            )
            continue
        if item.is_glob:
            budget = _apply_glob(item, universe, named, writer, notes, budget)
        elif _exists(item, universe, notes, unknown):
            writer.write(item.key, item, item.value, glob=None)
    if writer.devconf.stopped:
        notes.append(
            Note(
                message=f"the kernel's copies of conf/default and forwarding writes to each "
                f"interface are modelled up to {MAX_COPIES} values: past them, interfaces' "
                "persistent values may differ from those shown"
            )
        )
    return result


def _exists(item: Assignment, universe: KeyUniverse, notes: list[Note], unknown: list[int]) -> bool:
    """False (with a note) for a key the kernel certainly lacks; a note when it likely does."""
    if _NO_FILE_NAME.search(item.key):
        # No /proc/sys name holds one (an interface's name may not either).
        notes.append(
            Note(
                message=f"key {quoted(item.spelled)} holds a blank or a control character: "
                "it names no file in /proc/sys, so the boot tool cannot set it",
                file=item.file,
                line=item.line,
            )
        )
        return False
    exists = universe.exists(item.key)
    if exists is not False:
        return True
    unknown[0] += 1
    # A suggestion costs a fuzzy search; notes of one kind are cut at a few dozen anyway.
    likely = universe.likely(item.key) if unknown[0] <= MAX_SUGGESTIONS else None
    meant = f"; probably {likely}" if likely else ""
    if universe.complete:
        notes.append(
            Note(
                message=f"unknown key {quoted(item.spelled)}: no such file in /proc/sys, so "
                f"the boot tool cannot set it (systemd-sysctl warns and goes on, procps skips "
                f"it){meant}",
                file=item.file,
                line=item.line,
            )
        )
        return False
    notes.append(
        Note(
            message=f"unknown key {quoted(item.spelled)}: not a key of current kernels, so "
            f"the boot tool most likely cannot set it{meant}",
            file=item.file,
            line=item.line,
        )
    )
    return True


def _apply_glob(
    item: Assignment,
    universe: KeyUniverse,
    named: set[str],
    writer: _Writer,
    notes: list[Note],
    budget: int,
) -> int:
    assert item.value is not None
    if secret_glob(item.key, universe):
        notes.append(
            Note(
                message=f"glob {quoted(item.spelled)} names a secret key (tcp_fastopen_key): "
                "its value is never kept or applied, and the keys it sets are not judged",
                file=item.file,
                line=item.line,
            )
        )
        return budget
    if budget <= 0:
        notes.append(
            Note(
                message=f"glob {quoted(item.spelled)} not expanded: globs already set "
                f"{MAX_GLOB_WRITES} keys",
                file=item.file,
                line=item.line,
            )
        )
        return budget
    matched = universe.expand(item.key, budget)
    for key in matched:
        # A glob never brings a secret key's value into the model.
        if key not in named and not is_secret_key(key):
            writer.write(key, item, item.value, glob=item.spelled)
    return budget - len(matched)


class _Holds(Mapping[str, SysctlValue]):
    """What each key holds so far in this run of the boot tool (the check
    falls back to the kernel's values before it ran)."""

    def __init__(self, result: dict[str, SysctlSource]) -> None:
        self._result = result

    def __getitem__(self, key: str) -> SysctlValue:
        return self._result[key].value

    def __iter__(self) -> Iterator[str]:
        return iter(self._result)

    def __len__(self) -> int:
        return len(self._result)


@dataclass
class _Writer:
    """Writes values as the boot tool does, with what the kernel changes besides."""

    check: Checker
    result: dict[str, SysctlSource]
    notes: list[Note]
    devconf: Devconf
    systemd: bool

    def write(self, key: str, item: Assignment, value: str, glob: str | None) -> None:
        result = self.result
        kept = result.get(key)
        conf = conf_parts(key)
        attempted = conf is None or self.devconf.attempted(
            key, value, kept.value if kept else None, self.systemd
        )
        before = kept.value if kept else (boot_value(*conf) if conf else None)
        checked = self.check(key, value, _Holds(self.result))
        if checked.value is None:
            keeps = (
                f"it keeps {_shown(kept.value)} from {kept.file}:{kept.line}"
                if kept
                else "it keeps its boot value"
            )
            self.notes.append(
                Note(
                    message=f"{key} = {quoted(value)} is refused by the kernel "
                    f"({checked.problem}); {keeps}",
                    file=item.file,
                    line=item.line,
                )
            )
        else:
            if checked.remark:
                self.notes.append(
                    Note(message=f"{key}: {checked.remark}", file=item.file, line=item.line)
                )
            result[key] = SysctlSource(
                value=checked.value, file=item.file, line=item.line, glob=glob, via=item.via
            )
        if conf is None or not attempted:
            return
        accepted = checked.value if isinstance(checked.value, int) else None
        # The line that wrote them is their source (no note: a stock sysctl.conf
        # setting conf.default.rp_filter would get one on every host).
        for other, new in self.devconf.written(key, accepted, before):
            if other != key:
                result[other] = SysctlSource(
                    value=new, file=item.file, line=item.line, glob=glob, via=item.via
                )


def _shown(value: SysctlValue) -> str:
    return quoted(value) if isinstance(value, str) else repr(value)
