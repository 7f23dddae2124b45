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
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .apache.effective import NUMERIC_SETTINGS
from .apache.model import ApacheSetting
from .apache.values import RequestReadTimeoutValue
from .errors import FactsError, UsageError
from .facts import HostFacts, gather
from .inputs import DocumentError, load_json, read_bytes
from .notes import limit_notes
from .private_directory import private_directory
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
from .snapshot_tree import materialise, memory_directory
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
    with private_directory("tcpaudit-snapshot-", memory_directory(snapshot)) as root:
        try:
            notes, links = materialise(snapshot, root)
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
    if not isinstance(document, str | bytes):
        return facts_from_document(document, host=host)
    try:
        parsed = load_json(document)
    except json.JSONDecodeError as exc:
        raise FactsError(f"not JSON: {exc.msg}", line=exc.lineno) from exc
    except DocumentError as exc:
        raise FactsError(f"not a readable JSON document: {exc}") from exc
    return facts_from_document(parsed, host=host)


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
            if setting.value is None and setting.note is not None:
                continue  # the loader's "not known", which its note explains
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
