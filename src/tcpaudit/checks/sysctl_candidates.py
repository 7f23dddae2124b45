"""What the rest of the catalogue says about a value of one sysctl.

A fix for one rule must not raise another: TA208 (drift) must not tell the
operator to apply a persistent tcp_retries2 of 3 that TA209 flags, and a
rule that judges the live value may send the operator to ``sysctl -w`` the
persistent value only when no rule objects to that value. Both ask
``judge``, which runs the catalogue's rules on copies of the facts in which
the key holds each candidate value, live and at boot alike.

A rule that flags every candidate is about something else (TA201 when
tcp_keepalive_intvl alone makes detection slow, while the question is
tcp_keepalive_time) and objects to none of them; a rule objects to a
candidate it flags when some other candidate clears it. The candidates are
the values asked about, then what the flagging rules recommend for the key,
then the kernel default.

The rules come from the engine (``Context.rules``): the audit's catalogue,
extra rule directories included, with the user's parameters, disabled rules
left out; only those that read sysctl values run. Outside an audit (a bare
``Context``) no rule is known and every candidate is acceptable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..engine.findings import JsonScalar
from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.model import SysctlSetting, SysctlSource, SysctlValue, value_text
from ..sysctl.values import parse_value

__all__ = ["Judgement", "judge", "judging", "pending_note", "with_value"]

# Checks that never judge a host value, or that ask ``judge`` about every
# drifting key themselves.
_SKIPPED_CHECKS = frozenset({"sysctl_drift", "suppression_expired"})
# Candidates beyond the values asked about: recommendations of recommendations
# stop here (the bundled rules agree after one step).
_MAX_CANDIDATES = 8

_JUDGING: ContextVar[bool] = ContextVar("tcpaudit_sysctl_judging", default=False)


def judging() -> bool:
    """True while ``judge`` runs rules on hypothetical facts.

    Checks then judge the facts as they are and ask ``judge`` nothing: every
    nested question would multiply the work by the number of candidates.
    """
    return _JUDGING.get()


@contextmanager
def _judging() -> Iterator[None]:
    token = _JUDGING.set(True)
    try:
        yield
    finally:
        _JUDGING.reset(token)


def with_value(facts: HostFacts, key: str, value: SysctlValue) -> HostFacts:
    """``facts`` with ``key`` holding ``value`` now and after the next boot."""
    sysctl = facts.sysctl
    assert sysctl is not None
    setting = sysctl.settings.get(key) or SysctlSetting(value=None)
    update: dict[str, object] = {"value": value, "live_unknown": None}
    if setting.live is not None:
        update["live"] = setting.live.model_copy(update={"value": value})
    if setting.persistent is not None:
        update["persistent"] = setting.persistent.model_copy(update={"value": value})
    settings = {**sysctl.settings, key: setting.model_copy(update=update)}
    return facts.model_copy(update={"sysctl": sysctl.model_copy(update={"settings": settings})})


def _as_value(recommended: JsonScalar) -> SysctlValue | None:
    """A rule's recommendation as a sysctl value; None when it is no number."""
    if isinstance(recommended, bool) or recommended is None or isinstance(recommended, float):
        return None
    parsed = parse_value(str(recommended))
    return None if isinstance(parsed, str) else parsed


@dataclass(frozen=True)
class Judgement:
    """The candidates for one key and the rules that object to each.

    Attributes:
        key: the dotted key.
        candidates: every value considered, in the order considered.
        objections: value text (model.value_text) -> ids of the rules that
            object to it; empty when none does.
        recommended_by: value text -> ids of the rules whose fix sets it.
        elsewhere: the objecting rules that propose no value for the key:
            their fix is elsewhere (TA302 flags a lowered tcp_keepalive_time
            while Apache's timers drain the workers, and asks for Apache
            fixes), and once it is in they object no more.
    """

    key: str
    candidates: tuple[SysctlValue, ...]
    objections: Mapping[str, tuple[str, ...]]
    recommended_by: Mapping[str, tuple[str, ...]]
    elsewhere: frozenset[str] = frozenset()

    def objecting(self, value: SysctlValue) -> tuple[str, ...]:
        """The rules that object to ``value`` (a value not considered has none)."""
        return self.objections.get(value_text(value), ())

    def acceptable(self, value: SysctlValue) -> bool:
        return not self.objecting(value)

    def no_worse_than(self, value: SysctlValue, reference: SysctlValue) -> bool:
        """True when every rule that objects to ``value`` objects to ``reference`` too.

        A rule may apply the persistent value instead of its own
        recommendation when that trades no finding for another.
        """
        return set(self.objecting(value)) <= set(self.objecting(reference))

    def recommendations(self) -> tuple[SysctlValue, ...]:
        """The candidates some rule recommends, in the order considered."""
        return tuple(value for value in self.candidates if value_text(value) in self.recommended_by)


def _flagging(facts: HostFacts, key: str, context: Context) -> dict[str, list[SysctlValue]]:
    """The rules that flag ``facts``, by id, each with what it recommends for ``key``."""
    if context.rules is None:
        return {}
    flagged: dict[str, list[SysctlValue]] = {}
    for rule_id, hits in context.rules(facts, context, _SKIPPED_CHECKS).items():
        proposals = flagged.setdefault(rule_id, [])
        for setting, recommended in hits:
            value = _as_value(recommended) if setting == key else None
            if value is not None:
                proposals.append(value)
    return flagged


def judge(facts: HostFacts, key: str, values: Sequence[SysctlValue], context: Context) -> Judgement:
    """Which rules object to each of ``values`` for ``key``, and what they would set.

    Args:
        facts: the audited host.
        key: the dotted key; facts.sysctl must be set.
        values: the values asked about, e.g. the persistent and the live one.
        context: the audit's context (profile, MPM, Apache version).
    """
    sysctl = facts.sysctl
    assert sysctl is not None
    if judging():
        return Judgement(key, tuple(values), {}, {})
    setting = sysctl.settings.get(key)
    default = setting.default if setting is not None else None
    pending: list[SysctlValue] = list(values)
    flagged: dict[str, set[str]] = {}
    considered: dict[str, SysctlValue] = {}
    recommended_by: dict[str, list[str]] = {}
    with _judging():
        while pending and len(considered) < len(values) + _MAX_CANDIDATES:
            value = pending.pop(0)
            text = value_text(value)
            if text not in considered:
                rules = _flagging(with_value(facts, key, value), key, context)
                flagged[text], considered[text] = set(rules), value
                for rule_id, proposals in rules.items():
                    for proposal in proposals:
                        ids = recommended_by.setdefault(value_text(proposal), [])
                        if rule_id not in ids:
                            ids.append(rule_id)
                        pending.append(proposal)
            if not pending and default is not None:
                # The kernel default comes last, after every recommendation.
                pending.append(default)
                default = None
    # Rules that flag every candidate judge something this key does not change.
    everywhere = set.intersection(*flagged.values()) if flagged else set()
    objections = {text: tuple(sorted(rules - everywhere)) for text, rules in flagged.items()}
    proposers = {rule_id for ids in recommended_by.values() for rule_id in ids}
    objecting = {rule_id for ids in objections.values() for rule_id in ids}
    return Judgement(
        key=key,
        candidates=tuple(considered.values()),
        objections=objections,
        recommended_by={text: tuple(ids) for text, ids in recommended_by.items()},
        elsewhere=frozenset(objecting - proposers),
    )


def pending_note(sources: Mapping[str, SysctlSource]) -> str:
    """A sentence for a message: these persistent lines are right, apply them now.

    Starts with a blank, to follow the message's last sentence; names the
    keys only when there are several.
    """

    def where(source: SysctlSource) -> str:
        return source.file if source.line is None else f"{source.file}:{source.line}"

    if len(sources) == 1:
        source = next(iter(sources.values()))
        return (
            f" {where(source)} already sets {value_text(source.value)} for the next boot: "
            "apply it now."
        )
    parts = [
        f"{key.rsplit('.', 1)[-1]} {value_text(source.value)} ({where(source)})"
        for key, source in sources.items()
    ]
    return f" The files already set {', '.join(parts)} for the next boot: apply them now."
