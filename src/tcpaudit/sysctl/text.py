"""``key = value`` text: `sysctl -a` output and sysctl.conf / sysctl.d syntax.

Both share one grammar: blank lines and lines starting with ``#`` or ``;``
are ignored, the key may be dotted or slashed, a leading ``-`` means "ignore
if it fails", and the last setting of a key wins. Glob keys (``net.ipv4.conf.*.rp_filter``)
are kept as written; they never name the keys tcpaudit audits.
"""

from __future__ import annotations

from ..provenance import Note
from .model import SysctlSource
from .values import SECRET_KEYS, normalise_key, parse_value

__all__ = ["parse_sysctl_text"]


def parse_sysctl_text(text: str, shown: str, notes: list[Note]) -> dict[str, SysctlSource]:
    """Return the last value of every key in ``text``; ``shown`` names the file in provenance."""
    values: dict[str, SysctlSource] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            notes.append(
                Note(message=f"ignored line without '=': {line[:60]!r}", file=shown, line=number)
            )
            continue
        key = normalise_key(key.strip().removeprefix("-"))
        if not key or key in SECRET_KEYS:
            continue
        values[key] = SysctlSource(value=parse_value(value.strip()), file=shown, line=number)
    return values
