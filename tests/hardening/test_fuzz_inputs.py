"""Hostile input never crashes tcpaudit: a result, or one TcpauditError naming the file.

Property tests over every text input other than the Apache configuration
(tested with its parser): sysctl text and trees, tcpaudit.toml, rule files,
facts documents. The number of examples is bounded for CI; set
TCPAUDIT_FUZZ_EXAMPLES for a longer run.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import tcpaudit
from tcpaudit.engine import load_catalogue, load_config

EXAMPLES = int(os.environ.get("TCPAUDIT_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REPO = Path(__file__).resolve().parents[2]
# A tcp_fastopen_key value planted in every input; it must never come out.
SECRET = "00112233-44556677-8899aabb-ccddeeff"

sysctl_lines = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda key, value: f"{key} = {value}",
            st.sampled_from(
                [
                    "net.ipv4.tcp_keepalive_time",
                    "net/ipv4/tcp_retries2",
                    "-net.core.somaxconn",
                    "net.ipv4.tcp_rmem",
                    "net.ipv4.conf.*.rp_filter",
                    "net.ipv4.tcp_fastopen_key",
                ]
            ),
            st.text(alphabet=string.printable, max_size=40),
        ),
    ),
    max_size=30,
)


@FUZZ
@given(lines=sysctl_lines, raw=st.binary(max_size=200))
def test_sysctl_text_never_crashes(tmp_path: Path, lines: list[str], raw: bytes) -> None:
    source = tmp_path / "sysctl-a.txt"
    planted = f"net.ipv4.tcp_fastopen_key = {SECRET}\n".encode()
    source.write_bytes(planted + "\n".join(lines).encode("utf-8", "surrogatepass") + raw)
    conf = tmp_path / "root" / "etc" / "sysctl.d"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "50-fuzz.conf").write_bytes(
        raw + "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + planted
    )
    try:
        settings_ = tcpaudit.load_sysctl(source, root=tmp_path / "root")
    except tcpaudit.SysctlError as error:
        # Input that is not sysctl text at all is one error naming the file.
        assert error.file == str(source)
        assert SECRET not in str(error)
        return
    dumped = settings_.model_dump_json()
    assert SECRET not in dumped
    report = tcpaudit.audit(tcpaudit.HostFacts(host="fuzz", sysctl=settings_))
    assert report.grade in "ABCDF"


@FUZZ
@given(text=st.text(max_size=300))
def test_tcpaudit_toml_is_valid_or_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tcpaudit.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except tcpaudit.ConfigError as error:
        assert str(path) in str(error)


@FUZZ
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["id", "title", "severity", "check", "params", "when", "message", "x"]
                ),
                children,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_rule_files_are_valid_or_catalogue_error(tmp_path: Path, document: object) -> None:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    path = rules / "TA900-fuzz.yaml"
    path.write_text(json.dumps(document))  # JSON is YAML
    try:
        load_catalogue([rules], include_bundled=False)
    except tcpaudit.CatalogueError as error:
        assert str(path) in str(error)


@FUZZ
@given(text=st.text(max_size=200))
def test_rule_file_text_is_valid_or_catalogue_error(tmp_path: Path, text: str) -> None:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    path = rules / "TA901-fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_catalogue([rules], include_bundled=False)
    except tcpaudit.CatalogueError as error:
        assert str(path) in str(error)


def _mutate(value: object, draw: st.DrawFn) -> object:
    if isinstance(value, dict):
        return {k: _mutate(v, draw) for k, v in value.items() if draw(st.integers(0, 9))}
    if isinstance(value, list):
        return [_mutate(v, draw) for v in value]
    if draw(st.integers(0, 15)) == 0:
        return draw(st.none() | st.integers() | st.text(max_size=5) | st.booleans())
    return value


INCIDENT_FACTS = tcpaudit.gather(root=REPO / "examples" / "closewait-incident").model_dump(
    mode="json"
)


@FUZZ
@given(data=st.data())
def test_mutated_facts_documents_validate_or_fail_cleanly(data: st.DataObject) -> None:
    document = _mutate(INCIDENT_FACTS, data.draw)
    try:
        facts = tcpaudit.HostFacts.model_validate(document)
    except ValidationError:
        return
    report = tcpaudit.audit(facts)
    assert report.grade in "ABCDF"


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_sysctl_source_that_is_not_a_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "source"
    if kind == "fifo":
        os.mkfifo(path)
        with pytest.raises(tcpaudit.SysctlError) as caught:
            tcpaudit.load_sysctl(path, root=tmp_path)
        assert "not a regular file" in str(caught.value)
    else:
        # A directory is read as /proc/sys: one without net/ is not one.
        path.mkdir()
        with pytest.raises(tcpaudit.SysctlError) as caught:
            tcpaudit.load_sysctl(path, root=tmp_path)
        assert caught.value.file == str(path)
        (path / "net" / "ipv4").mkdir(parents=True)
        (path / "net" / "ipv4" / "tcp_retries2").write_text("8\n")
        assert tcpaudit.load_sysctl(path, root=tmp_path).int_value("net.ipv4.tcp_retries2") == 8


@FUZZ
@given(
    document=st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(
                    st.sampled_from(
                        ["schema_version", "findings", "rule", "location", "file", "x"]
                    ),
                    children,
                    max_size=5,
                )
            ),
            max_leaves=15,
        ).map(json.dumps),
    )
)
def test_baseline_files_are_valid_or_parse_error(tmp_path: Path, document: str) -> None:
    from tcpaudit.engine.baseline import load_baseline

    path = tmp_path / "baseline.json"
    path.write_text(document, encoding="utf-8", errors="surrogatepass")
    try:
        fingerprints = load_baseline(path)
    except tcpaudit.ParseError as error:
        assert str(path) in str(error)
    else:
        assert all(isinstance(item, str) for item in fingerprints)
