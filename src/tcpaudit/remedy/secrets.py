"""Files a fix must not copy: those holding a secret.

A patch carries context lines around each change and a playbook the whole
fixed file, so planning a change to a file that holds a secret would put
the secret in the output (a CI artifact, a pull request comment). Such a
file's changes are left out of the plan, with a note; the secret is named
by kind and line, never shown.

Secrets are what SECURITY.md lists: a PEM private key in any file, in a
sysctl file a line setting a secret key (tcp_fastopen_key and the like,
sysctl/values.py), directly or through a glob that names one, and in an
Apache file a ``Define`` or ``SetEnv`` giving a value to a variable named
like a secret (``Define DB_PASSWORD ...``), which audits show redacted.
"""

from __future__ import annotations

from ..apache.lexer import split_words
from ..apache.shellwords import is_secret_variable
from ..lines import physical_lines
from ..sysctl.apply import glob_matches
from ..sysctl.values import SECRET_KEYS, is_glob, is_secret_key, normalise_key

__all__ = ["secret_line"]

_PRIVATE_KEY = "PRIVATE KEY-----"


def secret_line(text: str, *, sysctl: bool) -> tuple[int, str] | None:
    """The first line of ``text`` holding a secret, and what it is; None when none does.

    Args:
        text: a file's contents.
        sysctl: the file is a sysctl file (its assignments are checked too).
    """
    for number, line in enumerate(physical_lines(text), start=1):
        if "-----BEGIN" in line and _PRIVATE_KEY in line:
            return number, "a private key"
        if sysctl and _sets_secret_key(line):
            return number, "a secret sysctl key"
        if not sysctl and _defines_secret(line):
            return number, "a secret-named variable's value"
    return None


_SETTING_DIRECTIVES = ("define", "setenv", "setenvif", "setenvifnocase", "setenvifexpr")


def _defines_secret(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped[0] == "#":
        return False
    name = stripped.split(None, 1)[0].lower()
    if name not in _SETTING_DIRECTIVES:
        return False
    words = split_words(stripped)
    # Define NAME VALUE, SetEnv NAME VALUE; SetEnvIf ATTR REGEX NAME=VALUE...
    names = [words[1]] if name in ("define", "setenv") and len(words) > 2 else []
    names += [word.partition("=")[0] for word in words[3:] if "=" in word]
    return any(is_secret_variable(variable.lstrip("!")) for variable in names)


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
