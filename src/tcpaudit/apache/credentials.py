"""What secrets look like in Apache's words: credential headers and values,
the headers an expression reads, secret-named parameters, a URL's password,
a command line naming a secret.

``secret_words.py`` decides which words of which directive are tested;
these are the tests. The Ansible module keeps its own copy of them (it is
limited to the standard library).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .shell_state import REDACTED_VALUE, is_secret_variable

__all__ = [
    "HEADER_CONDITIONS",
    "HEADER_FUNCTIONS",
    "HEADER_VALUES",
    "command_hint",
    "credential_shape",
    "function_calls",
    "has_secret_name",
    "header_conditions",
    "is_credential_header",
    "is_credential_value",
    "is_header_clause",
    "names_credential",
    "redact_userinfo",
    "without_secret_flags",
    "without_secret_parameters",
]

# userinfo of a URL: scheme://user:password@, up to the last '@' before the
# path, query or fragment, as apr_uri_parse takes it (quotes, '<', '>' and,
# in a quoted word, spaces are characters of a password too). Found by
# scanning from each "://" (a pattern searching for the scheme first was
# quadratic on a long run of letters before an '@').
_SCHEME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")

_MAX_SCHEME = 32

_AUTHORITY_END = re.compile("[/?#]")
_WORD_END = re.compile(r"\s")  # where a URL in an Apache word ends (quotes are its own)

# A header named in an expression or a test string: %{HTTP:Name},
# %{HTTP_NAME}, %{req:Name}; or by a function (HEADER_FUNCTIONS).
# mod_rewrite's look-ahead (%{LA-U:HTTP:Name}) reads one too; ap_expr's
# %{resp:Name} a response header (Set-Cookie).
_BRACED_HEADER = re.compile(
    r"(?i)%\{(?:la-[uf]:)?(?:http[:_]|(?:req|req_novary|resp):\s*)([A-Za-z0-9_-]+)"
)

# ap_expr's functions reading a request header (resp: a response header).
HEADER_FUNCTIONS = frozenset({"req", "req_novary", "http", "resp"})

# A call's '(' and its argument when that is one quoted literal and nothing
# else (``req('X')``; not ``req(tolower('X'))`` or ``req('A' . 'B')``, which
# name a header only at request time); the name is found by walking back
# from the '(' over blanks (ap_expr's lexer skips any) and the name's
# characters: a pattern starting with the names tried each position and
# read 30 MB/s.
_CALL_ARGUMENT = re.compile(r"\(\s*(?:(['\"])([^'\"]*)\1\s*\))?")

_BLANKS = frozenset(" \t\r\n\f\v")

_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

# name=value: query strings, proxy worker parameters (AJP's secret=),
# DBDParams' "user=x pass=y", SetEnvIf's NAME=VALUE; a value may be quoted
# (libpq connection strings). Any character that is not a name's may come
# before a name: a regular
# expression's '(', '|' or '^' (``(^|&)token=``), a fragment's '#'; a group
# may close, or an array's index follow, between a name and its '='
# (``(token)=``, ``auth[password]=``). Each name is looked at, also inside
# another's value (``url=https://h/?token=...``).
_PARAMETER_NAME = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]+)((?:\)|\[[^\][=]*+\])*+)=")

# Inside one Apache word (a URL's query) a value runs to the next '&', ';' or
# ',' outside quotes: a blank is the value's ('x?token=a b'), and so is what
# follows a quoted run ("?token='ab'cd": all of it).
_PARAMETER_VALUE = re.compile(r"(?:[^&;,'\"]++|'[^']*+'|\"[^\"]*+\"|['\"])*+")
# A word that is a parameter (mod_proxy's "secret=a;b&c'd'"): httpd's value
# is the rest of the word, whatever it holds.
_WHOLE_VALUE = re.compile(r".*", re.S)

_INDEX = re.compile(r"\[([^\]=]*)\]")

# mod_rewrite's env flag: [E=NAME:VALUE] (also env=).
_ENV_FLAG = re.compile(r"(?i)(?<![^\[,])((?:e|env)=!?)([A-Za-z0-9_.\-]+):([^,\]]*)")

# What a line holding a secret other than a URL's password must contain,
# lower-cased: a secret-like name (of a variable, a parameter, a header) or
# a credential header's name. Tested with `in` on the lowered line: a
# case-insensitive regular expression of these took 5 us a line.
_SECRET_NAME_PARTS = (
    "pass", "secret", "token", "key", "pw", "credential", "private", "auth", "cookie",
    "session", "bearer", "basic", "digest", "negotiate", "aws4",
)  # fmt: skip

_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "www-authenticate"}
)

HEADER_CONDITIONS = frozenset({"always", "onsuccess"})

# How many values a mod_headers action takes (one for the others).
HEADER_VALUES = {"edit": 2, "edit*": 2, "unset": 0, "echo": 0}


def is_header_clause(word: str) -> bool:
    """Whether a Header line's word past its values is written as a condition
    (``early``, ``env=...``, ``expr=...``), not as more of a value."""
    lowered = word[:5].lower()
    return (lowered == "early" and len(word) == 5) or lowered[:4] == "env=" or lowered == "expr="


# A header value sent as credentials whatever the header is named
# (X-Upstream: "Bearer ..."): the HTTP authentication schemes in use
# (IANA's registry and common vendors' own).
_CREDENTIAL_SCHEME = re.compile(
    r"(?i)[\"']?\s*(?:basic|bearer|digest|negotiate|ntlm|kerberos|gssapi|token|apikey"
    r"|api-key|key|aws|aws4-hmac-sha256|ssws|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
    r"|splunk|signature|dpop|oauth|mac|hawk|sharedkey|sharedkeylite|sharedaccesssignature"
    r"|privatetoken|concealed|otp|jwt|sso-key|client-id|googlelogin|gsessionid)\s"
)

# Credential schemes has_secret_name does not find (a program's command
# line is tested for these alone: its paths hold digits).
_SCHEME_WORD = re.compile(
    r"\b(?:ntlm|kerberos|gssapi|aws|ssws|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
    r"|splunk|signature|dpop|oauth|mac|hawk|sharedkey|sharedaccesssignature|concealed|otp"
    r"|jwt|sso-key|client-id|googlelogin|gsessionid)[\s\\]"
)

# A blank and 16 token characters, a digit among them: where an opaque
# credential (_OPAQUE_CREDENTIAL) may start (a first test).
_OPAQUE_SHAPE = re.compile(r"[ \t](?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16}")


def credential_shape(text: str, lowered: str) -> bool:
    """Whether ``text`` (``lowered``, lower-cased) may hold a credential's shape: a
    scheme word (on the lowered text: a case-insensitive alternation tried at
    every position cost 15 us a line) or a blank and an opaque token."""
    return _SCHEME_WORD.search(lowered) is not None or _OPAQUE_SHAPE.search(text) is not None


# Or of a scheme not listed: one word, then an opaque token of 16 characters
# or more holding a digit (RFC 9110's token68), and nothing else.
_OPAQUE_CREDENTIAL = re.compile(
    r"[\"']?\s*[A-Za-z][A-Za-z0-9!#$%&*+.^_`|~-]*[ \t]+"
    r"(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{16,}=*\s*[\"']?"
)

# A command line's words and options: a path's parts ("httpd-ssl-pass-dialog")
# name no secret.
_COMMAND_TOKEN = re.compile(r"[^\s=:'\"]+")


def command_hint(lowered: str) -> bool:
    """Whether a lowered command line names a secret (--password, a token's
    option, a credential header) or a credential scheme, outside its paths."""
    return _SCHEME_WORD.search(lowered) is not None or any(
        "/" not in token and has_secret_name(token) for token in _COMMAND_TOKEN.findall(lowered)
    )


def has_secret_name(lowered: str) -> bool:
    # _SECRET_NAME_PARTS written out: a generator over them costs twice as much.
    return (
        "pass" in lowered
        or "secret" in lowered
        or "token" in lowered
        or "key" in lowered
        or "pw" in lowered  # LDAP_BIND_PW, DB_PW, ?db_pw= (and pwd)
        or "credential" in lowered
        or "private" in lowered
        or "auth" in lowered
        or "cookie" in lowered
        or "session" in lowered
        or "bearer" in lowered
        or "basic" in lowered
        or "digest" in lowered
        or "negotiate" in lowered
        or "aws4" in lowered
    )


def is_credential_value(word: str) -> bool:
    """A header value sent as credentials: "Bearer ...", "NTLM ...", "Scheme <token>"."""
    return (
        _CREDENTIAL_SCHEME.match(word) is not None or _OPAQUE_CREDENTIAL.fullmatch(word) is not None
    )


def is_credential_header(name: str) -> bool:
    """Whether a header named ``name`` carries credentials (Authorization,
    Cookie, X-Api-Key...): its value, and what it is compared with, are secrets."""
    # mod_headers drops one trailing ':' (Debian's security.conf writes
    # "X-Content-Type-Options:"), so "Authorization:" is that header.
    lowered = name.lower().replace("_", "-")
    if lowered.endswith(":"):
        lowered = lowered[:-1]
    return (
        lowered in _CREDENTIAL_HEADERS
        or "auth" in lowered
        or "session" in lowered
        or "cookie" in lowered
        or is_secret_variable(lowered.replace("-", "_"))
    )


def header_conditions(words: Sequence[str]) -> list[str]:
    """The expr= conditions of a Header/RequestHeader line's words (after its values)."""
    start = 1 if words and words[0].lower() in HEADER_CONDITIONS else 0
    if len(words) <= start:
        return []
    first = start + 2 + HEADER_VALUES.get(words[start].lower(), 1)
    return [word for word in words[first:] if word[:5].lower() == "expr="]


def function_calls(text: str) -> list[tuple[str, str | None]]:
    """``(name, argument)`` of each call ``name('argument')`` in ``text``, the name
    lower-cased (``req ( 'X' )`` too); the argument is None when it is not one
    quoted literal. Linear: each character is walked back over by one call
    at most."""
    calls: list[tuple[str, str | None]] = []
    if "(" not in text:
        return calls
    for match in _CALL_ARGUMENT.finditer(text):
        end = match.start()
        while end > 0 and text[end - 1] in _BLANKS:
            end -= 1
        start = end
        while start > 0 and text[start - 1] in _NAME_CHARACTERS:
            start -= 1
        if start < end:
            calls.append((text[start:end].lower(), match.group(2)))
    return calls


def names_credential(text: str) -> bool:
    if "%{" in text and any(is_credential_header(name) for name in _BRACED_HEADER.findall(text)):
        return True
    # A header named only at request time may be a credential's.
    return any(
        name in HEADER_FUNCTIONS and (argument is None or is_credential_header(argument))
        for name, argument in function_calls(text)
    )


def _password_past_authority(text: str, authority: int, end: int) -> int:
    """The '@' ending a ``user:password`` whose password holds '/', '?' or
    '#' (httpd reads no URL then, but the password is there), or -1: what
    the authority before ``end`` holds after its last '@' (a user may hold
    one) is ``name:`` and something that is no port (nor an IPv6 address)."""
    host = text[authority:end].rpartition("@")[2]
    name, colon, rest = host.partition(":")
    if not colon or not name or not rest or rest.isdigit() or host.startswith("["):
        return -1
    stop = _WORD_END.search(text, end)
    return text.rfind("@", end, stop.start() if stop is not None else len(text))


def redact_userinfo(text: str) -> str:
    """``text`` with the password of each URL's userinfo (or a lone user: a token) replaced."""
    pieces: list[str] = []
    position = 0
    start = text.find("://")
    while start >= 0:
        scheme = start
        while (
            scheme > 0 and start - scheme < _MAX_SCHEME and text[scheme - 1] in _SCHEME_CHARACTERS
        ):
            scheme -= 1
        while scheme < start and not text[scheme].isalpha():
            scheme += 1  # a scheme starts with a letter
        authority = start + 3
        found = _AUTHORITY_END.search(text, authority)
        end = found.start() if found is not None else len(text)
        at = text.rfind("@", authority, end)
        beyond = _password_past_authority(text, authority, end) if found is not None else -1
        past = beyond >= 0
        if past:
            at = beyond
        if scheme < start and at >= 0 and authority > position:
            user, colon, _password = text[authority:at].partition(":")
            # A URL with a user and no password may carry a token as the user.
            shown = f"{user}:{REDACTED_VALUE}" if colon else REDACTED_VALUE
            if past:
                # Its first '/', '?' or '#' kept: the URL stays one httpd cannot parse.
                user = text[authority:end].partition(":")[0]
                shown = f"{user}:{REDACTED_VALUE}{text[end]}{REDACTED_VALUE}"
            pieces += (text[position:authority], shown)
            position = at
        start = text.find("://", start + 3)
    return "".join(pieces) + text[position:] if pieces else text


def without_secret_parameters(word: str) -> str:
    """``word`` (one Apache word) with the value of each secret-named parameter
    replaced: up to the next '&', ';' or ',' inside a word (a URL's query),
    the rest of the word for a word that is a parameter (``secret=a;b``)."""
    pieces: list[str] = []
    position = 0
    for match in _PARAMETER_NAME.finditer(word):
        if match.start() < position:
            continue  # within a value already replaced
        name, closers = match.groups()
        if not (
            is_secret_variable(name)
            or any(is_secret_variable(index) for index in _INDEX.findall(closers))
        ):
            continue
        pattern = _WHOLE_VALUE if match.start() == 0 else _PARAMETER_VALUE
        value = pattern.match(word, match.end())
        if value is None or not value.group() or value.group() == REDACTED_VALUE:
            continue
        pieces += (word[position : match.end()], REDACTED_VALUE)
        position = value.end()
    return "".join(pieces) + word[position:] if pieces else word


def _without_secret_flag(match: re.Match[str]) -> str:
    # [E=NAME:Bearer\ token]: mod_rewrite's flags escape their blanks.
    value = match.group(3)
    if not value or not (
        is_secret_variable(match.group(2)) or is_credential_value(value.replace("\\", ""))
    ):
        return match.group()
    return f"{match.group(1)}{match.group(2)}:{REDACTED_VALUE}"


def without_secret_flags(word: str) -> str:
    """``word`` with the value of each secret-named (or credential-shaped)
    ``[E=NAME:value]`` flag replaced."""
    return _ENV_FLAG.sub(_without_secret_flag, word)
