"""The sysctl fix's drop-in sorts after the file that sets the key now, so it wins at boot.

systemd-sysctl and procps apply the sysctl.d files in byte order of their
names; a drop-in that sorts before the file setting the key loses to it.
Checked three ways: the name's order over arbitrary file names (hypothesis),
the cases that used to lose, and the real boot tools applying the fix.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from realtool import run_real_tool, write_files

from tcpaudit.checks.fixes import DROP_IN_NAME, drop_in_name, sysctl_fix
from tcpaudit.sysctl import load_sysctl
from tcpaudit.sysctl.model import BootTool, SysctlSetting, SysctlSource

RETRIES2 = "net.ipv4.tcp_retries2"
NAME_MAX = 255  # Linux: the longest file name, in bytes


def _set_in(path: str, via: str | None = None) -> SysctlSetting:
    link = {} if via is None else {"via": via}
    return SysctlSetting(value=5, persistent=SysctlSource(value=5, file=path, line=1, **link))


def _sorts_after(name: str, current: str) -> bool:
    return os.fsencode(name) > os.fsencode(current)


# Any name a directory may hold: no "/" or NUL, at most NAME_MAX bytes.
_ANY_CHARACTER = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00")
_LONG_ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="/")
file_names = (
    st.one_of(
        st.text(_ANY_CHARACTER, min_size=1, max_size=40),
        st.text(_LONG_ASCII, min_size=235, max_size=255),
    )
    .flatmap(lambda stem: st.sampled_from([stem, f"{stem}.conf"]))
    .filter(lambda name: name not in (".", "..") and len(os.fsencode(name)) <= NAME_MAX)
)


@given(name=file_names)
def test_chosen_name_sorts_after_the_current_file_and_ends_in_conf(name: str) -> None:
    chosen = drop_in_name(_set_in(f"usr/lib/sysctl.d/{name}"))
    assert _sorts_after(chosen, name)
    assert chosen.endswith(".conf")
    # A name both tools take and a shell can be given (sysctl_fix quotes it).
    assert "/" not in chosen and "\x00" not in chosen and not chosen.startswith(".")
    assert len(os.fsencode(chosen)) <= NAME_MAX
    if _sorts_after(DROP_IN_NAME, name):
        assert chosen == DROP_IN_NAME  # the common case keeps the usual name


byte_names = (
    st.binary(min_size=1, max_size=40)
    .map(lambda data: data.replace(b"/", b"-").replace(b"\x00", b"-"))
    .filter(lambda data: data not in (b".", b".."))
    .map(os.fsdecode)
)


@given(name=byte_names)
def test_a_name_that_is_not_utf8_gets_a_utf8_one_when_one_sorts_after(name: str) -> None:
    """A playbook (YAML text) cannot carry a name that is not UTF-8; the patch can."""
    chosen = drop_in_name(_set_in(f"etc/sysctl.d/{name}"))
    assert _sorts_after(chosen, name)
    if os.fsencode(name)[0] < ord("~"):
        chosen.encode("utf-8")  # an ASCII byte raised at the first place: no surrogate left


def test_a_playbook_refuses_a_file_name_that_is_not_utf8() -> None:
    from tcpaudit.errors import TcpauditError
    from tcpaudit.remedy.plan import FileEdit, Plan
    from tcpaudit.remedy.playbook import render_playbook

    name = os.fsdecode(b"etc/sysctl.d/\xff.conf")
    edit = FileEdit(path=name, before=None, after="net.ipv4.tcp_retries2 = 8\n", sysctl=True)
    with pytest.raises(TcpauditError, match=r"\\xff.conf: a file name that is not UTF-8"):
        render_playbook(Plan(edits=[edit], notes=[]), host="h", layout=None)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("etc/sysctl.d/50-tuning.conf", DROP_IN_NAME),
        ("etc/sysctl.d/99-sysctl.conf", DROP_IN_NAME),
        ("etc/sysctl.d/zz.conf", "zz.tcpaudit.conf"),  # was zz-99-tcpaudit.conf: before zz.conf
        ("etc/sysctl.d/99-zz.conf", "99-zz.tcpaudit.conf"),
        ("run/sysctl.d/99-tcpaudit.conf", "99-tcpaudit.tcpaudit.conf"),
        ("etc/sysctl.d/99-tcpaudit.conf", DROP_IN_NAME),  # appending to it wins too
    ],
)
def test_names_for_files_that_sort_late(current: str, expected: str) -> None:
    assert drop_in_name(_set_in(current)) == expected


def test_a_link_is_ordered_by_its_own_name() -> None:
    # systemd reads /etc/sysctl.conf through Debian's 99-sysctl.conf link:
    # that name, not "sysctl.conf", is its place in the order.
    linked = _set_in("etc/sysctl.conf", via="etc/sysctl.d/99-sysctl.conf")
    assert drop_in_name(linked) == DROP_IN_NAME
    assert drop_in_name(_set_in("etc/sysctl.conf", via="etc/sysctl.d/zz-local.conf")) == (
        "zz-local.tcpaudit.conf"
    )


def test_loader_records_the_link_a_file_is_read_through(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "root",
        {
            "etc/sysctl.conf": "net.ipv4.tcp_retries2 = 5\n",
            "etc/sysctl.d/99-sysctl.conf": ("link", "../sysctl.conf"),
        },
    )
    setting = load_sysctl(root=root, boot="systemd").settings[RETRIES2]
    assert setting.persistent is not None
    assert (setting.persistent.file, setting.persistent.via) == (
        "etc/sysctl.conf",
        "etc/sysctl.d/99-sysctl.conf",
    )
    # Files read under their own name keep the facts JSON as it was.
    plain = load_sysctl(
        root=write_files(
            tmp_path / "plain", {"etc/sysctl.d/10-a.conf": "net.ipv4.tcp_retries2 = 5\n"}
        ),
        boot="systemd",
    ).settings[RETRIES2]
    assert plain.persistent is not None and "via" not in plain.persistent.model_dump()


def _apply_fix(root: Path, fix: str) -> str:
    """Run the fix's shell lines inside ``root`` (twice: the second run adds
    nothing); return the file they write, as the host names it."""
    written = [shlex.split(line)[-1] for line in fix.splitlines() if line.startswith("sysctl -p")]
    assert written, fix
    script = (
        "\n".join(line for line in fix.splitlines() if not line.startswith(("sysctl ", "#")))
        .replace(" /etc/", f" {root}/etc/")
        .replace("'/etc/", f"'{root}/etc/")
    )
    target = root / written[0].lstrip("/")
    subprocess.run(["sh", "-e", "-c", script], check=True)
    once = target.read_text()
    subprocess.run(["sh", "-e", "-c", script], check=True)
    assert target.read_text() == once, "running the fix again changed the file"
    return written[0]


LATE_FILES: dict[str, dict[str, str | tuple[str, str]]] = {
    "zz": {"etc/sysctl.d/zz.conf": "net.ipv4.tcp_retries2 = 5\n"},
    "99-zz-in-usr-lib": {"usr/lib/sysctl.d/99-zz.conf": "net.ipv4.tcp_retries2 = 5\n"},
    "blank-and-tilde": {"etc/sysctl.d/~ local.conf": "net.ipv4.tcp_retries2 = 5\n"},
    "own-drop-in-in-run": {"run/sysctl.d/99-tcpaudit.conf": "net.ipv4.tcp_retries2 = 5\n"},
    "own-drop-in": {"etc/sysctl.d/99-tcpaudit.conf": "net.ipv4.tcp_retries2 = 5\n"},
}


@pytest.mark.parametrize("boot", ["systemd", "procps"])
@pytest.mark.parametrize("case", sorted(LATE_FILES))
def test_the_real_boot_tools_apply_the_fix_last(tmp_path: Path, case: str, boot: BootTool) -> None:
    tree = write_files(tmp_path / "tree", LATE_FILES[case])
    settings = load_sysctl(root=tree, boot=boot)
    assert settings.settings[RETRIES2].value == 5
    fix = sysctl_fix({RETRIES2: 9}, settings).text
    target = _apply_fix(tree, fix)
    assert load_sysctl(root=tree, boot=boot).settings[RETRIES2].value == 9, target
    _, after, output = run_real_tool(tree, tmp_path / "scratch", boot, keys=(RETRIES2,))
    assert after[RETRIES2] == "9", f"{target} lost to {case}: {output}"


def test_the_real_systemd_sysctl_applies_the_fix_after_debians_sysctl_conf_link(
    tmp_path: Path,
) -> None:
    tree = write_files(
        tmp_path / "tree",
        {
            "etc/sysctl.conf": "net.ipv4.tcp_retries2 = 5\n",
            "etc/sysctl.d/99-sysctl.conf": ("link", "../sysctl.conf"),
        },
    )
    settings = load_sysctl(root=tree, boot="systemd")
    _apply_fix(tree, sysctl_fix({RETRIES2: 9}, settings).text)
    # The line of sysctl.conf is edited in place and the drop-in sorts after
    # the link: systemd-sysctl at boot and procps `sysctl --system` (what the
    # playbook's handler runs, applying sysctl.conf last) both leave 9.
    assert (tree / "etc/sysctl.conf").read_text() == f"{RETRIES2} = 9\n"
    assert f"{RETRIES2} = 9" in (tree / f"etc/sysctl.d/{DROP_IN_NAME}").read_text()
    for tool in ("systemd", "procps"):
        _, after, output = run_real_tool(tree, tmp_path / f"scratch-{tool}", tool, keys=(RETRIES2,))
        assert after[RETRIES2] == "9", (tool, output)
