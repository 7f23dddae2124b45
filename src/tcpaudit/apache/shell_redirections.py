"""Whether a command's redirections open, as dash opens them before the command runs.

A redirection that cannot be opened (``>/missing/dir/x``, ``</missing``,
``>/etc``, ``>x`` on an existing file under ``set -C``, ``>&2`` after
``2>&-``) fails the command: it is not run, its
status is 2, and before a special builtin (``export``, ``.``, ``:``) dash
stops. The audited root stands for the host; the service's working directory
is ``/``, so a relative path is read from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .credentials import credential_shape, has_secret_name, is_credential_header
from .secret_words import redact_directive_line, redact_text
from .shell_lexer import Word, split_redirection
from .shell_state import KNOWN_TOKEN

__all__ = [
    "SHAPED_LIKE_SECRET",
    "Opened",
    "failed_redirection",
    "looks_secret",
    "shown_directive",
    "shown_name",
    "shown_text",
    "shown_word",
]

_EXPANSION_WORDS = re.compile(r"\$\{[^}]*\}?|\$\(.*|`.*")
SHAPED_LIKE_SECRET = "(a word shaped like a credential, not shown)"
# The Apache side's schemes (credentials._CREDENTIAL_SCHEME), then a token.
_SCHEME_AND_TOKEN = re.compile(
    r"(?i)\b(?:basic|bearer|digest|negotiate|ntlm|kerberos|gssapi|token|apikey|api-key|key|aws"
    r"|aws4-hmac-sha256|ssws|hoba|mutual|scram-sha-1|scram-sha-256|vapid|splunk|signature"
    r"|dpop|oauth|mac|hawk|sharedkey|sharedkeylite|sharedaccesssignature|privatetoken"
    r"|concealed|otp|jwt|sso-key|client-id|googlelogin|gsessionid)[ \t]+\S{4}"
)
# "Name: value": a header written with its value. Each pattern below starts
# only where its run of name characters starts, never gives back what it
# took, and only looks at the value (a name may start in it): linear on a
# word of 100 KiB of such characters (quadratic before).
_HEADER_NAMES = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]++):(?=[ \t]*\S)")
# A name holding a secret's word, with a value: "DB_PASSWORD=xxxx".
_NAME_WITH_VALUE = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]++)[:=](?=[ \t]*\S{4})")
_SECRET_WORD = re.compile(r"(?i)pass|secret|token|key|pwd|auth|credential|cookie|session|private")
# A password before an "@": within what lies between two "@" (no blank,
# no "/"), a ":" after a character other than ":" and before another.
_PLACES = re.compile(r"[\s/]+")
_PASSWORD_BEFORE_AT = re.compile(r"[^:]:.", re.S)
# Opened whatever the root holds (the service's descriptors 0-2 are open).
_ALWAYS_OPEN = frozenset(("/dev/null", "/dev/zero"))
# The service's descriptors 0-2, open unless a redirection closed them.
_STANDARD = {"/dev/stdin": "0", "/dev/stdout": "1", "/dev/stderr": "2"}
# Descriptor numbers: ASCII digits only (str.isdigit takes superscripts and
# other scripts' digits).
_ONE_DIGIT = re.compile(r"[0-9]")
_DIGITS = re.compile(r"[0-9]+")
# Kernel file systems: an audited tree does not hold the host's.
_HOST_ONLY = ("/dev/", "/proc/", "/sys/")
_SLASHES = re.compile(r"/(?:\.?/)++")
_WRITING = frozenset((">", ">>", ">|", "<>"))


def shown_text(written: str) -> str:
    """A word as written, each ``${...}`` shown without its word
    (``${DB_PASSWORD:=value}`` assigns a secret) and passwords redacted; a
    word shaped like a credential is not shown."""
    shown = redact_text(_EXPANSION_WORDS.sub("${...}", written))
    return SHAPED_LIKE_SECRET if looks_secret(shown) else shown


def shown_name(name: str) -> str:
    """A variable's name as shown: a name shaped like a token is one's value."""
    return SHAPED_LIKE_SECRET if KNOWN_TOKEN.search(name) else name


def looks_secret(text: str) -> bool:
    """Whether ``text`` may hold a credential: a scheme and a token ("Bearer
    ..."), an opaque token after a word, a secret-named name and its value
    (``DB_PASSWORD:x``), a password before an ``@``, or a token of a kind
    that says what it is (``ghp_...``, ``AKIA...``, a JWT)."""
    return (
        KNOWN_TOKEN.search(text) is not None
        or credential_shape(text, text.lower())
        or _SCHEME_AND_TOKEN.search(text) is not None
        or any(_SECRET_WORD.search(name) for name in _NAME_WITH_VALUE.findall(text))
        or _has_userinfo(text)
        or any(
            is_credential_header(name) or has_secret_name(name.lower())
            for name in _HEADER_NAMES.findall(text)
        )
    )


def _has_userinfo(text: str) -> bool:
    """``user:password@``: a name, a ":", a password and an "@", none of them
    holding a blank or a "/"."""
    if "@" not in text or ":" not in text:
        return False
    return any(
        _PASSWORD_BEFORE_AT.search(piece)
        for place in _PLACES.split(text)
        for piece in place.split("@")[:-1]
    )


def shown_word(word: Word) -> str:
    return shown_text("".join(text for _, text in word.parts))


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a command's redirections gives."""

    failure: str | None = None  # why the first that cannot be opened fails
    unknown: str | None = None  # what is not known of one
    fatal: bool = False  # a syntax error to dash ("&>x" with no number): it stops
    # A descriptor duplicated from a value not known (">&$X"): dash stops
    # when it is no number, which is not known.
    may_be_fatal: bool = False


def failed_redirection(
    operators: list[str],
    targets: list[Word],
    values: list[str | None],
    exists: Callable[[str, str], bool | None] | None,
    *,
    noclobber: bool = False,
    working_directory_known: bool = True,
    dash: bool = True,
) -> Opened:
    """Open ``targets`` (their expanded ``values``, None when not known) in
    turn, as far as the root tells, with the descriptors each leaves open or
    closed (``2>&- >&2`` fails); a relative name from ``/`` while the
    working directory is known (a ``cd`` not evaluated may have changed it)."""
    opened = {0, 1, 2}
    unknown: str | None = None
    may_be_fatal = False
    for written, target, value in zip(operators, targets, values, strict=True):
        descriptor, operator = split_redirection(written)
        number = (0 if operator[0] == "<" else 1) if descriptor is None else descriptor
        if operator in ("<<", "<<-"):
            opened.add(number)
            continue
        shown = shown_word(target)
        if not dash and number > 9:
            # bash opens any number below the service's limit on open files
            # (1,024 under systemd and RHEL 6's init), which is not known here.
            unknown = unknown or f"whether descriptor {number} can be opened is not known"
            opened.add(number)
            continue
        if value is None:
            unknown = unknown or f"whether {shown} (a value not known) can be opened is not known"
            may_be_fatal = may_be_fatal or operator in (">&", "<&")
            opened.add(number)
            continue
        if operator in (">&", "<&"):
            if value == "-":
                opened.discard(number)
                continue
            # dash takes one ASCII digit (">&01" is a bad number), bash any.
            if not (_ONE_DIGIT if dash else _DIGITS).fullmatch(value):
                return Opened(f"{shown}: a bad descriptor number", unknown, fatal=True,
                              may_be_fatal=may_be_fatal)  # fmt: skip
            if int(value) not in opened and int(value) != number:  # "<&0": no change
                if int(value) <= 2:
                    return Opened(f"descriptor {value} is closed", unknown,
                                  may_be_fatal=may_be_fatal)  # fmt: skip
                unknown = unknown or f"whether descriptor {shown} is open is not known"
            opened.add(number)
            continue
        if not working_directory_known and not value.startswith("/"):
            unknown = unknown or f"whether {shown} can be opened is not known (the working " \
                "directory is not known)"  # fmt: skip
            opened.add(number)
            continue
        if value.startswith("/dev/fd/") or value in _STANDARD:
            # The descriptor itself: open when it is, else dash cannot open it.
            descriptor_text = _STANDARD.get(value) or value[len("/dev/fd/") :]
            ascii_number = _DIGITS.fullmatch(descriptor_text) is not None
            if ascii_number and int(descriptor_text) in opened:
                opened.add(number)
                continue
            if ascii_number and int(descriptor_text) <= 2:
                return Opened(
                    f"cannot open {shown}: descriptor {descriptor_text} is closed",
                    unknown,
                    may_be_fatal=may_be_fatal,
                )
            unknown = unknown or f"whether {shown} is open is not known"
            opened.add(number)
            continue
        why = _why_not(operator, value, shown, exists, noclobber)
        if why is None:
            opened.add(number)
        elif why.startswith("whether"):
            unknown = unknown or why
            opened.add(number)
        else:
            return Opened(why, unknown, may_be_fatal=may_be_fatal)
    return Opened(None, unknown, may_be_fatal=may_be_fatal)


def _why_not(
    operator: str,
    value: str,
    shown: str,
    exists: Callable[[str, str], bool | None] | None,
    noclobber: bool,
) -> str | None:
    """Why a file redirection cannot be opened ("whether..." when not known), or None."""
    if not value:
        return f"cannot open {shown}: an empty name"
    # From / (the service's working directory); "//" and "/./" are "/" to the
    # kernel ("/x/../" is not: /x must exist).
    path = _SLASHES.sub("/", value if value.startswith("/") else "/" + value)
    if path in _ALWAYS_OPEN:
        return None
    if path.startswith(_HOST_ONLY) or path in _STANDARD:
        return f"whether {shown} can be opened on the host is not known"
    if exists is None:
        return f"whether {shown} can be opened is not known"
    found = exists("-e", path)
    if operator not in _WRITING:
        if found is None:
            return f"whether {shown} can be opened is not known"
        return None if found else f"cannot open {shown}: no such file"
    if exists("-d", path):
        return f"cannot create {shown}: a directory"
    if found:
        if noclobber and operator == ">" and exists("-f", path):
            return f"cannot create {shown}: the file exists (set -C)"
        return None
    if found is None:
        return f"whether {shown} can be created is not known"
    if path.endswith("/"):
        return f"cannot create {shown}: a directory"
    if noclobber and operator == ">" and exists("-L", path):
        return f"cannot create {shown}: a link exists there (set -C)"
    creatable = exists("creatable", path)
    if creatable is None:
        return f"whether {shown} can be created is not known"
    return None if creatable else f"cannot create {shown}: its directory is missing"


def shown_directive(line: str) -> str:
    """A directive or word of httpd's command line (``-C``/``-c``, ``-D``) as
    outputs show it: its secrets redacted as in files, and each word shaped
    like a credential (a token of a known kind under any name) not shown."""
    redacted = redact_directive_line(line)
    words = redacted.split()
    if not any(map(looks_secret, words)):
        return redacted
    return " ".join(SHAPED_LIKE_SECRET if looks_secret(word) else word for word in words)
