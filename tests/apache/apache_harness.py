"""Run the real apache2 on a configuration tree and read back what it applied.

A configuration tree is a filesystem root (``etc/apache2/apache2.conf``...).
tcpaudit reads it with ``root=``; apache2 cannot, since it opens absolute paths
on this machine. So each tree is prepared twice in a temporary directory:

- the *tcpaudit copy*: the tree with what this machine's apache2 cannot load
  normalised away (``normalise_tree``), so that both programs read the same text;
- the *apache copy*: the tcpaudit copy with every absolute path below
  ``MAPPED_ROOTS`` prefixed by the copy's own location (line numbers do not
  change: only text inside a line is rewritten), absolute symlinks re-pointed,
  throw-away certificates where mod_ssl wants files, and log directories
  created where httpd checks them.

apache2 then runs with ``-t`` only (it never starts a server, never writes a
pid file) under a minimal environment, and its dumps are mapped back to
tree paths: ``-D DUMP_INCLUDES`` (files in order), ``-D DUMP_CONFIG`` (every
directive kept in the tree, with file and line; needs mod_info, loaded with
``-c`` *after* the configuration so that it changes nothing the configuration
tests), ``-D DUMP_VHOSTS``, ``-D DUMP_MODULES`` and ``-D DUMP_RUN_CFG``.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tcpaudit.apache.lexer import section_args, split_words

APACHE2 = shutil.which("apache2") or "/usr/sbin/apache2"
MODULE_DIR = Path("/usr/lib/apache2/modules")
INFO_MODULE = f"LoadModule info_module {MODULE_DIR / 'mod_info.so'}"
# Absolute paths below these are the audited host's and move into the copy;
# /usr/lib/apache2/modules (the real modules) and /dev stay as they are.
MAPPED_ROOTS = (
    "etc",
    "var",
    "srv",
    "home",
    "opt",
    "run",
    "usr/local",
    "usr/lib64",
    "usr/share",
    "usr/libexec",
)
_MAPPED = re.compile(
    r"(?<![\w.\-/~])(/(?:" + "|".join(re.escape(r) for r in MAPPED_ROOTS) + r")(?=[/\"'\s>)]|$))"
)
_LOAD_MODULE = re.compile(r"^(\s*)(LoadModule\s+(\S+)\s+)(\S+)(.*)$", re.IGNORECASE)
_USER_GROUP = re.compile(r"^(\s*)(User|Group)(\s+)([^\s#\"']\S*)(.*)$", re.IGNORECASE)
_SSL_FILE = re.compile(r"^\s*SSL\w*File\s+\"?([^\s\"$]+)\"?", re.IGNORECASE)
# What httpd checks on the host while reading: log directories, DocumentRoot,
# mod_ssl's pass-phrase program.
_MISSING_DIR = re.compile(
    r"Cannot access directory '([^']+)'|DocumentRoot '([^']+)' is not a directory"
    r"|Invalid Mutex directory in argument file:(\S+)"
)
_MISSING_PROGRAM = re.compile(r"SSLPassPhraseDialog: file '([^']+)' does not exist")
_SYNTAX_ERROR = re.compile(r"Syntax error on line (\d+) of ([^:]+):")


@cache
def static_modules() -> tuple[str, ...]:
    """Identifiers of the modules built into this apache2 (``apache2 -l`` lists their sources)."""
    listed = subprocess.run([APACHE2, "-l"], capture_output=True, text=True, check=True)
    sources = [line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()]
    # core.c and http_core.c are the two sources not named mod_x.c (modules.py).
    special = {"core.c": "core_module", "http_core.c": "http_module"}
    identifiers = tuple(
        special.get(source, source.removeprefix("mod_").removesuffix(".c") + "_module")
        for source in sources
    )
    assert identifiers, "apache2 -l listed no modules"
    return identifiers


@cache
def throwaway_certificate() -> str:
    """A self-signed certificate and its key in one PEM text, made once per run."""
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"tcpaudit-cert-{os.getpid()}"
    workdir.mkdir(exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=throwaway.invalid",
            "-keyout",
            str(workdir / "key.pem"),
            "-out",
            str(workdir / "cert.pem"),
        ],
        capture_output=True,
        check=True,
    )
    text = (workdir / "cert.pem").read_text() + (workdir / "key.pem").read_text()
    shutil.rmtree(workdir)
    return text


def _text_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        files.append(path)
    return files


def _rewrite_lines(path: Path, rewrite: Callable[[str], str]) -> None:
    data = path.read_bytes().decode("utf-8")
    lines = data.split("\n")
    changed = [rewrite(line) for line in lines]
    if changed != lines:
        path.write_bytes("\n".join(changed).encode("utf-8"))


def loads_an_mpm(root: Path) -> bool:
    """Whether any file of the tree loads an MPM module."""
    pattern = re.compile(r"^\s*LoadModule\s+mpm_", re.MULTILINE | re.IGNORECASE)
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in _text_files(root))


def preload_line(identifier: str) -> str:
    """The ``-C`` directive that loads a module before the configuration is read."""
    return f"LoadModule {identifier} {MODULE_DIR / ('mod_' + identifier.removesuffix('_module') + '.so')}"


def normalise_tree(root: Path) -> list[str]:
    """Make a tree loadable by this apache2; return what was changed, for the record.

    - ``LoadModule x /any/path/mod_x.so`` points at /usr/lib/apache2/modules
      when the module exists there;
    - a module built into this apache2 is commented out (httpd: "module x is
      built-in and can't be loaded"); tcpaudit is told the same built-in list;
    - a module this machine does not have is commented out: both programs
      then see it as not loaded;
    - ``User``/``Group`` names this machine does not know become ``#uid``
      (httpd resolves names while reading and refuses unknown ones), and so
      do ``${APACHE_RUN_USER}``-style names in a tree without envvars.
    """
    record: list[str] = []
    static = set(static_modules())
    # A ${VAR} account name is fine where envvars defines it (Debian's www-data).
    has_envvars = (root / "etc/apache2/envvars").is_file()

    def rewrite(line: str) -> str:
        match = _LOAD_MODULE.match(line)
        if match:
            indent, head, identifier, path, tail = match.groups()
            target = MODULE_DIR / Path(path).name
            if identifier in static:
                record.append(f"commented out (built into apache2): {line.strip()}")
                return f"{indent}#{head}{path}{tail}"
            if target.is_file():
                return f"{indent}{head}{target}{tail}"
            record.append(f"commented out (not on this machine): {line.strip()}")
            return f"{indent}#{head}{path}{tail}"
        match = _USER_GROUP.match(line)
        if match:
            indent, key, space, name, tail = match.groups()
            lookup = pwd.getpwnam if key.lower() == "user" else grp.getgrnam
            try:
                lookup("www-data" if name.startswith("${") and has_envvars else name)
            except KeyError:
                record.append(f"{key} {name} -> {key} #4242 (no such account here)")
                return f"{indent}{key}{space}#4242{tail}"
        return line

    for path in _text_files(root):
        _rewrite_lines(path, rewrite)
    return record


def rename_directive(root: Path, name: str, replacement: str) -> None:
    """Respell a directive at the start of every line of every file of a tree."""
    pattern = re.compile(rf"^(\s*){re.escape(name)}(?=\s|$)", re.IGNORECASE)
    for path in _text_files(root):
        _rewrite_lines(path, lambda line: pattern.sub(lambda m: m.group(1) + replacement, line))


def map_tree(root: Path) -> None:
    """Turn a tcpaudit copy into the apache copy: absolute paths move under ``root``."""
    prefix = str(root)
    for path in _text_files(root):
        _rewrite_lines(path, lambda line: _MAPPED.sub(lambda m: prefix + m.group(1), line))
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            target = os.readlink(path)
            if _MAPPED.match(target):
                path.unlink()
                path.symlink_to(prefix + target)
    pem = throwaway_certificate()
    for path in _text_files(root):
        for line in path.read_text(encoding="utf-8").split("\n"):
            match = _SSL_FILE.match(line)
            if match and match.group(1).startswith(prefix + "/"):
                wanted = Path(match.group(1))
                if not wanted.exists():
                    wanted.parent.mkdir(parents=True, exist_ok=True)
                    wanted.write_text(pem)


def shell_values(script: Path, names: tuple[str, ...], base: dict[str, str]) -> dict[str, str]:
    """Source a shell fragment (envvars, sysconfig) with sh and return the named variables."""
    printer = "; ".join(f'printf "%s\\0" "${{{name}}}"' for name in names)
    result = subprocess.run(
        ["sh", "-c", f'. "$0" >/dev/null 2>&1; {printer}', str(script)],
        capture_output=True,
        text=True,
        check=True,
        env=base,
    )
    return dict(zip(names, result.stdout.split("\0")[: len(names)], strict=True))


@dataclass
class Dumped:
    """One directive ``-D DUMP_CONFIG`` printed: nesting depth, place, name, words."""

    depth: int
    file: str
    line: int
    name: str
    args: tuple[str, ...]


@dataclass
class ApacheRun:
    """What apache2 -t said about a tree, with paths mapped back to tree paths."""

    returncode: int
    stdout: str
    stderr: str
    includes: list[str] = field(default_factory=list)
    config: list[Dumped] = field(default_factory=list)
    vhosts: set[tuple[str, int, str]] = field(default_factory=set)
    modules: list[str] = field(default_factory=list)
    server_root: str | None = None
    error: tuple[str, int] | None = None
    # DUMP_RUN_CFG's "Define:" lines, minus the dump names themselves.
    defines: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.returncode == 0


def run_apache(
    apache_root: Path,
    main_file: str,
    server_root: str,
    *,
    options: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
    preload: tuple[str, ...] = (),
) -> ApacheRun:
    """Run ``apache2 -t`` with every dump on the apache copy; never starts a server.

    It runs from the copy's root, which stands for ``/``: a service's working
    directory (a relative ServerRoot is taken from there).

    ``preload`` modules are loaded with ``-C`` before the configuration, as a
    host's module list would be; tcpaudit is told they are built in.
    """
    prefix = str(apache_root)
    early = [argument for name in preload for argument in ("-C", preload_line(name))]
    command = [
        APACHE2, "-d", prefix + server_root, "-f", prefix + main_file, *options, *early, "-t",
        "-D", "DUMP_INCLUDES", "-D", "DUMP_CONFIG", "-D", "DUMP_VHOSTS",
        "-D", "DUMP_MODULES", "-D", "DUMP_RUN_CFG", "-c", INFO_MODULE,
    ]  # fmt: skip
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C", **(environment or {})}
    for _ in range(20):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=60, check=False, cwd=prefix
        )
        # A real host has these; create them, but only inside the copy.
        missing = _MISSING_DIR.search(done.stderr)
        program = _MISSING_PROGRAM.search(done.stderr)
        wanted = next((group for group in missing.groups() if group), "") if missing else ""
        if program and program.group(1).startswith(prefix + "/"):
            Path(program.group(1)).parent.mkdir(parents=True, exist_ok=True)
            Path(program.group(1)).write_text("#!/bin/sh\n")
            Path(program.group(1)).chmod(0o755)
        elif done.returncode == 0 or not wanted.startswith(prefix + "/"):
            break
        else:
            Path(wanted).mkdir(parents=True, exist_ok=True)
    run = ApacheRun(done.returncode, done.stdout, done.stderr)
    _parse(run, prefix)
    return run


DUMPS = ("-D", "DUMP_INCLUDES", "-D", "DUMP_CONFIG", "-D", "DUMP_VHOSTS", "-D", "DUMP_MODULES",
         "-D", "DUMP_RUN_CFG", "-c", INFO_MODULE)  # fmt: skip


def run_apache2ctl(apache_root: Path, environment: dict[str, str] | None = None) -> ApacheRun:
    """Run Debian's ``apache2ctl -t`` with every dump on an apache copy of a Debian tree.

    apache2ctl sources the copy's ``etc/apache2/envvars`` (APACHE_CONFDIR
    points there, which also makes it pass ``-d``) and runs apache2 with
    ``$APACHE_ARGUMENTS``: the service's own invocation, as a host runs it.
    """
    prefix = str(apache_root)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "APACHE_CONFDIR": f"{prefix}/etc/apache2",
        **(environment or {}),
    }
    done = subprocess.run(
        ["apache2ctl", "-t", *DUMPS], capture_output=True, text=True, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    run = ApacheRun(done.returncode, done.stdout, done.stderr)
    _parse(run, prefix)
    return run


def _unmap(path: str, prefix: str) -> str:
    """Map an apache-copy path back to how tcpaudit shows it (relative to the root)."""
    return path.removeprefix(prefix).lstrip("/") if path.startswith(prefix + "/") else path


_MACRO_WHERE = re.compile(r"^macro '[^']*' \(defined on line (\d+) of \"([^\"]+)\"\) used on")


def _location(file: str, line: int, prefix: str) -> tuple[str, int]:
    """Tree file and line of a dumped directive; for a macro expansion, of its body line.

    httpd names an expanded line after the use of the macro and numbers it by
    its place among the body lines it kept (comment lines dropped, continued
    lines joined); tcpaudit points at the body line itself.
    """
    macro = _MACRO_WHERE.match(file)
    if not macro:
        return _unmap(file, prefix), line
    defined_at, body_file = int(macro.group(1)), macro.group(2)
    physical = Path(body_file).read_text(encoding="utf-8").split("\n")
    kept = 0
    number = defined_at
    while number < len(physical):
        number += 1
        text = physical[number - 1]
        while text.endswith("\\") and number < len(physical):
            number += 1
            text = text[:-1] + physical[number - 1]
        if text.strip().startswith("#"):
            continue
        kept += 1
        if kept == line:
            return _unmap(body_file, prefix), number
    raise AssertionError(f"line {line} of {file} not found")


def _parse(run: ApacheRun, prefix: str) -> None:
    # A read-time error in an included file is reported nested, outermost
    # Include first: "Syntax error on line 3 of main: Syntax error on line 2 of b".
    errors = list(_SYNTAX_ERROR.finditer(run.stderr))
    # httpd cuts an error message at 8,190 characters (a long chain of nested
    # includes): then the innermost place is lost and only accept/reject counts.
    if errors:
        line_start = run.stderr.rfind("\n", 0, errors[-1].start()) + 1
        line_end = run.stderr.find("\n", errors[-1].end())
        if (line_end if line_end >= 0 else len(run.stderr)) - line_start < 8000:
            run.error = _location(errors[-1].group(2), int(errors[-1].group(1)), prefix)
    state = ""
    current_file = ""
    pending_line = 0
    for raw in run.stdout.split("\n"):
        text = raw.replace(prefix, "") if prefix in raw else raw
        stripped = raw.strip()
        if raw == "Included configuration files:":
            state = "includes"
        elif raw == "VirtualHost configuration:":
            state = "vhosts"
        elif raw.startswith("# In file: "):
            state = "config"
            current_file = raw.removeprefix("# In file: ")
        elif raw.startswith("ServerRoot: "):
            state = "runcfg"
            run.server_root = text.removeprefix("ServerRoot: ").strip('"')
        elif state == "runcfg" and raw.startswith("Define: "):
            name = raw.removeprefix("Define: ")
            if not name.startswith("DUMP_"):
                run.defines.append(name)
        elif raw == "Loaded Modules:":
            state = "modules"
        elif state == "includes" and stripped:
            run.includes.append(_unmap(stripped.split(" ", 1)[1], prefix))
        elif state == "vhosts":
            found = re.search(r"(\S+) \((/.+|macro .+):(\d+)\)$", raw)
            if found:
                file, line = _location(found.group(2), int(found.group(3)), prefix)
                run.vhosts.add((file, line, found.group(1)))
        elif state == "config" and stripped:
            marker = re.fullmatch(r"#\s*(\d+):", stripped)
            if marker:
                pending_line = int(marker.group(1))
            elif not stripped.startswith("</"):
                depth = (len(raw) - len(raw.lstrip(" "))) // 2
                name, _, args = text.strip().partition(" ")
                words = section_args(args) if name.startswith("<") else tuple(split_words(args))
                file, line = _location(current_file, pending_line, prefix)
                run.config.append(Dumped(depth, file, line, name.lower(), tuple(words or ())))
        elif state == "modules" and stripped:
            run.modules.append(stripped.split(" ", 1)[0])
