"""What a check is: a typed function from facts and parameters to hits.

A check knows the mechanism and computes numbers; the rule file that uses it
supplies the words (title, message template) and the thresholds. A ``Hit``
carries the values its rule's message template may quote.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ConfigDict

from ..engine.findings import FileChange, JsonScalar, Severity
from ..engine.rule import Context
from ..facts import HostFacts
from ..first_error import FirstErrorModel
from ..provenance import Location

__all__ = ["Check", "CheckParams", "Hit", "as_seconds", "plain_number"]


class CheckParams(FirstErrorModel):
    """Base of every check's parameter model: unknown parameters are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ParamsT = TypeVar("ParamsT", bound=CheckParams)


@dataclass(frozen=True, slots=True)
class Hit:
    """One thing a check found; the engine turns it into a ``Finding``.

    Attributes:
        setting: the directive or sysctl key at fault (or a derived quantity).
        current: its value now; recommended: the value to set.
        location: the file and line to change (or to add the fix to).
        fix: text an operator can paste.
        values: named values the rule's message template may quote.
        scope: which part of the configuration (a vhost), None for the server.
        severity: a severity the check computed (tiers); None keeps the rule's.
        changes: the file changes ``fix`` is rendered from (checks.fixes).
    """

    setting: str | None
    current: JsonScalar
    recommended: JsonScalar
    location: Location | None
    fix: str | None
    values: Mapping[str, object] = field(default_factory=dict)
    scope: str | None = None
    severity: Severity | None = None
    changes: tuple[FileChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Check(Generic[ParamsT]):
    """A registered check: its parameter model and the function that runs it."""

    name: str
    params: type[ParamsT]
    run: Callable[[HostFacts, ParamsT, Context], Iterable[Hit]]

    def evaluate(
        self,
        facts: HostFacts,
        params: Mapping[str, Any],
        context: Context,
        limit: int | None = None,
    ) -> list[Hit]:
        """Validate ``params`` (raises pydantic's ValidationError) and run the check,
        stopping after ``limit`` hits (None: every hit)."""
        hits = self.run(facts, self.params.model_validate(dict(params)), context)
        return list(itertools.islice(hits, limit))


def as_seconds(value: object) -> float | None:
    """A setting's value as a number of seconds, or None for flags, text and unset values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def plain_number(value: float) -> int | float:
    """``30.0`` -> ``30`` so reports and fixes read as people write them; ``0.5`` stays."""
    return int(value) if float(value).is_integer() else value
