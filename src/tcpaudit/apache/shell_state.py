"""The state of the shell that sources the start-up files, and the bounds it keeps.

Variables and what is exported, the flags ``set`` gives, the notes, and the
counters every bound is charged against: a value longer than execve's 128 KiB
per string (MAX_ARG_STRLEN) could never reach httpd, and all expansions of one
start-up together may produce at most ``MAX_EXPANDED_BYTES``. Also how an
unquoted value splits into fields, and which variables hold secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ApacheConfigError
from ..notes import BoundedNotes

__all__ = [
    "BASH_READ_ONLY",
    "BASH_VARIABLES",
    "DEFAULT_IFS",
    "KNOWN_TOKEN",
    "MAX_COMMANDS",
    "MAX_ENVIRONMENT_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_EXPANSION_DEPTH",
    "MAX_LOOP_ITERATIONS",
    "MAX_SOURCED_BYTES",
    "MAX_VALUE_BYTES",
    "PARSE_WORK",
    "REDACTED_VALUE",
    "TRIM_WORK_PER_BYTE",
    "TRIM_WORK_PER_RUN",
    "WORD_WORK",
    "Segment",
    "ShellState",
    "append_quoted_pattern",
    "is_secret_variable",
    "redact_environment",
    "split_fields",
    "split_segments",
]

# Linux's MAX_ARG_STRLEN (32 pages): execve refuses a longer NAME=value (E2BIG).
MAX_VALUE_BYTES = 128 * 1024
# ARG_MAX with the usual 8 MiB stack: what the whole environment may hold.
MAX_ENVIRONMENT_BYTES = 2 * 1024 * 1024
# What all expansions of one start-up may produce (a real envvars: a few KiB).
MAX_EXPANDED_BYTES = 16 * 1024 * 1024
# Variables named like secrets: their values never reach a report. The
# Ansible module replaces the same names' values before they leave the host.
# Not every name holding "pass" or "private": PRIVATE_PORT and BYPASS_CACHE
# are ordinary values a configuration expands (Listen ${PRIVATE_PORT}).
_SECRET_VARIABLE = re.compile(
    r"(?i)password|passwd|passphrase|secret|token|credential|api[_-]?key|private[_-]?key"
    r"|(?:master|signing|encryption|access|auth|session|shared|client|app)[_-]?key(?:$|[_-]?[0-9]+$)"
    r"|(?:^|[_-]|db|ldap|smtp|mysql|mariadb|pg|postgres|redis|admin|root|user|bind|mail|ftp|sql)"
    r"(?:pass|pwd|pw)(?:$|[_-]|[0-9])|(?:^|[_-])key(?:$|[_-]?[0-9]+$)"
)
MAX_SECRET_VALUES = 64  # secret values remembered to hide (4 characters or more)
REDACTED_VALUE = "tcpaudit-redacted"  # one word, as the value may be a directive's
# Commands all start-up files of one service may hold (a real envvars: about
# 30); each costs microseconds, and a 1 MiB file of "a;" holds 500,000.
MAX_COMMANDS = 100_000
# Iterations of the for loops tcpaudit runs, in all (then a loop is not run).
MAX_LOOP_ITERATIONS = 10_000
# What '.' may run in all, each sourcing counted (a real envvars: a few KiB).
MAX_SOURCED_BYTES = 16 * 1024 * 1024
# ${...} inside ${...}: real start-up files nest two or three; each level
# rescans its text (dash reads thousands; tcpaudit refuses past this).
MAX_EXPANSION_DEPTH = 32
# What one word's expansion is charged beyond its length (see Expander.word).
WORD_WORK = 32
# Each token parsed (a function's body or a branch never run too) is
# charged this much: parsing 16 MiB of "a|" took 57 s with nothing run.
PARSE_WORK = 8
# A glob trim of an n-character value by a pattern of r runs (split at its
# stars) counts as (n + 1) * (n + 64 r) / 64 bytes of expansion: each of the
# n + 1 places tried scans the value and takes a step per run.
TRIM_WORK_PER_BYTE = 64
TRIM_WORK_PER_RUN = 64
DEFAULT_IFS = " \t\n"
# Variables bash sets itself (its version, its path, the host, the user,
# counters, the time): their values are not known.
BASH_VARIABLES = frozenset(("BASH", "BASH_VERSION", "BASH_VERSINFO", "BASHPID", "BASH_SOURCE",
    "BASH_LINENO", "BASH_ARGV", "BASH_ARGC", "BASH_ARGV0", "BASH_COMMAND", "BASH_SUBSHELL",
    "BASH_EXECUTION_STRING", "BASH_REMATCH", "BASHOPTS", "SHELLOPTS", "HOSTNAME", "HOSTTYPE",
    "MACHTYPE", "OSTYPE", "UID", "EUID", "GROUPS", "PPID", "RANDOM", "SRANDOM", "SECONDS",
    "LINENO", "EPOCHSECONDS", "EPOCHREALTIME", "FUNCNAME", "DIRSTACK", "PIPESTATUS", "HISTCMD",
    "COMP_WORDBREAKS", "OPTERR", "MAILCHECK", "HISTFILE", "HISTFILESIZE", "HISTSIZE",
    "BASH_LOADABLES_PATH", "BASH_COMPAT", "BASH_ALIASES", "BASH_CMDS", "TERM", "SHELL", "_"))  # fmt: skip
# bash's read-only, dynamic (RANDOM, LINENO...) and array variables: what a
# file assigns them is not what they hold (or are exported with) after.
BASH_READ_ONLY = frozenset(("UID", "EUID", "PPID", "BASHOPTS", "SHELLOPTS", "BASH_VERSINFO",
    "RANDOM", "SRANDOM", "LINENO", "BASHPID", "EPOCHSECONDS", "EPOCHREALTIME", "HISTCMD",
    "BASH_COMMAND", "SECONDS", "FUNCNAME", "GROUPS", "DIRSTACK", "BASH_LINENO", "BASH_SOURCE",
    "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0", "BASH_ALIASES", "BASH_CMDS", "PIPESTATUS",
    "BASH_REMATCH", "BASH_SUBSHELL", "BASH_EXECUTION_STRING"))  # fmt: skip
# A piece of a word as expanded: (text, split, quoted). An unquoted
# expansion's value is split at IFS and matched as a pattern; the word's own
# unquoted text is matched, not split; what was quoted is neither.
Segment = tuple[str, bool, bool]
_IFS = re.compile("[ \t\n]+")


# Tokens whose prefix names their kind (GitHub, GitLab, Slack, AWS access
# keys, Stripe, JSON Web Tokens, Google API keys, npm), found with no scheme word.
KNOWN_TOKEN = re.compile(
    # A first character from a set, before anything else: the regex engine then skips
    # to the next such character in C (three times faster on a 8 MB report than a
    # look-behind first); then no word character before it, and its kind's shape.
    r"[AGSdeghnprswxy](?<![A-Za-z0-9_.-].)(?:"
    r"(?<=g)(?:h[pousr]_[A-Za-z0-9]{16,}|ithub_pat_[A-Za-z0-9_]{20,}"
    r"|l(?:pat|rt|dt|ptt|oas|cbt|imt)-[A-Za-z0-9_-]{16,})"
    r"|(?<=x)(?:ox[abpers]-[A-Za-z0-9-]{10,}|app-[A-Za-z0-9-]{10,})"
    r"|(?<=A)(?:KIA[0-9A-Z]{16}|SIA[0-9A-Z]{16}|Iza[0-9A-Za-z_-]{35})"
    r"|(?<=s)(?:k_(?:live|test)_[A-Za-z0-9]{16,}|k-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"
    r"|hp(?:at|ss|ca|pa)_[A-Fa-f0-9]{32})"
    r"|(?<=r)k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?<=h)(?:f_[A-Za-z0-9]{20,}|v[sb]\.[A-Za-z0-9_-]{20,})"
    r"|(?<=p)ypi-[A-Za-z0-9_-]{20,}"
    r"|(?<=S)(?:G\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|K[0-9a-fA-F]{32})"
    r"|(?<=y)a29\.[A-Za-z0-9_-]{20,}"
    r"|(?<=G)OCSPX-[A-Za-z0-9_-]{20,}"
    r"|(?<=w)hsec_[A-Za-z0-9+/=]{20,}"
    r"|(?<=d)op_v1_[a-f0-9]{64}"
    r"|(?<=n)pm_[A-Za-z0-9]{36}"
    r"|(?<=e)yJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*)"
)


@dataclass
class ShellState:
    """Variables of the shell that sources the start-up files, and what it exports."""

    variables: dict[str, str] = field(default_factory=dict)
    exported: set[str] = field(default_factory=set)
    notes: BoundedNotes = field(default_factory=BoundedNotes)
    # The values given to secret-named variables (kept as REDACTED_VALUE):
    # hidden wherever a note or an error line would show them written out.
    secret_values: set[str] = field(default_factory=set)
    all_export: bool = False
    expanded: int = 0
    commands: int = 0
    iterations: int = 0  # of for loops run
    loops: int = 0  # for loops running, across '.' (break and continue end their bodies)
    sourced: int = 0  # bytes of files run with '.', each time counted
    # dash sources Debian's envvars; bash the other families' files, and goes
    # on after errors that stop dash (a bad name given to export).
    dash: bool = True
    last_status: bool | None = True  # of the last pipeline run: $?
    test_error: bool = False  # that pipeline failed as a test's error ($? is 2, not 1)
    failed_test: bool = False  # set by the running pipeline's test, for test_error
    errexit: bool = False  # set -e
    # Sourced as an if's condition (OpenRC's "if ! . file"): set -e has no
    # effect anywhere inside, and a failing end is the caller's to act on.
    in_condition: bool = False
    readonly: set[str] = field(default_factory=set)
    nounset: bool = False  # set -u
    noglob: bool = False  # set -f: no pathname expansion of the service's arguments
    noclobber: bool = False  # set -C: ">" does not open an existing regular file
    xtrace: bool = False  # set -x: PS4 is expanded before each command traced
    # Variables whose value came from what tcpaudit does not evaluate (a
    # command substitution, $$...): a test, case or for over one is not known.
    unknown: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)  # names defined as functions
    # Names a part not run may have exported, unset or made read-only: what
    # is assigned to them later is not known to reach httpd (or may stop).
    unsure: set[str] = field(default_factory=set)
    maybe_readonly: set[str] = field(default_factory=set)
    # Where something ran that may change any name (eval, a function's call):
    # from there on no variable's value is known.
    opaque: str | None = None

    def __post_init__(self) -> None:
        # What the shell sets before it reads a line: IFS and OPTIND whatever
        # the environment held, the prompts unless it held them (dash's PS1
        # is root's), and PWD, exported, the service's working directory.
        self.variables["IFS"] = DEFAULT_IFS
        self.variables["OPTIND"] = "1"
        prompts = {"PS1": "# ", "PS2": "> ", "PS4": "+ "} if self.dash else {"PS4": "+ "}
        for name, value in prompts.items():
            self.variables.setdefault(name, value)
        self.variables["PWD"] = "/"
        self.exported.add("PWD")

    def make_opaque(self, message: str, file: str, line: int | None) -> None:
        """Something may have changed any name: from here on none is known
        (noted once, with ``message``; ``line`` None: the file as a whole)."""
        if self.opaque is None:
            self.opaque = file if line is None else f"{file}:{line}"
            self.notes.append_message(message, file, line)

    def may_stop_on(self, name: str, file: str, line: int) -> None:
        """Assigning or unsetting ``name``, which a part not run may have made
        read only: whether the shell stops here is not known."""
        if name in self.maybe_readonly:
            self.make_opaque(
                f"{name} may be read only (set so by what is not evaluated): whether the shell "
                "stops here is not known, so no value is known from here on",
                file,
                line,
            )

    def environment(self) -> dict[str, str]:
        """The exported variables, as the program the shell starts receives them."""
        return {name: self.variables[name] for name in self.variables if name in self.exported}

    def assign(self, name: str, value: str, unknown: bool = False) -> None:
        """Set ``name``; a variable named like a secret holds REDACTED_VALUE instead.
        ``unknown``: the value came from an expansion tcpaudit does not evaluate."""
        secret = is_secret_variable(name)
        self.variables[name] = REDACTED_VALUE if secret else value
        if secret and len(value) >= 4 and len(self.secret_values) < MAX_SECRET_VALUES:
            self.secret_values.add(value)
        if unknown or name in self.unsure:
            self.unknown.add(name)
        else:
            self.unknown.discard(name)
        if self.all_export:  # set -a: every assignment exports, ${X:=v} too
            self.exported.add(name)

    def hidden(self, text: str) -> str:
        """``text`` with each secret-named variable's value replaced (a file
        may write the value out again: ``: >/x/$value-as-written``)."""
        for value in self.secret_values:
            if value in text:
                text = text.replace(value, REDACTED_VALUE)
        # A name (or any word) shaped like a token of a known kind is one.
        return KNOWN_TOKEN.sub(REDACTED_VALUE, text)

    def count_command(self, file: str, line: int) -> None:
        """Count one command against MAX_COMMANDS."""
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            raise ApacheConfigError(
                f"the start-up files hold more than {MAX_COMMANDS} shell commands",
                file=file,
                line=line,
            )

    def charge(self, size: int, file: str, line: int) -> None:
        """Count a value of ``size`` bytes against the bounds."""
        self.check(size, file, line)
        self.charge_work(size, file, line)

    def charge_work(self, size: int, file: str, line: int) -> None:
        """Count ``size`` bytes of expansion work against MAX_EXPANDED_BYTES."""
        self.expanded += size
        if self.expanded > MAX_EXPANDED_BYTES:
            raise ApacheConfigError(
                f"shell expansion of the start-up files produces more than {MAX_EXPANDED_BYTES} "
                "bytes",
                file=file,
                line=line,
            )

    @staticmethod
    def check(size: int, file: str, line: int) -> None:
        """Refuse a value longer than execve passes (checked while it is built)."""
        if size > MAX_VALUE_BYTES:
            raise ApacheConfigError(
                f"a value grows past {MAX_VALUE_BYTES} bytes, the most execve passes in one "
                "environment string: the service could not start httpd with it",
                file=file,
                line=line,
            )


def is_secret_variable(name: str) -> bool:
    """Whether a variable's name says it holds a secret (``DB_PASSWORD``, ``API_TOKEN``)."""
    return _SECRET_VARIABLE.search(name) is not None


def redact_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` with the value of each variable named like a secret replaced."""
    return {
        name: REDACTED_VALUE if is_secret_variable(name) else value
        for name, value in environment.items()
    }


def split_fields(value: str, ifs: str = DEFAULT_IFS) -> list[str]:
    """The fields an unquoted ``$VAR`` holding ``value`` gives on a command line.

    Split at ``ifs`` (the shell's IFS: space, tab, newline unless a start-up
    file set it) and nothing more: the value's quotes are characters and its
    ``$`` is not expanded again (``APACHE_ARGUMENTS='-D "A B"'`` gives
    ``-D``, ``"A``, ``B"``). IFS white space runs count as one delimiter and
    are dropped at the ends; each other IFS character ends a field, an empty
    one too (``a,,b`` with IFS ``,`` gives ``a``, ``""``, ``b``).
    """
    if ifs == DEFAULT_IFS:
        return [piece for piece in _IFS.split(value) if piece]
    if not ifs:
        return [value] if value else []
    white = "".join(char for char in ifs if char in DEFAULT_IFS)
    fields: list[str] = []
    index, length = 0, len(value)
    while index < length and value[index] in white:
        index += 1
    start = index
    while index < length:
        if value[index] not in ifs:
            index += 1
            continue
        fields.append(value[start:index])
        while index < length and value[index] in white:
            index += 1
        if index < length and value[index] in ifs and value[index] not in white:
            index += 1
            while index < length and value[index] in white:
                index += 1
        start = index
    if start < length:
        fields.append(value[start:])
    return fields


# The characters dash marks as quoted (CTLESC) inside quotes: its CCTL class.
_MARKED_WHEN_QUOTED = frozenset("!*?[=~:/-]")


def append_quoted_pattern(patterns: list[str], text: str) -> None:
    """Add quoted ``text``'s pattern (each character escaped but ``/``) after
    ``patterns``. A lone backslash an expansion left at their end is read as
    dash's pmatch reads it before that first character: an ordinary one it
    escapes (P='\\' makes ``$P"a"*`` the pattern ``a*``); before one dash
    marks as quoted (``*?[`` and ``!=~:/-]``) it is a backslash itself, and
    the character is no longer quoted (``a$P"*"`` matches ``a\\b``)."""
    pattern = "/".join(_escaped(piece) for piece in text.split("/"))
    if text and text[0] != "\\" and patterns:
        last = patterns[-1]
        if (len(last) - len(last.rstrip("\\"))) % 2:
            if text[0] in _MARKED_WHEN_QUOTED:
                patterns[-1] = last + "\\"
                pattern = text[0] + pattern[2:] if text[0] != "/" else pattern
            else:
                patterns[-1] = last[:-1]
    patterns.append(pattern)


def split_segments(segments: list[Segment], ifs: str = DEFAULT_IFS) -> list[tuple[str, str]]:
    """The fields of a word made of ``segments``, each with its pattern (what
    was quoted escaped, ``/`` but).

    Only what an unquoted expansion gave is split; a quoted part, even
    empty, makes a field (``$P"$P"`` with P of ``a b`` gives ``a`` and
    ``ba b``). Delimiters as in ``split_fields``, found in each expansion's
    text on its own, as dash does (with IFS of ``, ``, ``a `` then ``, b``
    give ``a``, an empty field and ``b``).
    """
    white = "".join(char for char in ifs if char in DEFAULT_IFS)
    delimiter = re.compile(f"[{re.escape(ifs)}]") if ifs else None
    fields: list[tuple[str, str]] = []
    values: list[str] = []
    patterns: list[str] = []
    exists = False  # the field being built holds a character or a quoted part

    def add(text: str, quoted: bool) -> None:
        values.append(text)
        if quoted:
            append_quoted_pattern(patterns, text)
        else:
            patterns.append(text)

    for text, split, quoted in segments:
        if not split or delimiter is None:
            add(text, quoted)
            exists = exists or quoted or bool(text)
            continue
        index, length = 0, len(text)
        while index < length:
            found = delimiter.search(text, index)
            end = found.start() if found else length
            if end > index:
                add(text[index:end], False)
                exists = True
            if found is None:
                break
            index = end
            while index < length and text[index] in white:
                index += 1
            hard = index < length and text[index] not in white and text[index] in ifs
            if hard:
                index += 1
                while index < length and text[index] in white:
                    index += 1
            if exists or hard:
                fields.append(("".join(values), "".join(patterns)))
                values, patterns, exists = [], [], False
    if exists:
        fields.append(("".join(values), "".join(patterns)))
    return fields


def _escaped(text: str) -> str:
    return "".join(f"\\{char}" for char in text)
