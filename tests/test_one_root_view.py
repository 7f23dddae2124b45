"""gather builds the root's view (RootFS) once and hands it to both loaders.

load_apache, load_sysctl and gather accept a path, as always, or a RootFS;
given the same root either way they return the same facts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tcpaudit
from tcpaudit import rootfs
from tcpaudit.errors import UsageError
from tcpaudit.rootfs import RootFS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "closewait-incident"


def count_views(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the root of every RootFS built from now on."""
    built: list[str] = []
    original = rootfs.RootFS.__init__

    def counting(self: RootFS, root: str = "/") -> None:
        built.append(str(root))
        original(self, root)

    monkeypatch.setattr(rootfs.RootFS, "__init__", counting)
    return built


def test_gather_builds_one_view_of_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    built = count_views(monkeypatch)
    facts = tcpaudit.gather(root=EXAMPLE)
    assert facts.apache is not None and facts.sysctl is not None
    assert built == [str(EXAMPLE)]


def test_gather_given_a_view_builds_none(monkeypatch: pytest.MonkeyPatch) -> None:
    fs = RootFS(EXAMPLE)
    built = count_views(monkeypatch)
    facts = tcpaudit.gather(root=fs)
    assert built == []
    by_path = tcpaudit.gather(root=EXAMPLE)
    assert facts.model_dump() == by_path.model_dump()


def test_load_sysctl_takes_a_path_or_a_view() -> None:
    by_path = tcpaudit.load_sysctl(root=EXAMPLE)
    by_view = tcpaudit.load_sysctl(root=RootFS(EXAMPLE))
    assert by_view == by_path
    assert by_path.settings["net.ipv4.tcp_keepalive_time"].live is not None


def test_gather_refuses_a_view_of_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        tcpaudit.gather(root=RootFS(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match=f"nothing to audit under {tmp_path / 'empty'}"):
        tcpaudit.gather(root=RootFS(tmp_path / "empty"))


@pytest.mark.parametrize("mask", ["link", "empty-file"])
def test_sysctl_files_all_masked_are_something_to_audit(tmp_path: Path, mask: str) -> None:
    # systemd-sysctl and procps read the tree and set nothing: its values are
    # the defaults, as where the mask is an empty file (not "nothing to audit").
    (tmp_path / "usr/lib/sysctl.d").mkdir(parents=True)
    (tmp_path / "usr/lib/sysctl.d/50-a.conf").write_text("net.ipv4.tcp_keepalive_time = 111\n")
    (tmp_path / "etc/sysctl.d").mkdir(parents=True)
    masked = tmp_path / "etc/sysctl.d/50-a.conf"
    if mask == "link":
        masked.symlink_to("/dev/null")
    else:
        masked.write_text("")
    facts = tcpaudit.gather(root=tmp_path)
    assert facts.sysctl is not None
    setting = facts.sysctl.settings["net.ipv4.tcp_keepalive_time"]
    assert (setting.value, setting.persistent) == (7200, None)
