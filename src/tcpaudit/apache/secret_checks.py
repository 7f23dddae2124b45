"""Which Apache lines may hold a secret: the cheap tests run on every line.

The loaders ask ``secret_check`` once per directive name and
``worth_checking`` per line (remembered for short lines), and
``may_hold_secret`` decides before ``secret_words`` looks word by word.
None of them ever answers "no" for a line that holds one; most lines of a
real tree stop here.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .credentials import command_hint, credential_shape, has_secret_name

__all__ = [
    "CHECK_ALWAYS",
    "CHECK_EXPRESSION",
    "CHECK_HEADER",
    "CHECK_NAMED",
    "CHECK_NEVER",
    "CHECK_PARAMETERS",
    "CHECK_PROGRAM",
    "CHECK_REWRITE",
    "COMMANDS",
    "COMPARING",
    "CONDITION_BACKREFERENCE",
    "ENVIRONMENT_SETTERS",
    "EXPRESSIONS",
    "NAMING",
    "PARAMETERS",
    "PIPES",
    "PLAIN_ATTRIBUTE",
    "PROGRAMS",
    "SECRET_DIRECTIVES",
    "SECRET_FROM",
    "is_secret_directive",
    "may_hold_secret",
    "secret_check",
    "worth_checking",
]

# Directives some of whose words are secrets whatever they look like, with
# the index of the first such word (all words from there on).
SECRET_FROM = {
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
NAMING = frozenset({"define", "setenv", "header", "requestheader", "proxyfcgisetenvif"})
# Directives whose words compare a request header with a literal: the
# literal is a secret when the header is a credential (a shared token).
# Expressions (ap_expr's, SSLRequire's) may compare one in any of these.
EXPRESSIONS = frozenset(
    {
        "rewritecond", "if", "elseif", "setenvifexpr", "require", "sslrequire",
        "filterprovider", "logmessage",
    }
)  # fmt: skip
COMPARING = frozenset({"setenvif", "setenvifnocase", *EXPRESSIONS})
# Directives and sections whose words may carry name=value parameters (a
# proxy worker's, DBDParams', an environment variable's) or a query string.
PARAMETERS = frozenset(
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
PIPES = frozenset({"customlog", "transferlog", "errorlog", "globallog", "forensiclog"})
# mod_md's commands and mod_authnz_external's: every word after the first.
COMMANDS = frozenset(
    {
        "mdchallengedns01", "mdmessagecmd", "mdnotifycmd", "defineexternalauth",
        "defineexternalgroup", "addexternalauth", "addexternalgroup",
    }
)  # fmt: skip
PROGRAMS = frozenset({*PIPES, *COMMANDS, "rewritemap", "sslpassphrasedialog", "extfilterdefine"})
# A line may hold a secret when its directive is one of these or it holds a
# URL with a user ('@' and '://'): the loaders test that inline, for every line.
SECRET_DIRECTIVES = frozenset((*SECRET_FROM, *NAMING, *PARAMETERS, *COMPARING, *PROGRAMS))

# SetEnvIf's attribute is a regular expression of header names unless it is
# made of these characters only (mod_setenvif's is_header_regex).
PLAIN_ATTRIBUTE = re.compile(r"[-A-Za-z0-9_]*")
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
    if key in SECRET_FROM or key in ENVIRONMENT_SETTERS or key == "requestheader":
        return CHECK_ALWAYS
    if key == "header":
        return CHECK_HEADER
    if key == "rewriterule":
        return CHECK_REWRITE
    if key in EXPRESSIONS and key not in PARAMETERS:
        return CHECK_EXPRESSION
    if key in PROGRAMS and key not in COMMANDS:
        return CHECK_PROGRAM
    if key in NAMING or key in COMPARING or key in COMMANDS:
        return CHECK_NAMED
    if key in PARAMETERS:
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
    if key in SECRET_FROM or key in ("header", "requestheader", "setenvif", "setenvifnocase"):
        # Header values of any scheme; SetEnvIf attributes that are regular expressions.
        return True
    if key in EXPRESSIONS:
        lowered = text.lower()
        # A credential is compared only where a header is read (its name may be
        # known only at request time: req(tolower('X'))), or a secret-named
        # parameter in a compared literal (pass=...).
        return _reads_request(lowered) or ("=" in text and has_secret_name(lowered))
    if key in PROGRAMS and key not in COMMANDS:
        # Or a secret-named parameter in its arguments (a piped log's "?token=").
        lowered = text.lower()
        return _program_hint(lowered) or ("=" in text and has_secret_name(lowered))
    if key in NAMING or key in COMPARING or key in COMMANDS or "=" in text:
        # A name like a secret's, or a value shaped like a credential ("NTLM ...").
        lowered = text.lower()
        return has_secret_name(lowered) or credential_shape(text, lowered)
    return False
