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
from functools import lru_cache

from .credentials import (
    HEADER_CONDITIONS,
    HEADER_VALUES,
    command_hint,
    credential_shape,
    has_secret_name,
    is_credential_header,
    is_credential_value,
    names_credential,
    redact_userinfo,
    without_secret_flags,
    without_secret_parameters,
)
from .lexer import split_words
from .shell_state import REDACTED_VALUE, is_secret_variable

__all__ = [
    "CHECK_ALWAYS",
    "CHECK_EXPRESSION",
    "CHECK_HEADER",
    "CHECK_NAMED",
    "CHECK_NEVER",
    "CHECK_PARAMETERS",
    "CHECK_PROGRAM",
    "CHECK_REWRITE",
    "CONDITION_BACKREFERENCE",
    "ENVIRONMENT_SETTERS",
    "SECRET_DIRECTIVES",
    "close_over",
    "is_secret_directive",
    "may_hold_secret",
    "redact_arguments",
    "redact_directive_line",
    "redact_text",
    "redact_userinfo",
    "references_in_secrets",
    "secret_check",
    "secret_in_words",
    "set_environment_names",
    "worth_checking",
]

# Directives some of whose words are secrets whatever they look like, with
# the index of the first such word (all words from there on).
_SECRET_FROM = {
    "authldapbindpassword": 0,  # the password, or exec: and a program
    "sessioncryptopassphrase": 0,
    "sslsrpunknownuserseed": 0,
    "authbasicfake": 1,  # username [password]
    "ldaptrustedglobalcert": 2,  # type path [password]
    "ldaptrustedclientcert": 2,
    "dbdparams": 0,  # a connection string: "host=db user=u password = x"
    "mdexternalaccountbinding": 0,  # an ACME account's key id and HMAC key
}
# Other directives whose name says they hold a secret (a third-party
# module's OIDCClientSecret, AuthMySQLPassword...): every word goes.
_SECRET_NAME_IN_DIRECTIVE = re.compile(
    "password|passwd|passphrase|secret|token|credential|apikey|api_key|hmac"
)
# Names that say "token" or "pass..." of what is no secret: ServerTokens,
# SSLPassPhraseDialog (builtin, or a program), the name of a form's field.
_NOT_SECRET_DIRECTIVES = frozenset(
    {"servertokens", "sslpassphrasedialog", "authformpassword", "sessioncryptopassphrasefile"}
)
# Directives naming a variable or a header whose value may be a secret.
_NAMING = frozenset({"define", "setenv", "header", "requestheader", "proxyfcgisetenvif"})
# Directives whose words compare a request header with a literal: the
# literal is a secret when the header is a credential (a shared token).
# Expressions (ap_expr's, SSLRequire's) may compare one in any of these.
_EXPRESSIONS = frozenset(
    {
        "rewritecond", "if", "elseif", "setenvifexpr", "require", "sslrequire",
        "filterprovider", "logmessage",
    }
)  # fmt: skip
_COMPARING = frozenset({"setenvif", "setenvifnocase", *_EXPRESSIONS})
# Directives and sections whose words may carry name=value parameters (a
# proxy worker's, DBDParams', an environment variable's) or a query string.
_PARAMETERS = frozenset(
    {
        "proxypass", "proxypassmatch", "proxypassreverse", "balancermember", "proxyset",
        "proxyremote", "proxyremotematch", "proxyhctemplate", "proxy", "proxymatch",
        "location", "locationmatch", "rewriterule", "redirect", "redirectmatch",
        "redirectpermanent", "redirecttemp", "errordocument", "setenvif", "action",
        "alias", "aliasmatch", "scriptalias", "scriptaliasmatch",
        "setenvifnocase", "setenvifexpr", "browsermatch", "browsermatchnocase",
    }
)  # fmt: skip
# Directives whose words may be a program's command line (a piped log, a
# RewriteMap program, mod_md's commands, a pass-phrase program): a secret
# given to it (--password=..., a token) takes the whole word.
_PIPES = frozenset({"customlog", "transferlog", "errorlog", "globallog", "forensiclog"})
# mod_md's commands and mod_authnz_external's: every word after the first.
_COMMANDS = frozenset(
    {
        "mdchallengedns01", "mdmessagecmd", "mdnotifycmd", "defineexternalauth",
        "defineexternalgroup", "addexternalauth", "addexternalgroup",
    }
)  # fmt: skip
_PROGRAMS = frozenset({*_PIPES, *_COMMANDS, "rewritemap", "sslpassphrasedialog", "extfilterdefine"})
# A line may hold a secret when its directive is one of these or it holds a
# URL with a user ('@' and '://'): the loaders test that inline, for every line.
SECRET_DIRECTIVES = frozenset((*_SECRET_FROM, *_NAMING, *_PARAMETERS, *_COMPARING, *_PROGRAMS))

# SetEnvIf's attribute is a regular expression of header names unless it is
# made of these characters only (mod_setenvif's is_header_regex).
_PLAIN_ATTRIBUTE = re.compile(r"[-A-Za-z0-9_]*")
# RewriteCond's %1..%9: what the RewriteConds before it captured.
CONDITION_BACKREFERENCE = re.compile(r"%[0-9]")
# How the loaders test a line of a directive before calling redact_arguments
# (``secret_check``, kept per name; ``worth_checking``): never (unless the
# line holds '@'), always, when the lowered line holds a secret-like name,
# when it also holds '=', or when it names a request header ('%{http', '(').
CHECK_NEVER, CHECK_ALWAYS, CHECK_NAMED, CHECK_PARAMETERS, CHECK_EXPRESSION = 0, 1, 2, 3, 4
CHECK_REWRITE = 5  # CHECK_PARAMETERS, or an environment flag ([E=NAME:value])
CHECK_HEADER = 6  # CHECK_NAMED, an expr= condition, or a credential's shape
CHECK_PROGRAM = 7  # a program's command line ("|...", prg:, exec:, cmd=) with a secret's hint
# Directives that give an environment variable a value (the loaders note
# which, for the credential headers that read one as %{NAME}e).
ENVIRONMENT_SETTERS = frozenset(
    {"setenv", "setenvif", "setenvifnocase", "setenvifexpr", "browsermatch", "browsermatchnocase"}
)


@lru_cache(maxsize=4096)
def is_secret_directive(key: str) -> bool:
    """Whether directive ``key`` (lower-cased, a section's without '<') may hold a secret."""
    return key in SECRET_DIRECTIVES or (
        key not in _NOT_SECRET_DIRECTIVES and _SECRET_NAME_IN_DIRECTIVE.search(key) is not None
    )


@lru_cache(maxsize=4096)
def secret_check(key: str) -> int:
    """When a line of directive ``key`` is worth ``redact_arguments`` (CHECK_*)."""
    # The loaders note what these set (secret_flows.py).
    # A SetEnvIf attribute may be a regular expression of header names.
    if key in _SECRET_FROM or key in ENVIRONMENT_SETTERS or key == "requestheader":
        return CHECK_ALWAYS
    if key == "header":
        return CHECK_HEADER
    if key == "rewriterule":
        return CHECK_REWRITE
    if key in _EXPRESSIONS and key not in _PARAMETERS:
        return CHECK_EXPRESSION
    if key in _PROGRAMS and key not in _COMMANDS:
        return CHECK_PROGRAM
    if key in _NAMING or key in _COMPARING or key in _COMMANDS:
        return CHECK_NAMED
    if key in _PARAMETERS:
        return CHECK_PARAMETERS
    return CHECK_ALWAYS if is_secret_directive(key) else CHECK_NEVER


# Lines up to this long are remembered: configurations repeat the same lines
# in every vhost (a header, a RewriteCond, a log line), and the test runs for
# one line in two. The bound keeps what the cache holds between loads small
# (8,192 lines of 256 characters).
_REMEMBERED_LINE = 256


def worth_checking(check: int, text: str) -> bool:
    """Whether a line whose name's ``secret_check`` is ``check`` may hold a secret:
    a cheap first test, never a false "no" (``may_hold_secret`` decides)."""
    if check == CHECK_PROGRAM and not ("|" in text or ":" in text or "=" in text or "@" in text):
        return False  # a log file's path, the commonest of these lines
    if len(text) <= _REMEMBERED_LINE:
        return _worth_checking_remembered(check, text)
    return _worth_checking(check, text)


@lru_cache(maxsize=8192)
def _worth_checking_remembered(check: int, text: str) -> bool:
    return _worth_checking(check, text)


def _worth_checking(check: int, text: str) -> bool:
    if "@" in text or check == CHECK_ALWAYS:
        return True
    if not check:
        return False
    lowered = text.lower()
    if check == CHECK_EXPRESSION:
        # A RewriteCond reading a header or a variable may feed a RewriteRule's
        # %N or a later RewriteCond's (%1). A compared literal may hold a
        # secret-named parameter (pass=...).
        return (
            _reads_request(lowered)
            or CONDITION_BACKREFERENCE.search(text) is not None
            or ("=" in text and has_secret_name(lowered))
        )
    if check == CHECK_HEADER:
        return "expr=" in lowered or has_secret_name(lowered) or credential_shape(text, lowered)
    if check == CHECK_PROGRAM:
        return _program_hint(lowered)
    if check in (CHECK_PARAMETERS, CHECK_REWRITE) and "=" not in text:
        return False
    if check == CHECK_REWRITE and ("e=" in lowered or "env=" in lowered):
        return True
    return has_secret_name(lowered) or credential_shape(text, lowered)


def _program_hint(lowered: str) -> bool:
    """Whether a lowered line may give a program a secret on its command line."""
    return (
        "|" in lowered or "prg:" in lowered or "exec:" in lowered or "cmd=" in lowered
    ) and command_hint(lowered)


def _reads_request(lowered: str) -> bool:
    """Whether a lowered line may read a header or a variable: %{HTTP:X},
    %{ENV:X}, mod_rewrite's look-ahead, ap_expr's %{req:X} or a function."""
    return (
        "%{http:" in lowered
        or "%{http_" in lowered
        or "%{req:" in lowered
        or "%{req_novary:" in lowered
        or "%{resp:" in lowered
        or "%{la-" in lowered
        or "%{env" in lowered
        or "%{reqenv:" in lowered
        or "%{osenv:" in lowered
        or "(" in lowered
    )


def may_hold_secret(key: str, text: str) -> bool:
    """Whether directive ``key`` whose line is ``text`` may hold a secret (cheap, no false "no").

    The loaders test first, inline, what ``secret_check`` says of the name,
    or whether the line holds '@': on a realistic tree one line in eight
    goes further.
    """
    if "@" in text and "://" in text:
        return True
    if key not in SECRET_DIRECTIVES:
        return is_secret_directive(key)
    if key in _SECRET_FROM or key in ("header", "requestheader", "setenvif", "setenvifnocase"):
        # Header values of any scheme; SetEnvIf attributes that are regular expressions.
        return True
    if key in _EXPRESSIONS:
        lowered = text.lower()
        # A credential is compared only where a header is read (its name may be
        # known only at request time: req(tolower('X'))), or a secret-named
        # parameter in a compared literal (pass=...).
        return _reads_request(lowered) or ("=" in text and has_secret_name(lowered))
    if key in _PROGRAMS and key not in _COMMANDS:
        # Or a secret-named parameter in its arguments (a piped log's "?token=").
        lowered = text.lower()
        return _program_hint(lowered) or ("=" in text and has_secret_name(lowered))
    if key in _NAMING or key in _COMPARING or key in _COMMANDS or "=" in text:
        # A name like a secret's, or a value shaped like a credential ("NTLM ...").
        lowered = text.lower()
        return has_secret_name(lowered) or credential_shape(text, lowered)
    return False


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
    found: set[str] = set()
    for before, after in zip(args, words, strict=True):
        if before != after:
            found.update(ref for ref in references if ref in before and ref not in after)
    return found


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
    arguments = tuple(words[1:])
    redacted = redact_arguments(words[0].lower(), arguments)
    if redacted is arguments:
        return redact_text(line)
    return redact_text(" ".join([words[0], *redacted]))


def redact_text(text: str) -> str:
    """``text`` (a message, a directive name) with URL passwords and secret parameters replaced."""
    if "@" not in text and "=" not in text:
        return text
    return _redact_word(text)[0]


def _redacted(key: str, args: Sequence[str]) -> tuple[list[str] | None, str | None]:
    words = list(args)
    kind: str | None = None
    first = _SECRET_FROM.get(key)
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
    elif key in _COMPARING:
        kind = _redact_comparison(key, words)
    elif key in _PROGRAMS:
        # A command line split over words (mod_md's) loses every word from the hint on.
        hinted = False
        for index, word in enumerate(words):
            if not _is_program(key, index, word):
                continue
            hinted = hinted or command_hint(word.lower())
            if hinted:
                words[index] = REDACTED_VALUE
                kind = "a secret on a program's command line"
            if key not in _COMMANDS:
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
    """Whether word ``index`` of directive ``key`` (one of _PROGRAMS) is (part of)
    a command line."""
    if key in _PIPES:
        return word.startswith("|")
    if key == "rewritemap":
        return word[:4].lower() == "prg:"
    if key == "sslpassphrasedialog":
        return word[:5].lower() == "exec:"
    if key == "extfilterdefine":
        return word[:4].lower() == "cmd="
    return index >= 1  # the words after a command's name


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
    if is_credential_header(name) or any(is_credential_value(words[i]) for i in values):
        for index in values:
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
            is_credential_header(words[0]) or _PLAIN_ATTRIBUTE.fullmatch(words[0]) is None
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
