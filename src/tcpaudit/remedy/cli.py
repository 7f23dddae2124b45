"""``tcpaudit fix``: the findings' changes as a patch or an Ansible playbook.

It audits as ``tcpaudit audit`` does (same sources, configuration and
profile), plans the changes on the files under --root and prints them; it
never writes to the tree. Exit codes: 0 printed (an empty patch when nothing
is to change), 2 an input could not be read or no longer holds what the
findings say.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..cli import _catalogue_options, _load_catalogue
from ..cli_sources import facts_from_sources, files_read, source_options, tool_inputs
from ..cli_support import errors_exit_2, fail, for_stderr, write_output

__all__ = ["fix_command"]


@click.command("fix")
@source_options
@_catalogue_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["diff", "ansible", "sarif"]),
    default="diff",
    show_default=True,
    help="A unified diff for `patch -p1` or `git apply` run in the root, an Ansible "
    "playbook doing the same, or the audit's SARIF log with each finding's fix "
    "computed on the files.",
)
@click.option(
    "--rule",
    "rules_wanted",
    multiple=True,
    metavar="ID",
    help="Only the fixes of this rule (repeatable).",
)
@click.option(
    "--profile",
    type=click.Choice(["internet", "internal", "proxy-backend"]),
    help="Exposure of the host, as for audit (default: internet).",
)
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@errors_exit_2
def fix_command(
    config_file: str | None,
    rules_dir: tuple[str, ...],
    output_format: str,
    rules_wanted: tuple[str, ...],
    profile: str | None,
    output: str | None,
    **sources: Any,
) -> None:
    """Print the fixes of the findings as a patch (or playbook); change nothing."""
    from ..engine import audit
    from .diff import render_diff
    from .plan import plan
    from .playbook import render_playbook

    if sources["facts_file"] is not None:
        fail("fix needs the files themselves (--root), not --facts")
    facts = facts_from_sources(**sources)
    config, catalogue = _load_catalogue(config_file, rules_dir)
    known = {rule.id for rule in catalogue}
    for rule_id in rules_wanted:
        if rule_id.upper() not in known:
            fail(f"--rule {rule_id}: no such rule; `tcpaudit rules` lists them")
    report = audit(facts, config, rules=catalogue, profile=profile)  # type: ignore[arg-type]  # click.Choice
    secret_lines = facts.apache.secret_value_lines if facts.apache else []
    planned = plan(report.findings, sources["root"], rules=rules_wanted, secret_lines=secret_lines)
    for note in planned.notes:
        click.echo(f"tcpaudit: note: {for_stderr(note)}", err=True)
    without = sorted(
        {
            f.rule
            for f in report.findings
            if not f.suppressed
            and f.fix
            and not f.fix_changes
            and (not rules_wanted or f.rule in {r.upper() for r in rules_wanted})
        }
    )
    if without:
        click.echo(
            f"tcpaudit: note: {', '.join(without)}: no file to change (the finding's fix "
            "says what to run or decide)",
            err=True,
        )
    # A patch written over the file it patches would be lost with the file.
    inputs = files_read(facts, sources, *tool_inputs(config)) if output else []
    if output_format == "sarif":
        from ..safetext import json_safe
        from .sarif_fixes import sarif_with_file_fixes

        log = sarif_with_file_fixes(report, sources["root"], catalogue, secret_lines=secret_lines)
        text = json_safe(json.dumps(log, indent=2, ensure_ascii=False)) + "\n"
        # Its messages and fixes show values as reports do: tokens of a known
        # kind hidden. No file change is altered: plan left out every file
        # holding one.
        write_output(text, output, root=sources["root"], inputs=inputs)
        return
    if output_format == "ansible":
        layout = facts.apache.layout if facts.apache else None
        write_output(render_playbook(planned, host=report.host, layout=layout), output,
                     root=sources["root"], inputs=inputs)  # fmt: skip
        return
    _write_patch(render_diff(planned), output, sources["root"], inputs)


def _write_patch(text: str, output: str | None, root: str, inputs: list[str]) -> None:
    """The patch as bytes: a line that is not UTF-8 must reach ``patch`` as it is in the
    file, through ``write_output`` like every report (mode 0600, atomic, no symlink
    inside the root followed)."""
    write_output(text.encode("utf-8", "surrogateescape"), output, root=root, inputs=inputs)
