"""Findings in proportion to virtual hosts: a report must not grow with the host.

A rule finds once per virtual host. 20,000 vhosts with four findings each (a
3 MB configuration) made 80,000 findings: a 188 MB SARIF log and 1.8 GB of
memory (JSON 1.1 GB, table 760 MB), 17-27 s. A report now lists the worst
``MAX_FINDINGS_PER_RULE`` findings of each rule (new ones first) and a note
counts the rest; a fix lists ``MAX_VHOST_CHANGES`` virtual hosts' changes.
The grade, score and exit code are the same as with every finding listed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from childrun import SAFE_SECONDS, assert_one_error_line, audit_in_child, clis_in_child

import tcpaudit
from tcpaudit.checks.hold_fixes import MAX_VHOST_CHANGES
from tcpaudit.engine.baseline import apply_baseline, load_baseline
from tcpaudit.engine.config import MAX_SUPPRESSIONS
from tcpaudit.engine.findings import MAX_REPORT_FINDINGS
from tcpaudit.engine.selection import MAX_FINDINGS_PER_RULE, MAX_JUDGED_PER_RULE

REPO = Path(__file__).resolve().parents[2]
INCIDENT = REPO / "examples" / "closewait-incident"
CONF = "/etc/apache2/apache2.conf"
# Four rules find in each of these (TA101 Timeout, TA107 ProxyTimeout, TA108
# ProxyPass without a pool bound, TA113 the route's timeout=).
VHOST = (
    "<VirtualHost *:80>\nServerName v{index}.example\nTimeout 300\nKeepAliveTimeout 30\n"
    "ProxyPass /a/ http://127.0.0.1:8080/ timeout=600\nProxyTimeout 900\n</VirtualHost>\n"
)


def _incident_report() -> dict[str, Any]:
    """The JSON report of the incident example, for fleet's inputs."""
    return json.loads(tcpaudit.audit(tcpaudit.gather(root=str(INCIDENT))).to_json())


def _root(tmp_path: Path, vhosts: int) -> Path:
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    text = "".join(VHOST.format(index=index) for index in range(vhosts))
    (root / "etc/httpd/conf.d/many.conf").write_text(text)
    return root


def _left_out(notes: list[dict[str, object]], rule: str) -> str:
    found = [str(n["message"]) for n in notes if str(n["message"]).startswith(f"{rule}: ")]
    assert len(found) == 1, found
    return found[0]


def test_twenty_thousand_vhosts_of_four_findings_each(tmp_path: Path) -> None:
    root = _root(tmp_path, 20_000)
    outputs = {name: tmp_path / f"out.{name}" for name in ("json", "sarif", "table", "diff")}
    runs = [
        ["audit", "--root", str(root), "--format", name, "-o", str(outputs[name])]
        for name in ("json", "sarif", "table")
    ]
    runs.append(["fix", "--root", str(root), "-o", str(outputs["diff"])])
    outcome = clis_in_child(runs, tmp_path)
    for run in outcome["runs"]:
        assert run["exit_code"] in (0, 1), (run["args"], run["stderr"])
        assert run["seconds"] < SAFE_SECONDS, run["args"]
    for path in outputs.values():
        assert path.stat().st_size < 8_000_000, (path, path.stat().st_size)
    report = json.loads(outputs["json"].read_text())
    for rule in ("TA101", "TA107", "TA108", "TA113"):
        listed = [f for f in report["findings"] if f["rule"] == rule]
        assert len(listed) == MAX_FINDINGS_PER_RULE
        # A check stops after MAX_JUDGED_PER_RULE findings (each costs its fix).
        note = _left_out(report["notes"], rule)
        left = MAX_JUDGED_PER_RULE - MAX_FINDINGS_PER_RULE
        assert f"{left:,} more finding(s) not listed ({left:,} unsuppressed, 0 suppressed" in note
        assert f"stopped after {MAX_JUDGED_PER_RULE:,} findings, so there are more" in note
    sarif = json.loads(outputs["sarif"].read_text())
    assert len(sarif["runs"][0]["results"]) == len(report["findings"])
    # One fix sets Timeout in every vhost: it lists the first ones, counts the rest.
    # (the server's own lines besides)
    assert max(len(f["fix_changes"]) for f in report["findings"]) <= MAX_VHOST_CHANGES + 10
    counted = [f for f in report["findings"] if "more virtual hosts need" in (f["fix"] or "")]
    assert counted, "no fix says how many virtual hosts it leaves to the next run"
    match = re.search(r"and ([\d,]+) more virtual hosts need `Timeout \d+`", counted[0]["fix"])
    assert match and int(match.group(1).replace(",", "")) == 20_000 - MAX_VHOST_CHANGES


def test_the_bound_changes_neither_score_nor_grade(tmp_path: Path) -> None:
    facts = tcpaudit.gather(root=str(_root(tmp_path, MAX_FINDINGS_PER_RULE + 40)))
    bounded = tcpaudit.audit(facts)
    every = tcpaudit.audit(facts, max_findings_per_rule=10**9)
    assert len(every.findings) > len(bounded.findings)
    assert (bounded.score, bounded.grade) == (every.score, every.grade)
    worst = max(f.severity for f in every.findings)
    assert bounded.at_or_above(worst) and max(f.severity for f in bounded.findings) == worst
    listed = {f.fingerprint for f in bounded.findings}
    assert listed <= {f.fingerprint for f in every.findings}


def test_findings_new_since_the_baseline_are_listed_first(tmp_path: Path) -> None:
    # A baseline of the first findings must not hide the others behind the bound.
    facts = tcpaudit.gather(root=str(_root(tmp_path, MAX_FINDINGS_PER_RULE + 40)))
    first = tcpaudit.audit(facts)
    known = {f.fingerprint for f in first.findings if f.rule == "TA101"}
    report = apply_baseline(tcpaudit.audit(facts, baseline=known), known)
    new = [f for f in report.findings if f.rule == "TA101" and not f.suppressed]
    assert len(new) == MAX_FINDINGS_PER_RULE + 40 + 1 - len(known)
    assert not {f.fingerprint for f in new} & known
    # Without the baseline given to audit, the known ones fill the list.
    hidden = apply_baseline(first, known)
    assert not [f for f in hidden.findings if f.rule == "TA101" and not f.suppressed]


def test_a_baseline_made_from_a_bounded_report_accepts_every_finding(tmp_path: Path) -> None:
    # The report lists 250 of TA101's, TA108's and TA113's 291 findings and of
    # TA107's 290; its "unlisted" holds the others' fingerprints, so a
    # baseline made from it accepts all of them.
    facts = tcpaudit.gather(root=str(_root(tmp_path, MAX_FINDINGS_PER_RULE + 40)))
    first = tcpaudit.audit(facts)
    assert len(first.unlisted) == 3 * 41 + 40
    path = tmp_path / "baseline.json"
    path.write_text(first.to_json())
    known = load_baseline(path)
    assert set(first.unlisted) <= set(known)
    again = apply_baseline(tcpaudit.audit(facts, baseline=known), known, source=str(path))
    assert not [f for f in again.findings if not f.suppressed]
    # The unlisted ones have no value in the baseline: none reads as "changed".
    assert {f.suppression_reason for f in again.findings} == {"in baseline"}
    # Without "unlisted" (an older report), the 40 are new.
    document = json.loads(path.read_text())
    del document["unlisted"]
    path.write_text(json.dumps(document))
    older = load_baseline(path)
    new = apply_baseline(tcpaudit.audit(facts, baseline=older), older)
    assert len([f for f in new.findings if not f.suppressed]) == 3 * 41 + 40


def test_suppressions_are_bounded_and_matched_once_per_setting_and_file(tmp_path: Path) -> None:
    # 20,000 [[suppress]] entries (1.6 MB) against 20,000 vhosts took 220 s:
    # every finding was matched against every entry.
    root = _root(tmp_path, 20_000)
    entry = '[[suppress]]\nrule = "TA101"\nfile = "*a*b*c*{index}"\nreason = "r"\n\n'
    many = tmp_path / "many.toml"
    many.write_text("".join(entry.format(index=index) for index in range(MAX_SUPPRESSIONS + 1)))
    bounded = tmp_path / "bounded.toml"
    bounded.write_text("".join(entry.format(index=index) for index in range(MAX_SUPPRESSIONS)))
    runs = [
        ["audit", "--root", str(root), "--config", str(config), "--format", "json"]
        for config in (many, bounded)
    ]
    refused, audited = clis_in_child(runs, tmp_path)["runs"]
    line = 5 * MAX_SUPPRESSIONS + 1
    assert_one_error_line(refused, f"many.toml:{line}:", "more than 1,000 [[suppress]] entries")
    assert audited["exit_code"] == 1, audited["stderr"]
    assert audited["seconds"] < SAFE_SECONDS


def test_websocket_routes_beside_a_long_configuration(tmp_path: Path) -> None:
    # TA116's fix (move to the event MPM) scanned every directive once per
    # WebSocket route: 10,000 routes beside 500,000 lines took 158 s.
    root = tmp_path / "root"
    shutil.copytree(INCIDENT, root, symlinks=True)
    conf = root / "etc/httpd/conf.d"
    (conf / "ws.conf").write_text(
        "".join(f"ProxyPass /w{index}/ ws://127.0.0.1:9000/\n" for index in range(5_000))
    )
    (conf / "ka.conf").write_text("KeepAlive On\n" * 200_000)
    findings = audit_in_child(root, tmp_path)[1]["findings"]
    assert sum(f["rule"] == "TA116" for f in findings) == MAX_FINDINGS_PER_RULE


def test_fleet_refuses_a_report_of_more_findings_than_tcpaudit_writes(tmp_path: Path) -> None:
    # 884,401 small findings in a 64 MiB report: fleet built every model, 1.7 GB.
    document = _incident_report()
    item = {"rule": "TA101", "severity": "high", "title": "", "message": ""}
    paths = []
    for count in (MAX_REPORT_FINDINGS, MAX_REPORT_FINDINGS + 1):
        document["findings"] = [{**item, "scope": str(index)} for index in range(count)]
        path = tmp_path / f"report-{count}.json"
        path.write_text(json.dumps(document))
        paths.append(path)
    runs = [["fleet", str(path), "--format", "json"] for path in paths]
    accepted, refused = clis_in_child(runs, tmp_path)["runs"]
    assert accepted["exit_code"] == 0, accepted["stderr"]
    assert accepted["seconds"] < SAFE_SECONDS
    assert json.loads(accepted["stdout"])["hosts"][0]["findings"] == MAX_REPORT_FINDINGS
    assert_one_error_line(refused, paths[1].name, "more than 100,000 findings")


def test_checks_that_searched_the_vhosts_once_per_finding(tmp_path: Path) -> None:
    # TA105 on the proxy-backend profile sized the pool for each KeepAlive Off
    # vhost over the whole tree (6,000 vhosts: 149 s); TA107 searched every
    # vhost for each ignored one's first (12,000 after 40,000 others: 53 s).
    keepalive = tmp_path / "keepalive/etc/apache2/apache2.conf"
    keepalive.parent.mkdir(parents=True)
    keepalive.write_text(
        "LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so\n"
        "Listen 80\nKeepAlive On\nMaxRequestWorkers 150\n"
        + "".join(
            f"<VirtualHost *:80>\nServerName a{index}.example\nKeepAlive Off\n</VirtualHost>\n"
            for index in range(6_000)
        )
    )
    ignored = tmp_path / "ignored/etc/apache2/apache2.conf"
    ignored.parent.mkdir(parents=True)
    last = "10.0.159.249:80"
    ignored.write_text(
        "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
        "Listen 80\nKeepAlive On\nKeepAliveTimeout 5\nTimeout 60\n"
        + "".join(
            f"<VirtualHost 10.0.{index // 250}.{index % 250}:80>\nServerName a{index}\n"
            "</VirtualHost>\n"
            for index in range(40_000)
        )
        + "".join(
            f"<VirtualHost {last}>\nServerName b{index}\nKeepAliveTimeout 2\n</VirtualHost>\n"
            for index in range(12_000)
        )
    )
    runs = [
        ["audit", "--root", str(tmp_path / "keepalive"), "--apache-conf", CONF,
         "--profile", "proxy-backend", "--format", "json"],
        ["audit", "--root", str(tmp_path / "ignored"), "--apache-conf", CONF,
         "--apache-version", "2.4.10", "--format", "json"],
    ]  # fmt: skip
    outcomes = clis_in_child(runs, tmp_path)["runs"]
    for run, rule in zip(outcomes, ("TA105", "TA107"), strict=True):
        assert run["exit_code"] == 1, run["stderr"]
        assert run["seconds"] < SAFE_SECONDS, rule
        findings = json.loads(run["stdout"])["findings"]
        assert sum(f["rule"] == rule for f in findings) == MAX_FINDINGS_PER_RULE


def test_fleet_cuts_host_names_no_host_has(tmp_path: Path) -> None:
    # 500 reports beside one whose host name is 2,000,000 characters: the table
    # was padded to it (3.0 GB, a 1.0 GB table); six of 5 MB were kept whole.
    document = _incident_report()
    folder = tmp_path / "reports"
    folder.mkdir()
    for index in range(500):
        document["host"] = f"web{index}.example.org"
        (folder / f"r{index}.json").write_text(json.dumps(document))
    for index in range(6):
        document["host"] = f"long{index}-" + "a" * (2_000_000 if index == 0 else 5_000_000)
        (folder / f"long{index}.json").write_text(json.dumps(document))
    output = tmp_path / "fleet.txt"
    runs = [["fleet", str(folder), "-o", str(output)], ["fleet", str(folder), "--format", "json"]]
    table, as_json = clis_in_child(runs, tmp_path)["runs"]
    for run in (table, as_json):
        assert run["exit_code"] == 0, run["stderr"]
        assert run["seconds"] < SAFE_SECONDS
    lines = output.read_text().splitlines()
    assert len(lines) > 506 and max(map(len, lines)) < 400
    assert any(line.startswith("long0-aaa") and "\u2026" in line for line in lines)
    assert any(line.startswith("web499.example.org ") for line in lines)


def test_fleet_keeps_a_host_name_no_host_has_by_its_digest(tmp_path: Path) -> None:
    # 63 MB of U+FDFA, which NFKC makes 18 times longer: comparing host names
    # as DNS compares them took 36 s and 3 GB before the name was cut.
    document = _incident_report()
    document["host"] = "\ufdfa" * 21_000_000
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    (run,) = clis_in_child([["fleet", str(path)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < SAFE_SECONDS


def test_fleet_does_not_normalise_host_names_no_host_has(tmp_path: Path) -> None:
    # NFKC sorts a run of combining marks in quadratic time and may make a
    # name 18 times longer: 1,000 reports of 4,094-character names took 41 s,
    # 10,000 of 4,096 characters of U+FDFA 1.6 GB.
    document = _incident_report()
    folder = tmp_path / "reports"
    folder.mkdir()
    marks = "\u0345" * 1022 + "\u0301" * 1022 + "\u0316" * 1022 + "\u0334" * 1022
    for index in range(1_000):
        document["host"] = f"h{index:05d}" + marks
        (folder / f"r{index}.json").write_text(json.dumps(document), encoding="utf-8")
    (run,) = clis_in_child([["fleet", str(folder)]], tmp_path)["runs"]
    assert run["exit_code"] == 0, run["stderr"]
    assert run["seconds"] < 10


def test_fleet_finds_one_host_padded_past_a_host_name_length(tmp_path: Path) -> None:
    # A copy of web1's report named "web1" and 253 zero-width spaces, or 300
    # blanks, was kept by the digest of the padded text: three hosts.
    document = _incident_report()
    folder = tmp_path / "reports"
    folder.mkdir()
    composed = "caf\u00e9-" * 50 + "x"  # 251 characters, its é composed and decomposed
    for name, host in (("a", "web1"), ("b", "web1" + "\u200b" * 253), ("c", "web1" + " " * 300),
                       ("d", "web1" + "\uff0e" * 252), ("e", composed),
                       ("f", composed.replace("\u00e9", "e\u0301"))):  # fmt: skip
        document["host"] = host
        (folder / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")
    for pair in (("a", "b"), ("a", "c"), ("a", "d"), ("e", "f")):
        files = [str(folder / f"{name}.json") for name in pair]
        (run,) = clis_in_child([["fleet", *files]], tmp_path)["runs"]
        assert_one_error_line(run, "already reported")
