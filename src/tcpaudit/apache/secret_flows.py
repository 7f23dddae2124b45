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
setting those names, followed however far, are ``value_lines``. So are the
lines comparing a literal with a name whose value is copied from a
credential header (``SetEnvIf Authorization (.*) HC=$1`` then ``RewriteCond
%{ENV:HC} =token``, or a RewriteCond's ``%1``).

Names are lower-cased: the request's environment and headers are apr tables,
whose keys match whatever their case (``SetEnv xv`` is read as ``%{XV}e``).
Headers are kept as ``header:NAME`` beside the environment's names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .credentials import (
    HEADER_FUNCTIONS,
    function_calls,
    header_conditions,
    is_credential_header,
)
from .secret_checks import CONDITION_BACKREFERENCE, ENVIRONMENT_SETTERS
from .secret_words import close_over, set_environment_names

__all__ = ["FLOW_DIRECTIVES", "SecretFlows", "names_read"]

# What a value reads: %{NAME}e (mod_headers), %{ENV:NAME}, %{reqenv:NAME},
# %{osenv:NAME}, reqenv('NAME'), env('NAME') (ap_expr), and ${NAME} left
# unexpanded (mod_proxy's interpolate fills it from the environment). A name
# holds no '{', '%' or '$': a scan from each '%{' then ends at the next one
# (with [^}]+, a line of 40,000 '%{' took 33 s).
_ENVIRONMENT_REFERENCE = re.compile(
    r"(?i)%\{([^}:{%$]+)\}e|%\{(?:la-[uf]:)?(?:reqenv|env|osenv):([^}{%$]+)\}"
    r"|\$\{([^}:{%$]+)\}"
)
_ENVIRONMENT_FUNCTIONS = frozenset({"reqenv", "env", "osenv"})
# A header read: %{HTTP:Name}, %{HTTP_NAME}, %{req:Name}, %{req_novary:Name},
# %{resp:Name} (a response header), mod_rewrite's look-ahead %{LA-U:HTTP:Name},
# mod_headers' %{Name}i; the functions (req('Name')...) are function_calls'.
_HEADER_REFERENCE = re.compile(
    r"(?i)%\{(?:la-[uf]:)?(?:http:|http_|req:|req_novary:|resp:)([^}{%$]+)\}"
    r"|%\{([^}:{%$]+)\}i"
)
# What a function reads when its argument is not a literal: any variable, any header.
UNKNOWN_VARIABLE, UNKNOWN_HEADER = "*", "header:*"
# RequestHeader actions that give a request header a value.
_HEADER_SETTING = frozenset({"set", "add", "append", "merge", "setifempty"})
# Directives comparing what they read with a literal (expressions, conditions).
_CONDITIONS = frozenset(
    {"if", "elseif", "require", "sslrequire", "filterprovider", "logmessage", "header"}
)
# The directives whose lines SecretFlows reads (secret_words.secret_check lets
# each through to the loaders' _redact: CHECK_ALWAYS, or their own tests).
FLOW_DIRECTIVES = frozenset(
    {*ENVIRONMENT_SETTERS, *_CONDITIONS, "rewriterule", "rewritecond", "requestheader"}
)


def names_read(text: str) -> set[str]:
    """The environment variables and (as ``header:name``) request headers ``text`` reads."""
    names: set[str] = set()
    if "{" in text:
        names.update(
            name.lower() for match in _ENVIRONMENT_REFERENCE.findall(text) for name in match if name
        )
        names.update(
            "header:" + name.lower().replace("_", "-")
            for match in _HEADER_REFERENCE.findall(text)
            for name in match
            if name
        )
    for function, argument in function_calls(text):
        if function in _ENVIRONMENT_FUNCTIONS:
            names.add(UNKNOWN_VARIABLE if argument is None else argument.lower())
        elif function in HEADER_FUNCTIONS:
            names.add(
                UNKNOWN_HEADER
                if argument is None
                else "header:" + argument.lower().replace("_", "-")
            )
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
        # Lines comparing what they read with a literal: (names read, place).
        self._comparisons: list[tuple[set[str], tuple[str, int]]] = []

    def note_line(self, key: str, args: Sequence[str], file: str, number: int) -> None:
        """Record what directive ``key``'s line sets and what it reads."""
        if key == "rewritecond":
            self._note_condition(args, file, number)
            return
        if key in _CONDITIONS or key == "requestheader":
            # An expression, or a header's expr= condition.
            words = args if key not in ("header", "requestheader") else header_conditions(args)
            read = names_read(" ".join(words))
            if read:
                self._comparisons.append((read, (file, number)))
            if key in ("header", "requestheader"):
                # A request or response header given a value (resp('X') reads the latter).
                self._note_header(args, file, number)
            return
        if key not in ENVIRONMENT_SETTERS and key != "rewriterule":
            return
        read = names_read(" ".join(args))
        if key in ("setenvif", "setenvifnocase") and args:
            # The attribute is a request header, or an earlier variable.
            attribute = args[0].lower()
            read |= {attribute, "header:" + attribute}
        if key != "rewriterule" and read:
            self._comparisons.append((read, (file, number)))
        if key == "rewriterule":
            self._rule_conditions, self._condition_reads = self._condition_reads, set()
            if any(CONDITION_BACKREFERENCE.search(word) for word in args[1:]):
                read |= self._rule_conditions
        for name in set_environment_names(key, args):
            self._sets(name.lower(), read, file, number)

    def _note_condition(self, args: Sequence[str], file: str, number: int) -> None:
        # RewriteCond TestString CondPattern, or RewriteCond expr "...": a %N in
        # the test string is what the RewriteConds before it captured.
        if not args:
            return
        read = names_read(args[1] if args[0].lower() == "expr" and len(args) > 1 else args[0])
        if CONDITION_BACKREFERENCE.search(args[0]):
            read |= self._condition_reads
        if read:
            self._comparisons.append((read, (file, number)))
            self._condition_reads |= read

    def _note_header(self, args: Sequence[str], file: str, number: int) -> None:
        # [RequestHeader|Header] [always|onsuccess] action name value ...
        start = 1 if args and args[0].lower() in ("always", "onsuccess") else 0
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
        if CONDITION_BACKREFERENCE.search(word):
            self.secret_names |= self._rule_conditions

    def value_lines(self) -> set[tuple[str, int]]:
        """The lines giving a value to a name secrets were read from, however far,
        and those comparing a literal with a name a credential header's value
        reaches."""
        names = close_over(self.secret_names, self._uses)
        lines = {place for name in names for place in self._setting_lines.get(name, ())}
        credentials = self._credential_names()
        for read, place in self._comparisons:
            # A name read only at request time may be a credential or a copy of one.
            if (
                not read.isdisjoint(credentials)
                or UNKNOWN_HEADER in read
                or (UNKNOWN_VARIABLE in read and credentials)
            ):
                lines.add(place)
        return lines

    def _credential_names(self) -> set[str]:
        """The credential headers read, and every name whose value is made of one."""
        read = {name for names in self._uses.values() for name in names}
        for names, _place in self._comparisons:
            read |= names
        found = {
            name
            for name in read
            if name == UNKNOWN_HEADER
            or (name.startswith("header:") and is_credential_header(name[len("header:") :]))
        }
        if not found:
            return found
        used_by: dict[str, set[str]] = {}
        for name, uses in self._uses.items():
            for used in uses:
                used_by.setdefault(used, set()).add(name)
        return close_over(found, used_by)
