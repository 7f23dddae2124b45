"""ServerRoot as httpd 2.4's set_server_root takes it, against the real apache2.

httpd merges the argument with its working directory (a service's is ``/``),
not with the ServerRoot before it, and refuses the line when the result is
no directory ("ServerRoot must be a valid directory"). The harness runs
apache2 from the copy's root, which stands for ``/``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from apache_harness import APACHE2, MODULE_DIR, map_tree, static_modules
from test_apache_differential import Tree, main_file_both_ways

from tcpaudit.apache import load_apache
from tcpaudit.errors import ApacheConfigError

DEBIAN = Tree("/etc/apache2/apache2.conf", "/etc/apache2")
HEAD = (
    f"ErrorLog /dev/null\nServerName x\nLoadModule mpm_event_module {MODULE_DIR}/mod_mpm_event.so\n"
)
FILES = {
    "etc/apache2/a/x/one.conf": "Timeout 41\n",
    "a/x/one.conf": "Timeout 42\n",
    "etc/apache2/plain.conf": "Timeout 43\n",
}


def _both(
    tmp_path: Path, text: str, files: dict[str, str], links: dict[str, str] | None = None
) -> tuple[object, object]:
    return main_file_both_ways(tmp_path, (HEAD + text).splitlines(), DEBIAN, files, links)


@pytest.mark.parametrize(
    ("server_root", "without", "timeout"),
    [
        # Relative: from the working directory, not from /etc/apache2.
        ("a", (), 42),
        ("a", ("a/x/one.conf",), None),  # /a missing: refused, though /etc/apache2/a exists
        ("etc/apache2/a", (), 41),
        ("./etc/../etc/apache2/a", (), 41),
        ('"a"', (), 42),
        # Absolute ones that are no directory.
        ("/etc/apache2/nope", (), None),
        ("/etc/apache2/plain.conf", (), None),
        ("/etc/apache2/a", (), 41),
    ],
)
def test_server_root_is_taken_from_the_working_directory(
    tmp_path: Path, server_root: str, without: tuple[str, ...], timeout: int | None
) -> None:
    files = {name: text for name, text in FILES.items() if name not in without}
    run, loaded = _both(tmp_path, f"ServerRoot {server_root}\nInclude x/one.conf\n", files)
    assert run.accepted == (timeout is not None)  # type: ignore[attr-defined]
    if timeout is None:
        assert isinstance(loaded, ApacheConfigError)
        assert "ServerRoot must be a valid directory" in str(loaded)
        assert loaded.line == 4
    else:
        assert loaded.settings["Timeout"].value == timeout  # type: ignore[attr-defined]


def test_server_root_through_a_link_to_a_directory(tmp_path: Path) -> None:
    run, loaded = _both(
        tmp_path,
        "ServerRoot etc/apache2/to-a\nInclude x/one.conf\n",
        FILES,
        {"etc/apache2/to-a": "a", "etc/apache2/to-plain": "plain.conf"},
    )
    assert run.accepted  # type: ignore[attr-defined]
    assert loaded.settings["Timeout"].value == 41  # type: ignore[attr-defined]


def test_server_root_through_a_link_to_a_file_is_refused(tmp_path: Path) -> None:
    run, loaded = _both(
        tmp_path,
        "ServerRoot /etc/apache2/to-plain\n",
        FILES,
        {"etc/apache2/to-plain": "plain.conf"},
    )
    assert not run.accepted  # type: ignore[attr-defined]
    assert isinstance(loaded, ApacheConfigError) and loaded.line == 4


def test_a_d_option_naming_no_directory_is_not_checked(tmp_path: Path) -> None:
    # httpd assigns -d without a check (main.c); a ServerRoot line is checked.
    # diagnose passes an instance's -d to the loader as -d, not as such a line.
    tcpaudit_root = tmp_path / "tcpaudit"
    main = tcpaudit_root / "etc/apache2/apache2.conf"
    (tcpaudit_root / "etc/apache2/a/x").mkdir(parents=True)
    (tcpaudit_root / "etc/apache2/a/x/one.conf").write_text("Timeout 41\n")
    main.write_text(HEAD + "ServerRoot /etc/apache2/a\nInclude x/one.conf\n")
    apache_root = tmp_path / "apache"
    shutil.copytree(tcpaudit_root, apache_root)
    map_tree(apache_root)
    done = subprocess.run(
        [APACHE2, "-t", "-d", str(tmp_path / "nowhere"), "-f", f"{apache_root}{DEBIAN.main_file}"],
        capture_output=True, text=True, check=False, cwd=apache_root, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = load_apache(DEBIAN.main_file, root=tcpaudit_root, version="2.4.71",
                         compiled_in=static_modules(), server_root="/nowhere")  # fmt: skip
    assert loaded is not None and loaded.settings["Timeout"].value == 41
    with pytest.raises(ApacheConfigError, match="ServerRoot must be a valid directory"):
        load_apache(DEBIAN.main_file, root=tcpaudit_root, version="2.4.71",
                    compiled_in=static_modules(), directives=["ServerRoot /nowhere"])  # fmt: skip
