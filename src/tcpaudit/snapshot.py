"""Facts from documents: snapshots collected elsewhere, and ``tcpaudit facts`` output.

A *snapshot* (``format: tcpaudit-snapshot/1``) is what the Ansible module
``tcpaudit.audit.facts`` collects on a target: the raw files tcpaudit's
loaders read, keyed by their absolute path on the host, plus the
world-readable /proc/sys values and the ``httpd -v`` output. This module
rebuilds a private root tree from it and runs ``tcpaudit.gather`` on that
tree, so a snapshot is judged by exactly the loaders a local audit uses.
It judges nothing itself.

The managed host must never be able to make the controller read anything:
the tree holds directories and regular files only. A ``link`` entry is
never created as a symlink: it is an empty file in the tree and a link in
memory (``rootfs.overlay_links``), which the loaders resolve inside the
tree as the host did, so no target, absolute or climbing, reaches the
controller's own files. Entries are bounded in number and size.

A *facts document* is the JSON ``tcpaudit facts`` prints (``HostFacts``).
``load_facts_document`` accepts either, and also the per-host JSON that
``ansible HOST -m tcpaudit.audit.facts --tree DIR`` writes.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .apache.effective import NUMERIC_SETTINGS
from .apache.model import ApacheSetting
from .apache.secret_words import redact_text
from .apache.shell_redirections import looks_secret
from .apache.values import RequestReadTimeoutValue
from .errors import FactsError, UsageError
from .facts import HostFacts, gather
from .inputs import DocumentError, load_json, read_bytes
from .notes import limit_notes
from .provenance import Note
from .rootfs import overlay_links
from .safetext import printable
from .snapshot_document import (
    MAX_CONTENT_BYTES,
    MAX_DOCUMENT_BYTES,
    MAX_ENTRIES,
    SNAPSHOT_FORMAT,
    FileEntry,
    HttpdBinary,
    Snapshot,
    parse_apache_version,
)
from .sysctl.defaults import KERNEL_DEFAULTS

__all__ = [
    "MAX_CONTENT_BYTES",
    "MAX_DOCUMENT_BYTES",
    "MAX_ENTRIES",
    "SNAPSHOT_FORMAT",
    "FileEntry",
    "HttpdBinary",
    "Snapshot",
    "facts_from_document",
    "facts_from_snapshot",
    "load_facts",
    "load_facts_document",
    "parse_apache_version",
]

log = logging.getLogger(__name__)

# Versions tcpaudit's Apache model knows (apache/loader.py refuses the others).
_SUPPORTED_SERIES = ("2.2", "2.4")


# Directories of the rebuilt tree: opened, never followed if a link.
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class _Tree:
    """The private tree a snapshot is rebuilt in, and the directories made in it so far.

    Every name is made and opened from its directory's descriptor, never
    through a link: a host's path may be nearly 4,096 bytes long, which the
    temporary directory's own path would push past the kernel's limit.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        # Directories known to be real directories of the tree: each entry's
        # parents are checked once, not once per entry (a lstat per name per
        # entry made 2,000 entries 500 levels deep take 89 s).
        self.made: set[str] = set()
        # The directories from the root down to the one last written in, each
        # kept open: entries come sorted, so the next shares most of them (a
        # chain opened from the root for each entry made 20,000 files 255
        # levels deep take 77 s).
        self._chain: list[tuple[str, int]] = []
        self._root_descriptor: int | None = None

    def close(self) -> None:
        for _, descriptor in reversed(self._chain):
            os.close(descriptor)
        self._chain = []
        if self._root_descriptor is not None:
            os.close(self._root_descriptor)
            self._root_descriptor = None

    def directory(self, parts: tuple[str, ...]) -> int:
        """Create ``root/parts`` as real directories; refuse to pass through a link.

        Returns a descriptor of it, valid until the next call or ``close``.
        """
        shared = 0
        while (
            shared < len(self._chain)
            and shared < len(parts)
            and self._chain[shared][0] == parts[shared]
        ):
            shared += 1
        while len(self._chain) > shared:
            os.close(self._chain.pop()[1])
        if self._root_descriptor is None:
            self._root_descriptor = os.open(self.root, _DIRECTORY_FLAGS)
        descriptor = self._chain[-1][1] if self._chain else self._root_descriptor
        current = "/" + "/".join(parts[:shared]) if shared else ""
        for part in parts[shared:]:
            current = f"{current}/{part}"
            if current not in self.made:
                try:
                    mode = os.stat(part, dir_fd=descriptor, follow_symlinks=False).st_mode
                except FileNotFoundError:
                    os.mkdir(part, 0o700, dir_fd=descriptor)
                    mode = stat.S_IFDIR
                if not stat.S_ISDIR(mode):
                    raise FactsError(
                        f"snapshot lists {printable('/'.join(parts))} below a file or "
                        "link; it cannot be rebuilt"
                    )
                self.made.add(current)
            descriptor = os.open(part, _DIRECTORY_FLAGS | os.O_NOFOLLOW, dir_fd=descriptor)
            self._chain.append((part, descriptor))
        return descriptor

    def fifo(self, tree_path: str) -> None:
        parts = tuple(tree_path.strip("/").split("/"))
        parent = self.directory(parts[:-1])
        try:
            os.mkfifo(parts[-1], 0o600, dir_fd=parent)
        except FileExistsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} twice, or below another entry"
            ) from exc

    def write(self, tree_path: str, data: bytes, mode: int) -> None:
        parts = tuple(tree_path.strip("/").split("/"))
        parent = self.directory(parts[:-1])
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            handle = os.open(parts[-1], flags, mode, dir_fd=parent)
        except FileExistsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} twice, or below another entry"
            ) from exc
        # The mode is set outright, not left to the umask: the /proc reader skips
        # values that are not world-readable, as on the host.
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)


def _materialise(snapshot: Snapshot, root: Path) -> tuple[list[Note], dict[str, str]]:
    """Write the snapshot below ``root``; return notes on what it lacks, and its links.

    Links are written as empty files (so a directory listing shows their
    names) and returned, to be resolved in memory: no symlink is created.
    """
    tree = _Tree(root)
    try:
        return _rebuild(snapshot, tree)
    finally:
        tree.close()


def _collector_note(text: str) -> Note:
    """A note of the collector's, withheld when it holds what looks like a
    credential: a snapshot's notes are free text from the managed host."""
    if "PRIVATE KEY" in text or looks_secret(redact_text(text)) or looks_secret(text):
        text = "a note was withheld: it holds what looks like a credential"
    return Note(message=f"collector: {redact_text(text)}")


def _rebuild(snapshot: Snapshot, tree: _Tree) -> tuple[list[Note], dict[str, str]]:
    notes = [_collector_note(text) for text in snapshot.notes]
    links: dict[str, str] = {}
    budget = MAX_CONTENT_BYTES
    # Directories and files first, links last, so a link never hides a file below it.
    for tree_path in sorted(snapshot.files):
        entry = snapshot.files[tree_path]
        shown = tree_path.lstrip("/")
        if tree_path == "/":
            # The root, listed for a wildcard below it: the tree's own root.
            if not entry.dir:
                raise FactsError("snapshot lists / as something other than a directory")
            continue
        if entry.link is not None:
            links[tree_path] = entry.link
        elif entry.dir:
            tree.directory(tuple(shown.split("/")))
        elif entry.special:
            # A FIFO in the private tree: the loaders see a node that is no
            # regular file and refuse it as on the host (they never open one
            # but non-blocking, and check its type first).
            tree.fifo(tree_path)
        elif entry.omitted is not None or entry.error is not None:
            why = entry.omitted or entry.error
            notes.append(
                Note(
                    message=f"not collected ({why}): read as an empty file, so its "
                    "settings are not audited",
                    file=shown,
                )
            )
            tree.write(tree_path, b"", 0o644)
        else:
            try:
                data = entry.data()
            except ValueError as exc:
                raise FactsError(str(exc), file=shown) from exc
            budget -= len(data)
            if budget < 0:
                raise FactsError(f"the snapshot's files hold more than {MAX_CONTENT_BYTES} bytes")
            tree.write(tree_path, data, 0o644)
    for tree_path, binary in sorted(snapshot.binaries.items()):
        if tree_path in snapshot.files:
            raise FactsError(f"snapshot lists {printable(tree_path)} as a file and as a binary")
        tree.write(tree_path, binary.data(), 0o755)
    for tree_path in links:
        try:
            tree.write(tree_path, b"", 0o644)
        except FactsError as exc:
            raise FactsError(
                f"snapshot lists {printable(tree_path)} as a link and as a file"
            ) from exc
    for key, value in sorted(snapshot.proc.items()):
        if value is None:
            # Recorded by name only (a secret, or not world-readable): the
            # loader sees that the key exists and, as on the host, skips it.
            tree.write(f"/proc/sys/{key}", b"", 0o600)
        else:
            tree.write(f"/proc/sys/{key}", value.encode("utf-8", "replace"), 0o644)
    return notes, links


# Where a snapshot is rebuilt when it fits: a file made on a memory file
# system takes tens of microseconds, on a disk with a journal up to a
# millisecond (20,000 entries: 15 s). A tmpfs file takes a page at least.
_MEMORY_DIRECTORY = "/dev/shm"
_DEFAULT_TEMPORARY = ("/tmp", "/var/tmp", "/usr/tmp")
_PAGE_BYTES = 4096


def _memory_directory(snapshot: Snapshot) -> str | None:
    """/dev/shm when it is a world-writable directory with room for the tree
    four times over, else None (the usual temporary directory, which TMPDIR
    or tempfile.tempdir set always choose)."""
    if any(os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")) or (
        tempfile.gettempdir() not in _DEFAULT_TEMPORARY
    ):
        return None  # the user (or the calling program) chose where
    try:
        info = os.stat(_MEMORY_DIRECTORY)
        space = os.statvfs(_MEMORY_DIRECTORY)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o1777 != 0o1777:
        return None
    entries = len(snapshot.files) + len(snapshot.binaries) + len(snapshot.proc)
    # Text and base64 are at least as long as the bytes they give.
    needed = entries * _PAGE_BYTES + sum(
        len(entry.content or entry.content_base64 or "") for entry in snapshot.files.values()
    )
    if space.f_bavail * space.f_frsize < 4 * needed or space.f_favail < 4 * entries:
        return None
    return _MEMORY_DIRECTORY


def facts_from_snapshot(document: Mapping[str, Any], *, host: str | None = None) -> HostFacts:
    """Judge a snapshot with the same loaders a local audit uses.

    The snapshot is written to a private temporary directory (mode 0700,
    removed afterwards) laid out as the host's root, and ``gather`` reads it.
    Paths in the result are relative to that root (``etc/httpd/...``), as
    with ``--root``. The Apache version comes from the ``httpd -v`` output
    when the snapshot has it (``version_source: probe``).

    Args:
        document: the snapshot (``ansible_facts.tcpaudit``).
        host: the name to report; None uses the snapshot's host name.

    Raises:
        FactsError: the document is not a valid snapshot.
        TcpauditError: the rebuilt configuration cannot be read or parsed,
            exactly as a local audit of the host would say.
    """
    try:
        snapshot = Snapshot.model_validate(document)
    except ValidationError as exc:
        raise _facts_error(exc, None) from exc
    version = parse_apache_version(snapshot.apache_version_output)
    version_notes: list[Note] = []
    if version is not None and ".".join(version.split(".")[:2]) not in _SUPPORTED_SERIES:
        version_notes.append(
            Note(message=f"httpd -v reports Apache {version}, which tcpaudit does not model")
        )
        version = None
    with tempfile.TemporaryDirectory(
        prefix="tcpaudit-snapshot-", dir=_memory_directory(snapshot)
    ) as temporary:
        root = Path(temporary)
        os.chmod(root, 0o700)
        try:
            notes, links = _materialise(snapshot, root)
        except OSError as exc:
            # Named without the private tree's path, which says nothing to the reader.
            raise FactsError(f"the snapshot cannot be rebuilt: {exc.strerror or exc}") from exc
        log.debug("snapshot of %s: %d files rebuilt", snapshot.host, len(snapshot.files))
        try:
            with overlay_links(root, links):
                facts = gather(
                    root,
                    snapshot.apache_conf,
                    apache_version=version,
                    host=host or snapshot.host,
                )
        except UsageError as exc:
            raise FactsError(
                "the snapshot holds nothing to audit: no Apache configuration, no sysctl "
                "files and no /proc/sys values"
            ) from exc
    apache = facts.apache
    if apache is not None and version is not None:
        apache = apache.model_copy(update={"version_source": "probe"})
    return facts.model_copy(
        update={"apache": apache, "notes": limit_notes([*facts.notes, *version_notes, *notes])}
    )


def _facts_error(exc: ValidationError, source: str | None) -> FactsError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    return FactsError(printable(f"{where}: {first['msg']}"), file=source)


def facts_from_document(
    document: object, *, host: str | None = None, source: str | None = None
) -> HostFacts:
    """Build ``HostFacts`` from a snapshot, a ``tcpaudit facts`` document, or Ansible's output.

    Args:
        document: parsed JSON: a snapshot (``format: tcpaudit-snapshot/1``), a
            HostFacts document, or ``{"ansible_facts": {"tcpaudit": snapshot}}``
            (what ``ansible -m tcpaudit.audit.facts --tree DIR`` writes).
        host: the name to report instead of the document's.
        source: the file the document came from, named in errors.

    Raises:
        FactsError: the document is none of these, or does not match its schema.
    """
    if not isinstance(document, Mapping):
        raise FactsError("not a facts document: expected a JSON object", file=source)
    wrapped = document.get("ansible_facts")
    if isinstance(wrapped, Mapping):
        inner = wrapped.get("tcpaudit")
        if not isinstance(inner, Mapping):
            raise FactsError(
                "ansible_facts has no tcpaudit snapshot (run tcpaudit.audit.facts)", file=source
            )
        document = inner
    if "findings" in document and "grade" in document:
        raise FactsError(
            "this is a tcpaudit report (it has findings and a grade), not a facts document; "
            "`tcpaudit facts` writes one, and `tcpaudit audit --baseline` takes reports",
            file=source,
        )
    if "format" in document:
        try:
            return facts_from_snapshot(document, host=host)
        except FactsError as exc:
            if exc.file is None and source is not None:
                raise FactsError(exc.reason, file=source, line=exc.line) from exc
            raise
    try:
        facts = HostFacts.model_validate(document)
    except ValidationError as exc:
        raise _facts_error(exc, source) from exc
    _check_setting_types(facts, source)
    return facts if host is None else facts.model_copy(update={"host": host})


def load_facts(document: Mapping[str, Any] | str | bytes, *, host: str | None = None) -> HostFacts:
    """Build ``HostFacts`` from a saved document, checked as ``tcpaudit audit --facts`` checks it.

    Use this rather than ``HostFacts.model_validate``, which raises pydantic's
    own errors and does not recognise snapshots.

    Args:
        document: ``tcpaudit facts`` output, an Ansible snapshot, or the JSON
            ``ansible -m tcpaudit.audit.facts --tree`` writes; parsed (a dict)
            or as JSON text.
        host: the name to report instead of the document's.

    Raises:
        FactsError: the text is not JSON, or the document matches no contract.

    Example::

        facts = tcpaudit.gather(root="examples/tuned")
        again = tcpaudit.load_facts(facts.model_dump_json())
        assert again.derived == facts.derived
    """
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise FactsError(f"not JSON: {exc.msg}", line=exc.lineno) from exc
        except (UnicodeDecodeError, RecursionError) as exc:
            raise FactsError(f"not a readable JSON document: {exc}") from exc
    return facts_from_document(document, host=host)


def _setting_type_error(name: str, value: object) -> str | None:
    """What the loaders put in a tracked Apache setting, when ``value`` is not that.

    A document edited by hand or by another tool could say `"Timeout":
    {"value": "abc"}`, which the rules would then silently skip.
    """
    if name in NUMERIC_SETTINGS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "a number of seconds or a count"
    elif name == "KeepAlive" and not isinstance(value, bool):
        return "true or false"
    elif name == "RequestReadTimeout" and not (
        value is None or isinstance(value, RequestReadTimeoutValue)
    ):
        return "null or an object of header/body/handshake limits"
    return None


def _check_setting_types(facts: HostFacts, source: str | None) -> None:
    apache = facts.apache
    if apache is None:
        return
    scopes: list[tuple[str, dict[str, ApacheSetting]]] = [("apache.settings", apache.settings)]
    scopes += [(f"apache.vhosts.{i}.settings", v.settings) for i, v in enumerate(apache.vhosts)]
    for where, settings in scopes:
        for name, setting in settings.items():
            expected = _setting_type_error(name, setting.value)
            if expected is not None:
                raise FactsError(
                    f"{where}.{name}.value: expected {expected}, got {setting.value!r}",
                    file=source,
                )
    sysctl = facts.sysctl
    for key, entry in (sysctl.settings if sysctl is not None else {}).items():
        # Keys the kernel keeps as numbers (its default is one) never hold text.
        if isinstance(entry.value, str) and not isinstance(KERNEL_DEFAULTS.get(key, ""), str):
            raise FactsError(
                f"sysctl.settings.{key}.value: expected a number or a list of numbers, "
                f"got {entry.value!r}",
                file=source,
            )


def load_facts_document(path: str | os.PathLike[str]) -> HostFacts:
    """Read a JSON file holding a snapshot or a HostFacts document (see ``facts_from_document``).

    Raises:
        FactsError: the file cannot be read, is not JSON, or matches neither contract.
    """
    shown = os.fspath(path)
    try:
        data = read_bytes(path, MAX_DOCUMENT_BYTES)
    except OSError as exc:
        raise FactsError(f"cannot read: {exc.strerror or exc}", file=shown) from exc
    try:
        document = load_json(data)
    except json.JSONDecodeError as exc:
        raise FactsError(f"not JSON: {exc.msg}", file=shown, line=exc.lineno) from exc
    except DocumentError as exc:
        raise FactsError(str(exc), file=shown) from exc
    return facts_from_document(document, source=shown)
