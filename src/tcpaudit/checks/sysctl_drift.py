"""A tracked TCP sysctl holds one value now and will get another at the next boot.

The live value (/proc/sys) is what the kernel does today; the persistent files
(sysctl.d, sysctl.conf, in the boot tool's order) decide what it does after a
reboot. When they differ, either a tuning was applied by hand and will be
lost, or a file was changed and never applied: both are reported with their
sources, since only the operator knows which one is meant.

The fix never recommends a value another rule flags (sysctl_candidates):
the file's value, applied now, when no rule objects to it; else what the
rules that flag it recommend, set in a file that wins and applied now; else
the live value, persisted; else the kernel default. The message says which
rule ruled a value out, so the choice can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..engine.rule import Context
from ..facts import HostFacts
from ..sysctl.defaults import TRACKED_KEYS
from ..sysctl.model import SysctlSource, SysctlValue, value_text
from .base import CheckParams, Hit
from .fixes import Fix, sysctl_fix
from .sysctl_candidates import Judgement, judge, judging

__all__ = ["DriftParams", "sysctl_drift"]


class DriftParams(CheckParams):
    # Empty: every key tcpaudit tracks (sysctl.defaults.TRACKED_KEYS).
    keys: list[str] = []


def _where(source: SysctlSource) -> str:
    where = source.file if source.line is None else f"{source.file}:{source.line}"
    return f"{where} (glob {source.glob})" if source.glob else where


def _rules(ids: tuple[str, ...], verb: str) -> str:
    """``("TA202",), "flag"`` -> "TA202 flags"; two rules -> "TA202 and TA209 flag"."""
    return f"{' and '.join(ids)} {verb}{'s' if len(ids) == 1 else ''}"


def _choose(
    judgement: Judgement, persistent: SysctlValue, live: SysctlValue, default: SysctlValue | None
) -> tuple[SysctlValue | None, tuple[str, ...]]:
    """The value to recommend, and the rules whose own fix must come first.

    The first value no rule objects to, in this order: the file's, what the
    flagging rules recommend, the live one, the kernel default. Failing
    that, the first one only rules with a fix elsewhere object to (TA302
    until Apache's timers are fixed), with those rules; else none.
    """
    order = [persistent, *judgement.recommendations(), live]
    if default is not None:
        order.append(default)
    for value in order:
        if judgement.acceptable(value):
            return value, ()
    for value in order:
        if set(judgement.objecting(value)) <= judgement.elsewhere:
            return value, judgement.objecting(value)
    return None, ()


def _advice(
    judgement: Judgement,
    chosen: SysctlValue | None,
    waiting: tuple[str, ...],
    persistent: SysctlValue,
    live: SysctlValue,
) -> str:
    file_flags = judgement.objecting(persistent)
    live_flags = judgement.objecting(live)
    if chosen is None:
        return (
            f"No value tcpaudit tried satisfies every rule ({_rules(file_flags, 'flag')} the "
            f"file's value, {_rules(live_flags, 'flag')} the live one): follow those findings "
            "first, then audit again."
        )
    shown = value_text(chosen)
    by = judgement.recommended_by.get(shown)
    source = f"which {_rules(by, 'recommend')}" if by else "the kernel default"
    if waiting:
        if shown == value_text(persistent):
            target, then = "the file's value", "apply the file's value"
        elif shown == value_text(live):
            target, then = "the live value", "persist the live one"
        else:
            target, then = shown, f"set {shown}, {source}, now and for the next boot"
        others = f", and {_rules(live_flags, 'flag')} the live one" if live_flags else ""
        them = "it names" if len(waiting) == 1 else "they name"
        return (
            f"{_rules(waiting, 'flag')} {target} only until the fix {them} is in{others}: "
            f"apply that fix first, then {then}."
        )
    if shown == value_text(persistent):
        if live_flags:
            return f"Apply the file's value now: the live one is what {_rules(live_flags, 'flag')}."
        return "Apply the file's value now, or persist the live one."
    if shown == value_text(live):
        return (
            f"The file's value is one {_rules(file_flags, 'flag')}: persist the live one "
            "instead of applying it."
        )
    if live_flags:
        why = (
            f"{_rules(file_flags, 'flag')} the file's value and "
            f"{_rules(live_flags, 'flag')} the live one"
        )
        return f"Neither is safe ({why}): set {shown}, {source}, now and for the next boot."
    return (
        f"The file's value is one {_rules(file_flags, 'flag')}: set {shown}, {source}, now "
        "and for the next boot (or persist the live one)."
    )


def sysctl_drift(facts: HostFacts, params: DriftParams, context: Context) -> Iterator[Hit]:
    sysctl = facts.sysctl
    if sysctl is None or judging():
        return
    for key in params.keys or TRACKED_KEYS:
        setting = sysctl.settings.get(key)
        if setting is None or not setting.drifts:
            continue
        assert setting.live is not None and setting.persistent is not None
        live, persistent = setting.live, setting.persistent
        judgement = judge(facts, key, [persistent.value, live.value], context)
        chosen, waiting = _choose(judgement, persistent.value, live.value, setting.default)
        if chosen is None:
            fix = Fix(
                comments=(
                    "# no value clears every rule yet: apply the other findings' fixes first",
                )
            )
        else:
            # sysctl_fix gives `sysctl -w` when the file already holds ``chosen``.
            fix = sysctl_fix({key: chosen}, sysctl)
            if waiting:
                fix = Fix(preface=(f"# after the fix of {' and '.join(waiting)}:",)) + fix
            alternatives = {value_text(chosen), value_text(persistent.value)}
            if judgement.acceptable(live.value) and value_text(live.value) not in alternatives:
                keep_live = sysctl_fix({key: live.value}, sysctl).text.replace("\n", "\n# ")
                fix += Fix(comments=("# or keep the live value across reboots:", f"# {keep_live}"))
        yield Hit(
            setting=key,
            current=value_text(live.value),
            recommended=None if chosen is None else value_text(chosen),
            location=setting.location,
            fix=fix.text,
            changes=fix.changes,
            values={
                "live": value_text(live.value),
                "live_from": _where(live),
                "persistent": value_text(persistent.value),
                "persistent_from": _where(persistent),
                "advice": _advice(judgement, chosen, waiting, persistent.value, live.value),
            },
        )
