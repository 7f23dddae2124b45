"""How the host's service starts httpd: its ``-D``/``-C``/``-c``/``-f``/``-d`` and environment.

httpd's configuration reads ``<IfDefine>`` against its ``-D`` names and
``${VAR}`` against its environment, and both come from where each family
keeps its service's invocation:

- Debian/Ubuntu: ``apache2.service`` runs ``apachectl start``, which sources
  ``/etc/apache2/envvars`` (only *exported* names reach httpd) and passes
  ``$APACHE_ARGUMENTS``;
- RHEL/Fedora 7+: ``httpd.service`` reads ``/etc/sysconfig/httpd`` as an
  environment file and runs ``httpd $OPTIONS -DFOREGROUND``; RHEL 6's init
  script sources it as shell and runs ``$HTTPD $OPTIONS``;
- Gentoo: OpenRC sources ``/etc/conf.d/apache2`` (``APACHE2_OPTS``,
  ``SERVERROOT``, ``CONFIGFILE``); its systemd unit reads it as an
  environment file;
- openSUSE/SLES: ``start_apache2`` sources ``/etc/sysconfig/apache2`` and
  passes each word of ``APACHE_SERVER_FLAGS`` as a ``-D`` name (and
  ``SYSCONFIG`` once it has generated ``sysconfig.d/``); ``APACHE_MPM``
  picks the binary.

A unit found under the root (with its drop-ins) replaces the family's
default. Every value is bounded (``shell.py``). The result is an
``Invocation``; the loader adds the user's ``-D``/``-C``/``--env``.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from ..errors import ApacheConfigError
from ..inputs import read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from .apachectl import apachectl_command, rhel6_daemon_command
from .environment_files import unit_environment
from .service_arguments import Invocation, apply_arguments, through_env
from .shell import run_script
from .shell_commands import ps4_expands
from .shell_pathnames import PathnameBudget, expand_pathnames
from .shell_redirections import shown_name
from .shell_state import (
    DEFAULT_IFS,
    MAX_ENVIRONMENT_BYTES,
    ShellState,
    redact_environment,
    split_fields,
)
from .startup_queries import StartupQueries
from .units import ArgumentsTooLongError, ServiceUnit, exec_arguments, read_unit

__all__ = ["Invocation", "apply_arguments", "read_invocation"]

MAX_STARTUP_FILE_BYTES = 1024 * 1024
_UNITS = {
    "debian": "apache2.service",
    "rhel": "httpd.service",
    "gentoo": "apache2.service",
    "suse": "apache2.service",
    "upstream": "httpd.service",
}
_CONTROL_SCRIPTS = frozenset({"apachectl", "apache2ctl"})
# The PATH systemd sets for a service whose unit sets none (systemd 252).
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _Reader:
    """Reads the start-up files of one root, each once, within the bounds.

    Every question the reading asks the root goes through ``text``,
    ``exists`` and ``pathnames``, which record it in ``invocation.queries``.
    """

    def __init__(self, fs: RootFS, invocation: Invocation) -> None:
        self.fs = fs
        self.invocation = invocation
        self.queries = invocation.queries
        self.budget = PathnameBudget()  # directory entries read by all the loops' patterns

    def text(self, tree_path: str) -> tuple[str, str] | None:
        """The text and shown name of a start-up file in the root, or None."""
        self.queries.asked(tree_path)
        try:
            real = self.fs.resolve(tree_path)
            if not real.is_file():
                return None
            data = read_bytes(real, MAX_STARTUP_FILE_BYTES)
        except OSError:
            return None
        shown = self.fs.display_tree(tree_path)
        if shown not in self.invocation.files:
            self.invocation.files.append(shown)
        return data.decode("utf-8", errors="surrogateescape"), shown

    def exists(self, test: str, path: str) -> bool | None:
        if not path.startswith("/"):
            return None
        self.queries.asked(path)
        if test == "creatable":
            # An open with O_CREAT: the link at the end followed, its
            # directory must be one.
            try:
                real = str(self.fs.resolve(path))
                directory = self.fs.lstat_real(real.rstrip("/").rpartition("/")[0] or "/")
            except OSError:
                return False
            return stat.S_ISDIR(directory.st_mode)
        if test in ("-L", "-h"):
            # A link itself: the path's directory resolved, its last name not.
            parent, _, name = path.rstrip("/").rpartition("/")
            try:
                real_parent = self.fs.resolve(parent or "/")
                return stat.S_ISLNK(self.fs.lstat_real(f"{real_parent}/{name}").st_mode)
            except OSError:
                return False
        try:
            info = self.fs.lstat_real(str(self.fs.resolve(path)))
        except OSError:
            return False
        if test == "-d":
            return stat.S_ISDIR(info.st_mode)
        if test == "-f":
            return stat.S_ISREG(info.st_mode)
        if test == "-s":
            return info.st_size > 0
        if test == "-x":
            # apachectl runs as root: any execute bit, or a directory.
            return stat.S_ISDIR(info.st_mode) or bool(info.st_mode & 0o111)
        return True  # -e, -r (root reads what exists)

    def shell(self, tree_path: str, state: ShellState) -> bool:
        loaded = self.text(tree_path)
        if loaded is None:
            return False
        text, shown = loaded
        try:
            run_script(
                text, state, shown, source=self.sourced, exists=self.exists,
                pathnames=self.pathnames,
            )  # fmt: skip
        except ApacheConfigError as error:
            raise ApacheConfigError(state.hidden(error.reason), error.file, error.line) from None
        # The file's status: its '.' fails under the set -e it turned on, and
        # a failing condition ends OpenRC's service ("error loading", exit 1).
        acted_on = state.in_condition or state.errexit
        last_line = text.rstrip().count("\n") + 1  # the shell counts \n only
        if acted_on and state.last_status is False:
            why = "in OpenRC's condition" if state.in_condition else "under set -e"
            raise ApacheConfigError(
                f"the file ends with a failing status, {why}: the shell sourcing it stops "
                "there, before it starts httpd",
                file=shown,
                line=last_line,
            )
        if acted_on and state.last_status is None:
            state.make_opaque("the file's own status is not known, nor whether the shell "
                              "sourcing it goes on", shown, last_line)  # fmt: skip
        if state.xtrace and state.opaque is None and ps4_expands(state):
            # Left on, set -x traces the service script's next commands, each
            # after expanding PS4 (whose ${A:=x} assigns).
            state.make_opaque("set -x is left on with a PS4 that expands, before the "
                              "service's next commands", shown, last_line)  # fmt: skip
        return True

    def sourced(self, path: str) -> tuple[str, str] | None:
        return self.text(path) if path.startswith("/") else None

    def pathnames(self, fields: Sequence[str | tuple[str, str]]) -> list[str]:
        """Fields matched as pathnames in the root, by the loops' shared budget."""
        return expand_pathnames(fields, self.fs, budget=self.budget, queries=self.queries)

    def unit_environment(self, unit: ServiceUnit) -> dict[str, str]:
        """Environment= then EnvironmentFile= (which win), as systemd builds them."""
        return unit_environment(
            unit, self.text, lambda path: self.pathnames([path]), self.invocation.notes
        )


def read_invocation(
    fs: RootFS,
    build: str,
    release: tuple[int, ...],
    environment_file: str | None = None,
    queries: StartupQueries | None = None,
) -> Invocation:
    """Work out how the service of a ``build`` family starts httpd on this root.

    Args:
        fs: the audited root.
        build: the build family (``build.BUILD_NAMES``).
        release: the Apache version, for the family's 2.2-era start-up.
        environment_file: Debian's envvars path, when the layout names one.
        queries: where to record what the reading asks the root (an earlier
            reading's, to keep both); a new one when None.

    Raises:
        ApacheConfigError: an expansion beyond the bounds, or an environment
            larger than execve passes.
    """
    invocation = Invocation(queries=queries if queries is not None else StartupQueries())
    reader = _Reader(fs, invocation)
    unit = read_unit(fs, _UNITS.get(build, "httpd.service"), invocation.queries)
    if unit is not None:
        invocation.files.extend(unit.files)
    handler = _FAMILIES.get(build, _upstream)
    handler(reader, unit, release, environment_file)
    _check_size(invocation)
    # Unit Environment= and environment files set variables outside the shell.
    invocation.environment = redact_environment(invocation.environment)
    return invocation


def hidden_notes(state: ShellState) -> list[Note]:
    """The shell's notes, each secret value (and token-shaped word) in them replaced."""
    return [
        note
        if (shown := state.hidden(note.message)) == note.message
        else note.model_copy(update={"message": shown})
        for note in state.notes
    ]


def _check_size(invocation: Invocation) -> None:
    size = sum(len(name) + len(value) + 2 for name, value in invocation.environment.items())
    if size > MAX_ENVIRONMENT_BYTES:
        raise ApacheConfigError(
            f"httpd's environment would hold {size} bytes, more than execve passes "
            f"({MAX_ENVIRONMENT_BYTES}): the service could not start it",
            file=invocation.files[-1] if invocation.files else None,
        )


def _exec(
    reader: _Reader, unit: ServiceUnit | None, environment: dict[str, str]
) -> list[str] | None:
    if unit is None or unit.exec_start is None:
        return None
    words, file, line = unit.exec_start
    try:
        command = exec_arguments(words, environment)
    except ArgumentsTooLongError as exc:
        raise ApacheConfigError(
            f"ExecStart= expands to more than {MAX_ENVIRONMENT_BYTES} bytes of arguments, more "
            "than execve passes: the service could not start httpd",
            file=file,
            line=line,
        ) from exc
    if command and PurePosixPath(command[0]).name == "env":
        # ExecStart=/usr/bin/env NAME=value /usr/sbin/httpd ...: env's own
        # options and assignments, then the program it runs.
        changed = dict(environment)
        through, problem = through_env(command, changed)
        if problem is None:
            environment.clear()
            environment.update(changed)
            return through
        message = (
            f"ExecStart= runs {problem}: the service's program, arguments and environment "
            "may differ from those shown"
        )
        reader.invocation.notes.append(Note(message=message))
    return command


def _debian(
    reader: _Reader, unit: ServiceUnit | None, release: tuple[int, ...], envvars: str | None
) -> None:
    invocation = reader.invocation
    environment = reader.unit_environment(unit) if unit is not None else {}
    command = _exec(reader, unit, environment) or ["/usr/sbin/apachectl", "start"]
    program = PurePosixPath(command[0]).name
    if program not in _CONTROL_SCRIPTS:
        invocation.how = f"{unit.name if unit else 'the unit'} runs {command[0]} directly"
        invocation.binary = command[0]
        invocation.environment = environment
        apply_arguments(command[1:], invocation)
        return
    if unit is not None and "PATH" not in environment:
        # systemd gives every service a PATH (systemd.exec(5)), which apachectl
        # and envvars see and httpd inherits.
        environment["PATH"] = SYSTEMD_PATH
    state = ShellState(variables=redact_environment(environment), exported=set(environment))
    confdir = environment.get("APACHE_CONFDIR") or "/etc/apache2"
    state.variables["APACHE_CONFDIR"] = confdir  # `test -z` sets an empty one too
    state.variables["ARGV"] = "start"  # ARGV="$@", before envvars is sourced
    path = environment.get("APACHE_ENVVARS") or (
        f"{confdir}/envvars" if confdir != "/etc/apache2" or envvars is None else envvars
    )
    path_before = state.variables.get("PATH")
    read = reader.shell(path, state)
    invocation.how = (
        f"{unit.name if unit else 'apache2.service'} runs apachectl, which sources "
        f"{fs_shown(reader, path) if read else path + ' (absent)'}"
    )
    shown = fs_shown(reader, path) if read else path
    command = apachectl_command(
        state, lambda name, default: _unquoted(reader, state, name, default),
        invocation.notes, shown, path_before,
    )  # fmt: skip
    invocation.binary = command[0]
    apply_arguments(command[1:], invocation)
    invocation.environment = _environment(reader, state)
    invocation.notes.extend(hidden_notes(state))


def _environment(reader: _Reader, state: ShellState) -> dict[str, str]:
    """The exported variables; a note when some may differ from the service's
    (set or exported by what tcpaudit does not evaluate)."""
    if state.opaque is not None or state.unknown:
        named = ", ".join(sorted(map(shown_name, state.unknown))[:10]) or "any"
        reader.invocation.notes.append(
            Note(
                message=f"the start-up files set variables to values tcpaudit could not "
                f"evaluate ({named}): httpd's environment may differ from the one shown"
            )
        )
    return state.environment()


def _unquoted(reader: _Reader, state: ShellState, name: str, default: str = "") -> list[str]:
    """``$NAME`` expanded unquoted by the service's script: split, then
    matched against the root's names."""
    fields = split_fields(
        state.variables.get(name, "") or default, state.variables.get("IFS", DEFAULT_IFS)
    )
    if name in state.unknown or "IFS" in state.unknown or state.opaque is not None:
        # Its value came from what tcpaudit does not evaluate: say so where
        # the arguments (and -D names) are reported.
        where = f" (from {state.opaque} on, no value is known)" if state.opaque else ""
        reader.invocation.notes.append(
            Note(
                message=f"{name} holds a value tcpaudit could not evaluate{where}: the "
                "service's arguments may differ from those shown"
            )
        )
    return expand_pathnames(fields, reader.fs, noglob=state.noglob, queries=reader.queries)


def fs_shown(reader: _Reader, tree_path: str) -> str:
    return reader.fs.display_tree(tree_path)


def _rhel(
    reader: _Reader, unit: ServiceUnit | None, release: tuple[int, ...], _envvars: str | None
) -> None:
    invocation = reader.invocation
    if unit is None and release < (2, 4):
        # RHEL 6's init script: `. /etc/sysconfig/httpd`, then `$HTTPD $OPTIONS`.
        state = ShellState(dash=False)
        read = reader.shell("/etc/sysconfig/httpd", state)
        invocation.how = "the init script sources etc/sysconfig/httpd" if read else ""
        command = rhel6_daemon_command(
            state, lambda name, default: _unquoted(reader, state, name, default),
            invocation.notes,
        )  # fmt: skip
        invocation.binary = command[0] if command else ""
        apply_arguments(command[1:], invocation)
        environment = _environment(reader, state)
        environment["LANG"] = state.variables.get("HTTPD_LANG", "C")
        invocation.environment = environment
        invocation.notes.extend(hidden_notes(state))
        return
    if unit is None:
        # RHEL/Fedora's own httpd.service, when the root holds no unit.
        unit = ServiceUnit("httpd.service")
        unit.environment_files.append(("/etc/sysconfig/httpd", True, "httpd.service", 0))
        unit.exec_start = (["/usr/sbin/httpd", "$OPTIONS", "-DFOREGROUND"], "httpd.service", 0)
        invocation.how = "no httpd.service under the root: RHEL's (EnvironmentFile=/etc/sysconfig/httpd, ExecStart=/usr/sbin/httpd $OPTIONS -DFOREGROUND)"
    else:
        invocation.how = f"{unit.name}"
    _systemd_httpd(reader, unit)


def _systemd_httpd(reader: _Reader, unit: ServiceUnit) -> None:
    """A unit whose ExecStart runs httpd itself."""
    invocation = reader.invocation
    environment = reader.unit_environment(unit)
    command = _exec(reader, unit, environment)
    invocation.environment = environment
    if command:
        invocation.binary = command[0]
        apply_arguments(command[1:], invocation)


def _gentoo(
    reader: _Reader, unit: ServiceUnit | None, release: tuple[int, ...], _envvars: str | None
) -> None:
    invocation = reader.invocation
    if unit is not None and unit.exec_start is not None:
        invocation.how = unit.name
        _systemd_httpd(reader, unit)
        return
    # OpenRC's init.d/apache2 sources conf.d/apache2 and runs
    # `apache2 ${APACHE2_OPTS} -d ${SERVERROOT} -f ${CONFIGFILE}`.
    # openrc-run: "if ! sourcex -e conf.d/NAME.RUNLEVEL; then sourcex -e
    # conf.d/NAME; fi", where sourcex is "if ! . FILE; then ...; exit 1; fi".
    state = ShellState(dash=False, in_condition=True)
    read = reader.shell("/etc/conf.d/apache2", state)
    invocation.how = "OpenRC sources etc/conf.d/apache2" if read else ""
    variables = state.variables
    words = _unquoted(reader, state, "APACHE2_OPTS")
    if variables.get("SERVERROOT"):
        words += ["-d", variables["SERVERROOT"]]
    if variables.get("CONFIGFILE"):
        words += ["-f", variables["CONFIGFILE"]]
    invocation.binary = "/usr/sbin/apache2"
    apply_arguments(words, invocation)
    invocation.environment = _environment(reader, state)
    invocation.notes.extend(hidden_notes(state))


def _suse(
    reader: _Reader, unit: ServiceUnit | None, release: tuple[int, ...], _envvars: str | None
) -> None:
    invocation = reader.invocation
    environment = reader.unit_environment(unit) if unit is not None else {}
    command = _exec(reader, unit, environment)
    if command and "start_apache2" not in command[0]:
        invocation.how = f"{unit.name if unit else ''} runs {command[0]} directly"
        invocation.binary = command[0]
        invocation.environment = environment
        apply_arguments(command[1:], invocation)
        return
    state = ShellState(
        variables=redact_environment(environment), exported=set(environment), dash=False
    )
    read = reader.shell("/etc/sysconfig/apache2", state)
    invocation.how = "start_apache2 sources etc/sysconfig/apache2" if read else ""
    flags = _unquoted(reader, state, "APACHE_SERVER_FLAGS")
    arguments = [f"-D{flag.removeprefix('-D')}" for flag in flags if flag not in ("-D", "")]
    if reader.exists("-f", "/etc/apache2/sysconfig.d/loadmodule.conf"):
        # The start script generated sysconfig.d/ from the sysconfig file: it
        # runs httpd with SYSCONFIG defined, so that httpd.conf includes it.
        arguments.insert(0, "-DSYSCONFIG")
    if command:
        arguments += [word for word in command[1:] if word.startswith("-D")]
    mpm = state.variables.get("APACHE_MPM") or "prefork"
    invocation.binary = f"/usr/sbin/httpd-{mpm}"
    apply_arguments(arguments, invocation)
    invocation.environment = _environment(reader, state)
    invocation.notes.extend(hidden_notes(state))


def _upstream(
    reader: _Reader, unit: ServiceUnit | None, release: tuple[int, ...], _envvars: str | None
) -> None:
    if unit is None or unit.exec_start is None:
        return
    program = PurePosixPath(unit.exec_start[0][0].lstrip("@-:+!")).name
    if "httpd" in program or "apache" in program:
        reader.invocation.how = unit.name
        _systemd_httpd(reader, unit)


_Handler = Callable[[_Reader, ServiceUnit | None, tuple[int, ...], str | None], None]
_FAMILIES: dict[str, _Handler] = {
    "debian": _debian,
    "rhel": _rhel,
    "gentoo": _gentoo,
    "suse": _suse,
    "upstream": _upstream,
}
