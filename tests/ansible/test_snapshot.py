"""tcpaudit.snapshot: a snapshot is judged exactly as a local audit of the same root.

Snapshots are made by the facts module (imported from its file) from root-like
trees, sent through JSON as Ansible carries them, and audited; the report must
equal the direct audit of the tree: same rules, severities, messages, locations.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible_trees import INCIDENT, TUNED, debian_tree, load_facts_module, write

import tcpaudit
from tcpaudit import FactsError, HostFacts, snapshot_tree
from tcpaudit import snapshot as snapshot_module
from tcpaudit.snapshot import (
    facts_from_document,
    facts_from_snapshot,
    load_facts_document,
    parse_apache_version,
)


@pytest.fixture(scope="module")
def module() -> ModuleType:
    return load_facts_module()


def never_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("no program may run for a tree root")


def take(module: ModuleType, root: Path, **options: Any) -> dict[str, Any]:
    """A snapshot of ``root`` as it arrives on the controller (through JSON)."""
    document: dict[str, Any] = json.loads(
        json.dumps(module.snapshot(str(root), runner=never_run, **options))
    )
    return document


def report_json(facts: HostFacts) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(tcpaudit.audit(facts).to_json())
    return report


TREES: dict[str, Callable[[Path], Path]] = {
    "closewait-incident": lambda tmp: INCIDENT,
    "tuned": lambda tmp: TUNED,
    "debian-links": lambda tmp: debian_tree(tmp / "deb"),
}


@pytest.mark.parametrize("name", sorted(TREES))
def test_snapshot_audit_equals_direct_audit(module: ModuleType, tmp_path: Path, name: str) -> None:
    root = TREES[name](tmp_path)
    direct = report_json(tcpaudit.gather(root))
    via_snapshot = report_json(facts_from_snapshot(take(module, root)))
    # Not a vacuous comparison: the snapshot carried the Apache config and live sysctls.
    assert via_snapshot["apache"] is not None and via_snapshot["apache"]["files"] > 0
    assert via_snapshot["derived"]["keepalive_detect_seconds"] is not None
    assert via_snapshot["findings"] or name == "tuned", "only the tuned tree has no findings"
    key = [
        (f["rule"], f["severity"], f["message"], f["location"], f["setting"], f["scope"])
        for f in direct["findings"]
    ]
    assert [
        (f["rule"], f["severity"], f["message"], f["location"], f["setting"], f["scope"])
        for f in via_snapshot["findings"]
    ] == key
    # Everything else too: grade, score, Apache summary, derived timings, notes.
    assert via_snapshot == direct


def test_incident_snapshot_grades_f_and_names_files_inside_the_root(module: ModuleType) -> None:
    facts = facts_from_snapshot(take(module, INCIDENT))
    report = tcpaudit.audit(facts)
    assert report.grade == "F"
    assert report.host == "web1.shop.example"
    text = report.to_json() + facts.model_dump_json()
    assert "tcpaudit-snapshot-" not in text
    assert tempfile.gettempdir() not in text
    files = {f.location.file for f in report.findings if f.location}
    assert "etc/httpd/conf/httpd.conf" in files


def test_private_tree_is_0700_and_removed(
    module: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[tuple[Path, int]] = []
    real_gather = snapshot_module.gather

    def spy(root: Any, *args: Any, **kwargs: Any) -> HostFacts:
        seen.append((Path(root), stat.S_IMODE(os.stat(root).st_mode)))
        return real_gather(root, *args, **kwargs)

    monkeypatch.setattr(snapshot_module, "gather", spy)
    # On a memory file system when one has room, else in the temporary
    # directory; always there when TMPDIR names it.
    memory = tmp_path / "shm"
    memory.mkdir()
    memory.chmod(0o1777)
    monkeypatch.delenv("TMPDIR", raising=False)
    # tempfile.tempdir: None is the system's default (/tmp), a path the caller's choice.
    for place, tmpdir, chosen, expected in (
        (memory, None, None, memory),
        (tmp_path / "none", None, None, None),  # None: the system's temporary directory
        (memory, str(scratch), None, scratch),
        (memory, None, str(scratch), scratch),
    ):
        monkeypatch.setattr(snapshot_tree, "_MEMORY_DIRECTORY", str(place))
        monkeypatch.setattr(tempfile, "tempdir", chosen)
        if tmpdir is not None:
            monkeypatch.setenv("TMPDIR", tmpdir)
        seen.clear()
        facts_from_snapshot(take(module, TUNED), host="web2")
        assert len(seen) == 1
        root, mode = seen[0]
        assert mode == 0o700
        assert root.parent == (expected or Path(tempfile.gettempdir()))
        assert not root.exists()


def test_version_from_httpd_v_output(module: ModuleType) -> None:
    document = take(module, INCIDENT)
    document["apache_version_output"] = (
        "Server version: Apache/2.2.15 (Unix)\nServer built:   Jun 19 2018\n"
    )
    facts = facts_from_snapshot(document, host="web1")
    assert facts.apache is not None
    assert facts.apache.version == "2.2.15"
    assert facts.apache.version_source == "probe"
    assert facts.host == "web1"
    assert not [n for n in facts.notes if "inferred" in n.message]
    # A version tcpaudit does not model is noted and the version inferred instead.
    document["apache_version_output"] = "Server version: Apache/2.0.63 (Unix)\n"
    facts = facts_from_snapshot(document)
    assert facts.apache is not None and facts.apache.version_source == "inferred"
    assert any("2.0.63" in n.message for n in facts.notes)


def test_parse_apache_version() -> None:
    assert parse_apache_version("Server version: Apache/2.4.62 (Debian)\n") == "2.4.62"
    assert parse_apache_version("x\nServer version: Apache/2.4 (Unix)") == "2.4"
    assert parse_apache_version("Server version: nginx/1.25") is None
    assert parse_apache_version(None) is None


def test_omitted_files_and_collector_notes_reach_the_report(
    module: ModuleType, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root)
    # Reached by the incident's `Include conf.d/*.conf`.
    with (root / "etc/httpd/conf.d/huge.conf").open("wb") as stream:
        stream.truncate(2 * 1024 * 1024)
    document = take(module, root, max_file_bytes=1024 * 1024)
    document["notes"].append("something the collector left out")
    facts = facts_from_snapshot(document)
    notes = [str(note) for note in facts.notes]
    assert any(
        n.startswith("etc/httpd/conf.d/huge.conf: not collected (larger than 1048576 bytes)")
        for n in notes
    ), notes
    assert "collector: something the collector left out" in notes
    # The rest of the host is still judged.
    assert tcpaudit.audit(facts).grade == "F"


def test_load_facts_document_reads_snapshots_facts_and_ansible_tree_output(
    module: ModuleType, tmp_path: Path
) -> None:
    document = take(module, INCIDENT)
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_text(json.dumps(document), encoding="utf-8")
    from_snapshot = load_facts_document(snapshot_file)

    facts_file = tmp_path / "facts.json"
    direct = tcpaudit.gather(INCIDENT)
    facts_file.write_text(direct.model_dump_json(), encoding="utf-8")
    from_facts = load_facts_document(facts_file)

    tree_file = tmp_path / "web1"
    tree_file.write_text(
        json.dumps({"ansible_facts": {"tcpaudit": document}, "changed": False}), encoding="utf-8"
    )
    from_tree = load_facts_document(tree_file)

    expected = tcpaudit.audit(direct)
    for facts in (from_snapshot, from_facts, from_tree):
        report = tcpaudit.audit(facts)
        assert (report.grade, report.score) == (expected.grade, expected.score)
        assert [f.rule for f in report.findings] == [f.rule for f in expected.findings]
    assert facts_from_document(direct.model_dump(mode="json"), host="other").host == "other"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "tcpaudit-snapshot/9", "host": "h"}', "unsupported snapshot format"),
        ('{"host": "h", "apache": 3}', "apache"),
        ('{"ansible_facts": {"setup": 1}}', "no tcpaudit snapshot"),
        (
            '{"format": "tcpaudit-snapshot/1", "host": "h", "files": {"etc/x": {"content": ""}}}',
            "normalised absolute path",
        ),
        (
            '{"format": "tcpaudit-snapshot/1", "host": "h", "files": {"/etc/../x": {"dir": true}}}',
            "normalised absolute path",
        ),
        (
            '{"format": "tcpaudit-snapshot/1", "host": "h", "proc": {"../../x": "1"}}',
            "net/ipv4",
        ),
        (
            '{"format": "tcpaudit-snapshot/1", "host": "h", "files": {"/x": {"dir": true, "link": "/"}}}',
            "exactly one",
        ),
    ],
)
def test_invalid_documents_raise_facts_error_naming_the_file(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FactsError) as caught:
        load_facts_document(path)
    assert caught.value.file == str(path)
    assert reason in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_missing_or_special_file_raises_facts_error(tmp_path: Path) -> None:
    with pytest.raises(FactsError, match="cannot read") as caught:
        load_facts_document(tmp_path / "absent.json")
    assert caught.value.file == str(tmp_path / "absent.json")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(FactsError, match="not a regular file"):
        load_facts_document(tmp_path / "pipe")
    (tmp_path / "latin1.json").write_bytes(b'{"host": "\xe9"}')
    with pytest.raises(FactsError, match="not UTF-8"):
        load_facts_document(tmp_path / "latin1.json")


def test_a_snapshot_cannot_write_or_read_outside_its_tree(tmp_path: Path) -> None:
    outside = write(tmp_path, "/outside/secret.conf", "Timeout 987654\n")
    # A file listed below a link would be written through it: refused.
    through_link = {
        "format": "tcpaudit-snapshot/1",
        "host": "h",
        "files": {"/etc": {"link": str(tmp_path)}, "/etc/planted.conf": {"content": "x"}},
    }
    with pytest.raises(FactsError, match="link"):
        facts_from_snapshot(through_link)
    assert not (tmp_path / "planted.conf").exists()
    # Links to the controller's own files resolve inside the private tree.
    escaping = {
        "format": "tcpaudit-snapshot/1",
        "host": "h",
        "files": {
            "/etc/httpd/conf/httpd.conf": {"link": str(outside)},
            "/etc/apache2/apache2.conf": {"link": "../../../../../../../.." + str(outside)},
        },
    }
    # Neither link reaches the controller's file: the snapshot holds nothing to audit.
    with pytest.raises(FactsError, match="nothing to audit") as caught:
        facts_from_snapshot(escaping)
    assert "987654" not in str(caught.value)


def test_a_strict_umask_does_not_hide_live_values(module: ModuleType) -> None:
    document = take(module, INCIDENT)
    old = os.umask(0o077)
    try:
        facts = facts_from_snapshot(document)
    finally:
        os.umask(old)
    assert report_json(facts) == report_json(tcpaudit.gather(INCIDENT))


def test_apache_conf_override_travels_with_the_snapshot(module: ModuleType, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root)
    (root / "etc/httpd/conf/httpd.conf").rename(root / "etc/httpd/conf/site.conf")
    conf = "/etc/httpd/conf/site.conf"
    document = take(module, root, apache_conf=conf)
    via_snapshot = report_json(facts_from_snapshot(document))
    assert via_snapshot == report_json(tcpaudit.gather(root, conf))
    assert via_snapshot["apache"]["main_file"] == "etc/httpd/conf/site.conf"
    assert via_snapshot["grade"] == "F"


def test_sysctl_files_past_the_loaders_limits_do_not_change_the_verdict(
    module: ModuleType, tmp_path: Path
) -> None:
    """The module collects the sysctl files the loader reads, in boot order, and stops where it stops.

    33 files of 1 MiB in /etc/sysctl.d would fill the module's 32 MiB before
    it reached /usr/lib/sysctl.d in directory order; the file that sets the
    value sorts first at boot. Files past the loader's 16 MiB set another
    value that neither side may apply.
    """
    root = debian_tree(tmp_path / "deb")
    padding = "# padding\n" * (1024 * 1024 // 10)
    write(root, "/usr/lib/sysctl.d/05-first.conf", "net.ipv4.tcp_keepalive_time = 61\n")
    # Over 1 MiB: the loader reads none of it (its values are unknown), nor may the module send it.
    write(root, "/etc/sysctl.d/06-huge.conf", "net.ipv4.tcp_keepalive_time = 4444\n" + padding * 2)
    for number in range(33):
        late = "net.ipv4.tcp_keepalive_time = 9999\n" if number >= 17 else ""
        write(root, f"/etc/sysctl.d/50-pad-{number:02}.conf", late + padding)
        # Masked by the /etc file of the same name: neither side reads it.
        write(root, f"/usr/lib/sysctl.d/50-pad-{number:02}.conf", padding)
    facts = tcpaudit.gather(root)
    persistent = facts.sysctl.settings["net.ipv4.tcp_keepalive_time"].persistent
    assert persistent is not None and persistent.value == 61
    assert any(
        "more sysctl files not read" in note.message for note in facts.notes + facts.sysctl.notes
    )
    snapshot = take(module, root)
    from_snapshot = facts_from_snapshot(snapshot)
    assert from_snapshot.sysctl.settings == facts.sysctl.settings
    assert any("more sysctl files not collected" in note for note in snapshot["notes"])
    collected = [path for path in snapshot["files"] if path.startswith("/usr/lib/sysctl.d/50-pad")]
    assert collected == []
    direct, via_snapshot = report_json(facts), report_json(from_snapshot)
    # The limit notes differ in wording (collected / read); all else is equal.
    for report in (direct, via_snapshot):
        report.pop("notes")
    assert via_snapshot == direct


def test_a_live_value_longer_than_any_kernel_prints_is_unknown_on_both_sides(
    module: ModuleType, tmp_path: Path
) -> None:
    """The loader believes no /proc/sys value over 4 KiB; the module sends none either."""
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    (root / "proc/sys/net/ipv4/tcp_retries2").write_text("15\n" + "\n" * 90_000)
    facts = tcpaudit.gather(root)
    assert facts.sysctl.settings["net.ipv4.tcp_retries2"].live is None
    snapshot = take(module, root)
    assert snapshot["proc"]["net/ipv4/tcp_retries2"] is None
    from_snapshot = facts_from_snapshot(snapshot)
    assert from_snapshot.sysctl.settings["net.ipv4.tcp_retries2"].live is None
    direct, via_snapshot = report_json(facts), report_json(from_snapshot)
    assert via_snapshot["findings"] == direct["findings"]


@pytest.mark.parametrize(
    "include",
    [
        "IncludeOptional /nonexist*/x.conf\n",
        "Include /e*/apache2/more.conf\n",
        "IncludeOptional up/*.conf\n",
    ],
)
def test_a_wildcard_below_the_root_travels(
    module: ModuleType, tmp_path: Path, include: str
) -> None:
    """A wildcard in the first component lists the root: the snapshot held
    "/", which the controller refused."""
    root = debian_tree(tmp_path / "deb")
    (root / "etc/apache2/up").symlink_to("../..")
    (root / "etc/apache2/more.conf").write_text("KeepAliveTimeout 7\n")
    with (root / "etc/apache2/apache2.conf").open("a") as conf:
        conf.write(include)
    document = take(module, root)
    assert "/" not in document["files"]
    assert report_json(facts_from_snapshot(document)) == report_json(tcpaudit.gather(root))
    # A snapshot of an older collector, listing the root, is read the same.
    document["files"]["/"] = {"dir": True}
    assert report_json(facts_from_snapshot(document)) == report_json(tcpaudit.gather(root))
    document["files"]["/"] = {"content": "x"}
    with pytest.raises(FactsError, match="/ as something other than a directory"):
        facts_from_snapshot(document)


def test_entries_are_bounded_in_all(module: ModuleType) -> None:
    document = take(module, TUNED)
    room = snapshot_module.MAX_ENTRIES - len(document["files"]) - len(document["proc"])
    document["files"].update({f"/srv/x{index}": {"present": True} for index in range(room)})
    facts_from_snapshot(document)
    document["proc"]["net/ipv4/conf/eth9/rp_filter"] = None
    with pytest.raises(FactsError, match="more than 30000 entries"):
        facts_from_snapshot(document)


@pytest.mark.parametrize(
    "note",
    [
        "DB_PASSWORD=hunter2hunter2",
        "Authorization: Bearer abcdefghijklmnop1234567",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
        "fetched https://deploy:s3cretpass@example.com/x",
    ],
)
def test_collector_notes_never_carry_a_credential(module: ModuleType, note: str) -> None:
    document = take(module, TUNED)
    document["notes"].append(note)
    facts = facts_from_snapshot(document)
    text = facts.model_dump_json() + tcpaudit.audit(facts).to_json()
    for secret in ("hunter2hunter2", "abcdefghijklmnop1234567", "MIIEvQIBADAN", "s3cretpass"):
        assert secret not in text
    assert any(str(n).startswith("collector: ") for n in facts.notes)
