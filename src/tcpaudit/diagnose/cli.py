"""``tcpaudit diagnose``: argv -> ``diagnose()`` -> renderer -> exit code.

Exit codes, as ``tcpaudit audit``:

- 0: no finding at or above ``--fail-on`` and no CLOSE_WAIT waiting in an
  accept queue;
- 1: a finding at or above ``--fail-on`` (default high), or at least one
  never-accepted CLOSE_WAIT on Apache's ports: a client gave up while queued
  for a worker, which is the outage itself, whatever the configuration says.
  CLOSE_WAIT held by a worker alone does not set 1: a worker finishing a
  reply to a client that just closed is ordinary. Nor does CLOSE_WAIT whose
  holder a capture cannot show (netstat's ``-`` without root): it is not
  known to be queued. ``--fail-on never`` always gives 0;
- 2: an input could not be read or parsed, or the command line was wrong
  (one line on stderr).

With ``--watch SECONDS --count N`` the code is the worst sample's (Ctrl-C
ends the series early and keeps the samples taken).

Which configuration is judged: without ``--apache-conf``, the one each
running httpd on the ports was started with (its ``/proc/PID/cmdline``, its
binary), one section per instance; ``-D``, ``-C`` and ``--env`` are added to
the instance's own, ``--apache-version``/``--apache-build`` override its
binary's.

Privileges: reading the socket table needs none; attributing sockets to
processes of other users (``/proc/<pid>/fd``), and reading their binary and
environment, needs root; without it the diagnosis says what it could not
read and falls back to the host's own configuration. Which CLOSE_WAIT
sockets were never accepted is known without root (inode 0).

With ``--ss``/``--netstat`` the sockets come from the capture, and the
configuration that explains them from ``--root``/``--apache-conf``: point
those at the captured host's files (or a copy), not at the local host's.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from ..apache.known_tokens import hide_known_tokens
from ..apache.shell_state import REDACTED_VALUE
from ..cli_sources import APACHE_BUILDS, environment_option
from ..cli_support import errors_exit_2
from ..engine import Severity, load_config
from ..errors import UsageError
from ..numbers import ascii_int
from ..safetext import no_line_commands, no_workflow_commands
from .model import Diagnosis
from .render import render_sample_line, render_table
from .run import ApacheOptions, prepare
from .status_target import credentials_from_environment, url_with_credentials

__all__ = ["diagnose_command", "exit_code"]

FAIL_ON_CHOICES = ["info", "low", "medium", "high", "critical", "never"]
DEFAULT_SAMPLES = 10


def _ports(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    ports: list[int] = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        port = ascii_int(text)
        if port is None or not 0 < port < 65536:
            raise click.BadParameter(f"{text!r} is not a TCP port (1-65535)")
        ports.append(port)
    if not ports:
        raise click.BadParameter("no port given")
    return sorted(set(ports))


def exit_code(diagnosis: Diagnosis, fail_on: str) -> int:
    """0 or 1, as the module docstring says."""
    if fail_on == "never":
        return 0
    if diagnosis.connections.close_wait_unaccepted:
        return 1
    return 1 if diagnosis.at_or_above(Severity(fail_on)) else 0


@click.command("diagnose", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False),
    default="/",
    help="Directory that stands for the host's / (a replay tree with proc/ and etc/).",
)
@click.option(
    "--ports",
    callback=_ports,
    help="Apache's ports, comma-separated (default: every running httpd's listening ports, "
    "else the configuration's Listen lines).",
)
@click.option(
    "--apache-conf",
    help="Main Apache configuration file to judge for every port (default: the one each "
    "running httpd was started with, from /proc/PID/cmdline; else found by layout).",
)
@click.option(
    "--apache-version",
    help="Apache version, e.g. 2.4.62 (default: read from the running httpd's binary).",
)
@click.option(
    "--apache-build",
    type=click.Choice(list(APACHE_BUILDS)),
    help="Which httpd build runs the configuration (default: the running binary's modules).",
)
@click.option(
    "-D",
    "--define",
    "defines",
    multiple=True,
    metavar="NAME",
    help="Define NAME for <IfDefine>, as httpd -D (repeatable; added to the instance's).",
)
@click.option(
    "-C",
    "directives",
    multiple=True,
    metavar="DIRECTIVE",
    help="Read DIRECTIVE before the main configuration file, as httpd -C (repeatable).",
)
@click.option(
    "-c",
    "late_directives",
    multiple=True,
    metavar="DIRECTIVE",
    help="Read DIRECTIVE after the main configuration file, as httpd -c (repeatable).",
)
@click.option(
    "--env",
    "environment",
    multiple=True,
    callback=environment_option,
    metavar="NAME=VALUE",
    help="A variable of httpd's environment for ${NAME} (repeatable; over the instance's).",
)
@click.option(
    "--sysctl",
    "sysctl_source",
    type=click.Path(exists=True),
    help="Live sysctl values: a /proc/sys-like directory or `sysctl -a` output.",
)
@click.option(
    "--status-url",
    metavar="URL",
    help="Fetch mod_status from this local URL: http:// or https:// to 127.0.0.1, localhost "
    "or [::1] only (the certificate is not checked). USER:PASSWORD@ before the host is sent "
    "as basic authentication and never printed.",
)
@click.option(
    "--status-auth-env",
    metavar="NAME",
    help="Read the --status-url credentials, as USER:PASSWORD, from the environment variable "
    "NAME (a command line is visible to every user in ps).",
)
@click.option(
    "--scoreboard",
    type=click.Path(exists=True, dir_okay=False),
    help="A captured /server-status?auto page instead of fetching one.",
)
@click.option(
    "--ss",
    "ss_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A captured `ss -tanpoe` output instead of reading /proc.",
)
@click.option(
    "--netstat",
    "netstat_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A captured `netstat -tanp` output, or a pasted `netstat -tp` (service and host "
    "names, no listener), instead of reading /proc.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="tcpaudit.toml (default: found upward from the working directory).",
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
@click.option(
    "--watch",
    "watch_seconds",
    type=click.FloatRange(min=0.1, max=3600),
    metavar="SECONDS",
    help="Sample every SECONDS (with --count): a line per sample, or one JSON document per line.",
)
@click.option(
    "--count",
    "sample_count",
    type=click.IntRange(min=1, max=100000),
    metavar="N",
    help="How many samples --watch takes (default 10).",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity is not suppressed "
    "(never-accepted CLOSE_WAIT also exits 1, unless 'never').",
)
@errors_exit_2
def diagnose_command(
    root: str,
    ports: list[int] | None,
    apache_conf: str | None,
    sysctl_source: str | None,
    status_url: str | None,
    status_auth_env: str | None,
    scoreboard: str | None,
    ss_file: str | None,
    netstat_file: str | None,
    config_file: str | None,
    output_format: str,
    fail_on: str,
    apache_version: str | None,
    apache_build: str | None,
    defines: tuple[str, ...],
    directives: tuple[str, ...],
    late_directives: tuple[str, ...],
    environment: dict[str, str],
    watch_seconds: float | None,
    sample_count: int | None,
) -> None:
    """Explain the CLOSE_WAIT sockets on Apache's ports on a live host (or a replay tree).

    Reads the socket table, which process holds which socket, how each running
    httpd was started (/proc/PID/cmdline, its binary's bytes) and the
    configuration it runs, the kernel's counters and the sysctls; runs nothing,
    writes nothing and signals nothing. Attributing other users' sockets, and
    reading their binary and environment, needs root.
    """
    if sample_count is not None and watch_seconds is None:
        raise UsageError("--count needs --watch SECONDS")
    if status_auth_env is not None:
        if status_url is None:
            raise UsageError("--status-auth-env needs --status-url")
        credentials = credentials_from_environment(status_auth_env, os.environ)
        status_url = url_with_credentials(status_url, credentials)
    sampler = prepare(
        root,
        ports=ports,
        sysctl=sysctl_source,
        status_url=status_url,
        scoreboard=scoreboard,
        ss=ss_file,
        netstat=netstat_file,
        config=load_config(Path(config_file) if config_file else None),
        apache=ApacheOptions(
            apache_conf=apache_conf,
            version=apache_version,
            build=apache_build,  # type: ignore[arg-type]  # click.Choice restricts it
            defines=defines,
            directives=directives,
            environment=environment,
            late_directives=late_directives,
        ),
    )
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if watch_seconds is None:
        diagnosis = sampler.sample()
        if output_format == "json":
            _echo(diagnosis.to_json())
        else:
            _echo(render_table(diagnosis, color=color), nl=False)
        sys.exit(exit_code(diagnosis, fail_on))
    count = sample_count or DEFAULT_SAMPLES
    codes = []
    last = None
    try:
        for index in range(1, count + 1):
            if index > 1:
                time.sleep(watch_seconds)
            last = sampler.sample(index, count)
            codes.append(exit_code(last, fail_on))
            if output_format == "json":
                _echo(last.to_json(indent=None))
            else:
                _echo(render_sample_line(last))
    except KeyboardInterrupt:
        # Ctrl-C ends the watch early: what was sampled stands, the last sample is explained.
        if not codes:
            sys.exit(130)
    if output_format != "json" and last is not None:
        _echo("")
        _echo(render_table(last, color=color), nl=False)
    sys.exit(max(codes))


def _echo(text: str, nl: bool = True) -> None:
    """Print as every report is written: tokens of a known kind (``ghp_...``) a
    configuration or a process's command line holds are hidden, and no CI
    runner's command marker gets through (JSON reads "#\\u0023" as "#")."""
    click.echo(
        no_line_commands(no_workflow_commands(hide_known_tokens(text, REDACTED_VALUE))), nl=nl
    )
