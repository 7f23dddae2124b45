"""Every model stops validating a collection at its first bad item.

tcpaudit names one error; pydantic made one per bad item (4,000,000 numbers
where file names belong: 4.5 GB of errors). See tcpaudit/first_error.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tcpaudit import HostFacts, Report
from tcpaudit.engine.config import AuditConfig
from tcpaudit.engine.rule import Rule
from tcpaudit.snapshot_document import Snapshot

SOURCE = Path(__file__).resolve().parents[1] / "src" / "tcpaudit"
DOCUMENTS: list[type[BaseModel]] = [HostFacts, Report, Snapshot, AuditConfig, Rule]


def _collections(schema: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") in ("list", "dict", "set", "frozenset"):
                found.append(node)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def test_every_model_of_tcpaudit_derives_from_first_error_model() -> None:
    plain = [
        f"{path.relative_to(SOURCE)}:{number}"
        for path in sorted(SOURCE.rglob("*.py"))
        if path.name != "first_error.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"class \w+\((pydantic\.)?(BaseModel|RootModel)\b", line)
    ]
    assert plain == []


@pytest.mark.parametrize("model", DOCUMENTS, ids=lambda model: model.__name__)
def test_every_collection_of_a_read_document_is_fail_fast(model: type[BaseModel]) -> None:
    collections = _collections(model.__pydantic_core_schema__)
    assert collections, "the document has lists or mappings"
    assert [node for node in collections if not node.get("fail_fast")] == []


def test_a_nested_list_of_bad_items_gives_one_error() -> None:
    document = {
        "host": "h",
        "apache": {"version": "2.4", "version_source": "assumed", "mpm": "event",
                   "mpm_source": "assumed", "main_file": "httpd.conf",
                   "files": [1.5] * 1000, "tls_engine_lines": [{}] * 1000},
    }  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        HostFacts.model_validate(document)
    assert raised.value.error_count() <= 2  # the first bad item of each list at most
    with pytest.raises(ValidationError) as raised:
        Report.model_validate({"host": "h", "unlisted": [1.5] * 1000})
    assert raised.value.error_count() <= 3
