"""The ``tcpaudit`` command: argv -> library call -> renderer -> exit code.

Exit codes: 0 no finding at or above --fail-on; 1 at least one; 2 the input
could not be read or parsed, or the command line was wrong (one line on
stderr naming file:line, never a traceback).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import _version
from .cli_sources import facts_from_sources, files_read, source_options, tool_inputs
from .cli_support import errors_exit_2, fail, for_stderr, keep_until_exit, write_output

if TYPE_CHECKING:
    from .engine import AuditConfig, Report, Rule

# Each command imports what it uses when it runs: `tcpaudit facts` on a large
# configuration must not pay for the rule engine, the renderers, `diagnose` or
# `fleet` (together about 60 ms of imports against a 200 ms load).

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
FAIL_ON_CHOICES = ["info", "low", "medium", "high", "critical", "never"]
# The names of tcpaudit.report.FORMATS, spelt out so that --help does not import
# every renderer (a test keeps the two equal).
REPORT_FORMATS = ["github", "json", "junit", "markdown", "sarif", "table"]
# Commands defined in their own modules, imported only when asked for.
LAZY_COMMANDS = {
    "diagnose": "tcpaudit.diagnose.cli:diagnose_command",
    "fleet": "tcpaudit.fleet:fleet_command",
    "fix": "tcpaudit.remedy.cli:fix_command",
}


VERBOSE_HELP = "Log what tcpaudit reads (-v) and each rule's decision (-vv) on stderr."


def _verbosity(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    """Add this -v count to the command line's total and set the log level from it.

    ``tcpaudit -v audit`` and ``tcpaudit audit -v`` mean the same; ``-v`` on both
    sides counts twice, as ``-vv`` does.
    """
    if not value:
        return
    meta = ctx.find_root().meta
    total = meta["tcpaudit.verbosity"] = meta.get("tcpaudit.verbosity", 0) + value
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogFormatter("tcpaudit: %(name)s: %(message)s"))
    logging.basicConfig(handlers=[handler])
    logging.getLogger("tcpaudit").setLevel(logging.DEBUG if total > 1 else logging.INFO)


class _LogFormatter(logging.Formatter):
    """Log lines as reports are written: values read from the audited files
    (a vhost's name in a rule's decision) with tokens of a known kind hidden
    and control characters shown as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return for_stderr(super().format(record))


def _verbose_option() -> click.Option:
    return click.Option(
        ["-v", "--verbose"],
        count=True,
        expose_value=False,
        callback=_verbosity,
        help=VERBOSE_HELP,
    )


class _LazyGroup(click.Group):
    """A command group whose LAZY_COMMANDS are imported on first use.

    Every command it hands out takes ``-v`` too, so that it works after the
    command name as well as before it.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is not None and cmd_name not in self.commands:
            module_name, attribute = target.split(":")
            self.add_command(getattr(import_module(module_name), attribute), cmd_name)
        command = super().get_command(ctx, cmd_name)
        if command is not None and not any(p.name == "verbose" for p in command.params):
            command.params.append(_verbose_option())
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version.__version__, prog_name="tcpaudit")
@click.option(
    "-v", "--verbose", count=True, expose_value=False, callback=_verbosity, help=VERBOSE_HELP
)
def cli() -> None:
    """Audit Apache httpd and Linux TCP settings for CLOSE_WAIT pile-ups."""
    from .apache.memory import count_memory_from_now, stop_counting

    # The load's memory bound counts what the command read before it too, and
    # the command's loads share one CPU time bound (diagnose loads several).
    count_memory_from_now()
    click.get_current_context().call_on_close(stop_counting)


def _catalogue_options(function: F) -> F:
    """--config and --rules-dir: where the rules come from (audit, rules, explain)."""
    function = click.option(
        "--rules-dir",
        multiple=True,
        type=click.Path(exists=True, file_okay=False),
        help="Add the rules in this directory to the catalogue (repeatable; added to "
        "tcpaudit.toml's rules_dirs).",
    )(function)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False),
        help="tcpaudit.toml, or a pyproject.toml with [tool.tcpaudit] (default: found upward "
        "from the working directory).",
    )(function)


def _load_catalogue(
    config_file: str | None, rules_dir: tuple[str, ...]
) -> tuple[AuditConfig, list[Rule]]:
    """The configuration and the catalogue it and --rules-dir make."""
    from .engine import load_catalogue, load_config

    config = load_config(Path(config_file) if config_file else None)
    if rules_dir:
        config = config.model_copy(
            update={"rules_dirs": [*config.rules_dirs, *map(Path, rules_dir)]}
        )
    return config, load_catalogue(config.rules_dirs)


@cli.command("audit")
@source_options
@_catalogue_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(REPORT_FORMATS),
    default="table",
    show_default=True,
    help="Report format: a terminal table, JSON (tcpaudit schema), SARIF 2.1.0, JUnit XML, "
    "Markdown, or GitHub annotations.",
)
@click.option("--output", "-o", help="Write the report to this file instead of stdout.")
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity is not suppressed.",
)
@click.option(
    "--profile",
    type=click.Choice(["internet", "internal", "proxy-backend"]),
    help="Exposure of the host; changes severities and thresholds (default: internet).",
)
@click.option(
    "--paths-relative-to",
    "paths_base",
    type=click.Path(exists=True, file_okay=False),
    help="Name files relative to this directory instead of --root, which it must contain "
    "(e.g. the repository root, for SARIF and GitHub annotations when --root is a "
    "subdirectory).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="A previous JSON report: findings already in it are marked suppressed "
    '("in baseline") and no longer count toward the grade or the exit code.',
)
@errors_exit_2
def audit_command(
    config_file: str | None,
    output_format: str,
    output: str | None,
    fail_on: str,
    rules_dir: tuple[str, ...],
    profile: str | None,
    paths_base: str | None,
    baseline: str | None,
    **sources: Any,
) -> None:
    """Audit a host (or a root-like tree) and grade it."""
    from .engine import audit
    from .engine.baseline import apply_baseline, load_baseline
    from .report import FORMATS

    if paths_base is not None:
        _check_paths_base(paths_base, sources["root"], sources["facts_file"])
    facts = facts_from_sources(**sources)
    config, rules = _load_catalogue(config_file, rules_dir)
    known = load_baseline(baseline) if baseline is not None else None
    report = audit(facts, config, rules=rules, profile=profile, baseline=known)  # type: ignore[arg-type]  # click.Choice
    keep_until_exit(facts, report)
    if baseline is not None and known is not None:
        report = apply_baseline(report, known, source=baseline)
    if paths_base is not None:
        # After the baseline: its fingerprints hold paths relative to --root.
        from .report.paths import rebase_paths

        config_files = {s.location.file for s in config.suppress if s.location is not None}
        report = rebase_paths(report, Path(sources["root"]), Path(paths_base), config_files)
    color = output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    # SARIF and JUnit describe every rule of the catalogue, including --rules-dir ones.
    extra = {"rules": rules} if output_format in ("sarif", "junit") else {}
    write_output(
        FORMATS[output_format](report, color=color, **extra),
        output,
        root=None if sources["facts_file"] else sources["root"],
        inputs=files_read(facts, sources, baseline, *tool_inputs(config)) if output else (),
    )
    sys.exit(_exit_code(report, fail_on))


def _check_paths_base(base: str, root: str, facts_file: str | None) -> None:
    if facts_file is not None:
        fail("--paths-relative-to needs the files themselves, not --facts")
    if not Path(os.path.abspath(root)).is_relative_to(os.path.abspath(base)):
        fail(f"--root {root} is not inside --paths-relative-to {base}")


def _exit_code(report: Report, fail_on: str) -> int:
    from .engine import Severity

    if fail_on == "never":
        return 0
    return 1 if report.at_or_above(Severity(fail_on)) else 0


@cli.command("facts")
@source_options
@click.option(
    "--format", "output_format", type=click.Choice(["json"]), default="json", show_default=True
)
@click.option("--output", "-o", help="Write to this file instead of stdout.")
@errors_exit_2
def facts_command(output_format: str, output: str | None, **sources: Any) -> None:
    """Print the effective settings, with their sources, as JSON."""
    facts = facts_from_sources(**sources)
    keep_until_exit(facts)
    # pydantic's own encoder: json.dumps with indent falls back to the pure-Python
    # encoder, six times slower on a 10,000-vhost configuration; dump_model_json
    # uses it unless the facts hold bytes that are not UTF-8.
    from .safetext import dump_model_json

    root = None if sources["facts_file"] else sources["root"]
    inputs = files_read(facts, sources, *tool_inputs()) if output else ()
    write_output(dump_model_json(facts) + "\n", output, root=root, inputs=inputs)


@cli.command("rules")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="A terminal table, JSON (one object per rule), or a Markdown table.",
)
@_catalogue_options
@errors_exit_2
def rules_command(output_format: str, config_file: str | None, rules_dir: tuple[str, ...]) -> None:
    """List the rule catalogue (the bundled rules, tcpaudit.toml's rules_dirs, --rules-dir)."""
    _config, rules = _load_catalogue(config_file, rules_dir)
    # Written as reports are (write_output): tokens of a known kind in a rule
    # of a rules directory hidden, runners' markers escaped.
    if output_format == "json":
        data = [rule.model_dump(mode="json") for rule in rules]
        write_output(json.dumps(data, indent=2, ensure_ascii=False) + "\n", None)
        return
    from tabulate import tabulate

    from .safetext import printable

    # Rules of a rules directory come from whoever wrote them (an audited
    # repository's tcpaudit.toml names one): their text reaches no terminal raw.
    if output_format == "markdown":
        from .report.markdown import escape_text

        # Markup (a cell's '|' too) and mentions escaped as in the audit's Markdown.
        rows = [
            [
                rule.id,
                rule.severity.value,
                escape_text(rule.title.strip()),
                escape_text(rule.summary.strip()),
            ]
            for rule in rules
        ]
        headers = ["id", "severity", "title", "what it does"]
        write_output(tabulate(rows, headers=headers, tablefmt="github") + "\n", None)
        return
    rows = [[rule.id, rule.severity.value, printable(rule.title.strip())] for rule in rules]
    write_output(
        tabulate(rows, headers=["id", "severity", "title"], tablefmt="simple") + "\n", None
    )


@cli.command("explain")
@click.argument("rule_id", required=False)
@click.option("--grading", is_flag=True, help="Explain the score and grade instead of a rule.")
@_catalogue_options
@errors_exit_2
def explain_command(
    rule_id: str | None, grading: bool, config_file: str | None, rules_dir: tuple[str, ...]
) -> None:
    """Explain a rule: what it does, why it is bad, example, use instead, references."""
    from .report.explain import explain_grading, explain_rule

    if grading:
        write_output(explain_grading() + "\n", None)
        return
    if rule_id is None:
        fail("explain needs a RULE_ID (or --grading)")
        return
    _config, catalogue = _load_catalogue(config_file, rules_dir)
    rules = {rule.id: rule for rule in catalogue}
    rule = rules.get(rule_id.upper())
    if rule is None:
        from .engine.config import suggest_rule_id

        close = suggest_rule_id(rule_id, rules)
        hint = f"did you mean {close}? " if close else ""
        fail(f"no rule {rule_id!r}; {hint}`tcpaudit rules` lists them")
        return
    from .safetext import for_a_log, printable

    # A rule of a rules directory is text from whoever wrote it.
    write_output(for_a_log(printable(explain_rule(rule), keep_newlines=True) + "\n"), None)


# `tcpaudit schema DOCUMENT`: the model behind each JSON output, imported on use.
SCHEMA_MODELS = {
    "report": "tcpaudit.engine.findings:Report",
    "facts": "tcpaudit.facts:HostFacts",
    "diagnose": "tcpaudit.diagnose.model:Diagnosis",
    "fleet": "tcpaudit.fleet:FleetSummary",
}


@cli.command("schema")
@click.argument("document", type=click.Choice(sorted(SCHEMA_MODELS)), default="report")
def schema_command(document: str) -> None:
    """Print the JSON Schema of a JSON output: report (audit, default), facts, diagnose, fleet."""
    module_name, name = SCHEMA_MODELS[document].split(":")
    model = getattr(import_module(module_name), name)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **model.model_json_schema(mode="serialization"),
    }
    click.echo(json.dumps(schema, indent=2))


def main(argv: list[str] | None = None) -> NoReturn:
    """Console-script entry point: run the command, then leave at once.

    A wrong command line is one line on stderr and exit 2, like every other
    input error. The output is written and flushed by then; what remains is
    freeing every object of the configuration one by one (about 15 ms on
    10,000 vhosts), which the operating system does better when the process ends.
    """
    code: int | str | None
    # Terminated (a CI timeout, systemd, kill): unwind as on Ctrl-C, so that
    # what tcpaudit made (a snapshot's private tree) is removed.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _stop)
    try:
        returned = cli.main(args=argv, prog_name="tcpaudit", standalone_mode=False)
        code = returned if isinstance(returned, int) else 0
    except click.UsageError as exc:
        if isinstance(exc, _NO_ARGS_IS_HELP):  # bare `tcpaudit`: the help, as click shows it
            exc.show()
            _leave(2)
        command = exc.ctx.command_path if exc.ctx is not None else "tcpaudit"
        # The message may quote an argument (a path) as given: shown escaped.
        message = for_stderr(exc.format_message())
        click.echo(f"tcpaudit: error: {message} (see {command} --help)", err=True)
        code = 2
    except click.ClickException as exc:
        click.echo(f"Error: {for_stderr(exc.format_message())}", err=True)
        code = exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        code = 1
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        click.echo(for_stderr(str(code)), err=True)
        code = 1
    _leave(code or 0)


def _stop(number: int, _frame: object) -> None:
    raise SystemExit(128 + number)


def _leave(code: int) -> NoReturn:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # a reader such as `head` went away: nothing to tell it
        code = code or 1
    logging.shutdown()
    os._exit(code)


# click 8.2+ raises this for a group called without a command; 8.1 prints the help itself.
class _NeverRaisedError(Exception):
    pass


_NO_ARGS_IS_HELP: type[Exception] = getattr(
    click.exceptions, "NoArgsIsHelpError", _NeverRaisedError
)
