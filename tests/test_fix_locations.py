"""Findings point where the fix belongs."""

from __future__ import annotations

import shutil
from pathlib import Path

import tcpaudit

CORPUS = Path(__file__).resolve().parent / "corpus"
INCIDENT = Path(__file__).resolve().parents[1] / "examples" / "closewait-incident"


def _finding(root: Path, rule: str, **options: str) -> tcpaudit.Finding:
    report = tcpaudit.audit(tcpaudit.gather(root, **options))  # type: ignore[arg-type]
    return next(finding for finding in report.findings if finding.rule == rule)


def test_a_missing_module_goes_after_the_main_files_last_loadmodule() -> None:
    # CentOS 6: the last LoadModule httpd reads is conf.d/ssl.conf's own; the
    # module list the operator edits is in httpd.conf.
    root = CORPUS / "certbot-centos6-httpd2.2"
    finding = _finding(root, "TA103", apache_version="2.2")
    assert finding.location is not None
    assert finding.location.file == "etc/httpd/conf/httpd.conf"
    lines = (root / "etc/httpd/conf/httpd.conf").read_text().splitlines()
    last = max(i for i, line in enumerate(lines, 1) if line.startswith("LoadModule"))
    assert finding.location.line == last


def test_debian_enables_modules_with_a2enmod_at_the_main_file(tmp_path: Path) -> None:
    root = tmp_path / "debian"
    shutil.copytree(CORPUS / "debian-12-apache2.4", root, symlinks=True)
    for link in (root / "etc/apache2/mods-enabled").glob("reqtimeout.*"):
        link.unlink()
    finding = _finding(root, "TA103")
    assert finding.location == tcpaudit.Location(file="etc/apache2/apache2.conf")
    # Debian's reqtimeout.conf leaves the body stage without a maximum (TA104).
    assert finding.fix == (
        "a2enmod reqtimeout\nRequestReadTimeout header=20-40,MinRate=500 body=20-120,MinRate=500"
    )


def test_a_server_keepalive_timeout_judged_through_vhosts_is_one_finding() -> None:
    case = Path(__file__).resolve().parent / "rules/TA102/trigger/vhost-turns-keepalive-on"
    report = tcpaudit.audit(tcpaudit.gather(case))
    found = [f for f in report.findings if f.rule == "TA102"]
    assert len(found) == 1
    assert found[0].location == tcpaudit.Location(file="usr/local/apache2/conf/httpd.conf", line=6)


def test_a_missing_module_is_the_same_finding_from_the_facts(tmp_path: Path) -> None:
    # When every LoadModule line is in an included file, the finding pointed at
    # that file's last one, which a facts document cannot say: its fingerprint
    # changed through a facts round trip (found by the long fuzz run).
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    main = root / "etc/httpd/conf/httpd.conf"
    text = main.read_text()
    loads = "".join(line + "\n" for line in text.splitlines() if line.startswith("LoadModule"))
    kept = "".join(line + "\n" for line in text.splitlines() if not line.startswith("LoadModule"))
    (root / "etc/httpd/conf.modules.d").mkdir()
    (root / "etc/httpd/conf.modules.d/00-base.conf").write_text(loads)
    main.write_text("Include conf.modules.d/*.conf\n" + kept)
    facts = tcpaudit.gather(root=root)
    live = tcpaudit.audit(facts)
    again = tcpaudit.audit(tcpaudit.HostFacts.model_validate_json(facts.model_dump_json()))
    missing = [finding for finding in live.findings if finding.rule == "TA103"]
    assert missing and missing[0].location == tcpaudit.Location(file="etc/httpd/conf/httpd.conf")
    assert sorted(f.fingerprint for f in live.findings) == sorted(
        f.fingerprint for f in again.findings
    )
