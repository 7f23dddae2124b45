"""Where a secret's value travels at request time, so that ``fix`` leaves it alone.

A credential header or a proxied URL may read its secret from somewhere else
than its own line: an environment variable (``"Basic %{CREDS}e"``,
``http://u:%{ENV:PW}@host/``, ``${PW}`` under ``ProxyPass ... interpolate``),
or another request header (``"expr=%{req:X-Token}"``). Those are given values
by other lines (``SetEnv``, ``SetEnvIf``, ``RewriteRule [E=...]``,
``RequestHeader set``), which may themselves copy another variable or header
(``SetEnvIf SRC (.*) X=$1``, ``RewriteCond %{ENV:SRC} (.+)`` feeding
``[E=X:%1]``). ``SecretFlows`` records, line by line, which name each line
sets and what it reads, and which names a secret was read from; the lines
setting those names, followed however far, are ``value_lines``.

Names are lower-cased: the request's environment and headers are apr tables,
whose keys match whatever their case (``SetEnv xv`` is read as ``%{XV}e``).
Headers are kept as ``header:NAME`` beside the environment's names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .secret_words import ENVIRONMENT_SETTERS, close_over, set_environment_names

__all__ = ["FLOW_DIRECTIVES", "SecretFlows", "names_read"]

# What a value reads: %{NAME}e (mod_headers), %{ENV:NAME}, %{reqenv:NAME},
# %{osenv:NAME}, reqenv('NAME'), env('NAME') (ap_expr), and ${NAME} left
# unexpanded (mod_proxy's interpolate fills it from the environment). A name
# holds no '{', '%' or '$': a scan from each '%{' then ends at the next one
# (with [^}]+, a line of 40,000 '%{' took 33 s).
_ENVIRONMENT_REFERENCE = re.compile(
    r"(?i)%\{([^}:{%$]+)\}e|%\{(?:reqenv|env|osenv):([^}{%$]+)\}"
    r"|\b(?:reqenv|env|osenv)\(\s*['\"]([^'\"]+)['\"]|\$\{([^}:{%$]+)\}"
)
# A request header read: %{HTTP:Name}, %{HTTP_NAME}, %{req:Name},
# %{req_novary:Name}, req('Name'), http('Name'), req_novary('Name').
_HEADER_REFERENCE = re.compile(
    r"(?i)%\{(?:http:|http_|req:|req_novary:)([^}{%$]+)\}"
    r"|\b(?:req|req_novary|http)\(\s*['\"]([^'\"]+)['\"]"
)
# RequestHeader actions that give a request header a value.
_HEADER_SETTING = frozenset({"set", "add", "append", "merge", "setifempty"})
# The directives whose lines SecretFlows reads (secret_words.secret_check lets
# each through to the loaders' _redact: CHECK_ALWAYS, or their own tests).
FLOW_DIRECTIVES = frozenset({*ENVIRONMENT_SETTERS, "rewriterule", "rewritecond", "requestheader"})
# A RewriteRule value using a RewriteCond's backreference: %1 ... %9.
_CONDITION_BACKREFERENCE = re.compile(r"%[0-9]")


def names_read(text: str) -> set[str]:
    """The environment variables and (as ``header:name``) request headers ``text`` reads."""
    names = {
        name.lower() for match in _ENVIRONMENT_REFERENCE.findall(text) for name in match if name
    }
    for match in _HEADER_REFERENCE.findall(text):
        for name in match:
            if name:
                names.add("header:" + name.lower().replace("_", "-"))
    return names


class SecretFlows:
    """The names each line sets and reads, and the names secrets were read from."""

    def __init__(self) -> None:
        self.secret_names: set[str] = set()
        self._setting_lines: dict[str, list[tuple[str, int]]] = {}
        self._uses: dict[str, set[str]] = {}  # X -> the names X's value is made of
        # What the RewriteConds since the last RewriteRule read (their %N), and
        # what those of the RewriteRule read last read.
        self._condition_reads: set[str] = set()
        self._rule_conditions: set[str] = set()

    def note_line(self, key: str, args: Sequence[str], file: str, number: int) -> None:
        """Record what directive ``key``'s line sets and what it reads."""
        if key == "rewritecond":
            if args:
                self._condition_reads |= names_read(args[0])
            return
        if key == "requestheader":
            self._note_request_header(args, file, number)
            return
        if key not in ENVIRONMENT_SETTERS and key != "rewriterule":
            return
        read = names_read(" ".join(args))
        if key in ("setenvif", "setenvifnocase") and args:
            # The attribute is a request header, or an earlier variable.
            attribute = args[0].lower()
            read |= {attribute, "header:" + attribute}
        if key == "rewriterule":
            self._rule_conditions, self._condition_reads = self._condition_reads, set()
            if any(_CONDITION_BACKREFERENCE.search(word) for word in args[1:]):
                read |= self._rule_conditions
        for name in set_environment_names(key, args):
            self._sets(name.lower(), read, file, number)

    def _note_request_header(self, args: Sequence[str], file: str, number: int) -> None:
        # RequestHeader [early] action name value ...
        start = 1 if args and args[0].lower() == "early" else 0
        if len(args) < start + 3 or args[start].lower() not in _HEADER_SETTING:
            return
        name = args[start + 1].lower()
        if name.endswith(":"):
            name = name[:-1]
        self._sets("header:" + name, names_read(" ".join(args[start + 2 :])), file, number)

    def _sets(self, name: str, read: set[str], file: str, number: int) -> None:
        self._setting_lines.setdefault(name, []).append((file, number))
        self._uses.setdefault(name, set()).update(read)

    def note_secret(self, word: str) -> None:
        """A secret was found in ``word`` (before redaction): what it reads is secret."""
        self.secret_names |= names_read(word)
        # RewriteRule ^ http://u:%1@backend/ [P]: the password is a condition's capture.
        if _CONDITION_BACKREFERENCE.search(word):
            self.secret_names |= self._rule_conditions

    def value_lines(self) -> set[tuple[str, int]]:
        """The lines giving a value to a name secrets were read from, however far."""
        names = close_over(self.secret_names, self._uses)
        return {place for name in names for place in self._setting_lines.get(name, ())}
