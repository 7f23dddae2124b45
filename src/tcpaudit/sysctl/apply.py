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
- Glob lines (``net.ipv4.tcp_keepalive_* = 4``) are expanded at their place
  in the order; a key named on a line of its own anywhere, including a
  ``-key`` exclusion line, is skipped by every glob. Exclusions match keys
  exactly: a glob exclusion (``-net.ipv4.conf.e*.rp_filter``) excludes
  nothing in either tool.

A refused write (limits.py) becomes a note with file and line; the key then
keeps what the earlier writes left, or its kernel default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from ..provenance import Note
from .limits import Checked
from .model import BootTool, SysctlSource
from .text import Assignment
from .values import is_secret_key, key_to_path

__all__ = ["Checker", "apply_assignments", "glob_matches"]

Checker = Callable[[str, str], Checked]


def glob_matches(pattern: str, keys: Iterable[str]) -> list[str]:
    """The keys a glob pattern names, matched per path component like glob(3).

    ``*`` never crosses a separator: ``net.ipv4.*`` names net.ipv4.tcp_retries2
    but not net.ipv4.conf.all.rp_filter.
    """
    pattern_parts = key_to_path(pattern).split("/")
    matched: list[str] = []
    for key in keys:
        parts = key_to_path(key).split("/")
        if len(parts) == len(pattern_parts) and all(
            fnmatchcase(part, wanted) for part, wanted in zip(parts, pattern_parts, strict=True)
        ):
            matched.append(key)
    return sorted(matched)


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


def apply_assignments(
    assignments: list[Assignment],
    boot: BootTool,
    known_keys: frozenset[str],
    check: Checker,
    notes: list[Note],
) -> dict[str, SysctlSource]:
    """The value each key holds after the boot tool ran, with the line that set it.

    Args:
        assignments: every assignment of the applied files, in order.
        boot: whose rules apply.
        known_keys: the keys that exist, for glob expansion.
        check: predicts the kernel's answer to writing a value to a key.
        notes: receives a note for every refused write.
    """
    ordered = _systemd_entries(assignments) if boot == "systemd" else assignments
    named = {item.key for item in ordered if not item.is_glob}
    result: dict[str, SysctlSource] = {}
    for item in ordered:
        if item.value is None:
            continue
        if item.is_glob:
            for key in glob_matches(item.key, known_keys):
                # A glob never brings a secret key's value into the model.
                if key not in named and not is_secret_key(key):
                    _write(key, item, item.value, check, result, notes, glob=item.spelled)
        else:
            _write(item.key, item, item.value, check, result, notes, glob=None)
    return result


def _write(
    key: str,
    item: Assignment,
    value: str,
    check: Checker,
    result: dict[str, SysctlSource],
    notes: list[Note],
    glob: str | None,
) -> None:
    checked = check(key, value)
    if checked.value is None:
        kept = result.get(key)
        keeps = (
            f"it keeps {kept.value!r} from {kept.file}:{kept.line}"
            if kept
            else "it keeps its boot value"
        )
        notes.append(
            Note(
                message=f"{key} = {value!r} is refused by the kernel ({checked.problem}); {keeps}",
                file=item.file,
                line=item.line,
            )
        )
        return
    if checked.remark:
        notes.append(Note(message=f"{key}: {checked.remark}", file=item.file, line=item.line))
    result[key] = SysctlSource(
        value=checked.value, file=item.file, line=item.line, glob=glob, via=item.via
    )
