"""Mutations of a seed tree: of file contents, and of the tree's structure.

Content mutations flip and insert bytes, splice lines from other seeds,
repeat and drop lines, swap numbers for ones no parser expects, nest
sections, chain ``${VAR}`` definitions, and insert bytes that are not UTF-8
and control characters. Structural mutations swap a node for a link out of
the root, a climbing or looping link, a FIFO, a device, a socket or a huge
sparse file, rename files to names no tool prints, and plant hostile /proc
values and sysctl.d files. Secrets are planted after mutating (plant.py), so
no mutation can copy one where the audit would legitimately quote it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from trees import Node, Tree

__all__ = ["MUTATIONS", "mutate"]

HUGE_NUMBERS = (
    "9" * 4400,
    "-" + "9" * 30,
    "18446744073709551616",
    "2147483648",
    "-2147483649",
    "0x" + "f" * 40,
    "1e400",
    "010",
    "-0",
    "NaN",
    "99999999999999999999ms",
)
CONTROL = (
    "\x1b[2J", "\x1b]0;x\x07", "\x9b31m", "\u202e", "\x00", "\r", "\x0b", "\ufeff", "\u200b",
    "\U000e0041", "\u2800",
)  # fmt: skip
DIRECTIVES = (
    "Timeout", "KeepAlive", "KeepAliveTimeout", "MaxKeepAliveRequests", "MaxRequestWorkers",
    "MaxClients", "ServerLimit", "ThreadsPerChild", "ThreadLimit", "ListenBacklog",
    "RequestReadTimeout", "ProxyTimeout", "ProxyPass", "AcceptFilter", "Listen", "ServerName",
    "Include", "IncludeOptional", "Define", "LoadModule", "<VirtualHost", "<IfModule",
    "<IfDefine", "<IfVersion", "<Directory", "<Macro", "Use", "ProxySet", "ProxyPassMatch",
    "<Proxy", "ProxyPassInherit", "BalancerInherit",
)  # fmt: skip
SYSCTL_KEYS = (
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_fin_timeout", "net.core.somaxconn", "net.ipv4.tcp_rmem",
    "net.ipv4.ip_local_port_range", "net.ipv4.conf.*.rp_filter", "net.ipv4.tcp_keepalive_*",
    "net/ipv4/tcp_syn_retries", "net.ipv4.tcp_keepalive_tme", "- net.ipv4.tcp_retries1",
    "net.ipv4/tcp_retries2", "-net.ipv4.conf.lo.rp_filter", "net.ipv4.neigh.*.gc_stale_time",
    "net.ipv4.tcp_rto_max_ms", "net.ipv4.tcp_abort_on_overflow",
)  # fmt: skip


# Share of inputs whose mutation takes its costly form (a million-byte line,
# 20,000 repeated lines, 3,000 nested sections): bounds must hold for them,
# and the rest of the run stays fast enough for a hundred thousand inputs.
HEAVY = 0.03


def _size(rng: random.Random, light: list[int], heavy: int) -> int:
    return heavy if rng.random() < HEAVY else rng.choice(light)


def _files(tree: Tree) -> list[str]:
    return [path for path, node in tree.items() if node.kind == "file"]


def _pick_file(tree: Tree, rng: random.Random) -> str | None:
    files = _files(tree)
    return rng.choice(files) if files else None


def _edit(tree: Tree, rng: random.Random, change: Callable[[bytes], bytes]) -> None:
    path = _pick_file(tree, rng)
    if path is not None:
        node = tree[path]
        tree[path] = Node("file", data=change(node.data), mode=node.mode)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_bytes(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    def change(data: bytes) -> bytes:
        buffer = bytearray(data or b"x")
        for _ in range(rng.randint(1, 8)):
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
        return bytes(buffer)

    _edit(tree, rng, change)


def insert_bytes(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    chunk = rng.choice(
        [
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
            b"\xff\xfe\xe9\xc3(",
            "".join(rng.choices(CONTROL, k=3)).encode("utf-8", "surrogatepass"),
            b"\\\n" * rng.randint(1, 50),
            b"\r\n",
            # Line breaks to str.splitlines() and to nothing else that reads these files.
            rng.choice([b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\r"]),
            b"\x00",
            b"#" * 1000,
        ]
    )

    def change(data: bytes) -> bytes:
        at = rng.randint(0, len(data))
        return data[:at] + chunk + data[at:]

    _edit(tree, rng, change)


def drop_lines(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    def change(data: bytes) -> bytes:
        lines = _lines(data)
        for _ in range(rng.randint(1, max(1, len(lines) // 3))):
            if lines:
                del lines[rng.randrange(len(lines))]
        return b"\n".join(lines)

    _edit(tree, rng, change)


def repeat_line(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    def change(data: bytes) -> bytes:
        lines = _lines(data)
        at = rng.randrange(len(lines))
        copies = [lines[at]] * _size(rng, [2, 10, 200], 20_000)
        return b"\n".join([*lines[:at], *copies, *lines[at:]])

    _edit(tree, rng, change)


def splice(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    seeds = context["seeds"]
    assert isinstance(seeds, list)
    _, other = rng.choice(seeds)
    donor = _pick_file(other, rng)
    if donor is None:
        return
    donated = _lines(other[donor].data)
    start = rng.randrange(len(donated))
    piece = donated[start : start + rng.randint(1, 40)]

    def change(data: bytes) -> bytes:
        lines = _lines(data)
        at = rng.randint(0, len(lines))
        return b"\n".join([*lines[:at], *piece, *lines[at:]])

    _edit(tree, rng, change)


def huge_number(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    def change(data: bytes) -> bytes:
        lines = _lines(data)
        at = rng.randrange(len(lines))
        words = lines[at].split()
        number = rng.choice(HUGE_NUMBERS).encode()
        if words:
            words[rng.randrange(len(words))] = number
            lines[at] = b" ".join(words)
        else:
            lines[at] = rng.choice(DIRECTIVES).encode() + b" " + number
        return b"\n".join(lines)

    _edit(tree, rng, change)


def hostile_line(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    """A directive or sysctl line with a value no parser expects."""
    if rng.random() < 0.5:
        text = f"{rng.choice(DIRECTIVES)} {rng.choice(HUGE_NUMBERS)}{rng.choice(CONTROL)}"
    else:
        text = f"{rng.choice(SYSCTL_KEYS)} = {rng.choice(HUGE_NUMBERS)}"
    line = text.encode("utf-8", "surrogatepass")

    def change(data: bytes) -> bytes:
        lines = _lines(data)
        lines.insert(rng.randint(0, len(lines)), line)
        return b"\n".join(lines)

    _edit(tree, rng, change)


def proxy_workers(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    """Lines that build mod_proxy workers in an order that matters (proxy.py)."""
    backend = f"http://127.0.0.1:{rng.choice([8080, 8081])}/"
    choices = [
        f"ProxyPass /p{rng.randrange(9)} {backend} timeout={rng.choice(['5', '900', 'x'])}",
        f"ProxySet {backend} timeout={rng.choice(['7', '600'])} keepalive=On ttl=3",
        f"<Proxy {backend}>\nProxySet timeout=800 keepalive=Off\n</Proxy>",
        f"<Proxy {backend} timeout=700>\n</Proxy>",
        f"ProxyPassMatch ^/m(.*)$ {backend}$1 timeout=4",
        "ProxyPassInherit Off",
        "BalancerInherit Off",
        f"ProxyTimeout {rng.choice(['3', '1200'])}",
        f"<VirtualHost *:80>\nServerName v{rng.randrange(9)}.example\nTimeout 900\n"
        f"ProxyPass /v {backend} timeout=2\nProxyPassInherit Off\n</VirtualHost>",
    ]
    block = "\n".join(rng.choices(choices, k=rng.randint(1, 6))).encode()

    def change(data: bytes) -> bytes:
        lines = _lines(data)
        lines.insert(rng.randint(0, len(lines)), block)
        return b"\n".join(lines)

    _edit(tree, rng, change)


def nest_sections(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    depth = _size(rng, [10, 150, 250], 3000)
    kind = rng.choice(["IfModule !x", "IfDefine !X", "Directory /", "IfVersion >= 1"])
    name = kind.split()[0]
    block = (f"<{kind}>\n" * depth + "Timeout 7\n" + f"</{name}>\n" * depth).encode()

    def change(data: bytes) -> bytes:
        return data + b"\n" + block

    _edit(tree, rng, change)


def variable_chain(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    levels = _size(rng, [5, 30], 70)
    chain = "Define V0 x\n" + "".join(
        f"Define V{i} ${{V{i - 1}}}${{V{i - 1}}}\n" for i in range(1, levels)
    )
    chain += f"ServerName ${{V{levels - 1}}}\nIncludeOptional ${{UNDEFINED_{levels}}}\n"

    def change(data: bytes) -> bytes:
        return chain.encode() + data

    _edit(tree, rng, change)


def long_line(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    line = b"ServerName " + b"a" * _size(rng, [5000, 70_000], 1_000_000)
    _edit(tree, rng, lambda data: data + b"\n" + line + b"\n")


# Pieces of the shell that start-up files are read with: lists, pipelines,
# quotes over lines, here-documents, nesting, what stops the shell.
SHELL_PIECES = (
    "false && ", "true || ", " | ", " &", "; ", "\n", "&&\n", "! ", "( ", " )", "{ ", "; }",
    "export APACHE_ARGUMENTS=", "set -a", "set +a", ": ${X:=-DSSL}", "${X:?}", "${#X}", "$(",
    "`", "'", '"', "\\", "<<EOF\nexport A=1\nEOF\n", "<<-'E'\n", "2>&1", ">/dev/null",
    "if [ -n \"$X\" ]; then ", "elif ", "else ", "fi", "while ", "do ", "done", "case $X in ",
    "esac", "f() ", "return", "exit 0", ". /etc/apache2/envvars", "${X:-${Y:-\"$(a)\"}}",
    "${X#*}", "${X%%[!a]}", "eval ", "APACHE_ARGUMENTS=\"-D A B\" ", "-D\tFAST",
)  # fmt: skip
_START_UP = ("etc/apache2/envvars", "etc/sysconfig/httpd", "etc/conf.d/apache2",
             "etc/sysconfig/apache2")  # fmt: skip


def shell_fragment(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    """A start-up file given a fragment of shell made of pieces, some repeated."""
    path = next((name for name in _START_UP if name in tree), _START_UP[0])
    pieces = [rng.choice(SHELL_PIECES) for _ in range(rng.randint(2, 40))]
    if rng.random() < HEAVY:
        pieces *= _size(rng, [100], 20_000)
    fragment = "".join(pieces).encode()
    node = tree.get(path)
    data = node.data if node is not None and node.kind == "file" and node.data else b""
    tree[path] = Node("file", data=data + b"\n" + fragment + b"\n", mode=0o644)


def _any_path(tree: Tree, rng: random.Random) -> str | None:
    return rng.choice(sorted(tree)) if tree else None


def special_node(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    """Swap a node for a link out, a loop, a FIFO, a device, a socket or a sparse file."""
    path = _any_path(tree, rng)
    if path is None:
        return
    outside = str(context["outside"])
    depth = path.count("/") + 1
    node = rng.choice(
        [
            Node("link", target=f"{outside}/secret"),
            Node("link", target=f"{outside}/dir"),
            Node("link", target="../" * (depth + rng.randint(0, 3)) + outside.lstrip("/")),
            Node("link", target=path.rsplit("/", 1)[-1]),  # itself: a loop
            Node("link", target="."),
            Node("link", target="/"),
            Node("link", target="/proc/self/environ"),
            Node("link", target="/dev/zero"),
            Node("fifo"),
            Node("chardev", device=(1, 5)),  # zero
            Node("chardev", device=(1, 3)),  # null
            Node("chardev", device=(1, 9)),  # urandom
            Node("socket"),
            Node("sparse", size=rng.choice([65 * 2**20, 2**31, 10**11])),
        ]
    )
    for other in [name for name in tree if name.startswith(path + "/")]:
        del tree[other]
    tree[path] = node


def hostile_name(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    path = _pick_file(tree, rng)
    if path is None:
        return
    head, _, name = path.rpartition("/")
    odd = rng.choice(["\udcff", "\x1b[31m", "\n", "\u202e", " ", "\\", "'", "*", "[", "\t"])
    new = (head + "/" if head else "") + name[:1] + odd + name[1:]
    tree[new] = tree.pop(path)


def proc_values(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    """Hostile live values: huge, negative, text, wrong field counts, many interfaces."""
    for _ in range(rng.randint(1, 5)):
        key = rng.choice(SYSCTL_KEYS).lstrip("- ").replace(".", "/").replace("*", "all")
        value = rng.choice([*HUGE_NUMBERS, "", "abc", "1 2 3 4", "\xff"])
        tree[f"proc/sys/{key}"] = Node("file", data=value.encode("utf-8", "surrogateescape"))
    if rng.random() < 0.3:
        for index in range(_size(rng, [5], 300)):
            tree[f"proc/sys/net/ipv4/conf/if{index}/rp_filter"] = Node("file", data=b"1\n")
    if rng.random() < 0.3:
        tree["proc/sys/kernel/osrelease"] = Node(
            "file", data=rng.choice([b"6.1.0\x1b[2J\n", b"\xff" * 100, b"x" * 5000])
        )
    if rng.random() < 0.3:
        tree["etc/hostname"] = Node("file", data=rng.choice([b"web\x1b]0;x\x07\n", b"\xfe\n"]))


def sysctl_files(tree: Tree, rng: random.Random, context: dict[str, object]) -> None:
    heavy = rng.random() < HEAVY
    for index in range(40 if heavy else rng.choice([1, 3])):
        lines = [
            f"{rng.choice(SYSCTL_KEYS)} = {rng.choice([*HUGE_NUMBERS, '5', '1 2', 'x'])}"
            for _ in range(3000 if heavy else rng.choice([1, 20]))
        ]
        name = rng.choice(["etc/sysctl.d", "usr/lib/sysctl.d", "run/sysctl.d"])
        tree[f"{name}/{index:02d}-fuzz.conf"] = Node("file", data="\n".join(lines).encode())


MUTATIONS: tuple[Callable[[Tree, random.Random, dict[str, object]], None], ...] = (
    flip_bytes, insert_bytes, drop_lines, repeat_line, splice, huge_number, hostile_line,
    nest_sections, variable_chain, long_line, special_node, special_node, hostile_name,
    proc_values, sysctl_files, shell_fragment, proxy_workers,
)  # fmt: skip


def mutate(tree: Tree, rng: random.Random, context: dict[str, object]) -> list[str]:
    """Apply one to four mutations in place; return their names."""
    applied: list[str] = []
    for _ in range(rng.randint(1, 4)):
        mutation = rng.choice(MUTATIONS)
        mutation(tree, rng, context)
        applied.append(mutation.__name__)
    return applied
