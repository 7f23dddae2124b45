"""Read an Apache configuration the way httpd reads it at start-up.

This module applies what httpd executes while it reads the files:
``Include``/``IncludeOptional`` (``includes.py``), ``Define``/``UnDefine`` and
``${VAR}`` (``variables.py``), ``LoadModule`` (``modules.py``), ``ServerRoot``,
mod_macro (``macros.py``) and the conditional sections (``<IfModule>``,
``<IfDefine>``, ``<IfVersion>``, ``<IfFile>``, ``<IfDirective>``,
``<IfSection>``; ``conditions.py``). What is left is the effective directive
tree, in the order httpd applies it, every node with its file and line. Then,
as httpd's walk of that tree does (``walk.check_commands``), it refuses
a directive whose module is known but not loaded or that sits where it may
not. It judges no values itself; ``effective.py`` reads the settings out.
The loop over each file's lines, with its fast paths, is ``reader.py``'s.

The control flow follows httpd 2.4's server/config.c (``ap_build_config``,
``ap_build_config_sub``, ``ap_build_cont_config``, ``ap_soak_end_container``):
a true conditional ends only at a line that is exactly ``</IfXxx>``, and only
when no other section opened inside it is still open; a false one is skipped
without substituting variables; a section left open at the end of a file is an
error, unless it was opened inside a conditional that is itself still open.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ApacheConfigError
from ..inputs import NotRegularFileError, TooLargeError, read_bytes
from ..provenance import Note
from ..rootfs import RootFS
from .apr_paths import merged_path, names_directory
from .arity import arity_error
from .command_line import (
    CommandLineState,
    CommandLineTooLongError,
    command_lines,
    grown_for,
    uncertain_line,
)
from .conditions import condition_argument, if_version
from .directives import (
    KEPT_READ_TIME_DIRECTIVES,
    READ_TIME_DIRECTIVES,
    WALKED_READ_TIME_DIRECTIVES,
    canonical_name,
    directive_owners,
    word_count_kind,
)
from .includes import DirectoryBudget, IncludeError, expand_include
from .lexer import decode_config, split_words
from .macros import MacroTable
from .memory import MemoryGuard
from .modules import LoadedModules
from .physical import PhysicalLineReader
from .reader import CONDITIONALS
from .secret_hiding import MacroSecrets, hide_in_tree, hide_macro_secrets, without_secret_values
from .sections import Line
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .values import ascii_lower, utf8_length
from .variables import MIN_HIDDEN_VALUE, Variables
from .walk import check_commands

__all__ = [
    "COMMAND_LINE_FILE",
    "MAX_FILES_READ",
    "MAX_INCLUDE_DEPTH",
    "EvaluationResult",
    "evaluate",
]

# Longer than an <IfVersion> takes without a child (microseconds).
_CHILD_WAIT = 0.01


# How httpd names the directives given with -C and -c (server/main.c).
COMMAND_LINE_FILE = "-c/-C directives"
# httpd refuses deeper Include nesting (AP_MAX_INCLUDE_DEPTH in server/core.c).
MAX_INCLUDE_DEPTH = 128
# apr_filepath_merge refuses a ServerRoot and a path longer than this together
# (their lengths plus 4: slashes and the final NUL), so ap_server_root_relative
# fails and httpd says "Invalid Include path" (server/core.c, include_config).
APR_PATH_MAX = 4096
# A single configuration file larger than this is not a configuration file.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Includes that fan out (every file of a level includes every file of the
# next) stay within httpd's limits but multiply the reads; tcpaudit stops here.
MAX_FILES_READ = 200_000
# What one load reads in all (a file read twice counts twice). Time grows with
# it (a 470 MB tree of long quoted values took 26 s); real trees hold a few
# MB, a realistic one of 50,000 vhosts about 70 MB (bench/shapes.py).
MAX_BYTES_READ = 256 * 1024 * 1024


@dataclass(slots=True)
class EvaluationResult:
    """The effective configuration and what was learnt while reading it."""

    directives: list[Directive]
    files: list[str]
    modules: list[str]
    defines: dict[str, str]
    server_root: PurePosixPath
    main_file: str = ""
    notes: list[Note] = field(default_factory=list)
    # id(directive) -> the error its handler gives when httpd walks the tree.
    deferred: dict[int, str] = field(default_factory=dict)
    # id(node) -> the text after a RAW_TEXT_KEYS name, where its words may not show it.
    raw_texts: dict[int, str] = field(default_factory=dict)
    # Module identifiers named by a LoadModule line of the tree (the first word).
    load_module_names: set[str] = field(default_factory=set)
    # The names LuaAuthzProvider registered as it was read (case kept: Require
    # finds a provider by its exact name).
    lua_authz_providers: set[str] = field(default_factory=set)
    # (file, line) of the Define and Use lines whose values stand where a secret is.
    secret_value_lines: list[tuple[str, int]] = field(default_factory=list)
    macro_body_lines: list[tuple[str, int]] = field(default_factory=list)
    # The values of secret Defines (Variables.secret_values), kept out of error lines.
    secret_values: list[str] = field(default_factory=list)
    # (file, line) -> what hide_secret_substitutions hides there, until it has.
    secret_substitutions: dict[tuple[str, int], tuple[str, dict[str, str], set[str]]] = field(
        default_factory=dict
    )
    # The same for the secret arguments macros put into their body lines.
    macro_secrets: MacroSecrets = field(default_factory=dict)
    # (host directory, wildcard) of each Include wildcard matched (DirectoryBudget.scanned).
    wildcards: list[tuple[str, str]] = field(default_factory=list)
    # IncludeOptional paths that did not exist (DirectoryBudget.missing).
    missing_includes: list[str] = field(default_factory=list)
    # Directories Include read whole (DirectoryBudget.read_whole).
    directories_read: list[str] = field(default_factory=list)


class _Evaluator(PhysicalLineReader):
    def __init__(
        self,
        fs: RootFS,
        server_root: PurePosixPath,
        version: tuple[int, ...],
        compiled_in: Iterable[str],
        defines: Iterable[str],
        environment: Mapping[str, str],
    ) -> None:
        super().__init__()
        self.fs = fs
        self.server_root = server_root
        self.version = version
        self.variables = Variables(defines, environment)
        self.modules = LoadedModules(compiled_in)
        self.files: list[str] = []
        self.notes: list[Note] = []
        self.macros = MacroTable(self.variables)
        self.macros.check = lambda file, line: self.memory.check(file, line)
        self.deferred: dict[int, str] = {}
        self.raw_texts: dict[int, str] = {}
        self.load_module_names: set[str] = set()
        self.lua_authz_providers: set[str] = set()
        self.include_depth = 0
        self.files_read = 0
        self.bytes_read = 0
        self.server_root_slash = False
        self.directories = DirectoryBudget()
        # The -C/-c directives being read, and each line's state (command_line.py).
        self._command_line: tuple[Sequence[str], dict[int, CommandLineState]] | None = None
        # The real path the root's /dev/null names (httpd reads its own, empty).
        self.null_device = str(fs.root / "dev/null") if not fs.is_host else "/dev/null"

    def _directive_exists(self, key: str) -> bool:
        owners = directive_owners(key, self.version)
        return owners is not None and any(owner in self.modules for owner in owners)

    # -- files -------------------------------------------------------------------

    def read_file(
        self,
        shown: str,
        real: str | Path,
        container: list[Directive],
        origin: str,
        origin_line: int | None,
    ) -> None:
        self.files_read += 1
        if self.files_read > MAX_FILES_READ:
            raise ApacheConfigError(
                f"more than {MAX_FILES_READ} configuration files read; includes recurse",
                file=origin,
                line=origin_line,
            )
        try:
            # httpd reads its empty device; the tree's dev/null may be anything.
            limit = min(MAX_FILE_BYTES, MAX_BYTES_READ - self.bytes_read)
            if os.fspath(real) == self.null_device:
                data = b""
            else:
                # A path too long for the kernel with the root's path before it
                # is read one directory at a time.
                long_read = self.fs.read_long(real, limit)
                data = long_read if long_read is not None else read_bytes(real, limit)
        except NotRegularFileError as exc:
            raise ApacheConfigError(
                f"Access to file {shown} denied by server: not a regular file",
                file=origin,
                line=origin_line,
            ) from exc
        except TooLargeError as exc:
            if limit < MAX_FILE_BYTES:
                raise ApacheConfigError(
                    f"the configuration files hold more than {MAX_BYTES_READ} bytes in all "
                    f"when {shown} is read",
                    file=origin,
                    line=origin_line,
                ) from exc
            raise ApacheConfigError(
                f"{shown} is larger than {MAX_FILE_BYTES} bytes", file=origin, line=origin_line
            ) from exc
        except OSError as exc:
            raise ApacheConfigError(
                f"Could not open configuration file {shown}: {exc.strerror or exc}",
                file=origin,
                line=origin_line,
            ) from exc
        self.bytes_read += len(data)
        text, valid = decode_config(data)
        if not valid:
            self.notes.append(
                Note(message="file is not valid UTF-8; read byte for byte", file=shown)
            )
        self.files.append(shown)
        self._process(text, shown, container)

    def read_command_line(
        self, directives: Sequence[str], container: list[Directive], *, late: bool = False
    ) -> None:
        """``-C``/``-c`` directives: a pseudo-file httpd names "-c/-C directives",
        read in the lines httpd's reader makes of them (command_line.py).

        ``-c`` (``late``) ones are read after the configuration, in a pool
        whose room tcpaudit does not follow: where that decides how httpd
        joins them, a note says so.
        """
        check = lambda number: self.memory.check(COMMAND_LINE_FILE, number)  # noqa: E731
        uncertain = uncertain_line(directives, check) if late else None
        if uncertain is not None:
            self.notes.append(
                Note(
                    message="httpd may join the -c directives from here on otherwise: one of "
                    "206 bytes or more fills its line buffer, which grows in place or not as "
                    "the memory the configuration took leaves room; read as when it grows in "
                    "place",
                    file=COMMAND_LINE_FILE,
                    line=uncertain,
                )
            )
        states: dict[int, CommandLineState] = {}
        lines = self._command_lines(
            directives,
            states=states,
            check=lambda number: self.memory.check(COMMAND_LINE_FILE, number),
        )
        physical: list[str] = []
        for number, text in lines:
            physical.extend([""] * (number - 1 - len(physical)))
            physical.append(text)
        self._command_line = (directives, states)
        try:
            self._process("\n".join(physical) + "\n", COMMAND_LINE_FILE, container)
        finally:
            self._command_line = None

    @staticmethod
    def _command_lines(directives: Sequence[str], **going_on: Any) -> list[tuple[int, str]]:
        """``command_lines`` as lines of the pseudo-file: a line feed inside is
        a blank, and a last backslash a word (a blank after it keeps it from
        continuing here: httpd trims the blank)."""
        try:
            lines = command_lines(directives, **going_on)
        except CommandLineTooLongError as exc:
            raise ApacheConfigError(
                f"Error reading {COMMAND_LINE_FILE} at line {exc.number}: Line too long",
                file=COMMAND_LINE_FILE,
                line=exc.number,
            ) from exc
        shown = []
        for number, text, _taken in lines:
            line = text.replace("\n", " ")
            shown.append((number, line + " " if line.endswith("\\") else line))
        return shown

    def _after_use(self, lines: list[Line], index: int, number: int, file: str) -> None:
        """A Use among ``-C``/``-c`` directives: httpd reads its expansion into
        the buffer it reads them into, which grows for a long line; the
        directives after it are read again with that buffer."""
        if self._command_line is None or file != COMMAND_LINE_FILE:
            return
        directives, states = self._command_line
        state = states.get(number)
        if state is None or not state[2]:
            return  # in a section or a macro's body: its own buffer (not followed)
        end = index
        while end < len(lines) and lines[end][3]:
            end += 1
        longest = max((utf8_length(line[1]) for line in lines[index:end]), default=0)
        size = grown_for(state[1], longest + 1)
        if size == state[1]:
            return
        rest = self._command_lines(
            directives,
            start=state[0],
            number=number,
            size=size,
            states=states,
            check=lambda line: self.memory.check(COMMAND_LINE_FILE, line),
        )
        lines[end:] = [
            (line_number, logical, COMMAND_LINE_FILE, ())
            for line_number, text in rest
            if (logical := text.strip(" \t\r\n\f\v")) and logical[0] != "#"
        ]

    # -- conditions --------------------------------------------------------------

    def _note_hidden(self, what: str, file: str, number: int) -> None:
        """A read-time use of a secret-named Define's value, which the reader hid
        (its value never enters the model): httpd acts on the value, tcpaudit
        cannot, and says so rather than refuse the line."""
        self.notes.append(
            Note(
                message=f"{what} holds the value of a secret-named Define, which tcpaudit "
                "hides as it reads: not followed here, as httpd follows it",
                file=file,
                line=number,
            )
        )

    def _condition(self, key: str, raw_args: str, file: str, number: int) -> bool:
        self._ran_while_reading(file, number)
        section = CONDITIONALS[key][0]
        if key == "<ifversion":
            # The version (the last of at most two words) hidden: not judged.
            words = split_words(raw_args[: raw_args.rfind(">")])
            if 0 < len(words) <= 2 and REDACTED_VALUE in words[-1]:
                self._note_hidden(f"the version of <{section}>", file, number)
                return False
            begun = time.perf_counter()
            holds = if_version(raw_args, self.version)
            # A pattern matched in a child (conditions.py) is waited for, up to
            # 2 s: that time counts in the load's CPU bound (25 sections of
            # 1.4 s each took 38 s), which is checked at once.
            waited = time.perf_counter() - begun
            if waited > _CHILD_WAIT:
                self.memory.charge(waited)
                self.memory.check(file, number)
            return holds
        negated, argument = condition_argument(section, raw_args)
        if REDACTED_VALUE in argument:
            self._note_hidden(f"the argument of <{section}>", file, number)
            return False
        if key == "<ifmodule":
            result = self.modules.matches(argument)
        elif key == "<ifdefine":
            result = self.variables.is_defined(argument)
        elif key == "<iffile":
            try:
                real = self.fs.resolve(self._tree_path(argument))
                mode = self.fs.lstat_real(str(real)).st_mode
                # apr_stat of "file/" fails: such a name holds for a directory only.
                result = stat.S_ISDIR(mode) or not names_directory(argument)
            except OSError:  # ENAMETOOLONG, ELOOP: apr_stat fails, the file "does not exist"
                result = False
        elif key == "<ifdirective":
            result = self._directive_exists(ascii_lower(argument))
        else:
            result = self._directive_exists("<" + ascii_lower(argument))
        return result != negated

    # -- directives executed while reading ---------------------------------------

    def _directive(
        self, name: str, args: list[str], file: str, number: int, container: list[Directive]
    ) -> None:
        key = ascii_lower(name)
        if READ_TIME_DIRECTIVES.get(key) in self.modules.order:
            self._ran_while_reading(file, number)
        # A secret's value never enters the model (a Define's value included).
        words = tuple(args)
        redacted = self._redact(key, words, file, number)
        if redacted is not words:
            args = list(redacted)
        if key in READ_TIME_DIRECTIVES:
            self._count_words(key, name, args, file, number)
        if key in ("include", "includeoptional"):
            if len(args) != 1:
                raise ApacheConfigError(f"{name} takes one argument", file=file, line=number)
            if REDACTED_VALUE in args[0]:
                self._note_hidden(f"the path of {name}", file, number)
                return
            self._include(args[0], key == "includeoptional", file, number, container)
            return
        if key in ("define", "undefine"):
            self.variables.apply(key, args, file, number)
        elif key == "loadmodule":
            if len(args) != 2:
                raise ApacheConfigError("LoadModule takes two arguments", file=file, line=number)
            self.load_module_names.add(args[0])
            warning = self.modules.load(args[0], file, number)
            if warning is not None:
                self.notes.append(warning)
        elif key == "luaauthzprovider" and args and "lua_module" in self.modules.order:
            self.lua_authz_providers.add(args[0])
        elif key == "serverroot" and args and REDACTED_VALUE in args[0]:
            self._note_hidden("ServerRoot", file, number)
        elif key == "serverroot":
            if len(args) != 1:
                raise ApacheConfigError("ServerRoot takes one argument", file=file, line=number)
            # set_server_root merges the argument with the working directory,
            # not with the ServerRoot before it; the service runs from /.
            self.server_root = merged_path("/", args[0])
            # apr_filepath_merge keeps one trailing '/' ("/x/", "/x/." and
            # "/x//" are "/x/"): httpd's ServerRoot is a byte longer.
            self.server_root_slash = str(self.server_root) != "/" and args[0].endswith(("/", "/."))
            try:
                mode = self.fs.lstat_real(str(self.fs.resolve(self.server_root))).st_mode
                is_dir = stat.S_ISDIR(mode)
            except OSError:  # ENAMETOOLONG, ELOOP
                is_dir = False
            if not is_dir:
                raise ApacheConfigError(
                    "ServerRoot must be a valid directory", file=file, line=number
                )
        if (
            key in KEPT_READ_TIME_DIRECTIVES
            or key in WALKED_READ_TIME_DIRECTIVES
            or READ_TIME_DIRECTIVES.get(key) not in self.modules.order
        ):
            container.append(Directive(name, tuple(args), file, number))

    def _count_words(self, key: str, name: str, args: list[str], file: str, number: int) -> None:
        """invoke_cmd's word count for a directive httpd runs while reading (2.4).

        Run here, not in the walk: httpd checks the count of these at read time.
        """
        if self.version < (2, 4) or READ_TIME_DIRECTIVES[key] not in self.modules.order:
            return
        kind = word_count_kind(key)
        registered = canonical_name(key) or name
        message = arity_error(kind, registered, tuple(args)) if kind is not None else None
        if message is not None:
            raise ApacheConfigError(message, file=file, line=number)

    def _include(
        self, pattern: str, optional: bool, file: str, number: int, container: list[Directive]
    ) -> None:
        self.include_depth += 1
        if self.include_depth > MAX_INCLUDE_DEPTH:
            raise ApacheConfigError(
                f"Exceeded maximum include depth of {MAX_INCLUDE_DEPTH}, There appears to be a "
                "recursion.",
                file=file,
                line=number,
            )
        root_length = len(str(self.server_root).encode("utf-8", "surrogateescape"))
        root_length += self.server_root_slash
        if root_length + len(pattern.encode("utf-8", "surrogateescape")) + 4 > APR_PATH_MAX:
            raise ApacheConfigError(f"Invalid Include path {pattern}", file=file, line=number)
        tree_path = str(self._tree_path(pattern))
        if tree_path != "/" and names_directory(pattern):
            tree_path += "/"
        try:
            found = expand_include(self.fs, tree_path, optional, self.directories)
        except IncludeError as exc:
            raise ApacheConfigError(str(exc), file=file, line=number) from exc
        display = self.fs.display_tree
        for tree, real in found:
            # Include paths are built normalised (no "//", "/./" or trailing
            # "/"): shown as they stand, without pathlib's parsing per file.
            if "//" in tree or "/." in tree or tree.endswith("/"):
                shown = display(tree) + ("/" if tree.endswith("/") and tree != "/" else "")
            else:
                shown = tree if self.fs.is_host else tree[1:]
            if isinstance(real, OSError):
                # Include opens a name httpd could not stat, and fails there.
                raise ApacheConfigError(
                    f"Could not open configuration file {shown}: {real.strerror or real}",
                    file=file,
                    line=number,
                )
            self.read_file(shown, real, container, file, number)
        self.include_depth -= 1

    def _tree_path(self, value: str) -> PurePosixPath:
        # ap_server_root_relative: relative to ServerRoot.
        return merged_path(str(self.server_root), value)


def evaluate(
    fs: RootFS,
    main_file: Path,
    *,
    server_root: PurePosixPath,
    version: tuple[int, ...],
    compiled_in: Iterable[str],
    defines: Iterable[str] = (),
    environment: Mapping[str, str] | None = None,
    main_shown: str | None = None,
    before: Sequence[str] = (),
    after: Sequence[str] = (),
    check: bool = True,
    validate: Callable[[Directive, tuple[str, ...]], None] | None = None,
    guard: MemoryGuard | None = None,
) -> EvaluationResult:
    """Read ``main_file`` and everything it includes; return the effective tree.

    Args:
        fs: the audited root.
        main_file: the real path of the main configuration file.
        server_root: the compiled-in ServerRoot, as a path inside the root.
        version: the Apache version that decides version-dependent behaviour.
        compiled_in: identifiers of modules linked into httpd.
        defines: names given with ``-D`` on httpd's command line.
        environment: the variables httpd's environment holds (envvars).
        main_shown: how to name the main file (default: its real path).
        before: ``-C`` directives, read before the main file.
        after: ``-c`` directives, read after it.
        check: walk the tree as httpd does and refuse what it refuses (``check_commands``).
        validate: the value checks of that walk (``effective.validate_directive``).
        guard: the memory and time a whole load may take, shared by its
            readings (the version may need a second one); a new one by default.

    Raises:
        ApacheConfigError: for anything httpd would refuse while reading.
    """
    evaluator = _Evaluator(fs, server_root, version, compiled_in, defines, environment or {})
    if guard is not None:
        evaluator.memory = guard
    root: list[Directive] = []
    shown = main_shown if main_shown is not None else fs.display(main_file)
    # httpd reads -C directives, the main file and -c directives in that order,
    # each set of directives as a file of its own, one directive per line.
    try:
        if before:
            evaluator.read_command_line(before, root)
        evaluator.read_file(shown, main_file, root, shown, None)
        if after:
            evaluator.read_command_line(after, root, late=True)
    except ApacheConfigError as error:
        evaluator.variables.note_secret_places(evaluator.flows.value_lines())
        values = [*evaluator.variables.secret_values(), *evaluator.macros.secret_values]
        raise without_secret_values(error, values) from None
    flow_lines = evaluator.flows.value_lines()
    _note_flowing_secrets(evaluator, flow_lines)
    # A secret Define's value (by its name, or by its use as a URL's password)
    # went into every line using it where no secret stands (ServerName
    # ${PW}.example): hidden once the walk has judged the lines
    # (hide_secret_substitutions), and in the Defines shown now.
    secret_names = evaluator.variables.names_holding_secrets()
    secret_values = evaluator.variables.secret_values(secret_names)
    defines = {
        name: evaluator.variables.value_of(name) or "" for name in evaluator.variables.defines
    }
    hidden_values = set(secret_values)
    for name, value in defines.items():
        if value in hidden_values:
            defines[name] = REDACTED_VALUE
    if evaluator.hidden_line_errors:
        _defer_hidden_line_errors(root, evaluator.hidden_line_errors, evaluator.deferred)
    result = EvaluationResult(
        directives=root,
        files=evaluator.files,
        modules=list(evaluator.modules.order),
        defines=defines,
        server_root=evaluator.server_root,
        main_file=shown,
        notes=[*evaluator.notes, *evaluator.variables.notes],
        deferred=evaluator.deferred,
        raw_texts=evaluator.raw_texts,
        load_module_names=evaluator.load_module_names,
        lua_authz_providers=evaluator.lua_authz_providers,
        wildcards=evaluator.directories.scanned,
        missing_includes=evaluator.directories.missing,
        directories_read=evaluator.directories.read_whole,
        secret_value_lines=sorted(
            {
                *evaluator.variables.secret_define_lines(),
                *evaluator.macros.secret_use_lines,
                *evaluator.secret_lines,
                *flow_lines,
            }
        ),
        secret_values=sorted({*secret_values, *evaluator.macros.secret_values}, key=len)[::-1],
        secret_substitutions=evaluator.variables.secret_substitutions(secret_names),
        macro_secrets=evaluator.macros.secret_expansions,
        macro_body_lines=sorted(evaluator.macros.used_body_lines()),
    )
    if check:
        try:
            check_result(result, version, validate, guard=evaluator.memory)
        except ApacheConfigError as error:
            raise without_secret_values(error, result.secret_values) from None
        hide_secret_substitutions(result, evaluator.memory)
    return result


def _note_flowing_secrets(evaluator: _Evaluator, places: set[tuple[str, int]]) -> None:
    """A value copied into a variable or header a credential header reads
    (``SetEnv X ${V}``, at one of ``places``) is a secret wherever else it
    stands: V's, and that of a ``${NAME}`` whose value a Use passes to a macro
    whose body so copies it (``Use M ${V}`` with ``SetEnv X $v`` in M; through
    nested Uses and Defines of the body, a ${NAME} of several words or part of
    one), found by its value in the argument."""
    variables = evaluator.variables
    variables.note_secret_places(places)
    compared = 0
    for uses, value in evaluator.macros.arguments_reaching(places):
        for where in uses:
            seen = variables.substituted_at.get(where)
            if seen is None:
                continue  # no ${NAME} in that line
            for name, given in seen[1].items():
                compared += 1
                if not compared % 256:
                    evaluator.memory.check(*where)
                # The value whole, or a word of it (a value of several words).
                if (len(given) >= MIN_HIDDEN_VALUE and given in value) or (
                    len(value) >= MIN_HIDDEN_VALUE and value in given
                ):
                    variables.secret_names.add(name)


def _defer_hidden_line_errors(
    root: list[Directive],
    errors: dict[int, tuple[tuple[str, ...], str]],
    deferred: dict[int, str],
) -> None:
    """What the handler says of a line whose words were hidden as they were
    read (a Header value's %-tags, a SetEnvIf pattern, as written), given to
    the walk for the node read from that line (whose words are the very tuple
    the reader hid them in)."""
    for top in root:
        for node in top.walk():
            found = errors.get(id(node.args))
            if found is not None and found[0] is node.args:
                deferred.setdefault(id(node), found[1])


def hide_secret_substitutions(result: EvaluationResult, guard: MemoryGuard) -> None:
    """Hide the secret values ``${NAME}``s put into lines of the tree, once the
    walk has judged them as httpd does (``KeepAliveTimeout ${PW}`` is refused,
    the error hiding the value): the model built next shows none of them (a
    vhost's name, a proxy route's URL, a fix's line), and the lines changed
    are noted with the secrets' (a fix leaves their files out)."""
    changed: set[tuple[str, int]] = set()
    if result.secret_substitutions:
        changed = hide_in_tree(result.directives, result.secret_substitutions, guard)
        result.secret_substitutions = {}
    if result.macro_secrets:
        changed |= hide_macro_secrets(result.directives, result.macro_secrets, guard)
        result.macro_secrets = {}
    if changed:
        result.secret_value_lines = sorted({*result.secret_value_lines, *changed})


def check_result(
    result: EvaluationResult,
    version: tuple[int, ...],
    validate: Callable[[Directive, tuple[str, ...]], None] | None = None,
    validated: Collection[str] | None = None,
    guard: MemoryGuard | None = None,
) -> None:
    """Refuse what httpd refuses once everything is read; add the notes to ``result``.

    ``guard``: the load's bounds, whose CPU time the walk's pattern checks count in.

    ``validate`` is called for the directives whose lower-cased name is in
    ``validated`` (every directive when None).

    Raises:
        ApacheConfigError: no MPM (2.4), or the first refusal of the tree walk.
    """
    # httpd 2.4 checks for an MPM once everything is read, before it walks
    # the tree (AH00534 in server/config.c).
    if version >= (2, 4) and not any(name.startswith("mpm_") for name in result.modules):
        raise ApacheConfigError(
            "Configuration error: No MPM loaded. (httpd 2.4 refuses to start without a "
            "LoadModule mpm_* line; for an httpd 2.2 tree give --apache-version 2.2)",
            file=result.main_file,
        )
    result.notes.extend(
        check_commands(
            result.directives,
            result.modules,
            version,
            deferred=result.deferred,
            raw_texts=result.raw_texts,
            validate=validate,
            validated=validated,
            guard=guard,
            lua_authz_providers=result.lua_authz_providers,
        )
    )
