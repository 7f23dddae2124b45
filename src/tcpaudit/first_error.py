"""Validation that stops at a collection's first bad item.

pydantic collects an error for every bad item of a list or a mapping, and
tcpaudit names only the first: a 12 MB facts document holding 4,000,000
numbers where file names belong made 4,000,000 errors (4.5 GB, 31 s). Every
model of tcpaudit derives from ``FirstErrorModel``, whose lists, sets and
mappings stop at their first bad item (pydantic-core's ``fail_fast``). Each
model marks its own fields: a nested model is validated by its own class's
validator. What validates is unchanged, and so is the JSON Schema.
"""

from __future__ import annotations

from pydantic import BaseModel, GetCoreSchemaHandler
from pydantic_core import CoreSchema

__all__ = ["FirstErrorModel", "stop_at_first_error"]

_COLLECTIONS = frozenset({"list", "dict", "set", "frozenset"})


def stop_at_first_error(schema: CoreSchema) -> int:
    """Marks every collection of ``schema`` fail-fast; how many it marked."""
    marked = 0
    pending: list[object] = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") in _COLLECTIONS:
                node["fail_fast"] = True
                marked += 1
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return marked


class FirstErrorModel(BaseModel):
    """A model whose collections stop validating at their first bad item."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /
    ) -> CoreSchema:
        schema = handler(source)
        stop_at_first_error(schema)
        return schema
