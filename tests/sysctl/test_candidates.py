"""``judge``: which rules object to a candidate value of one sysctl, and what they recommend."""

from __future__ import annotations

from pathlib import Path

from realtool import write_files

import tcpaudit
from tcpaudit.checks.sysctl_candidates import judge, with_value
from tcpaudit.engine.run import audit_context


def _facts(tmp_path: Path, files: dict[str, str | tuple[str, str]]) -> tcpaudit.HostFacts:
    return tcpaudit.gather(root=write_files(tmp_path / "host", files))


def test_rules_on_both_sides_and_what_they_recommend(tmp_path: Path) -> None:
    facts = _facts(
        tmp_path,
        {
            "proc/sys/net/ipv4/tcp_retries2": "15\n",
            "etc/sysctl.d/60-retries.conf": "net.ipv4.tcp_retries2 = 3\n",
        },
    )
    judgement = judge(facts, "net.ipv4.tcp_retries2", [3, 15], audit_context(facts))
    assert judgement.objecting(3) == ("TA209",)
    assert judgement.objecting(15) == ("TA202",)
    assert judgement.recommendations() == (8,)
    assert judgement.acceptable(8)
    assert set(judgement.recommended_by["8"]) == {"TA202", "TA209"}
    assert judgement.no_worse_than(8, 3) and not judgement.no_worse_than(3, 8)


def test_a_rule_that_flags_every_candidate_objects_to_none(tmp_path: Path) -> None:
    # tcp_keepalive_intvl 1000 keeps detection slow whatever tcp_keepalive_time is:
    # TA201 then says nothing about tcp_keepalive_time's candidates.
    facts = _facts(
        tmp_path,
        {
            "proc/sys/net/ipv4/tcp_keepalive_time": "7200\n",
            "proc/sys/net/ipv4/tcp_keepalive_intvl": "1000\n",
            "proc/sys/net/ipv4/tcp_keepalive_probes": "9\n",
            "etc/sysctl.d/60-ka.conf": "net.ipv4.tcp_keepalive_time = 600\n",
        },
    )
    judgement = judge(facts, "net.ipv4.tcp_keepalive_time", [600, 7200], audit_context(facts))
    assert judgement.acceptable(600) and judgement.acceptable(7200)


def test_with_value_sets_live_and_persistent_and_the_derived_timings(tmp_path: Path) -> None:
    facts = _facts(
        tmp_path,
        {
            "proc/sys/net/ipv4/tcp_retries2": "15\n",
            "etc/sysctl.d/60-retries.conf": "net.ipv4.tcp_retries2 = 3\n",
        },
    )
    changed = with_value(facts, "net.ipv4.tcp_retries2", 8)
    assert changed.sysctl is not None
    setting = changed.sysctl.settings["net.ipv4.tcp_retries2"]
    assert (setting.value, setting.drifts) == (8, False)
    assert setting.live is not None and setting.live.file == "proc/sys/net/ipv4/tcp_retries2"
    assert changed.derived.retries2_giveup_seconds == 102.2
    assert facts.derived.retries2_giveup_seconds == 924.6  # the original is untouched
