"""Fixes as file changes, placed where they win, and the paste-able text made from them.

A ``Fix`` is a list of ``FileChange`` (engine.findings) plus advice that
changes no file; its text (checks.paste) is rendered from those changes, so
the patch ``tcpaudit fix`` prints and the text a finding shows never differ.

An Apache fix replaces the line that sets the value now (the model holds the
winning line), goes inside the virtual host a finding is about when that host
does not set it, or else at the end of the main file (after every module is
loaded). A module is loaded the way the layout does it: Debian's a2enmod
links mods-enabled/x.load (and x.conf) to mods-available, other layouts take
a LoadModule line after the main file's last one, with its directory.

A sysctl value goes into one /etc/sysctl.d drop-in whose name sorts after
every file that sets a key tcpaudit tracks, or replaces its line in
/etc/sysctl.conf when procps applies that file last.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..apache.model import ApacheConfig, ApacheSetting, ProxyRoute, VirtualHost
from ..apache.scopes import vhost_label
from ..apache.tree import Directive
from ..engine.findings import FileChange
from ..provenance import Location
from ..safetext import printable
from ..sysctl.model import SysctlSetting, SysctlSettings, SysctlValue, value_text
from ..sysctl.persistent import name_sorting_after
from .paste import paste_text

__all__ = [
    "DROP_IN_NAME",
    "Fix",
    "apache_location",
    "as_word",
    "delete_line",
    "drop_in_for",
    "drop_in_name",
    "editable",
    "line_text",
    "load_module",
    "load_module_fix",
    "proxy_pass_fix",
    "proxy_pass_with",
    "set_directive",
    "sysctl_fix",
    "sysctl_location",
    "value_source",
    "with_parameter",
]

# str.isspace's characters (re's \s is the same set), searched in C: a
# generator per character took 0.75 s for a 4 MiB word.
_SPACE = re.compile(r"\s")

DROP_IN_NAME = "99-tcpaudit.conf"


@dataclass(frozen=True)
class Fix:
    """The file changes of a fix, and advice lines (``# ...``) that change no file."""

    changes: tuple[FileChange, ...] = ()
    comments: tuple[str, ...] = ()
    # Shown before the changes (e.g. "# after the fix of TA301:").
    preface: tuple[str, ...] = ()
    # Live sysctl values to set now (the files already hold them): key, value.
    apply_now: tuple[tuple[str, str], ...] = ()
    # What each deleted line reads, for the text.
    deleted: tuple[tuple[FileChange, str], ...] = ()
    # The virtual host the fix is for (None: the server); the text names
    # every other scope it changes.
    scope: str | None = None

    def __add__(self, other: Fix) -> Fix:
        return Fix.joined((self, other), self.scope)

    @staticmethod
    def joined(parts: Sequence[Fix], scope: str | None = None) -> Fix:
        """The parts one after the other, for ``scope``: in one pass, where adding
        them one by one copies every earlier change again."""
        return Fix(
            tuple(change for part in parts for change in part.changes),
            tuple(comment for part in parts for comment in part.comments),
            tuple(line for part in parts for line in part.preface),
            tuple(pair for part in parts for pair in part.apply_now),
            tuple(pair for part in parts for pair in part.deleted),
            scope,
        )

    @property
    def text(self) -> str:
        """What an operator pastes: rendered from ``changes``, then the comments."""
        return paste_text(
            self.changes,
            self.comments,
            self.preface,
            self.apply_now,
            dict(self.deleted),
            self.scope,
        )


# The directives of the last configuration asked about, by file and line: a
# check asks once per finding, and walking the tree each time was quadratic
# (10,000 ProxyPass vhosts took 48 s). One tree is kept, the last: keyed by the
# directives themselves, which the copies fixes make of a configuration share.
_BY_LINE: tuple[list[Directive], dict[tuple[str, int], Directive]] | None = None


def _directives_by_line(config: ApacheConfig) -> dict[tuple[str, int], Directive]:
    global _BY_LINE
    cached = _BY_LINE
    if cached is not None and cached[0] is config.directives:
        return cached[1]
    index: dict[tuple[str, int], Directive] = {}
    for top in config.directives:
        for directive in top.walk():
            if directive.file is not None and directive.line is not None:
                index.setdefault((directive.file, directive.line), directive)
    _BY_LINE = (config.directives, index)
    return index


def line_text(config: ApacheConfig, file: str | None, line: int | None) -> str | None:
    """The directive at ``file:line`` as read (name and words), or None."""
    if file is None or line is None:
        return None
    directive = _directives_by_line(config).get((file, line))
    if directive is None:
        return None
    words = " ".join(as_word(word) for word in directive.args)
    text = f"{directive.name} {words}".rstrip()
    return f"<{text}>" if directive.children is not None else text


def editable(file: str | None) -> bool:
    """Whether a file name is one a patch can change (not httpd's ``-c/-C directives``)."""
    return bool(file) and not (file or "").startswith("-")


def scope_setting(config: ApacheConfig, scope: str | None, name: str) -> ApacheSetting | None:
    """The setting ``name`` where a hold's ``scope`` (a vhost's label, None for
    the server) takes it: the vhost's own line, else the server's it inherits."""
    if scope is not None:
        for vhost in config.vhosts:
            if vhost_label(vhost) == scope:
                own = vhost.settings.get(name)
                if own is not None:
                    return own
                break
    return config.settings.get(name)


def apache_location(config: ApacheConfig, setting: ApacheSetting | None) -> Location:
    """The line that sets a value, or the main file when Apache's default applies."""
    if setting is not None and setting.file is not None:
        return Location(file=setting.file, line=setting.line)
    return Location(file=config.main_file)


def set_directive(
    config: ApacheConfig,
    setting: ApacheSetting | None,
    text: str,
    *,
    vhost: VirtualHost | None = None,
) -> Fix:
    """``text`` (one or more directive lines) where it wins for the scope.

    Args:
        config: the configuration.
        setting: the value in force in the scope now (None or a default:
            nothing sets it there).
        text: the directive lines to write.
        vhost: the virtual host the fix is for; None for the server.

    The line that sets the value is replaced; else the lines go just inside
    the ``<VirtualHost>`` they are for, or at the end of the main file, after
    every Include and LoadModule, where a server-wide value is read last.
    """
    label = vhost_label(vhost) if vhost is not None else None
    if (
        setting is not None
        and not setting.default
        and setting.line is not None
        and setting.file is not None
        and editable(setting.file)
    ):
        change = FileChange(
            file=setting.file,
            line=setting.line,
            action="replace",
            text=text,
            scope=label,
            was=line_text(config, setting.file, setting.line),
        )
        return Fix((change,), scope=label)
    if vhost is not None and editable(vhost.file):
        change = FileChange(
            file=vhost.file,
            line=vhost.line,
            action="insert_after",
            text=text,
            scope=label,
            was=line_text(config, vhost.file, vhost.line),
        )
        return Fix((change,), scope=label)
    return Fix((FileChange(file=config.main_file, action="append", text=text),))


def delete_line(file: str, line: int | None, was: str, scope: str | None = None) -> Fix:
    """Delete the (logical) line at ``file:line``, which reads ``was``."""
    if line is None or not editable(file):
        return Fix(comments=(f"# delete: {printable(was, runner_markers=False)}",))
    change = FileChange(file=file, line=line, action="replace", text="", scope=scope, was=was)
    return Fix((change,), deleted=((change, was),), scope=scope)


def _module_stem(module: str) -> str:
    return module.removesuffix("_module")


def load_module_fix(config: ApacheConfig, module: str) -> str:
    """How this layout loads a module, as text: Debian's a2enmod, else a LoadModule line."""
    return load_module(config, module).text


def load_module(config: ApacheConfig, module: str) -> Fix:
    """The changes that load ``module`` the way the layout does.

    Debian: what ``a2enmod`` does, the links mods-enabled/x.load and x.conf
    to ../mods-available (a link whose target the tree lacks is left out
    when the patch is made). Elsewhere: a LoadModule line after the main
    file's last one, naming the module file in that line's directory.
    """
    stem = _module_stem(module)
    enabled = posixpath.join(posixpath.dirname(config.main_file), "mods-enabled")
    # a2enmod's links load a module only where the configuration reads
    # mods-enabled (a file read there, or a wildcard matched in it).
    reads_enabled = any(f.startswith(enabled + "/") for f in config.files) or any(
        directory.endswith("/mods-enabled") for directory, _ in config.wildcards
    )
    if config.layout == "debian" and reads_enabled:
        return Fix(
            tuple(
                FileChange(
                    file=f"{enabled}/{stem}.{kind}",
                    action="create",
                    text=f"../mods-available/{stem}.{kind}",
                    link=True,
                )
                for kind in ("load", "conf")
            )
        )
    loads = [d for d in config.directives if d.key == "loadmodule" and editable(d.file)]
    in_main = [d for d in loads if d.file == config.main_file]
    candidates = in_main or loads
    anchor = candidates[-1] if candidates else None
    directory = "modules"
    if anchor is not None and len(anchor.args) >= 2 and "/" in anchor.args[1]:
        directory = posixpath.dirname(anchor.args[1])
    line = f"LoadModule {module} {as_word(f'{directory}/mod_{stem}.so')}"
    if anchor is None:
        return Fix((FileChange(file=config.main_file, action="append", text=line),))
    was = line_text(config, anchor.file, anchor.line)
    change = FileChange(
        file=anchor.file, line=anchor.line, action="insert_after", text=line, was=was
    )
    return Fix((change,))


def with_parameter(words: Iterable[str], key: str, value: str) -> list[str]:
    """``words`` with ``key=value`` set: an existing ``key=`` (any case)
    replaced in place, otherwise the pair added at the end; every other word
    (flags such as ``nocanon``, other parameters) kept where it is."""
    words = list(words)
    wanted = f"{key}={value}"
    for index, word in enumerate(words):
        name, sep, _ = word.partition("=")
        if sep and name.lower() == key:
            words[index] = wanted
            return words
    words.append(wanted)
    return words


def proxy_pass_with(route: ProxyRoute, key: str, value: str) -> str:
    """The route's ``ProxyPass`` line with ``key=value`` set (``with_parameter``)."""
    words = with_parameter(route.words, key, value)
    # Inside a <Location> the line names only the backend: the path is the section's.
    head = [route.directive] if route.section else [route.directive, route.path]
    return " ".join(as_word(word) for word in (*head, route.url, *words))


def proxy_pass_fix(route: ProxyRoute, key: str, value: str) -> Fix:
    """The route's line replaced by ``proxy_pass_with``."""
    text = proxy_pass_with(route, key, value)
    if not editable(route.file):
        return Fix(comments=(text,))
    head = [route.directive] if route.section else [route.directive, route.path]
    was = " ".join(as_word(word) for word in (*head, route.url, *route.words))
    change = FileChange(file=route.file, line=route.line, action="replace", text=text, was=was)
    return Fix((change,))


def as_word(word: str) -> str:
    """``word`` spelt so that httpd reads it back as one word."""
    if word and not _SPACE.search(word) and word[0] not in "\"'":
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- sysctl ---------------------------------------------------------------


def drop_in_name(current: SysctlSetting | None) -> str:
    """A sysctl.d file name that sorts after the file setting one key now.

    Both boot tools apply sysctl.d files in byte order of their names, and
    the last write of a key wins, so the drop-in must sort after the file
    (or the sysctl.d link to it) that sets the key now: DROP_IN_NAME when it
    does, else a name derived from that file's (persistent.name_sorting_after).
    Writing to /etc/sysctl.d/DROP_IN_NAME itself also wins: its new last
    line is the key's last write.
    """
    return _after_files([_placed(current)] if current is not None else [], DROP_IN_NAME)


def _placed(setting: SysctlSetting) -> str | None:
    source = setting.persistent
    return None if source is None else (source.via or source.file)


def _after_files(files: Iterable[str | None], name: str) -> str:
    for placed in sorted({f for f in files if f}, key=lambda f: os.fsencode(PurePosixPath(f).name)):
        path = PurePosixPath(placed)
        if path.name == "sysctl.conf" and path.parent.name == "etc":
            continue  # not a sysctl.d file: procps applies it last (edited in place)
        if path.name == name and path.parent.as_posix().lstrip("/") == "etc/sysctl.d":
            continue  # the drop-in itself: its new last line wins
        if os.fsencode(path.name) >= os.fsencode(name):
            name = name_sorting_after(path.name, name, "tcpaudit")
    return name


def drop_in_for(sysctl: SysctlSettings) -> str:
    """The one drop-in name every sysctl fix of this host uses.

    It sorts after every file that sets a key tcpaudit tracks, so one file
    holds every value the fixes write and each of them wins.
    """
    return _after_files((_placed(s) for s in sysctl.settings.values()), DROP_IN_NAME)


def _absolute_names(sysctl: SysctlSettings) -> bool:
    """Whether the audit names files absolutely (the host itself, root /)."""
    for setting in sysctl.settings.values():
        for source in (setting.live, setting.persistent):
            if source is not None:
                return source.file.startswith("/")
    return any(file.startswith("/") for file in sysctl.persistent_files)


def sysctl_location(
    setting: SysctlSetting | None, wanted: SysctlValue | None = None
) -> Location | None:
    """Where to act on a key: the file that sets it persistently, else its /proc file.

    When the persistent file already holds ``wanted`` and only the live value
    differs, the file is right and the live value is what to change: the
    /proc file, so no one edits a line that is already correct.
    """
    if setting is None:
        return None
    if wanted is not None and setting.pending(wanted):
        assert setting.live is not None
        return Location(file=setting.live.file, line=setting.live.line)
    return setting.location


def value_source(setting: SysctlSetting | None, kernel: str | None = None) -> str:
    """Where the value in force comes from: its /proc file when it is the live
    value, else the persistent file:line, else the kernel default.

    Not ``sysctl_location``, which says where to act: a live value that the
    files do not set (or set otherwise) must not be quoted as theirs.
    """
    if setting is None:
        return "unknown"
    source = setting.live if setting.source == "live" else None
    if source is None and setting.source == "persistent":
        source = setting.persistent
    if source is not None:
        return source.file if source.line is None else f"{source.file}:{source.line}"
    if setting.source == "default":
        return f"the default of Linux {kernel}" if kernel else "the kernel default"
    return "unknown"


def sysctl_fix(assignments: Mapping[str, SysctlValue | int | str], sysctl: SysctlSettings) -> Fix:
    """The changes that give the keys ``assignments`` at every boot, and apply them now.

    When the persistent files already set every value and only live values
    differ, ``sysctl -w`` applies them: the files need no edit. Otherwise
    each value goes where it wins at boot: the line of /etc/sysctl.conf that
    sets it is replaced (procps applies that file last; under systemd-sysctl
    the value also goes to the drop-in), else the host's one drop-in
    (``drop_in_for``) gets it, replacing the key's line there if it has one.
    """
    settings = sysctl.settings
    wanted = {key: value_text(value) for key, value in assignments.items()}
    persisted = all(
        (setting := settings.get(key)) is not None
        and setting.persistent is not None
        and value_text(setting.persistent.value) == value
        for key, value in wanted.items()
    )
    pending = [
        key for key in wanted if (setting := settings.get(key)) and setting.pending(wanted[key])
    ]
    if persisted and pending:
        return Fix(apply_now=tuple((key, wanted[key]) for key in pending))
    prefix = "/" if _absolute_names(sysctl) else ""
    drop_in = f"{prefix}etc/sysctl.d/{drop_in_for(sysctl)}"
    changes: list[FileChange] = []
    appended: list[str] = []
    for key, value in wanted.items():
        line = f"{key} = {value}"
        source = (setting := settings.get(key)) and setting.persistent
        if source and source.line is not None and source.glob is None:
            path = PurePosixPath(source.file)
            in_conf = path.name == "sysctl.conf" and path.parent.name == "etc"
            if in_conf or source.file.lstrip("/") == drop_in.lstrip("/"):
                was = f"{key} = {value_text(source.value)}"
                changes.append(
                    FileChange(
                        file=source.file, line=source.line, action="replace", text=line, was=was
                    )
                )
                # procps (`sysctl --system`, what the playbook's handler runs)
                # applies /etc/sysctl.conf after every sysctl.d file, systemd-sysctl
                # at its 99-sysctl.conf link: edited in place, the line is right
                # for both; under systemd the drop-in also sorts after any later file.
                if not (in_conf and sysctl.boot == "systemd"):
                    continue
        appended.append(line)
    if appended:
        changes.append(FileChange(file=drop_in, action="append", text="\n".join(appended)))
    return Fix(tuple(changes))
