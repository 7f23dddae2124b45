"""``audit``: run the catalogue over a host's facts and grade the result.

Applies the user's configuration (disabled rules, severities, parameters,
suppressions); the checks themselves never see it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError

from ..apache.known_tokens import shown_prefix
from ..apache.shell_state import REDACTED_VALUE
from ..errors import CatalogueError, ConfigError, raises_only_documented_errors
from ..facts import HostFacts
from ..hold import holds_remembered
from ..provenance import Note
from .catalogue import bundled_rule_ids, load_catalogue, registered_checks
from .config import AuditConfig, suggest_rule_id
from .findings import (
    ApacheSummary,
    FileChange,
    Finding,
    JsonScalar,
    KernelSummary,
    Profile,
    Report,
    Severity,
    fingerprint_of,
)
from .grade import grade_for, score_for
from .rule import MAX_MESSAGE_CHARACTERS, Context, ExpiredSuppression, Rule, RuleRunner
from .selection import (
    MAX_FINDINGS_PER_RULE,
    MAX_JUDGED_OF_EXTRA_RULES,
    MAX_JUDGED_PER_RULE,
    MAX_LISTED_FINDINGS,
    Judged,
    Suppressions,
    left_out_note,
    listed,
    listed_in_report,
)

if TYPE_CHECKING:
    from ..checks import Check

log = logging.getLogger(__name__)

__all__ = ["audit", "audit_context", "render_template", "rule_applies"]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# A finding's message as shown: twice what a rule's template may hold.
MAX_RENDERED_CHARACTERS = 2 * MAX_MESSAGE_CHARACTERS


def render_template(template: str, values: Mapping[str, object], rule_id: str) -> str:
    """Fill ``{name}`` placeholders; only plain names, never attribute access.

    The result is cut at MAX_RENDERED_CHARACTERS: placeholders may repeat a
    long value (a path, a vhost name), and a message is copied per finding.
    """
    pieces: list[str] = []
    size = 0
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            raise CatalogueError(
                f"rule {rule_id}: message uses {{{name}}}, which its check does not provide"
            )
        if size > MAX_RENDERED_CHARACTERS:
            continue  # every name is still checked
        value = values[name]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        pieces += (template[position : match.start()], shown)
        size += match.start() - position + len(shown)
        position = match.end()
    if size <= MAX_RENDERED_CHARACTERS:
        pieces.append(template[position:])
    text = " ".join("".join(pieces).split())
    if size > MAX_RENDERED_CHARACTERS:
        text = f"{shown_prefix(text, MAX_RENDERED_CHARACTERS)}... (cut at {MAX_RENDERED_CHARACTERS:,} characters)"
    return text


def _check_references(config: AuditConfig, catalogue: Sequence[Rule]) -> None:
    """A rule id the catalogue does not have is a typo that would silently do nothing."""
    known = {rule.id for rule in catalogue}
    for rule_id in config.referenced_rules():
        if rule_id not in known:
            file, line = config.rule_location(rule_id)
            close = suggest_rule_id(rule_id, known)
            hint = f"did you mean {close}? " if close else ""
            raise ConfigError(
                f"unknown rule {rule_id} ({hint}`tcpaudit rules` lists the catalogue)",
                file=file,
                line=line,
            )


def rule_applies(rule: Rule, facts: HostFacts, context: Context) -> bool:
    """Whether ``rule`` runs on these facts: its inputs exist and its context matches."""
    requires = rule.applies_to.requires
    if requires in ("apache", "both") and facts.apache is None:
        return False
    if requires in ("sysctl", "both") and facts.sysctl is None:
        return False
    return rule.applies_to.matches(context)


def _decision(found: list[Judged]) -> str:
    """One rule's outcome for -vv: nothing, or each finding's setting and values."""
    if not found:
        return "no finding"
    return "; ".join(
        f"{item.severity} on {item.hit.setting}"
        f"{f' ({item.hit.scope})' if item.hit.scope else ''}: "
        f"{'-' if item.hit.current is None else item.hit.current} "
        f"(recommended {item.hit.recommended}){' [suppressed]' if item.suppressed else ''}"
        for item in found
    )


def _with_redaction_note(fix: str | None) -> str | None:
    """A fix quoting a line whose secret the loader replaced says so: pasted as
    shown, it would write the placeholder over the password."""
    if fix is None or REDACTED_VALUE not in fix:
        return fix
    return (
        f"{fix}\n# {REDACTED_VALUE} stands for a secret of this configuration, which "
        "tcpaudit never shows: keep your own value there"
    )


def _with_macro_note(
    fix: str | None, changes: Sequence[FileChange], bodies: set[tuple[str, int]]
) -> str | None:
    """A fix changing a line of a ``<Macro>`` body says so first: the line it
    quotes is one Use's expansion, and the body is every Use's."""
    if fix is None or not bodies:
        return fix
    shared = next(
        (
            change
            for change in changes
            if change.line is not None and (change.file, change.line) in bodies
        ),
        None,
    )
    if shared is None:
        return fix
    return (
        f"# {shared.file}:{shared.line} is in a <Macro> body, which every Use of the macro "
        "shares: the line quoted is one Use's expansion. Change the value where the macro "
        "is used (a Use's argument), or the body for every Use.\n"
        f"{fix}"
    )


class _Graded(NamedTuple):
    rule: str
    severity: Severity
    suppressed: bool


def _finding(
    rule: Rule,
    item: Judged,
    derived_values: Mapping[str, object],
    macro_bodies: set[tuple[str, int]],
) -> Finding:
    hit = item.hit
    values = {
        **derived_values,
        **hit.values,
        "setting": hit.setting,
        "current": hit.current,
        "recommended": hit.recommended,
        "scope": hit.scope or "server",
    }
    return Finding(
        rule=rule.id,
        severity=item.severity,
        title=rule.title,
        message=render_template(rule.message, values, rule.id),
        setting=hit.setting,
        scope=hit.scope,
        current=hit.current,
        recommended=hit.recommended,
        location=hit.location,
        fix=_with_macro_note(_with_redaction_note(hit.fix), hit.changes, macro_bodies),
        fix_changes=list(hit.changes),
        references=rule.references,
        suppressed=item.suppressed,
        suppression_reason=item.reason,
    )


def _active(catalogue: Sequence[Rule], config: AuditConfig) -> list[Rule]:
    """The rules the user has not disabled."""
    return [
        rule
        for rule in catalogue
        if rule.id not in config.disable
        and not ((settings := config.rules.get(rule.id)) is not None and not settings.enabled)
    ]


def _params(rule: Rule, context: Context, config: AuditConfig, check: Check[Any]) -> dict[str, Any]:
    """The rule's parameters for this context with the user's, validated by its check.

    Raises:
        ConfigError: the user's parameters do not fit the check (at their line).
        CatalogueError: the rule file's own parameters do not.
    """
    _, params = rule.resolved(context)
    settings = config.rules.get(rule.id)
    if settings is not None:
        params.update(settings.params)
    try:
        check.params.model_validate(dict(params))
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        if settings is not None and key.split(".")[0] in settings.params:
            # The user's parameter, not the rule file's: point at tcpaudit.toml.
            file, line = config.key_location("rules", rule.id, "params", *error["loc"])
            raise ConfigError(
                f"rules.{rule.id}.params.{key}: {error['msg']}", file=file, line=line
            ) from exc
        raise CatalogueError(f"rule {rule.id}: invalid params: {key}: {error['msg']}") from exc
    return params


def _sysctl_rules(rules: Sequence[Rule], config: AuditConfig) -> RuleRunner:
    """What checks that judge candidate sysctl values get: the audit's rules that
    read sysctl values, run with the user's parameters on other facts."""
    checks = registered_checks()
    readers = [rule for rule in rules if rule.applies_to.requires in ("sysctl", "both")]

    def run(
        facts: HostFacts, context: Context, skip_checks: frozenset[str]
    ) -> dict[str, list[tuple[str | None, JsonScalar]]]:
        found: dict[str, list[tuple[str | None, JsonScalar]]] = {}
        for rule in readers:
            if rule.check in skip_checks or not rule_applies(rule, facts, context):
                continue
            check = checks[rule.check]
            for hit in check.evaluate(facts, _params(rule, context, config, check), context):
                found.setdefault(rule.id, []).append((hit.setting, hit.recommended))
        return found

    return run


def audit_context(
    facts: HostFacts,
    config: AuditConfig | None = None,
    *,
    rules: Sequence[Rule] | None = None,
    profile: Profile | None = None,
) -> Context:
    """The context ``audit`` gives checks: profile, MPM, version, and the rules to judge with."""
    config = config or AuditConfig()
    catalogue = list(rules) if rules is not None else load_catalogue(config.rules_dirs)
    apache = facts.apache
    return Context(
        profile=profile or config.profile,
        mpm=apache.mpm if apache else None,
        apache_version=apache.version if apache else None,
        rules=_sysctl_rules(_active(catalogue, config), config),
    )


@raises_only_documented_errors
def audit(
    facts: HostFacts,
    config: AuditConfig | None = None,
    *,
    rules: Sequence[Rule] | None = None,
    profile: Profile | None = None,
    today: dt.date | None = None,
    baseline: Collection[str] | None = None,
    max_findings_per_rule: int = MAX_FINDINGS_PER_RULE,
) -> Report:
    """Audit a host and return the graded report.

    Args:
        facts: what ``gather`` (or a facts document) says of the host.
        config: the user's configuration; None uses the defaults.
        rules: the catalogue to run; None loads the bundled rules plus
            ``config.rules_dirs``.
        profile: overrides ``config.profile``.
        today: the date suppressions expire against (tests pin it).
        baseline: the fingerprints a baseline accepts (``load_baseline``): when a
            rule finds more than ``max_findings_per_rule``, the findings not in
            it are listed first. Marking the others is ``apply_baseline``'s job.
        max_findings_per_rule: how many findings of one rule the report lists,
            the worst first, new and suppressed (or baseline) ones apart; a note
            counts the rest. The score cannot differ with them (a rule costs
            at most twice its worst finding), nor the grade or the exit code.

    Raises:
        CatalogueError: a rule is invalid or its parameters do not fit its check.
        ConfigError: the configuration names a rule the catalogue lacks, or gives
            a rule parameters its check refuses (file and line of the entry).

    Example::

        facts = tcpaudit.gather(root="examples/closewait-incident")
        report = tcpaudit.audit(facts, profile="internal")
        worst = report.findings[0]
        print(report.grade, worst.rule, worst.severity, worst.location)
        assert report.at_or_above(tcpaudit.Severity.HIGH)
    """
    config = config or AuditConfig()
    catalogue = list(rules) if rules is not None else load_catalogue(config.rules_dirs)
    chosen_profile = profile or config.profile
    apache = facts.apache
    context = audit_context(facts, config, rules=catalogue, profile=chosen_profile)
    today = today or dt.date.today()
    suppressions = Suppressions([s for s in config.suppress if not s.expired(today)])
    # Expired suppressions stop applying and become TA901 findings.
    expired = tuple(
        ExpiredSuppression(rule=s.rule, reason=s.reason, expires=s.expires, location=s.location)
        for s in config.suppress
        if s.expires is not None and s.expired(today)
    )
    context = context.model_copy(update={"expired_suppressions": expired})
    notes: list[Note] = [*facts.notes]
    checks = registered_checks()
    listed_items: list[tuple[Rule, Judged]] = []
    unlisted: list[str] = []
    derived = facts.derived
    derived_values = derived.model_dump()
    _check_references(config, catalogue)
    enabled = _active(catalogue, config)
    for rule_id in sorted({rule.id for rule in catalogue} - {rule.id for rule in enabled}):
        log.debug("%s: disabled by %s", rule_id, config.source)
    # Every parameter is checked before any check runs: the rules that judge
    # candidate values run the others.
    params_of = {
        rule.id: _params(rule, context, config, checks[rule.check])
        for rule in enabled
        if rule_applies(rule, facts, context)
    }
    # Rules ask the same questions of one configuration (kind_holds).
    with holds_remembered():
        bundled = bundled_rule_ids()
        extra_budget = MAX_JUDGED_OF_EXTRA_RULES
        for rule in enabled:
            settings = config.rules.get(rule.id)
            if rule.id not in params_of:
                log.debug("%s: not applicable here", rule.id)
                continue
            severity, _ = rule.resolved(context)
            judged_limit = MAX_JUDGED_PER_RULE
            if rule.id not in bundled:
                # Rules of a rules directory share one budget (each keeps enough to list).
                judged_limit = min(judged_limit, max(max_findings_per_rule, extra_budget))
            hits = checks[rule.check].evaluate(
                facts, params_of[rule.id], context, limit=judged_limit + 1
            )
            unjudged = len(hits) > judged_limit
            del hits[judged_limit:]
            if rule.id not in bundled:
                extra_budget -= len(hits)
            judged: list[Judged] = []
            for order, hit in enumerate(hits):
                chosen = (
                    settings.severity
                    if settings and settings.severity
                    else hit.severity or severity
                )
                file = hit.location.file if hit.location else None
                suppression = suppressions.find(rule.id, hit.setting, file)
                known = baseline is not None and (
                    fingerprint_of(rule.id, hit.setting, hit.scope, file) in baseline
                )
                line = hit.location.line or 0 if hit.location else 0
                reason = suppression.reason if suppression else None
                judged.append(
                    Judged(
                        suppression is not None,
                        -chosen.rank,
                        file or "",
                        line,
                        order,
                        chosen,
                        reason,
                        known,
                        hit,
                    )
                )
            kept, fresh_left, others_left = listed(judged, max_findings_per_rule)
            if fresh_left or others_left or unjudged:
                notes.append(
                    left_out_note(
                        rule,
                        len(fresh_left),
                        len(others_left),
                        max_findings_per_rule,
                        judged_limit if unjudged else None,
                    )
                )
            unlisted.extend(
                fingerprint_of(rule.id, item.hit.setting, item.hit.scope, item.file or None)
                for item in (*fresh_left, *others_left)
            )
            listed_items.extend((rule, item) for item in kept)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: %s", rule.id, _decision(kept))
    # Score and grade count every rule's listed findings; the report lists
    # at most MAX_LISTED_FINDINGS of them, made into findings only then.
    graded = [_Graded(rule.id, item.severity, item.suppressed) for rule, item in listed_items]
    score = score_for(graded)
    grade = grade_for(score, graded)
    shown, left_out, trimmed = listed_in_report(listed_items, MAX_LISTED_FINDINGS)
    if trimmed is not None:
        notes.append(trimmed)
        unlisted.extend(
            fingerprint_of(rule.id, item.hit.setting, item.hit.scope, item.file or None)
            for rule, item in left_out
        )
    macro_bodies = (
        {(place.file, place.line) for place in apache.macro_body_lines if place.line is not None}
        if apache
        else set()
    )
    findings = [_finding(rule, item, derived_values, macro_bodies) for rule, item in shown]
    findings.sort(
        key=lambda f: (
            f.suppressed,
            -f.severity.rank,
            f.rule,
            f.location.file if f.location else "",
            f.location.line or 0 if f.location else 0,
        )
    )
    log.info(
        "audit: %d rules, %d findings (%d suppressed), score %d",
        len(catalogue), len(findings), sum(f.suppressed for f in findings), score,
    )  # fmt: skip
    notes.extend(apache.notes if apache else [])
    notes.extend(facts.sysctl.notes if facts.sysctl else [])
    return Report(
        host=facts.host,
        profile=chosen_profile,
        grade=grade,
        score=score,
        apache=ApacheSummary(
            version=apache.version,
            version_source=apache.version_source,
            mpm=apache.mpm,
            mpm_source=apache.mpm_source,
            main_file=apache.main_file,
            files=len(apache.files),
            vhosts=len(apache.vhosts),
        )
        if apache
        else None,
        kernel=KernelSummary(kernel=facts.sysctl.kernel, boot=facts.sysctl.boot)
        if facts.sysctl
        else None,
        derived=derived,
        findings=findings,
        unlisted=unlisted,
        notes=notes,
    )
