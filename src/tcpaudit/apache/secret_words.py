"""Secrets written in Apache directives, found word by word and replaced as directives are built.

A configuration may hold credentials httpd needs: a password in a proxy
URL (``ProxyPass /p/ http://user:PASSWORD@backend/``), an AJP ``secret=``,
``AuthLDAPBindPassword``, ``RequestHeader set Authorization "Bearer ..."``,
``SetEnv DB_PASSWORD ...``, a ``DBDParams`` password. The loaders replace
each such value with REDACTED_VALUE when they build the directive, so no
model, note, finding, fix or facts document made from it can show it; the
number of words stays, so httpd's argument checks still apply to it.

``remedy/secrets.py`` uses ``secret_in_words`` to leave out of a fix the
files holding one (a patch's context lines and a playbook's copy would
carry it), and the Ansible module redacts the same values before the
files leave the managed host (it keeps its own copy of these rules, being
limited to the standard library).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from .credentials import (
    HEADER_CONDITIONS,
    HEADER_VALUES,
    command_hint,
    is_credential_header,
    is_credential_value,
    is_header_clause,
    names_credential,
    redact_userinfo,
    without_secret_flags,
    without_secret_parameters,
)
from .lexer import split_words
from .secret_checks import (
    COMMANDS,
    COMPARING,
    ENVIRONMENT_SETTERS,
    PIPES,
    PLAIN_ATTRIBUTE,
    PROGRAMS,
    SECRET_DIRECTIVES,
    SECRET_FROM,
    is_secret_directive,
    may_hold_secret,
)
from .shell_state import REDACTED_VALUE, is_secret_variable

__all__ = [
    "close_over",
    "redact_arguments",
    "redact_directive_line",
    "redact_text",
    "redact_userinfo",
    "references_in_secrets",
    "secret_in_words",
    "set_environment_names",
]


def redact_arguments(key: str, args: tuple[str, ...]) -> tuple[str, ...]:
    """``args`` of directive ``key`` (lower-cased) with every secret replaced by REDACTED_VALUE.

    Returns ``args`` itself when it holds none. The words are tested without
    the directive's name (ProxyPass holds "pass").
    """
    if not may_hold_secret(key, " ".join(args)):
        return args
    words, _kind = _redacted(key, args)
    return args if words is None else tuple(words)


def secret_in_words(key: str, args: Sequence[str]) -> str | None:
    """What secret the arguments of directive ``key`` hold (to name it), or None."""
    if not may_hold_secret(key, " ".join(args)):
        return None
    return _redacted(key, args)[1]


def references_in_secrets(key: str, args: Sequence[str], references: Iterable[str]) -> set[str]:
    """Which of ``references`` (``${NAME}``, a macro's ``$name``) stand, in the words
    of directive ``key``, where a secret is (a URL's password...): their
    values are secrets too, wherever they are written."""
    if not may_hold_secret(key, " ".join(args)):
        return set()
    words, _kind = _redacted(key, args)
    if words is None:
        return set()
    # ${NAME} references are found in each word (one pass: 150,000 of them
    # tried against a 1.4 MB word one by one took 46 s); others (a macro's
    # parameters) tried in turn.
    wanted = set(references)
    braced = {ref for ref in wanted if ref.startswith("${") and ref.endswith("}")}
    others = wanted - braced
    found: set[str] = set()
    for before, after in zip(args, words, strict=True):
        if before != after:
            if braced:
                kept = set(_BRACED.findall(after))
                found.update(
                    ref for ref in _BRACED.findall(before) if ref in braced and ref not in kept
                )
            found.update(ref for ref in others if ref in before and ref not in after)
    return found


_BRACED = re.compile(r"\$\{[^}]*\}")


_SETTING = re.compile(r"(?i)(?<![^\[,\s])((?:e|env)=!?|)([A-Za-z0-9_.\-]+)([=:])([^,\]\s]*)")


def set_environment_names(key: str, args: Sequence[str]) -> set[str]:
    """The environment variables directive ``key`` gives a value: SetEnv's,
    SetEnvIf's ``NAME=value``, RewriteRule's ``[E=NAME:value]``."""
    if key == "setenv":
        return {args[0]} if args else set()
    names: set[str] = set()
    for word in args[1:]:
        for flag, name, separator, _value in _SETTING.findall(word):
            if (flag and separator == ":") or (
                not flag and separator == "=" and key != "rewriterule"
            ):
                names.add(name)
    return names


def close_over(names: Iterable[str], edges: Mapping[str, Iterable[str]]) -> set[str]:
    """``names`` and every name ``edges`` leads to from one of them, however far
    (``Define A ${B}``: A -> B; ``SetEnvIf Y (.*) X=$1``: X -> Y)."""
    found = set(names)
    pending = list(found)
    while pending:
        for used in edges.get(pending.pop(), ()):
            if used not in found:
                found.add(used)
                pending.append(used)
    return found


def redact_directive_line(line: str) -> str:
    """A directive given on httpd's command line (``-C``/``-c``) with its secrets
    replaced, as the loader replaces them in files (``Define DB_PASSWORD x``)."""
    words = split_words(line)
    if not words:
        return line
    name = words[0]
    if name.startswith("<") and not name.startswith("</") and line.rstrip().endswith(">"):
        # A section opener (<If "expr">): its arguments as the section's.
        opened = redact_directive_line(line.rstrip()[1:-1])
        return "<" + opened + ">"
    arguments = tuple(words[1:])
    redacted = redact_arguments(name.lower(), arguments)
    if redacted is arguments:
        return redact_text(line)
    return redact_text(" ".join([name, *redacted]))


def redact_text(text: str) -> str:
    """``text`` (a message, a directive name) with URL passwords and secret parameters replaced."""
    if "@" not in text and "=" not in text:
        return text
    return _redact_word(text)[0]


def _redacted(key: str, args: Sequence[str]) -> tuple[list[str] | None, str | None]:
    words = list(args)
    kind: str | None = None
    first = SECRET_FROM.get(key)
    if first is None and key not in SECRET_DIRECTIVES and is_secret_directive(key):
        first = 0
    if first is not None and len(words) > first:
        words[first:] = [REDACTED_VALUE] * (len(words) - first)
        kind = f"the value of {_key_shown(key)}"
    elif key in ("define", "setenv"):
        if len(words) > 1 and is_secret_variable(words[0]):
            words[1:] = [REDACTED_VALUE] * (len(words) - 1)
            kind = "a secret-named variable's value"
        elif len(words) > 1 and any(is_credential_value(word) for word in words[1:]):
            # "Bearer ..." kept in a variable of any name (sent by %{NAME}e).
            words[1:] = [REDACTED_VALUE] * (len(words) - 1)
            kind = "a credential kept in a variable"
    elif key in ("header", "requestheader"):
        kind = _redact_header(words)
    elif key == "proxyfcgisetenvif":
        # ProxyFCGISetEnvIf condition NAME [VALUE]
        if len(words) > 2 and (is_secret_variable(words[1]) or is_credential_value(words[2])):
            words[2:] = [REDACTED_VALUE] * (len(words) - 2)
            kind = "a secret-named variable's value"
    elif key in COMPARING:
        kind = _redact_comparison(key, words)
    elif key in PROGRAMS:
        # A command line split over words (mod_md's) loses every word from the hint on.
        hinted = False
        for index, word in enumerate(words):
            if not _is_program(key, index, word):
                continue
            hinted = hinted or command_hint(word.lower())
            if hinted:
                words[index] = REDACTED_VALUE
                kind = "a secret on a program's command line"
            if key not in COMMANDS:
                hinted = False
    if key in ENVIRONMENT_SETTERS:
        # SetEnvIf ... "NAME=Bearer ...": a credential set in a variable of any name.
        for index in range(1, len(words)):
            name, equals, value = words[index].partition("=")
            if equals and value != REDACTED_VALUE and is_credential_value(value):
                words[index] = f"{name}={REDACTED_VALUE}"
                kind = kind or "a credential kept in a variable"
    for index, word in enumerate(words):
        if word is REDACTED_VALUE or ("@" not in word and "=" not in word):
            continue
        redacted, word_kind = _redact_word(word)
        if word_kind is not None:
            words[index] = redacted
            kind = kind or word_kind
    return (words if kind is not None else None), kind


def _is_program(key: str, index: int, word: str) -> bool:
    """Whether word ``index`` of directive ``key`` (one of PROGRAMS) is (part of)
    a command line."""
    if key in PIPES:
        return word.startswith("|")
    if key == "rewritemap":
        return word[:4].lower() == "prg:"
    if key == "sslpassphrasedialog":
        return word[:5].lower() == "exec:"
    if key == "extfilterdefine":
        return word[:4].lower() == "cmd="
    return index >= 1  # the words after a command's name


def _with_next(words: list[str], index: int) -> str:
    """Word ``index`` and the next, unless that one is written as a condition
    (``Header set X-Mode token early`` holds no token: "token" is the value)."""
    following = words[index + 1 : index + 2]
    if following and not is_header_clause(following[0]):
        return f"{words[index]} {following[0]}"
    return words[index]


def _redact_header(words: list[str]) -> str | None:
    """Header [condition] action name value [replacement] ...: a credential header's
    value, or any header's value sent as credentials (``Bearer ...``, ``Token ...``)."""
    start = 1 if words and words[0].lower() in HEADER_CONDITIONS else 0
    if len(words) < start + 3:
        return None
    action, name = words[start].lower(), words[start + 1]
    last = min(start + 2 + HEADER_VALUES.get(action, 1), len(words))
    values = range(start + 2, last)
    kind = None
    # A scheme and its token may be two words ("Bearer" <token>), or stand past
    # the value (an edit's replacement, a condition's place): httpd reads the
    # words there as a condition, and quotes one refusing it.
    if is_credential_header(name) or any(
        is_credential_value(words[index])
        # Joined from the last value on: an edit's pattern and replacement
        # ("Bearer" "Token") are two values, not a scheme and its token.
        or (index >= last - 1 and is_credential_value(_with_next(words, index)))
        for index in range(start + 2, len(words))
    ):
        for index in values:
            words[index] = REDACTED_VALUE
        # Words past those the action takes (an unquoted "Bearer <token>"):
        # httpd reads the next as a condition and quotes it when refusing it.
        for index in range(last, len(words)):
            if not is_header_clause(words[index]):
                words[index] = REDACTED_VALUE
        kind = "a credential header's value"
    # An expr= condition comparing a credential header with a literal (a
    # value's expr= only reads one: RequestHeader set X "expr=%{req:Cookie}").
    for index in range(last, len(words)):
        word = words[index]
        if word[:5].lower() == "expr=" and names_credential(word):
            # Kept a condition: mod_headers' checks of the line still apply.
            words[index] = word[:5] + REDACTED_VALUE
            kind = kind or "a literal compared with a credential header"
    return kind


def _redact_comparison(key: str, words: list[str]) -> str | None:
    """The literal a credential header is compared with (a shared token)."""
    kind = "a literal compared with a credential header"
    if key == "rewritecond":
        # RewriteCond TestString CondPattern [flags], or RewriteCond expr "..." [flags]
        if len(words) > 1 and (
            names_credential(words[0])
            or (words[0].lower() == "expr" and names_credential(words[1]))
        ):
            words[1] = REDACTED_VALUE
            return kind
        return None
    if key in ("setenvif", "setenvifnocase"):
        # SetEnvIf attribute regex [!]env-variable[=value] ...: an attribute
        # that is a regular expression of header names may match a credential's.
        if len(words) > 1 and (
            is_credential_header(words[0]) or PLAIN_ATTRIBUTE.fullmatch(words[0]) is None
        ):
            words[1] = REDACTED_VALUE
            return kind
        return None
    # SetEnvIfExpr expr [!]name[=value] ..., <If expr>: the expression is one word.
    if key in ("setenvifexpr", "if", "elseif"):
        if words and names_credential(words[0]):
            words[0] = REDACTED_VALUE
            return kind
        return None
    # Require expr ..., SSLRequire ..., LogMessage, FilterProvider:
    # an expression may be written over several words (Require's and
    # SSLRequire's take the rest of the line), the literal before or after
    # the header: all go, but Require's own keywords.
    if not any(names_credential(word) for word in words):
        return None
    for index, word in enumerate(words):
        if key != "require" or word.lower() not in ("expr", "not"):
            words[index] = REDACTED_VALUE
    return kind


def _redact_word(word: str) -> tuple[str, str | None]:
    kind: str | None = None
    if "@" in word and "://" in word:
        replaced = redact_userinfo(word)
        if replaced != word:
            word, kind = replaced, "a password in a URL"
    if "=" in word:
        replaced = without_secret_parameters(word)
        replaced = without_secret_flags(replaced)
        if replaced != word:
            word, kind = replaced, kind or "a secret-named parameter's value"
    return word, kind


def _key_shown(key: str) -> str:
    """The usual spelling of a secret directive's lower-cased name."""
    return _SHOWN.get(key, key)


_SHOWN = {
    "authldapbindpassword": "AuthLDAPBindPassword",
    "sessioncryptopassphrase": "SessionCryptoPassphrase",
    "sslsrpunknownuserseed": "SSLSRPUnknownUserSeed",
    "authbasicfake": "AuthBasicFake",
    "ldaptrustedglobalcert": "LDAPTrustedGlobalCert",
    "ldaptrustedclientcert": "LDAPTrustedClientCert",
    "dbdparams": "DBDParams",
    "mdexternalaccountbinding": "MDExternalAccountBinding",
}
