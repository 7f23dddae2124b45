"""Which running httpd owns which listening port, and how it was started.

This module owns the step from sockets to instances: the process tree that
holds a listening socket (fd -> inode, ``owners.py``) is one instance; its
root process's ``/proc/<pid>/cmdline`` (``-f``, ``-d``, ``-D``, ``-C``) and
``exe`` (the binary, read as bytes by ``apache.binary``, never run) say which
configuration it runs and with which build. ``run.py`` loads and judges that
configuration; this module only works out what to ask the loader for, and
says in words how it found it.

httpd's own rules (server/main.c, server/config.c): ``-d`` sets ServerRoot
before anything is read, ``-C`` directives are read before the main file and
may set ServerRoot themselves, and a relative ``-f`` is taken relative to the
ServerRoot in force once they are read. Without ``-d`` the ServerRoot is the
compiled-in one, which each family's build fixes (``httpd -V``: HTTPD_ROOT).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..apache.binary import BinaryFacts, read_binary
from ..apache.invocation import Invocation, apply_arguments
from ..apache.shell_redirections import shown_directive
from ..apache.shell_state import REDACTED_VALUE
from ..provenance import Note
from ..rootfs import RootFS
from .processes import ProcessInfo, read_environment, read_process
from .sockets import SocketRecord, TcpState

__all__ = [
    "APACHE_COMMANDS",
    "CompiledPaths",
    "InstanceGroup",
    "LoadPlan",
    "compiled_paths",
    "group_listeners",
    "plan_load",
]

# What httpd's processes are called by distributions (Debian apache2, RHEL
# httpd, the 2.2-era httpd.worker / httpd.event binaries, openSUSE httpd-prefork).
APACHE_COMMANDS = frozenset(
    {"apache2", "httpd", "httpd.worker", "httpd.event", "httpd-prefork", "httpd-worker",
     "httpd-event", "httpd2", "httpd2-prefork", "httpd2-worker"}
)  # fmt: skip
# The compiled-in ServerRoot (httpd -V: HTTPD_ROOT) of each family's build,
# recognised by the platform word of the binary's banner.
_COMPILED_SERVER_ROOTS: tuple[tuple[str, str], ...] = (
    ("debian", "/etc/apache2"),
    ("ubuntu", "/etc/apache2"),
    ("red hat", "/etc/httpd"),
    ("centos", "/etc/httpd"),
    ("fedora", "/etc/httpd"),
    ("rocky", "/etc/httpd"),
    ("almalinux", "/etc/httpd"),
    ("amazon", "/etc/httpd"),
    ("suse", "/srv/www"),
    ("unix", "/usr/local/apache2"),
)
# httpd binaries are a few MiB; a file far larger is not one (as apache.binary).
_MAX_BINARY_BYTES = 64 * 1024 * 1024
# A command line longer than this is shown cut (it is evidence, not data).
_SHOWN_ARGUMENTS = 12


# The listening addresses an instance names (SO_REUSEPORT and many IPs aside,
# a handful): a capture of a million listeners must not list them all.
MAX_ADDRESSES_LISTED = 100
# Processes read to group the listeners (workers hold them too): a bound on
# the work and memory a /proc tree of many processes costs.
MAX_PROCESSES_READ = 10_000


@dataclass
class InstanceGroup:
    """Listening sockets held by one process tree, or by no visible process.

    Attributes:
        root_pid: the tree's root (httpd's parent process), or None for the
            listeners whose holder is not visible.
        ports: the ports of its listening sockets, sorted.
        addresses: the listening addresses (``127.0.0.1:8080``), the first
            MAX_ADDRESSES_LISTED.
        holders: every pid that holds one of the listening sockets.
    """

    root_pid: int | None
    ports: list[int] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    holders: set[int] = field(default_factory=set)


@dataclass
class LoadPlan:
    """What to ask ``load_apache`` for to read the configuration an instance runs.

    ``apache_conf`` None means: find it as the loader does (the service's
    ``-f``, else the layout's file). ``found_by`` is the sentence that says how.
    """

    apache_conf: str | None = None
    defines: list[str] = field(default_factory=list)
    directives: list[str] = field(default_factory=list)
    late_directives: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    # -d, or the compiled-in root: httpd's ServerRoot before any directive.
    server_root: str | None = None
    version: str | None = None
    compiled_in: tuple[str, ...] | None = None
    process: ProcessInfo | None = None
    binary: BinaryFacts | None = None
    arguments: list[str] = field(default_factory=list)
    found_by: str = ""
    notes: list[Note] = field(default_factory=list)


def _is_apache(process: ProcessInfo | None, command: str) -> bool:
    if command in APACHE_COMMANDS:
        return True
    if process is None:
        return False
    names = [posixpath.basename(process.exe or ""), posixpath.basename(process.arguments[0])
             if process.arguments else ""]  # fmt: skip
    return any(name in APACHE_COMMANDS for name in names)


def group_listeners(
    fs: RootFS, records: Iterable[SocketRecord], ports: list[int] | None
) -> tuple[list[InstanceGroup], dict[int, ProcessInfo]]:
    """Group the listening sockets by the process tree holding them.

    Args:
        fs: the root whose ``proc/<pid>`` entries are read.
        records: the socket table with owners attached.
        ports: the ports asked for; None takes every listener an httpd holds.

    Returns:
        The groups (instances first, by lowest port; the group of listeners
        with no visible holder last) and the processes read, by pid.
    """
    listening = [r for r in records if r.state is TcpState.LISTEN]
    if ports is not None:
        wanted = set(ports)
        listening = [r for r in listening if r.local_port in wanted]
    processes: dict[int, ProcessInfo] = {}

    def process(pid: int) -> ProcessInfo | None:
        if pid not in processes:
            if len(processes) >= MAX_PROCESSES_READ:
                return None  # as a process gone: its sockets' holder is unknown
            info = read_process(fs, pid)
            if info is None:
                return None
            processes[pid] = info
        return processes[pid]

    groups: dict[int | None, InstanceGroup] = {}
    seen_of: dict[int | None, tuple[set[int], set[str]]] = {}
    for record in listening:
        holders = {ref.pid for ref in record.owners}
        if ports is None and not any(
            ref.command in APACHE_COMMANDS or _is_apache(process(ref.pid), ref.command)
            for ref in record.owners
        ):
            continue
        root = _tree_root(holders, process) if holders else None
        group = groups.setdefault(root, InstanceGroup(root_pid=root))
        group.holders |= holders
        # Sets beside the lists: a capture can hold a million listeners.
        seen = seen_of.setdefault(root, (set(), set()))
        if record.local_port not in seen[0]:
            seen[0].add(record.local_port)
            group.ports.append(record.local_port)
        if record.local not in seen[1]:
            seen[1].add(record.local)
            if len(group.addresses) < MAX_ADDRESSES_LISTED:
                group.addresses.append(record.local)
    for group in groups.values():
        group.ports.sort()
    ordered = sorted((g for g in groups.values() if g.root_pid is not None),
                     key=lambda g: (g.ports[:1], g.root_pid or 0))  # fmt: skip
    if None in groups:
        ordered.append(groups[None])
    return ordered, processes


def _tree_root(holders: set[int], process: Callable[[int], ProcessInfo | None]) -> int:
    """The holder whose parent holds none of the sockets: httpd's parent process.

    prefork's children and the threaded MPMs' child processes inherit the
    listening sockets from the parent, which is the one started with the
    command line (the children's is a copy, but their parent is the instance).
    """
    roots = []
    for pid in holders:
        info = process(pid)
        if info is None or info.parent not in holders:
            roots.append(pid)
    return min(roots or holders)


def _compiled_server_root(binary: BinaryFacts | None) -> str | None:
    platform = (binary.platform or "").lower() if binary is not None else ""
    return next((root for word, root in _COMPILED_SERVER_ROOTS if word in platform), None)


@dataclass(frozen=True, slots=True)
class CompiledPaths:
    """``httpd -V``'s HTTPD_ROOT and SERVER_CONFIG_FILE, as the binary's bytes hold them."""

    server_root: str | None
    config_file: str | None


# main.c prints them with `-D HTTPD_ROOT="` HTTPD_ROOT `"`: the literal is in the binary.
_COMPILED = re.compile(rb'HTTPD_ROOT="([^"\x00]{1,4096})"|SERVER_CONFIG_FILE="([^"\x00]{1,4096})"')


def compiled_paths(where: RootFS, tree_path: str) -> CompiledPaths:
    """Read the compiled-in ServerRoot and main file from an httpd binary, never running it."""
    try:
        data = where.read_bytes(tree_path, _MAX_BINARY_BYTES)
    except OSError:
        return CompiledPaths(None, None)
    root = config = None
    for match in _COMPILED.finditer(data):
        if match.group(1) and root is None:
            root = match.group(1).decode("utf-8", errors="replace")
        elif match.group(2) and config is None:
            config = match.group(2).decode("utf-8", errors="replace")
    return CompiledPaths(root, config)


def _binary(fs: RootFS, process: ProcessInfo, notes: list[Note]) -> BinaryFacts | None:
    shown_link = f"/proc/{process.pid}/exe"
    if process.exe is None:
        notes.append(
            Note(
                message=f"{shown_link} is not readable (another user's process: run as root): "
                "the httpd build and version are worked out from the root instead"
            )
        )
        return None
    if process.exe_deleted:
        notes.append(
            Note(
                message=f"{shown_link} points to {process.exe} (deleted): the binary was "
                "replaced since this instance started (an upgrade without a restart), so the "
                "file there now is not the one running; the build and version are worked out "
                "from the root instead"
            )
        )
        return None
    # Live: the path as the process's own root names it; a copy: inside the copy.
    binary = read_binary(_process_root(fs, process), process.exe)
    if binary is None:
        notes.append(
            Note(
                message=f"{shown_link} names {process.exe}, which is not an httpd binary that "
                "can be read here (absent, unreadable, or without a version string): the build "
                "and version are worked out from the root instead"
            )
        )
    return binary


def _process_root(fs: RootFS, process: ProcessInfo) -> RootFS:
    """Live: paths as the process's own root names them; a copy: inside the copy."""
    return RootFS(process.root_path) if fs.is_host else fs


def shown_arguments(arguments: list[str], *, define_values: bool = True) -> list[str]:
    """A command line as outputs show it: a -C/-c directive, a -D name or any
    word holding a secret (a URL password, a token) redacted. Options are read
    as apr_getopt reads them: a value glued to its flag (``-CDefine X y``,
    ``-XCSetEnv X y``) is redacted as the directive it is. Without
    ``define_values`` the value of each -C/-c ``Define`` is not shown either:
    for a command line whose configuration was not read, where the use that
    would make it a secret (a password in a URL) is not known."""
    shown: list[str] = []
    flags: str | None = None
    for word in arguments:
        if flags is not None:
            shown.append(_shown_value(flags, word, define_values))
            flags = None
            continue
        word_flags, value = _option_and_value(word)
        if word_flags is None:
            shown.append(shown_directive(word))
        elif value:
            shown.append(word_flags + _shown_value(word_flags, value, define_values))
        else:
            shown.append(word)
            flags = word_flags if word_flags[-1:] in _OPTIONS_WITH_VALUE else None
    return shown


def _shown_value(flags: str, value: str, define_values: bool) -> str:
    words = value.split()
    if not define_values and flags[-1] in "Cc" and len(words) > 2 and words[0].lower() == "define":
        return f"{words[0]} {shown_directive(words[1])} {REDACTED_VALUE}"
    return shown_directive(value)


# httpd's getopt string (server/main.c): the options that take a value.
_OPTIONS_WITH_VALUE = frozenset("CcDdEefknR")


def _option_and_value(word: str) -> tuple[str | None, str]:
    """(the flags up to and including one that takes a value, the value glued to
    it) of an option word; (None, "") for a word that is no option."""
    if not word.startswith("-") or word.startswith("--") or word == "-":
        return None, ""
    for position in range(1, len(word)):
        if word[position] in _OPTIONS_WITH_VALUE:
            return word[: position + 1], word[position + 1 :]
    return word, ""


def _short(arguments: list[str]) -> str:
    shown = shown_arguments(arguments[:_SHOWN_ARGUMENTS])
    text = " ".join(shown)
    return text + (" ..." if len(arguments) > _SHOWN_ARGUMENTS else "")


def plan_load(fs: RootFS, group: InstanceGroup, processes: dict[int, ProcessInfo]) -> LoadPlan:
    """Work out the configuration, build and start-up options of one instance.

    The caller adds the user's ``-D``/``-C``/``--env`` after these (as httpd
    would read them after the service's). A group without a visible holder
    gets an empty plan: the loader's own search (the service's ``-f``, the
    layout's file), and a note saying so.
    """
    plan = LoadPlan()
    addresses = ", ".join(group.addresses) or "the ports"
    process = processes.get(group.root_pid) if group.root_pid is not None else None
    if process is None or not process.arguments:
        why = (
            "no process visibly holds the listening socket of "
            f"{addresses} (tcpaudit not run as root, the server in another PID namespace, "
            "or a hidepid /proc)"
            if group.root_pid is None
            else f"the command line of process {group.root_pid}, which holds {addresses}, "
            "is not readable"
        )
        plan.found_by = (
            f"{why}: judged the configuration the host's service starts httpd with (its -f, "
            "else the distribution's default file), which may not be the one running"
        )
        plan.notes.append(Note(message=plan.found_by))
        return plan
    binary_notes: list[Note] = []
    binary = _binary(fs, process, binary_notes)
    if binary is None and not _is_apache(process, process.command):
        # Another server holds the port (a proxy in front, a load balancer): its
        # command line is not httpd's and means nothing to httpd's options.
        plan.found_by = (
            f"process {process.pid} ({process.command}), which holds {addresses}, is not an "
            "httpd (neither its name nor its binary says so): judged the configuration the "
            "host's service starts httpd with (its -f, else the distribution's default file)"
        )
        plan.notes.append(Note(message=plan.found_by))
        return plan
    plan.process = process
    plan.binary = binary
    plan.notes += binary_notes
    plan.arguments = list(process.arguments[1:])
    invocation = Invocation()
    apply_arguments(plan.arguments, invocation)
    if plan.binary is not None:
        plan.version = plan.binary.version
        plan.compiled_in = plan.binary.linked
    compiled = (
        compiled_paths(_process_root(fs, process), process.exe)
        if plan.binary is not None and process.exe is not None
        else CompiledPaths(None, None)
    )
    compiled_root = compiled.server_root or _compiled_server_root(plan.binary)
    # -d (or the compiled-in root) as httpd applies it: before the -C lines,
    # which may set another, and before the main file, which may too; unlike
    # a ServerRoot line, never checked to be a directory.
    plan.server_root = invocation.server_root or compiled_root
    plan.directives += invocation.before
    plan.defines = list(invocation.defines)
    environment = read_environment(fs, process.pid)
    if environment is not None:
        plan.environment = environment
    else:
        plan.notes.append(
            Note(
                message=f"/proc/{process.pid}/environ is not readable (run as root): ${{NAME}} "
                "takes the service's environment instead of this instance's"
            )
        )
    plan.late_directives += invocation.after
    # Without -f, httpd reads its compiled-in SERVER_CONFIG_FILE, relative to ServerRoot.
    config_file = invocation.config_file or compiled.config_file
    if config_file is not None:
        effective_root = _last_server_root(plan.directives) or plan.server_root or "/"
        plan.apache_conf = posixpath.normpath(posixpath.join(effective_root, config_file))
    if process.own_root:
        plan.notes.append(
            Note(
                message=f"process {process.pid} sees another filesystem than tcpaudit (its own "
                "root directory or mount namespace: a container, a chroot): its binary and "
                f"configuration are read through /proc/{process.pid}/root, and shown relative to it"
            )
        )
    binary_text = (
        f"{process.exe} (Apache/{plan.binary.version}"
        + (f" ({plan.binary.platform})" if plan.binary.platform else "")
        + (f", {len(plan.binary.linked)} modules built in" if plan.binary.linked else "")
        + ")"
        if plan.binary is not None
        else (process.exe or "not readable")
    )
    if invocation.config_file is not None:
        config_text = f"-f {invocation.config_file}" + (
            f" = {plan.apache_conf}" if plan.apache_conf != invocation.config_file else ""
        )
    elif plan.apache_conf is not None:
        config_text = (
            f"no -f: the binary's compiled-in SERVER_CONFIG_FILE {compiled.config_file} = "
            f"{plan.apache_conf}"
        )
    else:
        config_text = "no -f, and no compiled-in file read from the binary: found by layout"
    plan.found_by = (
        f"process {process.pid} ({process.command}) holds the listening socket"
        f"{'s' if len(group.addresses) > 1 else ''} of {addresses}; its command line "
        f"({_short(list(process.arguments)) or '-'}) gives {config_text}; binary {binary_text}"
    )
    return plan


def _last_server_root(directives: list[str]) -> str | None:
    root = None
    for directive in directives:
        words = directive.split(None, 1)
        if len(words) == 2 and words[0].lower() == "serverroot":
            root = words[1].strip().strip('"')
    return root
