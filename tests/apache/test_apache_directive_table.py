"""The shipped probed tables agree with the installed apache2.

- directives-2.4.tsv: every directive `apache2 -L` lists, with the same owners
  and "Allowed in"; the word-count kinds of the directives tcpaudit tracks and
  of a random sample of the others are probed again (the whole table takes
  minutes to probe: ``python tests/apache/apache_directive_table.py``);
- modules-2.4.txt: the module identifiers of `apache2 -D DUMP_MODULES`;
- contexts-2.4.tsv: the places a handler refuses itself, probed again for
  the tracked directives, every directive the table lists and a sample;
- values-2.4.tsv: probed again whole (keywords and ErrorDocument's codes).

The sample changes with the day (TCPAUDIT_TABLE_SEED picks one), so that
successive runs cover the whole table; a failure prints the seed.
"""

from __future__ import annotations

import datetime
import os
import random
import tempfile
from importlib import resources
from pathlib import Path

from apache_context_table import Prober, context_table
from apache_context_table import render as render_contexts
from apache_directive_table import (
    _load_order,
    directive_table,
    module_identifiers,
    override_table,
    probe_arity,
    render_modules,
    render_overrides,
)
from apache_value_table import CANDIDATES, probe_keywords

from tcpaudit.apache.effective import TRACKED_KEYS

SAMPLE = 40
SEED = int(os.environ.get("TCPAUDIT_TABLE_SEED", datetime.date.today().strftime("%Y%m%d")))


def _shipped(name: str) -> str:
    return resources.files("tcpaudit.apache").joinpath(name).read_text()


def _rows(text: str) -> set[str]:
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def _shipped_directives() -> dict[str, list[str]]:
    return {
        row.split("\t")[0].lower(): row.split("\t") for row in _rows(_shipped("directives-2.4.tsv"))
    }


def _sample() -> list[str]:
    shipped = _shipped_directives()
    plain = sorted(key for key in shipped if not key.startswith("<"))
    chosen = set(TRACKED_KEYS) & set(plain)
    chosen |= set(random.Random(SEED).sample(plain, SAMPLE))
    return sorted(chosen)


def test_shipped_table_lists_what_apache2_lists() -> None:
    installed = directive_table(probe=False)
    assert len(installed) > 600
    shipped = _shipped_directives()
    # Every directive this apache2 registers is in the table, with the same
    # owners and the same "Allowed in"; an older apache2 may know fewer. A
    # newer one listing more means: regenerate the tables (see the scripts).
    for key, (canonical, owners, where, _) in installed.items():
        assert key in shipped, canonical
        assert shipped[key][:3] == [canonical, ",".join(sorted(owners)), where], canonical


def test_word_count_kinds_of_a_sample_as_apache2_checks_them() -> None:
    shipped = _shipped_directives()
    sample = _sample()
    with tempfile.TemporaryDirectory() as tmp:
        order = _load_order(Path(tmp), "mpm_event")
        probed = {
            key: probe_arity(Path(tmp), order, shipped[key][0], shipped[key][2])
            for key in sample
            if "mpm_prefork_module" not in shipped[key][1]
            and "mpm_worker_module" not in shipped[key][1]
        }
    wrong = {
        key: (shipped[key][3], kind) for key, kind in probed.items() if shipped[key][3] != kind
    }
    assert not wrong, f"seed {SEED}: {wrong}"


def test_modules_list_is_apache2s() -> None:
    assert _shipped("modules-2.4.txt") == render_modules(module_identifiers())


def test_override_classes_are_apache2s() -> None:
    # What a Require section lets in (AllowOverride AuthConfig's directives).
    assert _shipped("overrides-2.4.tsv") == render_overrides(override_table())
    assert "AuthConfig" in _shipped("overrides-2.4.tsv")


def test_contexts_of_a_sample_as_apache2_refuses_them() -> None:
    shipped = _rows(_shipped("contexts-2.4.tsv"))
    listed = {row.split("\t")[0].lower() for row in shipped}
    keys = sorted(set(_sample()) | listed)
    probed = _rows(render_contexts(context_table(keys)))
    expected = {row for row in shipped if row.split("\t")[0].lower() in keys}
    assert probed == expected, f"seed {SEED}: {sorted(probed ^ expected)[:10]}"


def test_values_table_is_apache2s() -> None:
    rows = [line.split("\t") for line in _rows(_shipped("values-2.4.tsv"))]
    with tempfile.TemporaryDirectory() as tmp:
        prober = Prober(Path(tmp))
        probed = {tuple(probe_keywords(prober, name)) for name in CANDIDATES}
        assert {tuple(row) for row in rows} == probed
        # ErrorDocument: every shipped code in one run, and a sample of the others.
        codes = [int(code) for code in _error_document_line().split("\t")[1].split(",")]
        loads = prober.loads_for(frozenset({"core_module"}))
        body = "".join(f"ErrorDocument {code} x\n" for code in codes)
        assert prober.run(loads, body) == "OK"
        others = random.Random(SEED).sample(sorted(set(range(100, 1000)) - set(codes)), 20)
        for code in others:
            assert prober.run(loads, f"ErrorDocument {code} x\n") != "OK", (SEED, code)


def _error_document_line() -> str:
    return next(
        line for line in _shipped("values-2.4.tsv").splitlines()
        if line.startswith("#ErrorDocument codes\t")
    )  # fmt: skip
