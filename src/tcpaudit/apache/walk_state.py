"""What a walk of the tree remembers between directives, for the handlers' checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .memory import MemoryGuard
from .proxy_params import ProxyWorkers
from .tree import Directive

__all__ = ["LONGEST_JUDGED_TEXT", "WalkState"]

# Handlers that read a text character by character in Python (an error log
# format: 15 s for 64 MiB of "%a") judge one of at most 1 MiB (about 0.25 s)
# and have the load's CPU bound checked after each 1 MiB judged.
LONGEST_JUDGED_TEXT = 1 << 20
_CHECK_AFTER_CHARACTERS = 1 << 20


@dataclass
class WalkState:
    """What a walk of the tree remembers between directives."""

    modules: frozenset[str]
    source_names: frozenset[str] = frozenset()
    # (address or None for every address, port) of the Listen lines so far.
    listeners: set[tuple[str | None, int, str | None]] = field(default_factory=set)
    # mod_proxy's workers so far, per server: 0 the main one, else the vhost's id.
    proxy_workers: ProxyWorkers = field(default_factory=ProxyWorkers)
    scope: int = 0
    # HttpProtocolOptions set so far, per server (a server config's bits).
    protocol_options: dict[int, set[str]] = field(default_factory=dict)
    # The path of the <Proxy>/<ProxyMatch> section being walked, if any.
    proxy_section: str | None = None
    proxy_section_written: str | None = None  # as written: ProxySet reads it so
    proxy_match: bool = False
    # httpd's cmd->path: the path of the innermost section giving one (a
    # BalancerMember takes its balancer from it), None at server level.
    section_path: str | None = None
    # The names Require finds (None: any, a module tcpaudit does not know may
    # register one), and the methods <Limit> sections registered so far.
    authz_providers: set[str] | None = None
    methods: set[str] = field(default_factory=set)
    authz_aliases: set[str] = field(default_factory=set)
    raw_texts: Mapping[int, str] = field(default_factory=dict)
    # The directives an access log format may use; None when a loaded module
    # tcpaudit does not know may register more (no format is judged).
    log_letters: frozenset[str] | None = None
    # The socache providers SSLSessionCache may name; None as for log_letters.
    socache_providers: tuple[str, ...] | None = None
    # The output filters AddOutputFilterByType may name (output_filters.py); None: not judged.
    output_filters: frozenset[str] | None = None
    # The mutex types Mutex may name (module_arguments.mutex_types); None as for log_letters.
    mutex_types: frozenset[str] | None = None
    # The section whose own directory configuration the walk is in (id of
    # its node; 0 the main server's), and per such section whether its
    # IndexOptions are None after its lines so far.
    config_section: int = 0
    index_options_none: dict[int, bool] = field(default_factory=dict)
    # The load's bounds, and the characters judged since they were last checked.
    guard: MemoryGuard | None = None
    judged_characters: int = 0

    def judging(self, characters: int, directive: Directive) -> bool:
        """Whether a handler reading ``characters`` one by one should judge
        them (not past LONGEST_JUDGED_TEXT: accepted); raises ApacheConfigError,
        naming the directive's line, once the load is past its CPU bound."""
        if characters > LONGEST_JUDGED_TEXT:
            return False
        self.judged_characters += characters
        if self.judged_characters > _CHECK_AFTER_CHARACTERS and self.guard is not None:
            self.judged_characters = 0
            self.guard.check(directive.file, directive.line)
        return True
