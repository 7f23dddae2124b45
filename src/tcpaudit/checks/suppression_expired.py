"""A suppression in the user's configuration has passed its expiry date.

A suppression with an ``expires`` date is a promise to fix something by
then. Once the date passes it stops hiding its finding, and this check says
so where the entry is written, so the promise is renewed or dropped on
purpose rather than silently.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from .base import CheckParams, Hit

__all__ = ["SuppressionExpiredParams", "suppression_expired"]


class SuppressionExpiredParams(CheckParams):
    pass


def suppression_expired(
    facts: HostFacts, params: SuppressionExpiredParams, context: Context
) -> Iterator[Hit]:
    for suppression in context.expired_suppressions:
        yield Hit(
            setting="suppress",
            current=suppression.expires.isoformat(),
            recommended=None,
            location=suppression.location,
            fix=(
                f"delete this [[suppress]] entry for {suppression.rule} once fixed, "
                "or set a later expires with a reason that still holds"
            ),
            values={
                "suppressed_rule": suppression.rule,
                "expires": suppression.expires.isoformat(),
                "reason": suppression.reason,
            },
        )
