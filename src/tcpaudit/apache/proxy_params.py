"""mod_proxy's checks of ProxyPass, ProxyPassMatch and BalancerMember (2.4).

add_pass and add_member (mod_proxy.c) read the words: the path (unless a
``<Location>`` gives it), the backend, the flags ``nocanon``, ``interpolate``
and ``noquery``, then ``key=value`` parameters into a table (a repeated key,
whatever its case, keeps its last value, in the place of its first). A
``!`` backend takes no parameter. A ``balancer://`` backend gets balancer
parameters (set_balancer_param); another gets worker ones
(set_worker_param), unless a worker of this server already covers its URL
(the longest worker name that is a prefix of it and spans its
``scheme://host``): then the parameters are ignored with a warning
(AH01146), not checked. Each refusal is httpd's message.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .includes import has_wildcard
from .pcre_refusals import pcre_refuses
from .proxy_parameters import balancer_parameter_error, worker_parameter_error
from .shell_state import REDACTED_VALUE
from .tree import Directive
from .values import InvalidValueError

__all__ = [
    "ProxyWorkers",
    "WorkerNames",
    "balancer_key",
    "balancer_member_error",
    "balancer_name_error",
    "proxy_pass_error",
    "proxy_section_error",
    "proxy_section_path",
    "proxy_set_error",
    "section_path",
    "shown_url",
    "worker_covering",
    "worker_name",
]

_FLAGS = frozenset({"nocanon", "interpolate", "noquery"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HOSTNAME_SIZE = 256  # (mod_proxy.h: PROXY_RFC1035_HOSTNAME_SIZE)


class WorkerNames:
    """Worker names by their ``scheme://host[:port]``: a URL is covered only by
    a name of its own head, so a lookup reads those alone (20,000 ProxyPass
    lines to distinct backends were 200 million comparisons).

    ``matchable``: the workers of ProxyPassMatch lines, whose names httpd
    compares as patterns (a ``$N`` stands for any text: ap_proxy_strcmp_ematch),
    a name holding a ``$N`` without the head's bound (measured on apache2
    2.4.71: ``http://a$1`` covers ``http://abcdefgh/y``); a name whose head
    holds a ``$N`` (or a ``\\``) may then cover URLs of other heads: the
    first ``MAX_SPANNING_NAMES`` of those are read for every lookup."""

    def __init__(self, matchable: bool = False) -> None:
        self.matchable = matchable
        self._by_head: dict[str, list[str]] = {}
        self._spanning: list[str] = []

    def append(self, name: str) -> None:
        head = _head(name)
        if self.matchable and ("\\" in head or _reference_in(head)):
            if len(self._spanning) < MAX_SPANNING_NAMES:
                self._spanning.append(name)
            return
        self._by_head.setdefault(head, []).append(name)

    def candidates(self, looked: str) -> list[str]:
        found = self._by_head.get(_head(looked), [])
        return [*found, *self._spanning] if self._spanning else found


# Names of ProxyPassMatch workers compared with every URL looked up (each
# lookup reads them all: httpd does so for every worker, in C).
MAX_SPANNING_NAMES = 64


def _reference_in(text: str) -> bool:
    """Whether ``text`` holds a ``$N`` (a '$' then a digit)."""
    position = text.find("$")
    while position >= 0:
        if text[position + 1 : position + 2] in _DIGITS:
            return True
        position = text.find("$", position + 1)
    return False


def _pattern_match(text: str, name: str) -> bool:
    """ap_proxy_strcmp_ematch(text, name) == 0: ``name`` with each run of
    ``$N`` standing for any text (none included) and ``\\`` taking the next
    character as it is, a prefix of ``text``. Literal pieces are found
    leftmost first, which decides as the backtracking of httpd does."""
    pieces = _pattern_pieces(name)
    if pieces is None or not text.startswith(pieces[0]):
        return False
    position = len(pieces[0])
    for later in pieces[1:]:
        found = text.find(later, position)
        if found < 0:
            return False
        position = found + len(later)
    return True


@functools.lru_cache(maxsize=4096)
def _pattern_pieces(name: str) -> tuple[str, ...] | None:
    """The literal pieces between a name's ``$N`` runs (one empty last piece
    when it ends with one); None for a name ending with a lone ``\\``."""
    if "\\" not in name:
        return tuple(_REFERENCE_RUN.split(name))  # in C: most names, and long ones
    pieces: list[str] = []
    piece: list[str] = []
    position = 0
    # Only escapes and $N runs are looked at; the text between them is sliced.
    for token in _ESCAPE_OR_REFERENCES.finditer(name):
        piece.append(name[position : token.start()])
        position = token.end()
        text = token.group()
        if text[0] == "$":
            pieces.append("".join(piece))
            piece = []
        elif len(text) == 1:
            return None  # a lone "\\" at the end: httpd's "invalid" (-2), no match
        else:
            piece.append(text[1])
    piece.append(name[position:])
    pieces.append("".join(piece))
    return tuple(pieces)


_REFERENCE_RUN = re.compile(r"(?:\$[0-9])++")
_ESCAPE_OR_REFERENCES = re.compile(r"\\[\s\S]?|(?:\$[0-9])++")


def _head(url: str) -> str:
    """``scheme://host[:port]`` of a URL in its lookup form."""
    slash = url.find("/", url.find("://") + 3)
    return url if slash < 0 else url[:slash]


@dataclass
class ProxyWorkers:
    """The workers and balancers each server defined so far (a vhost's apart
    from the main server's; a balancer's members apart from the server's)."""

    by_scope: dict[object, WorkerNames] = field(default_factory=dict)
    balancers: dict[int, set[str]] = field(default_factory=dict)

    def names(self, scope: object) -> WorkerNames:
        found = self.by_scope.get(scope)
        if found is None:
            # (server, "match"): ProxyPassMatch's workers, compared as patterns.
            matchable = isinstance(scope, tuple) and scope[-1:] == ("match",)
            found = self.by_scope[scope] = WorkerNames(matchable)
        return found

    def balancer_names(self, scope: int) -> set[str]:
        return self.balancers.setdefault(scope, set())


def balancer_key(name: str) -> str:
    """A balancer's name as httpd keeps it: lower-cased, without its path."""
    colon = name.find(":")
    slash = name.find("/", colon + 3) if colon >= 0 else -1
    return (name if slash < 0 else name[:slash]).lower()


def balancer_name_error(name: str) -> str | None:
    """ap_proxy_define_balancer's check of a balancer name."""
    colon = name.find(":")
    if colon < 0 or name[colon + 1 : colon + 3] != "//" or len(name) <= colon + 3:
        return f"Bad syntax for a balancer name ({shown_url(name)})"
    return None


# Default ports, dropped from a worker's name (apr_uri_port_of_scheme, then
# mod_proxy's own: fcgi, ajp, scgi, h2c, h2, ws, wss).
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21", "gopher": "70", "nntp": "119",
                  "snews": "563", "wais": "210", "prospero": "191", "ssh": "22",
                  "telnet": "23", "ldap": "389", "rtsp": "554", "acap": "674", "nfs": "2049",
                  "tip": "3372", "pop": "110", "imap": "143", "sip": "5060", "fcgi": "8000",
                  "ajp": "8009", "scgi": "4000", "h2c": "80", "h2": "443", "ws": "80",
                  "wss": "443"}  # fmt: skip


def _lookup_form(url: str) -> str | None:
    """The URL as ap_proxy_get_worker_ex compares it: ``scheme://host[:port]``
    lower-cased, the path as written; None without ``://`` and a host."""
    colon = url.find(":")
    if colon < 0 or url[colon + 1 : colon + 3] != "//" or len(url) <= colon + 3:
        return None
    slash = url.find("/", colon + 3)
    head = url if slash < 0 else url[:slash]
    return head.lower() + ("" if slash < 0 else url[slash:])


def worker_name(url: str) -> str | None:
    """The name a worker defined for ``url`` gets: its lookup form with the
    scheme's default port dropped (``http://b:80/`` is ``http://b/``; so is
    ``http://b:+080/``, as apr reads a port)."""
    looked = _lookup_form(url)
    if looked is None:
        return None
    scheme, _, rest = looked.partition("://")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    host, colon, port = authority.rpartition(":")
    if colon and "]" not in port:
        number = port_number(port, scheme)
        if number is not None and number in (0, int(_DEFAULT_PORTS.get(scheme, "0"))):
            authority = host
    return f"{scheme}://{authority}{path}"


# apr_uri_parse reads a port with strtol: blanks, a sign, digits, nothing after.
_STRTOL_PORT = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)\Z")
_LONG = 2**63


def port_number(text: str, scheme: str) -> int | None:
    """The port apr_uri_parse reads from ``text`` (after a URL's ':'): the
    scheme's own for none, strtol's value kept to 16 bits (``-1`` is 65535),
    or None where apr refuses it ("Unable to parse URL")."""
    if not text:
        return int(_DEFAULT_PORTS.get(scheme, "0"))
    digits = _STRTOL_PORT.match(text)
    if digits is None:
        return None
    value = int(digits.group(2)) if len(digits.group(2)) < 30 else _LONG
    value = min(value, _LONG - 1) if digits.group(1) != "-" else -min(value, _LONG)
    return value & 0xFFFF


def _without_port_references(url: str) -> tuple[str, str]:
    """A ProxyPassMatch URL as ap_proxy_define_worker_ex parses it: the ``$N``
    written in its port cut out, with what follows it up to the path (``$N``
    only: another ``$`` stays and fails); returns (url, the part cut).

    Searched, not walked: a 32 MiB port took 49 s character by character."""
    start = url.find("://")
    if start < 0:
        return url, ""
    host_end = _HOST_END.search(url, start + 3)
    if host_end is None or host_end.group() != ":":
        return url, ""
    reference = _REFERENCE_OR_PATH.search(url, host_end.end())
    if reference is None or reference.group() == "/":
        return url, ""
    position = reference.start()
    slash = url.find("/", position + 2)
    path = len(url) if slash < 0 else slash
    return url[:position] + url[path:], url[position:path]


_HOST_END = re.compile(r"[:/]")
_REFERENCE_OR_PATH = re.compile(r"\$[0-9]|/")
_DIGITS = frozenset("0123456789")


def worker_covering(names: WorkerNames, url: str) -> str | None:
    """ap_proxy_get_worker_ex: the longest worker name that is a prefix of
    ``url`` (its lookup form) and spans at least its ``scheme://host[:port]``
    (a ProxyPassMatch worker's name: that matches it as a pattern, no longer
    than the URL), or None."""
    looked = _lookup_form(url)
    if looked is None:
        return None
    best = None
    least = len(_head(looked))
    if names.matchable:
        for worker in names.candidates(looked):
            if (
                len(worker) <= len(looked)
                and (best is None or len(worker) > len(best))
                and (least <= len(worker) or _reference_in(worker))
                and _pattern_match(looked, worker)
            ):
                best = worker
        return best
    for worker in names.candidates(looked):
        spans = least <= len(worker) <= len(looked) and looked.startswith(worker)
        if spans and (best is None or len(worker) > len(best)):
            best = worker
    return best


def shown_url(url: str) -> str:
    """A URL as error lines show it: whatever precedes an '@' after the last
    '/' before it (a password, even in a malformed URL) replaced."""
    if "@" not in url:
        return url
    head, _, tail = url.rpartition("@")
    cut = head.rfind("/") + 1
    return f"{head[:cut]}{REDACTED_VALUE}@{tail}"


def _wholly_hidden(url: str) -> bool:
    """A URL tcpaudit cannot read: a hidden value stands in its scheme, host
    or path (one in its userinfo, query or fragment leaves those readable)."""
    for separator in "/?#":
        # A password holding a separator, hidden with it kept (credentials.py).
        url = url.replace(f":{REDACTED_VALUE}{separator}{REDACTED_VALUE}@", ":@")
    head = url.split("?", 1)[0].split("#", 1)[0]
    if REDACTED_VALUE not in head:
        return False
    return REDACTED_VALUE in head.rpartition("@")[2] or "@" not in head


def _backend(url: str) -> str:
    """ap_proxy_de_socketfy: a ``unix:...|http://...`` URL's part after ``|``."""
    if url[:5].lower() == "unix:":
        bar = url.find("|")
        if bar < 0:
            raise InvalidValueError('uses an invalid "unix:" URL')
        return url[bar + 1 :]
    return url


def _absolute_error(url: str, match: bool = False) -> str | None:
    """ap_proxy_define_worker_ex's check of a backend URL (``match``: a
    ProxyPassMatch worker, whose ``$N`` in the port is cut out first)."""
    written = url
    if match:
        url = _without_port_references(url)[0]
    scheme = _SCHEME.match(url)
    if scheme is None or not url[scheme.end() :].startswith("//"):
        return f"URL must be absolute!: {shown_url(written)}"
    rest = url[scheme.end() + 2 :]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if host.startswith("["):
        # apr reads a port only where ':' follows the ']'; other text is no port.
        hostname, _, after = host.partition("]")
        port = after[1:] if after.startswith(":") else ""
    else:
        hostname, _, port = host.partition(":")
    if host.startswith("[") and "]" not in host:
        return f"Unable to parse URL: {shown_url(written)}"
    # httpd cuts a "$N" from the authority's first ':' on, which may have
    # been in a password hidden as it was read: the port is then not judged.
    hidden_cut = match and f"{REDACTED_VALUE}@" in rest.split("/", 1)[0]
    if port and not hidden_cut and port_number(port, scheme.group(1).lower()) is None:
        return f"Unable to parse URL: {shown_url(written)}"
    if not hostname or hostname == "[":
        return f"URL must be absolute!: {shown_url(written)}"
    if len(hostname.lstrip("[")) >= _HOSTNAME_SIZE:
        return f"worker hostname ({hostname.lstrip('[').lower()}) too long"
    return None


def _new_worker(workers: WorkerNames, written: str, real: str, match: bool = False) -> str | None:
    """ap_proxy_define_worker_ex for a URL no worker covers: its refusal, or
    None with the new worker's name added to ``workers``."""
    problem = _absolute_error(written if written[:5].lower() != "unix:" else real, match)
    if problem is None and (worker := defined_worker_name(real, match)) is not None:
        workers.append(worker)
    return problem


def defined_worker_name(url: str, match: bool) -> str | None:
    """The new worker's name: a ProxyPassMatch port's ``$N`` moved to the
    path's start, as httpd names it (``http://b:$1/`` is ``http://b$1/``)."""
    if not match:
        return worker_name(url)
    parsed, cut = _without_port_references(url)
    name = worker_name(parsed)
    if name is None or not cut:
        return name
    slash = name.find("/", name.find("://") + 3)
    return name + cut if slash < 0 else name[:slash] + cut + name[slash:]


def _new_balancer(balancers: set[str], name: str, checked: str) -> str | None:
    """ap_proxy_define_balancer for a name not yet defined (``checked`` as
    httpd checks it): its refusal, or None with the name added."""
    problem = balancer_name_error(checked)
    if problem is None:
        balancers.add(balancer_key(name))
    return problem


def _parameters(words: list[str]) -> dict[str, tuple[str, str]]:
    """The ``key=value`` words as an apr table (lower-cased key -> (key, value))."""
    table: dict[str, tuple[str, str]] = {}
    for word in words:
        key, _, value = word.partition("=")
        table[key.lower()] = (key, value)
    return table


def _hidden_values_left_out(table: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The parameters whose value tcpaudit can judge: a hidden secret's is
    httpd's to read, not tcpaudit's."""
    return {key: item for key, item in table.items() if REDACTED_VALUE not in item[1]}


def proxy_pass_error(
    key: str,
    words: tuple[str, ...],
    in_location: bool,
    defined: ProxyWorkers,
    scope: int,
    modules: frozenset[str],
    location_path: str | None = None,
) -> str | None:
    """add_pass's message for a ProxyPass (``key`` "proxypass") or ProxyPassMatch
    line, or None; a new worker or balancer is added to ``defined``. A
    ProxyPassMatch worker (or a ProxyPass's after '~', or in a location
    whose path ``location_path`` is a wildcard pattern) is looked up among
    match workers only, a ProxyPass one among prefix workers only."""
    path_given = in_location
    fake = location_path if in_location else None
    match = key == "proxypassmatch" or (
        in_location and location_path is not None and has_wildcard(location_path)
    )
    backend: str | None = None
    parameters: list[str] = []
    for word in words:
        if not path_given:
            if word == "~":
                if key == "proxypassmatch":
                    return "ProxyPassMatch invalid syntax ('~' usage)."
                match = True
                continue
            path_given = True
            fake = word
        elif backend is None:
            backend = word
        elif word.lower() in _FLAGS:
            continue
        elif "=" not in word:
            if in_location and backend.startswith("/"):
                return "ProxyPass|ProxyPassMatch can not have a path when defined in a location."
            return ("Invalid ProxyPass|ProxyPassMatch parameter. Parameter must be in the form "
                    "'key=value'.")  # fmt: skip
        elif word.partition("=")[0].lower() == "mapping":
            if word.partition("=")[2].lower() not in ("encoded", "servlet"):
                return "unknown mapping"
        else:
            parameters.append(word)
    if backend is None:
        return "ProxyPass|ProxyPassMatch needs a path when not defined in a location"
    try:
        real = _backend(backend)
    except InvalidValueError:
        return 'ProxyPass|ProxyPassMatch uses an invalid "unix:" URL'
    # A match worker's path is compiled (ap_pregcomp), a "!" route's too.
    if match and fake is not None and pcre_refuses(fake):
        return "Regular expression could not be compiled."
    if backend == "!":
        return None
    table = _hidden_values_left_out(_parameters(parameters))
    if backend[:9].lower() == "balancer:":
        balancers = defined.balancer_names(scope)
        if balancer_key(backend) not in balancers and not _wholly_hidden(backend):
            problem = _new_balancer(balancers, backend, backend)
            if problem is not None:
                return f"ProxyPass {problem}"
        for name, (_, value) in table.items():
            message = balancer_parameter_error(name, value, modules)
            if message is not None:
                return f"ProxyPass {message}"
        return None
    workers = defined.names((scope, "match" if match else "prefix"))
    if _wholly_hidden(real):
        # What it names is not known, nor whether a worker covers it: its
        # parameters are checked as a new worker's.
        shared = None
    else:
        shared = worker_covering(workers, real)
        if shared is None:
            problem = _new_worker(workers, backend, real, match)
            if problem is not None:
                return f"ProxyPass {problem}"
    if shared is None:
        for name, (_, value) in table.items():
            message = worker_parameter_error(name, value, modules)
            if message is not None:
                return f"ProxyPass {message}"
    return None


def balancer_member_error(
    words: tuple[str, ...],
    proxy_section: str | None,
    defined: ProxyWorkers,
    scope: int,
    modules: frozenset[str],
) -> str | None:
    """add_member's message for a BalancerMember line, or None. A member's
    worker joins its balancer's workers, not the server's."""
    path = proxy_section
    name: str | None = None
    parameters: list[str] = []
    for word in words:
        if "=" in word:
            parameters.append(word)
        elif path is None:
            path = word
        elif name is None:
            name = word
        elif proxy_section is not None:
            return "BalancerMember can not have a balancer name when defined in a location"
        else:
            return ("Invalid BalancerMember parameter. Parameter must be in the form "
                    "'key=value'")  # fmt: skip
    if path is None:
        return "BalancerMember must define balancer name when outside <Proxy > section"
    if name is None:
        return "BalancerMember must define remote proxy server"
    try:
        real = _backend(name)
    except InvalidValueError:
        return 'BalancerMember uses an invalid "unix:" URL'
    balancers = defined.balancer_names(scope)
    if balancer_key(path) not in balancers and not _wholly_hidden(path):
        problem = _new_balancer(balancers, path, path.lower())
        if problem is not None:
            return f"BalancerMember {problem}"
    members = defined.names((scope, balancer_key(path)))
    if not _wholly_hidden(real):
        if worker_covering(members, real) is not None:
            return None
        problem = _new_worker(members, name, real)
        if problem is not None:
            return f"BalancerMember {problem}"
    for key, (_, value) in _hidden_values_left_out(_parameters(parameters)).items():
        message = worker_parameter_error(key, value, modules)
        if message is not None:
            return f"BalancerMember {message}"
    return None


def proxy_set_error(
    words: tuple[str, ...],
    proxy_section: str | None,
    defined: ProxyWorkers,
    scope: int,
    modules: frozenset[str],
    match: bool = False,
) -> str | None:
    """set_proxy_param's message for a ProxySet line, or None: its worker or
    balancer (the <Proxy> section's, defined there when new; else the first
    word's, which must exist), then every parameter, shared or not."""
    rest = list(words)
    name = proxy_section if proxy_section is not None else (rest.pop(0) if rest else "")
    balancer = name[:9].lower() == "balancer:"
    if _wholly_hidden(name):
        pass  # what it names is not known: its parameters are still checked
    elif balancer:
        balancers = defined.balancer_names(scope)
        if balancer_key(name) not in balancers:
            if proxy_section is None:
                return f"ProxySet can not find '{shown_url(name)}' Balancer."
            problem = _new_balancer(balancers, name, name)
            if problem is not None:
                return f"ProxySet {problem}"
    else:
        try:
            real = _backend(name)
        except InvalidValueError:
            return 'ProxySet uses an invalid "unix:" URL'
        workers = defined.names((scope, "match" if match else "prefix"))
        if proxy_section is None:
            # Outside a <Proxy>, ap_proxy_get_worker looks among both kinds.
            others = defined.names((scope, "match"))
            if worker_covering(workers, real) is None and worker_covering(others, real) is None:
                return f"ProxySet can not find '{shown_url(name)}' Worker."
        elif worker_covering(workers, real) is None:
            problem = _new_worker(workers, name, real, match)
            if problem is not None:
                return f"ProxySet {problem}"
    for word in rest:
        key, equals, value = word.partition("=")
        if not equals:
            return "Invalid ProxySet parameter. Parameter must be in the form 'key=value'"
        check = balancer_parameter_error if balancer else worker_parameter_error
        message = None if REDACTED_VALUE in value else check(key.lower(), value, modules)
        if message is not None:
            # httpd adds key=value: the value is left out, it may be a secret.
            return f"ProxySet: {message} {key}=...; {shown_url(name)}"
    return None


_IF_PATHS = {"if": "*If", "elseif": "*ElseIf", "else": "*Else"}


def section_path(section: Directive) -> str | None:
    """httpd's cmd->path inside ``section`` (a path section): its path or
    regular expression as written, a <Directory>'s or <Files>'s path with
    '//' made '/' (and a '/' added to a <Directory>'s), "*If" for <If>; a
    <Proxy>'s without "proxy:"."""
    key, args = section.key, section.args
    if key in _IF_PATHS:
        return _IF_PATHS[key]
    if not args:
        return None
    if key in ("proxy", "proxymatch"):
        return proxy_section_path(args[0])
    regex = args[0] == "~" and len(args) > 1
    path = args[1] if regex else args[0]
    if regex or key.endswith("match") or key == "location":
        return path
    # apr_filepath_merge makes a <Directory> or <Files> path canonical: '//'
    # is '/' there, so such a path never names a balancer.
    path = re.sub("/+", "/", path)
    if key == "directory":
        return path if path.endswith("/") else path + "/"
    return path


def proxy_section_path(path: str) -> str:
    """The path of a <Proxy> section as httpd keeps it (a ``proxy:`` prefix dropped)."""
    return path[6:] if path[:6].lower() == "proxy:" else path


def proxy_section_error(
    key: str,
    words: tuple[str, ...],
    defined: ProxyWorkers,
    scope: int,
    modules: frozenset[str],
) -> str | None:
    """proxysection's message for the parameters on a <Proxy>/<ProxyMatch>
    line (``key`` "proxy" or "proxymatch"), checked after its contents; its
    worker or balancer is defined then when new."""
    if len(words) < 2:
        return None
    if key == "proxymatch":
        return "Multiple <ProxyMatch> arguments not (yet) supported."
    path = proxy_section_path(words[0])
    shown = "<Proxy"
    if has_wildcard(path):  # apr_fnmatch_test
        return f"{shown}> arguments are not supported for wildchar url."
    if ":" not in path:
        return f"{shown}> arguments are not supported for non url."
    balancer = path[:9].lower() == "balancer:"
    if _wholly_hidden(path):
        pass
    elif balancer:
        balancers = defined.balancer_names(scope)
        if balancer_key(path) not in balancers:
            problem = _new_balancer(balancers, path, path)
            if problem is not None:
                return f"{shown} {problem}"
    else:
        try:
            real = _backend(path)
        except InvalidValueError:
            return '<Proxy/ProxyMatch > uses an invalid "unix:" URL'
        workers = defined.names((scope, "prefix"))
        if worker_covering(workers, real) is None:
            problem = _new_worker(workers, path, real)
            if problem is not None:
                return f"{shown} {problem}"
    for word in words[1:]:
        name, equals, value = word.partition("=")
        if not equals:
            return "Invalid Proxy parameter. Parameter must be in the form 'key=value'"
        check = balancer_parameter_error if balancer else worker_parameter_error
        message = None if REDACTED_VALUE in value else check(name.lower(), value, modules)
        if message is not None:
            return f"{shown} {message} {name}=...; {shown_url(path)}"
    return None
