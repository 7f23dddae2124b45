"""The fixes as data: what each file must hold, for the check action's ``remediate``.

``remediation`` gives, per file, what the playbook of ``tcpaudit fix
--format ansible`` does to it (the same plan, the same bytes), in a form a
play can loop over: the host path, the text it must hold (or the link to
make), the checksums before and after, and the handler to notify.
``plan_snapshot`` plans a snapshot collected by ``tcpaudit.audit.facts``: the
snapshot is rebuilt in a private temporary tree (as the audit rebuilt it)
and removed once planned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..engine.findings import Finding
from ..errors import FactsError
from .plan import FileEdit, Plan, plan

__all__ = ["HTTPD_SERVICE", "needs_restart", "plan_snapshot", "remediation"]

# Changes httpd takes only on a full restart (a graceful reload keeps the MPM
# and its ServerLimit; a2enmod also asks for a restart).
_RESTART_WORDS = ("LoadModule", "ServerLimit")
HTTPD_SERVICE = {"debian": "apache2", "suse": "apache2", "gentoo": "apache2"}


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def needs_restart(edits: Sequence[FileEdit]) -> bool:
    """Whether httpd must restart (a module or the pool size changes) rather than reload."""
    for edit in edits:
        if edit.link is not None:
            return True
        if any(change.text.startswith(_RESTART_WORDS) for change in edit.changes):
            return True
    return False


def remediation(planned: Plan, *, layout: str | None) -> dict[str, Any]:
    """The plan as JSON-ready data: ``files`` to change, then what to run after.

    Returns:
        ``{"files": [...], "httpd": {"service", "state"} | None, "sysctl": bool,
        "rules": [...], "notes": [...]}``. Each file entry has ``path`` (the
        host's), ``rules``, ``where`` (the places changed) and either
        ``state: link`` with ``src``, or ``state: file`` with ``content``,
        ``checksum_before`` (None: a new file), ``checksum_after`` and
        ``handler`` ("httpd" or "sysctl").
    """
    apache = [edit for edit in planned.edits if not edit.sysctl]
    files: list[dict[str, Any]] = []
    for edit in planned.edits:
        entry: dict[str, Any] = {
            "path": "/" + edit.path,
            "rules": list(edit.rules),
            "where": list(edit.lines),
            "handler": "sysctl" if edit.sysctl else "httpd",
        }
        if edit.link is not None:
            entry.update(state="link", src=edit.link)
        else:
            after = edit.after or ""
            entry.update(
                state="file",
                content=after,
                checksum_before=None if edit.before is None else _sha1(edit.before),
                checksum_after=_sha1(after),
            )
        files.append(entry)
    httpd = None
    if apache:
        httpd = {
            "service": HTTPD_SERVICE.get(layout or "", "httpd"),
            "state": "restarted" if needs_restart(apache) else "reloaded",
        }
    return {
        "files": files,
        "httpd": httpd,
        "sysctl": any(edit.sysctl for edit in planned.edits),
        "rules": planned.rules(),
        "notes": list(planned.notes),
    }


def plan_snapshot(
    findings: Iterable[Finding], document: Mapping[str, Any], *, rules: Sequence[str] = ()
) -> Plan:
    """Plan ``findings`` on the files of a ``tcpaudit.audit.facts`` snapshot.

    Raises:
        FactsError: ``document`` is not a snapshot (a facts document holds no files).
    """
    from ..private_directory import private_directory
    from ..rootfs import overlay_links
    from ..snapshot import Snapshot
    from ..snapshot_tree import materialise

    if "format" not in document:
        raise FactsError("remediate needs the snapshot tcpaudit.audit.facts collects (its files)")
    snapshot = Snapshot.model_validate(document)
    with private_directory("tcpaudit-fix-") as root:
        _, links = materialise(snapshot, root)
        with overlay_links(root, links):
            return plan(findings, root, rules=rules)
