"""Physical lines as httpd, systemd-sysctl, procps, patch and git see them: ended by LF alone.

``str.splitlines()`` also ends a line at CR, VT, FF, the file/group/record
separators (0x1c-0x1e), NEL (0x85) and U+2028/U+2029. Inside an Apache or
sysctl file those are ordinary characters of a line (httpd's ap_cfg_getline
stops at LF only), so a file holding one would be renumbered, and a fix
aimed at line N would land on another line. Every reader and writer of
audited text splits with this function instead.
"""

from __future__ import annotations

__all__ = ["physical_lines"]


def physical_lines(text: str, *, keepends: bool = False) -> list[str]:
    """``text`` cut at each LF; a final LF ends the last line and starts no other.

    Args:
        text: the contents of a file (or a fix's lines).
        keepends: keep each line's end (LF, or CR LF), so the lines join back
            into ``text``; otherwise a CR before the LF goes with it.
    """
    parts = text.split("\n")
    last = parts.pop()
    if keepends:
        lines = [part + "\n" for part in parts]
    else:
        # A CRLF file's lines lose the CR with the LF.
        lines = [part.removesuffix("\r") for part in parts]
    if last:
        lines.append(last)
    return lines
