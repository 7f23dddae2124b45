"""The fix on trees it was not written against (variants.py), proven as in test_fix_applied."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from proof import (
    CORPUS,
    EXAMPLES,
    Proof,
    case_name,
    fixed_apache_findings,
    is_sysctl_finding,
    prove,
)
from variants import ODD_BREAKS, VARIANTS

from tcpaudit.remedy import plan, render_diff


@pytest.fixture(scope="module")
def variant_proofs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Proof]:
    work = tmp_path_factory.mktemp("fix-variants")
    proofs: dict[str, Proof] = {}
    for name, (build, tree) in VARIANTS.items():
        source = work / "source" / name
        source.parent.mkdir(exist_ok=True)
        build(source)
        proofs[name] = prove(source, work / "proof" / name, tree)
    return proofs


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_is_fixed_and_still_accepted(variant_proofs: dict[str, Proof], name: str) -> None:
    proof = variant_proofs[name]
    assert proof.diff
    assert not fixed_apache_findings(proof.after), fixed_apache_findings(proof.after)
    assert all(not f.fix_changes for f in proof.after.findings if is_sysctl_finding(f))
    assert render_diff(plan(proof.after.findings, proof.patched)) == ""
    assert proof.after.grade in ("A", "B"), (proof.before.grade, proof.after.grade)
    if proof.apache_before is not None:
        assert proof.apache_before and proof.apache_after, proof.apache_error


def _text(root: Path, file: str) -> str:
    return (root / file).read_bytes().decode()


def test_the_later_line_that_wins_is_the_one_changed(variant_proofs: dict[str, Proof]) -> None:
    proof = variant_proofs["set-twice-later-wins-by-glob"]
    late = _text(proof.patched, "etc/apache2/conf-available/zz-timeouts.conf")
    assert "Timeout 30\n" in late and "Timeout 600" not in late
    # apache2.conf's earlier line loses to it either way: left as it was.
    assert "\nTimeout 300\n" in _text(proof.patched, "etc/apache2/apache2.conf")
    # The link in conf-enabled stays a link.
    assert (proof.patched / "etc/apache2/conf-enabled/zz-timeouts.conf").is_symlink()


def test_a_continued_line_is_replaced_whole_and_crlf_kept(
    variant_proofs: dict[str, Proof],
) -> None:
    proof = variant_proofs["continued-line-crlf-no-final-newline"]
    text = _text(proof.patched, "etc/apache2/apache2.conf")
    assert "\r\nTimeout 30\r\n" in text
    assert "Timeout \\" not in text and "    300" not in text
    assert text.count("\n") == text.count("\r\n")


def test_lines_end_at_lf_only(variant_proofs: dict[str, Proof]) -> None:
    """A form feed or U+2028 inside a comment does not shift the line the fix changes."""
    proof = variant_proofs["breaks-httpd-does-not-break-at"]
    before = _text(proof.pristine, "etc/apache2/apache2.conf")
    after = _text(proof.patched, "etc/apache2/apache2.conf")
    assert before.replace("\nTimeout 300\n", "\nTimeout 30\n") == after
    assert all(f"# page{char}break\n" in after for char in ODD_BREAKS)


def test_vhost_values_are_changed_in_the_site_behind_its_link(
    variant_proofs: dict[str, Proof],
) -> None:
    proof = variant_proofs["reqtimeout-disabled-prefork-vhost-override"]
    site = _text(proof.patched, "etc/apache2/sites-available/000-default.conf")
    assert "\tTimeout 30\n\tKeepAliveTimeout 2\n" in site
    assert (proof.patched / "etc/apache2/sites-enabled/000-default.conf").is_symlink()
    # a2enmod's links, as Debian enables a module.
    load = proof.patched / "etc/apache2/mods-enabled/reqtimeout.load"
    assert load.is_symlink() and str(load.readlink()) == "../mods-available/reqtimeout.load"


def test_sysctl_values_go_where_they_win_at_boot(variant_proofs: dict[str, Proof]) -> None:
    proof = variant_proofs["incident-sysctl-conf-and-late-drop-in"]
    # procps applies /etc/sysctl.conf last: its line is edited in place.
    assert "net.ipv4.tcp_keepalive_time = 600\n" in _text(proof.patched, "etc/sysctl.conf")
    # The drop-in sorts after zz-vendor.conf, which sets tcp_retries2.
    drop_ins = sorted(p.name for p in (proof.patched / "etc/sysctl.d").iterdir())
    assert drop_ins[-1] != "zz-vendor.conf" and drop_ins[-1] > "zz-vendor.conf"
    assert "net.ipv4.tcp_retries2 = 8" in _text(proof.patched, f"etc/sysctl.d/{drop_ins[-1]}")


def test_an_existing_drop_in_line_is_replaced_not_repeated(
    variant_proofs: dict[str, Proof],
) -> None:
    proof = variant_proofs["sysctl-vendor-slash-and-existing-drop-in"]
    text = _text(proof.patched, "etc/sysctl.d/99-tcpaudit.conf")
    assert text.startswith("net.ipv4.tcp_retries2 = 8\nnet.core.somaxconn = 4096\n")
    assert text.count("tcp_retries2") == 1
    # The vendor file in /usr/lib is never edited.
    assert _text(proof.patched, "usr/lib/sysctl.d/50-default.conf") == (
        "net.ipv4.tcp_keepalive_time = 7200\n"
    )


def test_values_inside_a_section_keep_their_indentation(variant_proofs: dict[str, Proof]) -> None:
    proof = variant_proofs["values-inside-ifmodule"]
    text = _text(proof.patched, "usr/local/apache2/conf/httpd.conf")
    assert "<IfModule mpm_prefork_module>\n    Timeout 30\n    KeepAliveTimeout 2\n" in text


def test_a_link_to_the_main_file_and_an_absolute_link_are_followed(
    variant_proofs: dict[str, Proof],
) -> None:
    main = variant_proofs["main-file-is-a-link-two-vhosts"]
    assert (main.patched / "usr/local/apache2/conf/httpd.conf").is_symlink()
    assert "\nTimeout 30\n" in _text(main.patched, "usr/local/apache2/conf/real.conf")
    behind = variant_proofs["vhost-behind-an-absolute-link"]
    assert "  Timeout 30\n" in _text(behind.patched, "srv/sites/s.conf")
    assert (behind.patched / "etc/sites").is_symlink()


_PROFILED = [
    (source, profile)
    for profile in ("proxy-backend", "internal")
    for source in (*EXAMPLES, *CORPUS)
]


@pytest.fixture(scope="module")
def profile_proofs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Proof]:
    """The examples and corpus trees audited with the other two profiles."""
    work = tmp_path_factory.mktemp("fix-profiles")
    sources = [source for source, _ in _PROFILED]
    works = [work / f"p{index}" for index in range(len(_PROFILED))]
    profiles = [profile for _, profile in _PROFILED]
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = pool.map(prove, sources, works, [None] * len(sources), profiles)
        return {
            f"{profile}:{proof.name}": proof for profile, proof in zip(profiles, done, strict=True)
        }


@pytest.mark.parametrize(
    "name", [f"{profile}:{case_name(source)}" for source, profile in _PROFILED]
)
def test_other_profiles_are_fixed_too(profile_proofs: dict[str, Proof], name: str) -> None:
    """Behind a balancer the fix raises KeepAliveTimeout to 65 s (TA118, TA105):
    on prefork it must then size the pool too, or TA301 follows the fix."""
    proof = profile_proofs[name]
    assert not fixed_apache_findings(proof.after), fixed_apache_findings(proof.after)
    assert render_diff(plan(proof.after.findings, proof.patched)) == ""
    grades = "ABCDEF"
    assert grades.index(proof.after.grade) <= grades.index(proof.before.grade)
    if proof.apache_before:
        assert proof.apache_after, proof.apache_error
