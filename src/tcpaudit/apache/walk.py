"""What httpd's walk of the configuration tree refuses, in the order it walks.

httpd reads every file first (``evaluator.py``), then walks the tree and
calls each directive's handler (``ap_walk_config`` in server/config.c). This
module repeats the checks of that walk that do not depend on the host: a
directive no loaded module registers ("Invalid command"), one used where its
module does not allow it ("not allowed here", from ``apache2 -L``'s "Allowed
in"), a section nested where core.c refuses it, and the errors the evaluator
found while reading but httpd reports only here (a section missing its
``>``). ``effective.validate_directive`` adds the values tcpaudit tracks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping

from ..errors import ApacheConfigError
from ..provenance import Note
from .arity import arity_error
from .authz import (
    AUTHZ_SECTIONS,
    authz_providers,
    authz_section_error,
    limit_methods,
    only_negative_error,
)
from .directives import (
    PROXY_SECTION_DIRECTIVES,
    allowed_by_authconfig,
    canonical_name,
    directive_owners,
    probed_version,
    similar_directive,
)
from .handlers import (
    WalkState,
    as_passed,
    handler_error,
    module_names,
    proxy_section_arguments_error,
)
from .log_formats import log_format_letters
from .memory import MemoryGuard
from .module_arguments import mutex_types, socache_providers
from .output_filters import output_filters
from .pcre_refusals import PatternDeadlineError, pattern_deadline, pcre_refuses
from .places import context_error
from .proxy_params import proxy_section_path, section_path
from .secret_words import redact_text
from .section_checks import empty_section_error, section_error
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .walk_verdicts import (
    BOM,
    CONTEXT,
    HANDLER,
    INVALID,
    NOT_ALLOWED,
    OK,
    SKIP,
    UNKNOWN,
    WORDS,
    Verdicts,
)

__all__ = ["check_commands", "invalid_command"]

# Unknown directive names noted one by one; the rest are counted in one note
# (each note looks for a similar known name: 5 ms, and 20,000 names took 100 s).
MAX_UNKNOWN_NOTED = 100

# Plain lines remembered as passed per walk (a bound on what the memo holds).
_REMEMBERED_LINES = 65_536
# Sections that give their contents a directory context (cmd->path) and the
# checks core.c's section handlers make with ap_check_cmd_context.
_PATH_SECTIONS = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "files", "filesmatch",
     "if", "elseif", "else", "proxy", "proxymatch"}
)  # fmt: skip
_LIMITS = frozenset({"limit", "limitexcept"})
_LIMITED = _LIMITS | {"requireall", "requireany", "requirenone"}
# Directives whose handler registers the method they name (ap_method_register).
_REGISTERING_METHODS = frozenset({"registerhttpmethod", "script"})
# Sections whose handler also refuses a limited context (NOT_IN_LIMIT).
_NOT_IN_LIMIT = frozenset({"files", "filesmatch", "if", "elseif", "else"})
# Sections whose contents are read in a directory context: the path sections
# and the provider aliases (cmd->override OR_AUTHCFG|ACCESS_CONF: an
# AuthUserFile is allowed there; a directive allowed anywhere, such as
# Options, which httpd refuses there, is not told apart).
_DIRECTORY_CONTEXTS = _PATH_SECTIONS | {"authnprovideralias", "authzprovideralias"}
# Sections read into a directory configuration of their own (a vhost's is its server's).
_OWN_CONFIG = _DIRECTORY_CONTEXTS | {"virtualhost"}
_PROXY_SECTIONS = frozenset({"proxy", "proxymatch"})
# Sections that set the overrides their contents are read with; <Files>,
# <If> and <Limit> inside one keep them (core.c: only without a path).
_SETTING_OVERRIDES = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "virtualhost", "proxy",
     "proxymatch"}
)  # fmt: skip


# Sections whose path may be a regular expression (…Match, or "~" first).
_REGEX_SECTIONS = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "files", "filesmatch",
     "proxymatch"}
)  # fmt: skip


def _section_regex(section: Directive) -> str | None:
    """The regular expression a section's handler compiles, or None."""
    args = section.args
    if section.key.endswith("match") or (args[:1] == ("~",) and len(args) > 1):
        return section_path(section)  # cmd->path, a <ProxyMatch>'s without "proxy:"
    return None


def _in_proxy(sections: tuple[str, ...]) -> bool:
    """Whether httpd reads this place with PROXY_CONF: inside a <Proxy> or
    <ProxyMatch>, through sections that keep its overrides."""
    for name in reversed(sections):
        if name in _SETTING_OVERRIDES:
            return name in _PROXY_SECTIONS
    return False


# Sections whose own checks mod_authz_core makes once their contents are read.
_AUTHZ_CHECKED = frozenset({*AUTHZ_SECTIONS, "authzprovideralias"})
_NOT_IN_DIR_CONTEXT = frozenset(
    {"directory", "directorymatch", "location", "locationmatch", "proxy", "proxymatch"}
)


def _in_authz_section(sections: tuple[str, ...]) -> bool:
    """Whether a Require section encloses these lines (through <Limit>s), where
    add_authz_section lets only AllowOverride AuthConfig's directives in."""
    for name in reversed(sections):
        if name in AUTHZ_SECTIONS:
            return True
        if name not in _LIMITS:
            return False
    return False


def _section_context_error(key: str, sections: tuple[str, ...]) -> str | None:
    """What core.c says when a section is nested where it may not be (2.4)."""
    name = key.lstrip("<")
    shown = f"{canonical_name(key) or key}>"
    if name == "virtualhost" and "virtualhost" in sections:
        return f"{shown} cannot occur within <VirtualHost> section"
    limited = _LIMITED & set(sections)  # a Require section reads its contents as limited
    if name == "virtualhost" or name in _NOT_IN_DIR_CONTEXT:
        if limited:
            return f"{shown} cannot occur within <Limit> or <LimitExcept> section"
        if _PATH_SECTIONS & set(sections):
            return f"{shown} cannot occur within directory context"
    if name in _NOT_IN_LIMIT and limited:
        return f"{shown} cannot occur within <Limit> or <LimitExcept> section"
    if name in ("files", "filesmatch"):
        for parent in ("location", "locationmatch"):
            if parent in sections:
                return f"{shown} cannot occur within {canonical_name('<' + parent)}> section"
    return None


# mod_proxy's lines are judged around a hidden password or parameter value
# (proxy_params.py), as the reader hides only those parts of their words.
_JUDGED_AROUND_SECRETS = frozenset({"proxypass", "proxypassmatch", "balancermember", "proxyset"})


def _hides_secret(key: str, words: tuple[str, ...]) -> bool:
    """Whether a word holds the placeholder of a secret the reader hid (a
    secret-named Define's value: ``Listen ${TOKEN_PORT}``): httpd judges the
    value, tcpaudit cannot, so it refuses nothing for those words (but on
    mod_proxy's lines, whose handlers judge around the placeholder)."""
    return key not in _JUDGED_AROUND_SECRETS and any(REDACTED_VALUE in word for word in words)


def check_commands(
    directives: list[Directive],
    modules: Iterable[str],
    version: tuple[int, ...],
    *,
    deferred: Mapping[int, str] | None = None,
    raw_texts: Mapping[int, str] | None = None,
    validate: Callable[[Directive, tuple[str, ...]], None] | None = None,
    validated: Collection[str] | None = None,
    guard: MemoryGuard | None = None,
    lua_authz_providers: Collection[str] = (),
) -> list[Note]:
    """Walk the tree as httpd does after reading it, refusing what it refuses, in order.

    httpd reads every file first and only then walks the tree, so a module
    loaded after the directive that needs it still counts (ap_walk_config).
    For each directive, in tree order: a directive no loaded module registers
    is an "Invalid command"; then its own handler may refuse it (``deferred``
    errors found while reading, such as a section missing its ``>``, and
    ``validate`` for the values tcpaudit understands).

    Args:
        directives: the effective tree.
        modules: identifiers of the loaded modules.
        version: the Apache version.
        deferred: ``id(directive)`` -> the error its handler gives.
        raw_texts: ``id(directive)`` -> the text after the name of a
            ``Require``, ``RewriteRule`` or ``RewriteCond`` where its words may
            not show it (authz.require_error, rewrite_args).
        validate: called with each directive and the names of its sections.
        validated: the lower-cased names ``validate`` needs to see (None: all);
            it is not called for the others.
        lua_authz_providers: the names LuaAuthzProvider registered while reading.

    Returns:
        Notes for directives no known module registers (third-party modules).

    Raises:
        ApacheConfigError: the first refusal, with the directive's file and line.
    """
    verdicts = Verdicts(set(modules), version, validated if validate is not None else ())
    loaded = frozenset(modules)
    state = WalkState(
        loaded,
        module_names(loaded),
        authz_providers=authz_providers(loaded, verdicts.unknown_modules, lua_authz_providers),
        raw_texts=raw_texts or {},
        log_letters=log_format_letters(loaded) if verdicts.unknown_modules == [] else None,
        socache_providers=socache_providers(loaded) if verdicts.unknown_modules == [] else None,
        mutex_types=mutex_types(loaded) if verdicts.unknown_modules == [] else None,
        output_filters=(
            output_filters(loaded) if verdicts.unknown_modules == [] and version >= (2, 4) else None
        ),
        guard=guard,
    )
    # The first configuration whose authorization list holds only negative
    # directives: httpd says so once everything is read (AH01624).
    negative_only: tuple[Directive, str] | None = None
    notes: list[Note] = []
    unknown: set[str] = set()
    first_unnoted: Directive | None = None  # the first unknown name past the limit
    errors = deferred or {}
    modern = version >= (2, 4)
    # (section key, enclosing sections) -> core.c's nesting error, or None.
    misplaced: dict[tuple[str, tuple[str, ...]], str | None] = {}
    # (key, words) that handlers judging the words alone let pass.
    passed: set[tuple[str, tuple[str, ...]]] = set()
    # (sections around, directory context) -> (key, words) of the plain lines
    # that passed every check there: what each check of such a line says
    # depends on nothing else (not a handler reading the walk's state, not a
    # line validate reads or a method registering one), and vhosts repeat most
    # of their lines word for word. Bounded as the reader's memo is.
    passed_lines: dict[tuple[tuple[str, ...], bool], set[tuple[str, tuple[str, ...]]]] = {}
    remembered = 0

    known = verdicts.known

    def walk(
        nodes: list[Directive],
        sections: tuple[str, ...],
        spelled: tuple[str, ...],
        in_directory: bool,
    ) -> None:
        nonlocal first_unnoted, negative_only, remembered
        # <If>, <ElseIf> or <Else> last seen in this scope (ap_add_if_conf).
        last_condition = ""
        # In a Require section httpd takes AllowOverride AuthConfig's directives only.
        authz_only = modern and _in_authz_section(sections)
        passed_here = passed_lines.setdefault((sections, in_directory), set())
        try:
            for directive in nodes:
                children = directive.children
                if (
                    children is None
                    and (directive.key, directive.args) in passed_here
                    and not (errors and id(directive) in errors)
                ):
                    continue
                key = directive.key if children is None else "<" + directive.key
                verdict = known.get(key) or verdicts.of(key)
                status = verdict[in_directory]
                if (
                    status == NOT_ALLOWED
                    and key in PROXY_SECTION_DIRECTIVES
                    and _in_proxy(sections)
                ):
                    status = OK
                if (
                    authz_only
                    and status in (OK, NOT_ALLOWED)
                    and allowed_by_authconfig(key) is False
                ):
                    shown = canonical_name(key) or (
                        directive.name if children is None else "<" + directive.name
                    )
                    parent = canonical_name("<" + sections[-1]) or "<" + spelled[-1]
                    raise ApacheConfigError(
                        f"{shown} not allowed in {parent}> context",
                        file=directive.file,
                        line=directive.line,
                    )
                if status:
                    if status == SKIP:
                        continue
                    if status == UNKNOWN:
                        if key not in unknown:
                            unknown.add(key)
                            if len(unknown) <= MAX_UNKNOWN_NOTED:
                                notes.append(
                                    _unknown_note(directive, key, verdicts.unknown_modules, version)
                                )
                            elif first_unnoted is None:
                                first_unnoted = directive
                    elif status == INVALID:
                        _invalid(directive)
                    else:
                        shown = canonical_name(key) or (
                            directive.name if children is None else "<" + directive.name
                        )
                        # invoke_cmd names the enclosing section when there is one.
                        where = (
                            f"in {canonical_name('<' + sections[-1]) or '<' + spelled[-1]}> context"
                            if sections
                            else "here"
                        )
                        raise ApacheConfigError(
                            f"{shown} not allowed {where}", file=directive.file, line=directive.line
                        )
                if children is not None and modern:
                    context = (key, sections)
                    if context not in misplaced:
                        misplaced[context] = _section_context_error(key, sections)
                    error = misplaced[context]
                    if error is not None:
                        raise ApacheConfigError(error, file=directive.file, line=directive.line)
                if errors and id(directive) in errors:
                    raise ApacheConfigError(
                        errors[id(directive)], file=directive.file, line=directive.line
                    )
                if children is not None and modern and directive.key in _REGEX_SECTIONS:
                    pattern = _section_regex(directive)
                    if pattern is not None and pcre_refuses(pattern):
                        # The section's handler compiles it before its contents are read.
                        raise ApacheConfigError(
                            "Regex could not be compiled", file=directive.file, line=directive.line
                        )
                arity = verdict[3]
                if arity is not None:
                    # invoke_cmd counts the words before the handler sees them. Most
                    # lines pass the quick test; arity_error decides the others.
                    words = directive.args
                    if not arity[0] <= len(words) <= arity[1] or "" in words:
                        # invoke_cmd names the directive as its module registers it.
                        registered = canonical_name(directive.key) or directive.name
                        message = arity_error(arity[2], registered, words)
                        if message is not None and not _hides_secret(key, words):
                            raise ApacheConfigError(
                                message, file=directive.file, line=directive.line
                            )
                checks = verdict[4]
                # An ITERATE2 handler with an empty second word is never called.
                judged = (
                    as_passed(directive)
                    if checks and ("" in directive.args or len(directive.args) > 64)
                    else directive
                )
                if checks and judged is not None:
                    message = context_error(judged, sections, spelled) if checks & CONTEXT else None
                    if message is None and checks & HANDLER:
                        if checks & WORDS:
                            # Thousands of vhosts repeat "Options -Indexes": judged once.
                            words_key = (key, directive.args)
                            if words_key not in passed:
                                message = handler_error(judged, state, sections)
                                if message is None:
                                    passed.add(words_key)
                        else:
                            message = handler_error(judged, state, sections)
                        if message is not None and _hides_secret(key, directive.args):
                            message = None
                    if message is not None:
                        raise ApacheConfigError(message, file=directive.file, line=directive.line)
                if verdict[2] and validate is not None:
                    validate(directive, sections)
                if children is not None and modern:
                    message = empty_section_error(directive)
                    if message is not None:
                        raise ApacheConfigError(message, file=directive.file, line=directive.line)
                # A <Macro> kept in the tree (mod_macro loaded only after it) is run by
                # its handler at walk time, which never walks the body.
                if modern and (
                    (children is not None and directive.key in _LIMITS)
                    or (children is None and directive.key in _REGISTERING_METHODS)
                ):
                    limit_methods(directive, state.methods)
                if children is None:
                    if (
                        status == OK
                        and remembered < _REMEMBERED_LINES
                        and not (verdict[2] and validate is not None)
                        and (not checks & HANDLER or checks & WORDS)
                        and directive.key not in _REGISTERING_METHODS
                    ):
                        passed_here.add((directive.key, directive.args))
                        remembered += 1
                    continue
                if children and key != "<macro":
                    saved = (state.scope, state.proxy_section, state.proxy_section_written,
                             state.proxy_match, state.section_path, state.config_section)  # fmt: skip
                    if directive.key in _OWN_CONFIG:
                        state.config_section = id(directive)
                    if directive.key == "virtualhost":
                        state.scope = id(directive)  # a vhost's own server config
                        state.section_path = None
                    elif directive.key in ("proxy", "proxymatch") and directive.args:
                        state.proxy_section = proxy_section_path(directive.args[0])
                        state.proxy_section_written = directive.args[0]
                        state.proxy_match = directive.key == "proxymatch"
                    if directive.key in _PATH_SECTIONS:
                        state.section_path = section_path(directive)
                    walk(
                        children,
                        (*sections, directive.key),
                        (*spelled, directive.name),
                        in_directory or directive.key in _DIRECTORY_CONTEXTS,
                    )
                    (state.scope, state.proxy_section, state.proxy_section_written,
                     state.proxy_match, state.section_path, state.config_section) = saved  # fmt: skip
                if directive.key in ("proxy", "proxymatch") and modern and children is not None:
                    message = proxy_section_arguments_error(directive, state)
                    if message is not None:
                        raise ApacheConfigError(message, file=directive.file, line=directive.line)
                if children is not None and modern:
                    message = section_error(directive)
                    if message is None and directive.key in _AUTHZ_CHECKED:
                        message = authz_section_error(
                            directive,
                            state.authz_providers,
                            state.methods,
                            sections,
                            state.authz_aliases,
                        )
                    if negative_only is None and directive.key in _DIRECTORY_CONTEXTS:
                        negative_only = only_negative_error(directive)
                    if message is None and key in ("<if", "<elseif", "<else"):
                        if key != "<if" and last_condition not in ("<if", "<elseif"):
                            message = (
                                "<Else> or <ElseIf> section without previous <If> or <ElseIf> "
                                "section in same scope"
                            )
                        last_condition = key
                    if message is not None:
                        raise ApacheConfigError(message, file=directive.file, line=directive.line)
        except PatternDeadlineError:
            # A long pattern past the load's CPU time bound: its error, at this line.
            if guard is not None:
                guard.check(directive.file, directive.line)
            raise ApacheConfigError(
                "reading the configuration takes too long", file=directive.file, line=directive.line
            ) from None

    # The walk's pattern checks count in the load's CPU time (pcre_refusals).
    with pattern_deadline(guard.started + guard.seconds if guard is not None else math.inf):
        walk(directives, (), (), False)
    if negative_only is not None:
        section, message = negative_only
        raise ApacheConfigError(
            f"{message} (httpd says so once it has read the configuration, naming no line: "
            "this is the section's)",
            file=section.file,
            line=section.line,
        )
    if first_unnoted is not None:
        notes.append(
            Note(
                message=f"{len(unknown) - MAX_UNKNOWN_NOTED} more directive names not known to "
                f"tcpaudit left out of these notes, the first {redact_text(first_unnoted.name)}",
                file=first_unnoted.file,
                line=first_unnoted.line,
            )
        )
    return notes


def _unknown_note(
    directive: Directive, key: str, modules: list[str] | None, version: tuple[int, ...]
) -> Note:
    if modules:
        shown = ", ".join(modules[:3]) + (
            f" and {len(modules) - 3} more" if len(modules) > 3 else ""
        )
        provider = f"a loaded module whose directives it does not know ({shown}) may provide it"
    elif version >= (2, 4):
        release = ".".join(map(str, probed_version()))
        provider = f"this httpd is newer than {release}, whose directives tcpaudit knows"
    else:
        provider = "assuming a loaded module of this httpd 2.2 provides it"
    # A stray line may be a URL with its password (a broken continuation).
    message = f"directive {redact_text(directive.name)} is not known to tcpaudit; {provider}"
    similar = similar_directive(key) if not key.startswith("<") else None
    if similar is not None:
        # A typo of a known directive is an "Invalid command" for httpd.
        message += f" (did you mean {similar}? httpd refuses to start on a misspelled directive)"
    return Note(message=message, file=directive.file, line=directive.line)


def invalid_command(directive: Directive) -> str:
    """httpd's message for a directive no loaded module registers (and a likely fix)."""
    shown = redact_text(directive.name if directive.children is None else "<" + directive.name)
    message = (
        f"Invalid command '{shown}', perhaps misspelled or defined by a module not "
        "included in the server configuration"
    )
    if directive_owners(directive.key if directive.children is None else "<" + directive.key,
                        (2, 4)) is None and directive.children is None:  # fmt: skip
        similar = similar_directive(directive.key)
        if similar is not None:
            message += f" (did you mean {similar}?)"
    if BOM in shown:
        # Invisible in the message and in most editors: say what is there.
        message = message.replace(BOM, "\\ufeff") + (
            " (the name starts with a byte-order mark, U+FEFF, which httpd on Unix reads "
            "as part of the name, even at the start of a file: save the file without it)"
        )
    return message


def _invalid(directive: Directive) -> None:
    raise ApacheConfigError(invalid_command(directive), file=directive.file, line=directive.line)
