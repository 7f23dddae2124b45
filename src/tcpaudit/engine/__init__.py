"""The rule engine: catalogue, configuration, evaluation, grading."""

from __future__ import annotations

from .catalogue import bundled_rules_dir, load_catalogue, registered_checks
from .config import AuditConfig, RuleSettings, Suppression, load_config
from .findings import Finding, Profile, Report, Severity
from .grade import grade_for, score_for
from .rule import Context, Rule
from .run import audit

__all__ = [
    "AuditConfig",
    "Context",
    "Finding",
    "Profile",
    "Report",
    "Rule",
    "RuleSettings",
    "Severity",
    "Suppression",
    "audit",
    "bundled_rules_dir",
    "grade_for",
    "load_catalogue",
    "load_config",
    "registered_checks",
    "score_for",
]
