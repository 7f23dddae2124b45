"""The console entry point: what it imports, how it exits, ``python -m tcpaudit``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import tcpaudit
from tcpaudit.cli import LAZY_COMMANDS, REPORT_FORMATS, cli
from tcpaudit.report import FORMATS

REPO = Path(__file__).resolve().parents[1]
INCIDENT = REPO / "examples" / "closewait-incident"

# Run `tcpaudit facts` in a fresh interpreter, then list what it imported.
_FACTS_THEN_LIST_MODULES = """
import json, sys
from tcpaudit.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="tcpaudit")
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_facts_imports_neither_engine_nor_renderers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FACTS_THEN_LIST_MODULES, "facts", "--root", str(INCIDENT)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["apache"]["mpm"] == "prefork"
    modules = set(json.loads(done.stderr.splitlines()[-1]))
    assert "tcpaudit.apache.loader" in modules and "tcpaudit.sysctl.loader" in modules
    for heavy in (
        "tcpaudit.engine",
        "tcpaudit.checks",
        "tcpaudit.report",
        "tcpaudit.diagnose",
        "tcpaudit.fleet",
        "tabulate",
        "yaml",
    ):
        assert heavy not in modules, heavy


def test_package_names_resolve_on_first_use() -> None:
    code = (
        "import sys, tcpaudit; assert 'tcpaudit.engine' not in sys.modules; "
        "report = tcpaudit.audit; assert 'tcpaudit.engine' in sys.modules; "
        "print(sorted(set(tcpaudit.__all__) - set(dir(tcpaudit))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_unknown_package_attribute_is_attribute_error() -> None:
    try:
        tcpaudit.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("tcpaudit.no_such_name resolved")


def test_report_formats_spelt_out_match_the_renderers() -> None:
    assert sorted(REPORT_FORMATS) == sorted(FORMATS)


def test_lazy_commands_are_listed_and_run() -> None:
    runner = CliRunner()
    listing = runner.invoke(cli, ["--help"])
    assert listing.exit_code == 0
    for name in LAZY_COMMANDS:
        assert f"  {name} " in listing.output, name
        helped = runner.invoke(cli, [name, "--help"])
        assert helped.exit_code == 0 and f"Usage: cli {name}" in helped.output


def _run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tcpaudit", *args], capture_output=True, text=True, check=False
    )


def test_python_m_gives_the_exit_codes_and_flushes_the_output(tmp_path: Path) -> None:
    audited = _run_module("audit", "--root", str(INCIDENT), "--format", "json")
    assert audited.returncode == 1 and audited.stderr == ""
    # The whole report arrives although the process leaves through os._exit.
    assert json.loads(audited.stdout)["grade"] == "F"
    assert _run_module("audit", "--root", str(REPO / "examples" / "tuned")).returncode == 0
    broken = tmp_path / "etc" / "apache2"
    broken.mkdir(parents=True)
    (broken / "apache2.conf").write_text("<VirtualHost *:80>\n")
    failed = _run_module("facts", "--root", str(tmp_path))
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1 and "apache2.conf:1" in failed.stderr
    assert _run_module("--version").stdout.startswith("tcpaudit, version ")


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    command = f"{sys.executable} -m tcpaudit facts --root {INCIDENT} | head -c 1"
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False)
    assert done.stdout == "{"
    assert "Traceback" not in done.stderr


def test_command_line_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, expected in [
        (["audit", "--fail-on", "bogus"], "Invalid value for '--fail-on'"),
        (["audit", "--formt", "json"], "No such option '--formt'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["audit", "--kernel-version", "abc"], "'abc' is not a kernel release"),
        (["audit", "--root", str(tmp_path / "missing")], "does not exist"),
    ]:
        done = _run_module(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("tcpaudit: error: ") and expected in done.stderr


def test_an_empty_root_is_not_a_clean_bill_of_health(tmp_path: Path) -> None:
    done = _run_module("audit", "--root", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr == (
        f"tcpaudit: error: nothing to audit under {tmp_path}: no Apache configuration, "
        "no sysctl.conf or sysctl.d files and no proc/sys values\n"
    )
    # A tree with kernel settings only is audited.
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "sysctl.conf").write_text("net.ipv4.tcp_retries2 = 8\n")
    assert _run_module("audit", "--root", str(tmp_path)).returncode == 0


def test_facts_documents_do_not_mix_with_source_options(tmp_path: Path) -> None:
    document = tmp_path / "facts.json"
    document.write_text(_run_module("facts", "--format", "json", "--root", str(INCIDENT)).stdout)
    assert _run_module("audit", "--facts", str(document)).returncode == 1
    mixed = _run_module("audit", "--facts", str(document), "--apache-version", "2.4")
    assert mixed.returncode == 2
    assert "--facts reads a facts document; --apache-version would be ignored" in mixed.stderr


def test_verbose_says_what_was_read() -> None:
    done = _run_module("-v", "audit", "--root", str(INCIDENT), "--format", "json")
    assert done.returncode == 1
    assert (
        "tcpaudit: tcpaudit.facts: apache: etc/httpd/conf/httpd.conf (rhel layout)" in done.stderr
    )
    assert re.search(r"audit: \d+ rules, 10 findings \(0 suppressed\), score 0", done.stderr)
    assert json.loads(done.stdout)["grade"] == "F"  # the log stays off stdout
    quiet = _run_module("audit", "--root", str(INCIDENT), "--format", "json")
    assert quiet.stderr == ""
