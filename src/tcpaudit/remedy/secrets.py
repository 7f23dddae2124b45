"""Files a fix must not copy: those holding a secret.

A patch carries context lines around each change and a playbook the whole
fixed file, so planning a change to a file that holds a secret would put
the secret in the output (a CI artifact, a pull request comment). Such a
file's changes are left out of the plan, with a note; the secret is named
by kind and line, never shown.

Secrets are what SECURITY.md lists: a private key in any file (PEM,
OpenPGP, SSH2, PuTTY: private_keys.py), in a
sysctl file a line setting a secret key (tcp_fastopen_key and the like,
sysctl/values.py), directly or through a glob that names one, and in an
Apache file every value the loaders redact (apache/secret_words.py: a
password in a URL, ``AuthLDAPBindPassword``, a credential header, a
secret-named variable or parameter), or a value the Ansible module
already redacted at the source (a patch made against it would not apply,
and a playbook would write the placeholder over the secret).
"""

from __future__ import annotations

import re

from ..apache.known_tokens import hide_known_tokens
from ..apache.lexer import split_words
from ..apache.secret_checks import may_hold_secret
from ..apache.secret_words import secret_in_words
from ..apache.shell_state import KNOWN_TOKEN, REDACTED_VALUE
from ..lines import physical_lines
from ..private_keys import KEY_BEGIN
from ..sysctl.apply import glob_matches
from ..sysctl.values import SECRET_KEYS, is_glob, is_secret_key, normalise_key

__all__ = ["control_line", "hides_token", "secret_line"]

# The placeholders of the loaders and of the Ansible module (plugins/modules/facts.py).
_REDACTED_AT_SOURCE = re.compile(
    re.escape(REDACTED_VALUE) + "|" + re.escape("<redacted by tcpaudit.audit.facts>")
)


# What a terminal acts on beyond moving the cursor: ESC and the C1
# sequence introducers (CSI, OSC, DCS...), which rewrite the screen or set
# the title; BEL, which ends an OSC; backspace, which hides what precedes
# it; the charset shifts SO and SI; and the bidirectional controls, which
# reorder what is shown. Line breaks httpd reads as characters of a line
# (VT, FF, NEL, U+2028...) are left to the patch: fixes must keep them.
_TERMINAL_CONTROL = re.compile(
    "[\x07\x08\x0e\x0f\x1b\x90\x98\x9b-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def control_line(text: str) -> int | None:
    """The first line of ``text`` holding a character a terminal acts on (ESC...), or None."""
    match = _TERMINAL_CONTROL.search(text)
    return None if match is None else text.count("\n", 0, match.start()) + 1


def hides_token(text: str) -> bool:
    """Whether ``text`` holds a token of a known kind, or anything the pass
    that hides tokens in every output would change (it also takes a token
    after an escape, ``%2Cghp_...``): a fix carrying such text would be
    written with the placeholder in it."""
    return KNOWN_TOKEN.search(text) is not None or hide_known_tokens(text, REDACTED_VALUE) != text


def secret_line(text: str, *, sysctl: bool) -> tuple[int, str] | None:
    """The first line of ``text`` holding a secret, and what it is; None when none does.

    Args:
        text: a file's contents.
        sysctl: the file is a sysctl file (its assignments are checked too).
    """
    pending: list[str] = []  # the physical lines of an Apache line continued by '\\'
    for number, line in enumerate(physical_lines(text), start=1):
        if KEY_BEGIN.search(line):
            return number, "a private key"
        if hides_token(line):
            return number, "a token of a known kind"
        if sysctl:
            if _sets_secret_key(line):
                return number, "a secret sysctl key"
            continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        logical = "".join(pending) + line if pending else line
        pending.clear()
        kind = _apache_secret(logical)
        if kind is not None:
            return number, kind
    return None


def _apache_secret(line: str) -> str | None:
    if _REDACTED_AT_SOURCE.search(line):
        return "a value redacted before it was collected"
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return None
    name = stripped.split(None, 1)[0]
    key = name.lower().removeprefix("<").removesuffix(">")
    if not may_hold_secret(key, stripped):
        return None
    words = split_words(stripped)
    return secret_in_words(key, words[1:]) if words else None


def _sets_secret_key(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped[0] in "#;":
        return False
    spelled = stripped.partition("=")[0].strip().removeprefix("-").strip()
    if not spelled:
        return False
    key = normalise_key(spelled)
    if is_secret_key(key):
        return True
    return is_glob(key) and bool(glob_matches(key, SECRET_KEYS))
