"""Read an Apache configuration the way httpd reads it at start-up.

This module applies what httpd executes while it reads the files:
``Include``/``IncludeOptional``, ``Define``/``UnDefine`` and ``${VAR}``,
``LoadModule`` and the conditional sections (``<IfModule>``, ``<IfDefine>``,
``<IfVersion>``, ``<IfFile>``, ``<IfDirective>``, ``<IfSection>``). What is
left is the effective directive tree, in the order httpd applies it, every node
with its file and line. It judges no values; ``model.py`` reads the settings
out of the tree.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import ApacheConfigError
from ..provenance import Note
from ..rootfs import RootFS
from .lexer import decode_config, logical_lines, split_words
from .modules import module_source_name
from .tree import Directive

__all__ = ["MAX_INCLUDE_DEPTH", "EvaluationResult", "evaluate"]

log = logging.getLogger(__name__)

# httpd refuses deeper include nesting (AP_MAX_INCLUDE_DEPTH in http_config.c).
MAX_INCLUDE_DEPTH = 128
# A single configuration file larger than this is not a configuration file.
MAX_FILE_BYTES = 64 * 1024 * 1024

_CONDITIONALS = frozenset(
    {"ifmodule", "ifdefine", "ifversion", "iffile", "ifdirective", "ifsection"}
)
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WILDCARD = re.compile(r"[*?\[]")
_VERSION_OPERATORS = ("==", ">=", "<=", "=", ">", "<", "~")


@dataclass(slots=True)
class EvaluationResult:
    """The effective configuration and what was learnt while reading it."""

    directives: list[Directive]
    files: list[str]
    modules: list[str]
    defines: dict[str, str]
    server_root: PurePosixPath
    notes: list[Note] = field(default_factory=list)


@dataclass(slots=True)
class _Frame:
    name: str
    node: Directive | None
    line: int


class _Evaluator:
    def __init__(
        self,
        fs: RootFS,
        server_root: PurePosixPath,
        version: tuple[int, ...],
        compiled_in: Iterable[str],
        defines: Iterable[str],
        environment: Mapping[str, str],
    ) -> None:
        self.fs = fs
        self.server_root = server_root
        self.version = version
        self.defines: dict[str, str] = dict.fromkeys(defines, "")
        self.environment = dict(environment)
        self.modules: dict[str, None] = {}
        self.source_names: set[str] = set()
        for identifier in compiled_in:
            self._add_module(identifier)
        self.files: list[str] = []
        self.notes: list[Note] = []
        self.include_stack: list[Path] = []

    # -- modules and variables -------------------------------------------------

    def _add_module(self, identifier: str) -> None:
        self.modules[identifier] = None
        self.source_names.add(module_source_name(identifier))

    def _module_loaded(self, name: str) -> bool:
        return name in self.modules or name in self.source_names

    def _substitute(self, line: str, file: str, number: int) -> str:
        if "${" not in line:
            return line

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.defines and self.defines[name] != "":
                return self.defines[name]
            if name in self.environment:
                return self.environment[name]
            # httpd leaves the text as it is and warns (AH00111).
            self.notes.append(
                Note(message=f"config variable ${{{name}}} is not defined", file=file, line=number)
            )
            return match.group(0)

        return _VARIABLE.sub(replace, line)

    # -- files -------------------------------------------------------------------

    def read_file(
        self, real: Path, container: list[Directive], origin: str, origin_line: int | None
    ) -> None:
        shown = self.fs.display(real)
        if real in self.include_stack:
            raise ApacheConfigError(
                f"include cycle: {shown} includes itself", file=origin, line=origin_line
            )
        if len(self.include_stack) >= MAX_INCLUDE_DEPTH:
            raise ApacheConfigError(
                f"exceeded the maximum include nesting of {MAX_INCLUDE_DEPTH}",
                file=origin,
                line=origin_line,
            )
        try:
            mode = os.stat(real).st_mode
            if not stat.S_ISREG(mode):
                raise ApacheConfigError(
                    f"{shown} is not a regular file", file=origin, line=origin_line
                )
            with open(real, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ApacheConfigError(
                f"cannot read {shown}: {exc.strerror or exc}", file=origin, line=origin_line
            ) from exc
        if len(data) > MAX_FILE_BYTES:
            raise ApacheConfigError(
                f"{shown} is larger than {MAX_FILE_BYTES} bytes", file=origin, line=origin_line
            )
        text, valid = decode_config(data)
        if not valid:
            self.notes.append(
                Note(message="file is not valid UTF-8; read byte for byte", file=shown)
            )
        log.debug("reading %s", shown)
        self.files.append(shown)
        self.include_stack.append(real)
        try:
            self._process(text, shown, container)
        finally:
            self.include_stack.pop()

    def _process(self, text: str, file: str, root: list[Directive]) -> None:
        lines = list(logical_lines(text))
        stack: list[_Frame] = []
        index = 0
        while index < len(lines):
            number, raw = lines[index]
            index += 1
            words = split_words(self._substitute(raw, file, number))
            if not words:
                continue
            head = words[0]
            if head.startswith("</"):
                self._close(stack, head, words, file, number)
                continue
            container = self._container(stack, root)
            if head.startswith("<"):
                name, args = self._section_words(words, file, number)
                lowered = name.lower()
                if lowered in _CONDITIONALS:
                    if self._condition(lowered, args, file, number):
                        stack.append(_Frame(lowered, None, number))
                    else:
                        index = self._skip(lines, index, name, file, number)
                    continue
                node = Directive(name, tuple(args), file, number, [])
                container.append(node)
                stack.append(_Frame(lowered, node, number))
                continue
            self._directive(head, words[1:], file, number, container)
        if stack:
            frame = stack[-1]
            raise ApacheConfigError(
                f"<{frame.node.name if frame.node else frame.name}> was not closed",
                file=file,
                line=frame.line,
            )

    @staticmethod
    def _container(stack: list[_Frame], root: list[Directive]) -> list[Directive]:
        for frame in reversed(stack):
            if frame.node is not None:
                assert frame.node.children is not None
                return frame.node.children
        return root

    @staticmethod
    def _section_words(words: list[str], file: str, number: int) -> tuple[str, list[str]]:
        name = words[0][1:]
        args = words[1:]
        if name.endswith(">") and not args:
            return name[:-1], []
        if not args or not args[-1].endswith(">"):
            raise ApacheConfigError(
                f"<{name}> directive missing closing '>'", file=file, line=number
            )
        last = args[-1][:-1]
        args = args[:-1] + ([last] if last else [])
        return name, args

    @staticmethod
    def _close(stack: list[_Frame], head: str, words: list[str], file: str, number: int) -> None:
        name = head[2:]
        if name.endswith(">"):
            name = name[:-1]
        elif len(words) > 1 and words[1] == ">":
            pass
        if not stack:
            raise ApacheConfigError(
                f"</{name}> without matching <{name}> section", file=file, line=number
            )
        frame = stack.pop()
        if frame.name != name.lower():
            opened = frame.node.name if frame.node else frame.name
            raise ApacheConfigError(
                f"Expected </{opened}> but saw </{name}>", file=file, line=number
            )

    @staticmethod
    def _skip(lines: list[tuple[int, str]], index: int, name: str, file: str, number: int) -> int:
        """Skip a false conditional section without evaluating it (ap_soak_end_container)."""
        expected = [name]
        while index < len(lines):
            line_number, raw = lines[index]
            index += 1
            words = split_words(raw)
            if not words or not words[0].startswith("<"):
                continue
            head = words[0]
            if head.startswith("</"):
                closing = head[2:].removesuffix(">")
                if closing.lower() != expected[-1].lower():
                    raise ApacheConfigError(
                        f"Expected </{expected[-1]}> but saw </{closing}>",
                        file=file,
                        line=line_number,
                    )
                expected.pop()
                if not expected:
                    return index
            else:
                expected.append(head[1:].removesuffix(">"))
        raise ApacheConfigError(f"<{name}> was not closed", file=file, line=number)

    # -- conditions --------------------------------------------------------------

    def _condition(self, kind: str, args: list[str], file: str, number: int) -> bool:
        if kind == "ifversion":
            return self._if_version(args, file, number)
        if len(args) != 1:
            raise ApacheConfigError(f"<{kind}> takes one argument", file=file, line=number)
        argument = args[0]
        negate = argument.startswith("!")
        if negate:
            argument = argument[1:]
        if kind == "ifmodule":
            result = self._module_loaded(argument)
        elif kind == "ifdefine":
            result = argument in self.defines
        elif kind == "iffile":
            path = self._tree_path(argument)
            result = self.fs.resolve(path).exists()
        else:
            # <IfDirective>/<IfSection>: tcpaudit cannot know every directive a
            # third-party module registers; it assumes the ones it has seen used.
            result = False
            self.notes.append(
                Note(
                    message=f"<{kind} {argument}> assumed false: registered directives are not known",
                    file=file,
                    line=number,
                )
            )
        return result != negate

    def _if_version(self, args: list[str], file: str, number: int) -> bool:
        if "version_module" not in self.modules:
            raise ApacheConfigError(
                "Invalid command '<IfVersion', perhaps misspelled or defined by a module "
                "not included in the server configuration",
                file=file,
                line=number,
            )
        if not args or len(args) > 2:
            raise ApacheConfigError(
                "<IfVersion> takes one or two arguments", file=file, line=number
            )
        operator, wanted = ("=", args[0]) if len(args) == 1 else (args[0], args[1])
        negate = operator.startswith("!")
        operator = operator.removeprefix("!")
        current = ".".join(str(part) for part in self.version)
        if operator == "~" or (wanted.startswith("/") and wanted.endswith("/") and len(wanted) > 1):
            pattern = wanted.strip("/") if operator != "~" else wanted
            result = re.search(pattern, current) is not None
        elif operator in _VERSION_OPERATORS:
            target = _version_tuple(wanted)
            mine = self.version + (0,) * (3 - len(self.version))
            result = {
                "=": mine == target,
                "==": mine == target,
                ">": mine > target,
                ">=": mine >= target,
                "<": mine < target,
                "<=": mine <= target,
            }[operator]
        else:
            raise ApacheConfigError(
                f"unknown <IfVersion> operator {operator!r}", file=file, line=number
            )
        return result != negate

    # -- directives executed while reading ---------------------------------------

    def _directive(
        self, name: str, args: list[str], file: str, number: int, container: list[Directive]
    ) -> None:
        key = name.lower()
        if key in ("include", "includeoptional"):
            if len(args) != 1:
                raise ApacheConfigError(f"{name} takes one argument", file=file, line=number)
            optional = key == "includeoptional"
            for real in self._expand_include(args[0], optional, file, number):
                self.read_file(real, container, file, number)
            return
        if key == "define":
            if not 1 <= len(args) <= 2:
                raise ApacheConfigError("Define takes one or two arguments", file=file, line=number)
            self.defines[args[0]] = args[1] if len(args) == 2 else ""
        elif key == "undefine":
            if len(args) != 1:
                raise ApacheConfigError("UnDefine takes one argument", file=file, line=number)
            self.defines.pop(args[0], None)
        elif key == "loadmodule":
            if len(args) != 2:
                raise ApacheConfigError("LoadModule takes two arguments", file=file, line=number)
            if args[0] in self.modules:
                # httpd skips a module that is already loaded, with a warning (AH01574).
                self.notes.append(
                    Note(
                        message=f"module {args[0]} is already loaded, skipping",
                        file=file,
                        line=number,
                    )
                )
            else:
                self._add_module(args[0])
        elif key == "serverroot" and len(args) == 1:
            self.server_root = PurePosixPath("/", args[0])
        container.append(Directive(name, tuple(args), file, number))

    def _tree_path(self, value: str) -> PurePosixPath:
        path = PurePosixPath(value)
        return path if path.is_absolute() else self.server_root / path

    def _expand_include(self, pattern: str, optional: bool, file: str, number: int) -> list[Path]:
        tree = self._tree_path(pattern)
        parts = tree.parts[1:]
        if not any(_WILDCARD.search(part) for part in parts):
            real = self.fs.resolve(tree)
            if real.is_dir():
                return self._directory_files(real)
            if real.exists() or not optional:
                return [real]
            return []
        current = [self.fs.root]
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            following: list[Path] = []
            for base in current:
                base_real = self.fs.resolve(self.fs.tree_path(base))
                if not _WILDCARD.search(part):
                    following.append(base_real / part)
                    continue
                try:
                    names = sorted(os.listdir(base_real))
                except OSError:
                    continue
                for entry in names:
                    if entry.startswith(".") and not part.startswith("."):
                        continue
                    if not fnmatch.fnmatchcase(entry, part):
                        continue
                    candidate = self.fs.resolve(self.fs.tree_path(base_real / entry))
                    if last or candidate.is_dir():
                        following.append(candidate)
            current = following
        found: list[Path] = []
        for candidate in current:
            if candidate.is_dir():
                found.extend(self._directory_files(candidate))
            elif candidate.exists():
                found.append(candidate)
        if not found and not optional and self.version >= (2, 4):
            raise ApacheConfigError(
                f"No matches for the wildcard '{tree.name}' in '{tree.parent}', failing",
                file=file,
                line=number,
            )
        return found

    def _directory_files(self, directory: Path) -> list[Path]:
        found: list[Path] = []
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise ApacheConfigError(
                f"cannot read directory {self.fs.display(directory)}: {exc.strerror}"
            ) from exc
        for name in names:
            candidate = self.fs.resolve(self.fs.tree_path(directory / name))
            if candidate.is_dir():
                found.extend(self._directory_files(candidate))
            elif candidate.exists():
                found.append(candidate)
        return found


def _version_tuple(text: str) -> tuple[int, int, int]:
    numbers = [int(part) for part in re.findall(r"\d+", text)[:3]]
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def evaluate(
    fs: RootFS,
    main_file: Path,
    *,
    server_root: PurePosixPath,
    version: tuple[int, ...],
    compiled_in: Iterable[str],
    defines: Iterable[str] = (),
    environment: Mapping[str, str] | None = None,
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

    Raises:
        ApacheConfigError: for anything httpd would refuse while reading.
    """
    evaluator = _Evaluator(fs, server_root, version, compiled_in, defines, environment or {})
    root: list[Directive] = []
    evaluator.read_file(main_file, root, fs.display(main_file), None)
    return EvaluationResult(
        directives=root,
        files=evaluator.files,
        modules=list(evaluator.modules),
        defines=evaluator.defines,
        server_root=evaluator.server_root,
        notes=evaluator.notes,
    )
