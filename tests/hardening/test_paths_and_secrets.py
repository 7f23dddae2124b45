"""Nothing outside --root is read, no secret reaches any output, nothing audited is written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from click.testing import CliRunner

from tcpaudit.cli import cli
from tcpaudit.report import FORMATS

REPO = Path(__file__).resolve().parents[2]
MARKER = "SECRET-MARKER-7f3a9c"


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    shutil.copytree(REPO / "examples" / "closewait-incident", root, symlinks=True)
    return root


def test_absolute_symlink_and_dotdot_stay_inside_the_root(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    outside = tmp_path / "outside.conf"
    outside.write_text(f"Timeout {MARKER}\n")
    conf_d = root / "etc" / "httpd" / "conf.d"
    # Inside the root, /<tmp>/outside.conf does not exist: the link must not reach the real file.
    (conf_d / "escape.conf").symlink_to(outside)
    (conf_d / "climb.conf").symlink_to(Path("../../../../..") / outside.relative_to("/"))
    result = CliRunner().invoke(cli, ["facts", "--root", str(root)])
    assert MARKER not in result.output + result.stderr
    if result.exit_code == 0:
        facts = json.loads(result.output)
        assert facts["apache"]["settings"]["Timeout"]["value"] == 300
        assert not any("outside" in name for name in facts["apache"]["files"])
    else:
        # A link that names nothing inside the root is a file Apache could not open.
        assert result.exit_code == 2 and "Could not open configuration file" in result.stderr


def test_private_key_content_never_reaches_any_format(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    key = root / "etc" / "pki" / "tls" / "private" / "shop.key"
    key.parent.mkdir(parents=True)
    key.write_text(f"-----BEGIN PRIVATE KEY-----\n{MARKER}\n-----END PRIVATE KEY-----\n")
    key.chmod(0o600)
    ssl = root / "etc" / "httpd" / "conf.d" / "ssl.conf"
    ssl.write_text(
        "LoadModule ssl_module modules/mod_ssl.so\nListen 443\n"
        "<VirtualHost *:443>\n  SSLEngine on\n"
        "  SSLCertificateKeyFile /etc/pki/tls/private/shop.key\n</VirtualHost>\n"
    )
    proc_key = root / "proc" / "sys" / "net" / "ipv4" / "tcp_fastopen_key"
    proc_key.write_text(f"{MARKER}\n")
    proc_key.chmod(0o600)
    runner = CliRunner()
    outputs = [runner.invoke(cli, ["facts", "--root", str(root)]).output]
    for name in FORMATS:
        outputs.append(runner.invoke(cli, ["audit", "--root", str(root), "--format", name]).output)
    outputs.append(runner.invoke(cli, ["diagnose", "--root", str(root), "--format", "json"]).output)
    assert outputs[0].startswith("{")
    for text in outputs:
        assert MARKER not in text


def test_a_full_run_changes_no_byte_and_no_mtime(tmp_path: Path) -> None:
    root = _tree(tmp_path)

    def snapshot() -> dict[str, tuple[bytes, int, int]]:
        return {
            str(path): (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
            for path in sorted(root.rglob("*"))
            if path.is_file() and not path.is_symlink()
        }

    before = snapshot()
    runner = CliRunner()
    for name in FORMATS:
        runner.invoke(cli, ["audit", "--root", str(root), "--format", name])
    runner.invoke(cli, ["facts", "--root", str(root)])
    runner.invoke(cli, ["diagnose", "--root", str(root)])
    assert snapshot() == before
    assert sorted(os.listdir(root)) == sorted(os.listdir(REPO / "examples" / "closewait-incident"))
