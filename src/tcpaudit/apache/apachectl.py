"""What a family's start-up script does between sourcing its file and running httpd.

Debian's apachectl (``apachectl_command``), and RHEL 6's init script
(``rhel6_daemon_command``), whose ``daemon`` runs httpd through ``bash -c``.

apachectl (/usr/sbin/apache2ctl) sources envvars, then, in the same dash:

- adds ``-d $APACHE_CONFDIR`` to APACHE_ARGUMENTS when the directory is not
  /etc/apache2, with the value envvars left;
- sets ``HTTPD=${APACHE_HTTPD:-/usr/sbin/apache2}`` and
  ``ULIMIT_MAX_FILES=${APACHE_ULIMIT_MAX_FILES:-ulimit -n 8192}``, and, as
  root, runs ``$ULIMIT_MAX_FILES`` as a command;
- runs ``[``, ``mkdir``, ``rm``, ``readlink``... (a function envvars defined
  under one of these names runs instead);
- for ``start``: ``unset APACHE_STARTED_BY_SYSTEMD``, then
  ``$HTTPD ${APACHE_ARGUMENTS} -k start``.

Checked against the real apache2ctl running a program that prints its
arguments (tests/apache/test_apache_invocation.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..errors import ApacheConfigError
from ..provenance import Note
from .shell_state import DEFAULT_IFS, ShellState, split_fields

__all__ = ["apachectl_command", "rhel6_daemon_command"]

# Commands apachectl runs after sourcing envvars (for start): a function of
# that name, defined in envvars, would run instead.
_COMMANDS_RUN = frozenset(("[", "test", "ulimit", "id", "mkdir", "rm", "readlink", "echo",
                           "systemctl", "stat", "mktemp", "chmod", "chown", "mv", "rmdir",
                           "true", "false"))  # fmt: skip
_STARTED_BY_SYSTEMD = "APACHE_STARTED_BY_SYSTEMD"


def apachectl_command(
    state: ShellState,
    unquoted: Callable[[str, str], list[str]],
    notes: list[Note],
    envvars: str,
    path_before: str | None = None,
) -> list[str]:
    """The command apachectl runs for ``start`` after sourcing ``envvars`` into
    ``state``: the program, then its arguments (``-k start`` left out).
    ``path_before`` is PATH as the service gave it, before envvars.

    ``unquoted(name, default)`` expands ``$name`` unquoted as the script does
    (split, matched as pathnames, noted when not known).

    Raises:
        ApacheConfigError: apachectl stops before running httpd.
    """
    variables = state.variables
    if variables.get("ARGV") != "start" and state.opaque is None:
        # ARGV="$@" is set before sourcing; `case "$ARGV"` picks the action after.
        state.make_opaque("envvars changes ARGV, so apachectl may take another action than "
                          "start: what it runs is not evaluated", envvars, None)  # fmt: skip
    confdir_differs = variables.get("APACHE_CONFDIR", "") != "/etc/apache2"
    _stops_at_assignments(state, envvars, confdir_differs)
    if confdir_differs:
        given = variables.get("APACHE_ARGUMENTS", "")
        variables["APACHE_ARGUMENTS"] = f"-d {variables.get('APACHE_CONFDIR', '')} {given}"
        if "APACHE_CONFDIR" in state.unknown:
            state.unknown.add("APACHE_ARGUMENTS")
    _assign(state, confdir_differs)
    _path_and_ifs(state, envvars, path_before)
    _ulimit_and_functions(state, envvars)
    for name in (_STARTED_BY_SYSTEMD, "APACHE_ARGUMENTS"):
        # `[ -z "$APACHE_STARTED_BY_SYSTEMD" ]`, then `${APACHE_ARGUMENTS}`:
        # under the set -u envvars left on, an unset one stops dash.
        if state.nounset and name not in variables and state.opaque is None:
            if name in state.unknown or name in state.unsure:
                state.make_opaque(f"whether {name} is set under set -u is not known",
                                  envvars, None)  # fmt: skip
            else:
                raise ApacheConfigError(
                    f"apachectl expands ${name}, unset, under the set -u envvars left on: "
                    "dash stops there, before it starts httpd",
                    file=envvars,
                )
    if _STARTED_BY_SYSTEMD in state.readonly:
        raise ApacheConfigError(
            f"apachectl's `unset {_STARTED_BY_SYSTEMD}` fails on a read-only variable: dash "
            "stops there, before it starts httpd",
            file=envvars,
        )
    variables.pop(_STARTED_BY_SYSTEMD, None)
    state.exported.discard(_STARTED_BY_SYSTEMD)
    arguments = unquoted("APACHE_ARGUMENTS", "")
    # Blanks only are kept by ':-', and split to nothing: the first word of
    # the arguments is run.
    httpd = unquoted("APACHE_HTTPD", "/usr/sbin/apache2")
    if httpd and httpd[0] in state.functions and state.opaque is None:
        state.make_opaque(f"envvars defines a function {httpd[0]!r}, which apachectl runs "
                          "instead of the program", envvars, None)  # fmt: skip
        httpd = unquoted("APACHE_HTTPD", "/usr/sbin/apache2")  # noted as not known now
    if not httpd:
        message = (
            "APACHE_HTTPD holds only blanks: apachectl runs the first word of "
            "APACHE_ARGUMENTS as the program"
        )
        notes.append(Note(message=message))
    command = [*httpd, *arguments] or ["-k"]
    if command[0] == "" and state.opaque is None:
        raise ApacheConfigError(
            "apachectl runs an empty program name ($HTTPD split with the IFS envvars left): "
            "it fails, and httpd is not started",
            file=envvars,
        )
    return command


# apachectl's own variables, assigned after sourcing: their ':-' defaults.
_DEFAULTS = {
    "HTTPD": ("APACHE_HTTPD", "/usr/sbin/apache2"),
    "LYNX": ("APACHE_LYNX", "www-browser -dump"),
    "STATUSURL": ("APACHE_STATUSURL", "http://localhost:80/server-status"),
    "ULIMIT_MAX_FILES": ("APACHE_ULIMIT_MAX_FILES", "ulimit -n 8192"),
}


def _assign(state: ShellState, confdir_differs: bool) -> None:
    """apachectl's assignments, exported when envvars exported the name or
    left ``set -a`` on (the environment httpd gets holds them then)."""
    variables = state.variables
    for name, (source, default) in _DEFAULTS.items():
        variables[name] = variables.get(source) or default
        if source in state.unknown:
            state.unknown.add(name)
    variables["ERROR"] = "0"
    variables["need_systemd"] = "false"
    if state.all_export:
        exported = ("APACHE_ARGUMENTS", *_ASSIGNED) if confdir_differs else _ASSIGNED
        state.exported.update(exported)


# Where the commands apachectl runs before httpd are (mkdir, mktemp, id...).
_COMMAND_DIRECTORIES = frozenset(("/usr/bin", "/bin", "/usr/bin/", "/bin/"))


def _path_and_ifs(state: ShellState, envvars: str, path_before: str | None) -> None:
    """A PATH envvars changed may hide mktemp, whose failure ends apachectl
    (at boot its run directories are missing); an IFS it changed splits
    ``$HTTPD`` where the program name may hold one of its characters."""
    if state.opaque is not None:
        return
    path = state.variables.get("PATH")
    why = ""
    if "PATH" in state.unknown:
        why = "envvars sets PATH to a value not known"
    elif path != path_before and _COMMAND_DIRECTORIES.isdisjoint((path or "").split(":")):
        why = "envvars sets PATH without /usr/bin: apachectl may not find mkdir or mktemp"
    elif "IFS" in state.unknown:
        why = "envvars sets IFS to a value not known"
    else:
        blanks = state.variables.get("IFS", DEFAULT_IFS)
        httpd = state.variables.get("HTTPD", "")
        if set(blanks) - set(DEFAULT_IFS) & set(httpd):
            why = "the IFS envvars left splits $HTTPD inside the program's name"
    if why:
        state.make_opaque(f"{why}: whether httpd is started, and how, is not known",
                          envvars, None)  # fmt: skip


# What apachectl assigns after sourcing, in its order: a read-only one stops
# dash there (APACHE_ARGUMENTS only when -d is added). mkdir_chown's locals
# are assigned only when a run directory is missing.
_ASSIGNED = ("HTTPD", "LYNX", "STATUSURL", "ULIMIT_MAX_FILES", "ERROR", "need_systemd")
_ASSIGNED_MAYBE = ("OWNER", "DIR", "STAT", "TMPNAME")


def _stops_at_assignments(state: ShellState, envvars: str, confdir_differs: bool) -> None:
    names = ("APACHE_ARGUMENTS", *_ASSIGNED) if confdir_differs else _ASSIGNED
    for name in names:
        if name in state.readonly:
            raise ApacheConfigError(
                f"apachectl assigns {name}, which envvars made read only: dash stops there, "
                "before it starts httpd",
                file=envvars,
            )
    maybe = [n for n in (*names, *_ASSIGNED_MAYBE) if n in state.maybe_readonly]
    maybe += [n for n in _ASSIGNED_MAYBE if n in state.readonly]
    if maybe and state.opaque is None:
        state.make_opaque(f"apachectl may assign {maybe[0]}, which may be read only: whether "
                          "dash stops there is not known", envvars, None)  # fmt: skip


def _ulimit_and_functions(state: ShellState, envvars: str) -> None:
    """``$ULIMIT_MAX_FILES`` run as a command, and functions standing for the
    commands apachectl runs: anything but ``ulimit`` may change any name."""
    if state.opaque is not None:
        return
    if "APACHE_ULIMIT_MAX_FILES" in state.unknown or "IFS" in state.unknown:
        why = "what APACHE_ULIMIT_MAX_FILES runs is not known"
    else:
        value = state.variables.get("APACHE_ULIMIT_MAX_FILES") or "ulimit -n 8192"
        fields = split_fields(value, state.variables.get("IFS", DEFAULT_IFS))
        # (An empty list runs nothing; its word is never a pattern in practice.)
        why = (
            "apachectl runs APACHE_ULIMIT_MAX_FILES as a command, which is not ulimit"
            if fields and fields[0] != "ulimit"
            else ""
        )
    defined = sorted(state.functions & _COMMANDS_RUN)
    if not why and defined:
        why = f"envvars defines a function {defined[0]!r}, which apachectl runs after it"
    if why:
        state.make_opaque(
            f"{why}: what it changes is not evaluated, so no value is known from there",
            envvars,
            0,
        )


# What bash -c reads again in the joined command line: quotes, expansions,
# operators, patterns, comments and braces.
_BASH_SPECIAL = re.compile(r"""["'\\$`;&|<>()*?\[\]#~{}!\n]""")
_NICE_LEVEL = re.compile(r"[-+]?[0-9]+")


def rhel6_daemon_command(
    state: ShellState, unquoted: Callable[[str, str], list[str]], notes: list[Note]
) -> list[str]:
    """The command RHEL 6's /etc/init.d/httpd runs after sourcing
    /etc/sysconfig/httpd into ``state``: ``httpd=${HTTPD-/usr/sbin/httpd}``,
    then ``daemon --pidfile=... $httpd $OPTIONS``, and daemon (initscripts'
    functions) runs ``/bin/bash -c "ulimit -S -c ${DAEMON_COREFILE_LIMIT:-0}
    >/dev/null 2>&1 ; $*"``: the words are joined and read again by bash.
    """
    variables = state.variables
    httpd = unquoted("HTTPD", "") if "HTTPD" in variables else ["/usr/sbin/httpd"]
    words = [*httpd, *unquoted("OPTIONS", "")]
    ifs = variables.get("IFS", DEFAULT_IFS)
    joined = (ifs[:1] if "IFS" in variables else " ").join(words)
    problems = []
    if _BASH_SPECIAL.search(joined) or _BASH_SPECIAL.search(
        variables.get("DAEMON_COREFILE_LIMIT", "")
    ):
        problems.append("what bash -c reads again holds quotes, expansions or operators")
    if variables.get("NICELEVEL") and not _NICE_LEVEL.fullmatch(variables["NICELEVEL"]):
        problems.append("NICELEVEL is no number, and is run as words of the command")
    if words and words[0][:1] in ("-", "+"):
        problems.append("the first word starts with '-' or '+', which daemon takes as its own")
    if {"DAEMON_COREFILE_LIMIT", "NICELEVEL", "HTTPD", "OPTIONS"} & state.unknown:
        problems.append("a value it is built from is not known")
    if problems:
        message = (
            f"the init script's daemon runs httpd through bash -c, and {problems[0]}: the "
            "program and its arguments may differ from those shown"
        )
        notes.append(Note(message=message))
    # bash -c splits the joined line again at blanks (its own IFS).
    return joined.split()
