"""mod_status behind basic authentication: credentials sent as curl sends them, shown nowhere.

The servers are real: a stdlib http.server on 127.0.0.1 that checks the
``Authorization`` header (over http and https), and apache2 with mod_status
behind ``AuthType Basic`` (test_live_status_auth.py). Every output a user
can see (table, JSON, ``--watch`` lines, ``-vv`` logs, one-line errors) is
searched for the user, every piece of the password and the header's base64.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from diagnose_helpers import case, run
from status_auth_server import (
    CREDENTIALS,
    ESCAPED,
    PASSWORD,
    USER,
    assert_no_secret,
    make_certificate,
    status_server,
    tcpaudit,
)

from tcpaudit.diagnose import StatusUnavailable, fetch_status, prepare
from tcpaudit.diagnose.status_target import shown_url, status_target
from tcpaudit.errors import UsageError

HEALTHY = str(case("healthy"))
CAPTURED = ("--root", HEALTHY, "--ss", f"{HEALTHY}/ss-tanpoe.txt", "--fail-on", "never")


@pytest.fixture(scope="module")
def certificate() -> Iterator[tuple[Path, Path]]:
    directory = Path(tempfile.mkdtemp(prefix="tcpaudit-status-tls-"))
    try:
        yield make_certificate(directory)
    finally:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()


# What curl 7.88.1 sent for each userinfo (its Authorization header, decoded):
# %XX decoded to bytes, an invalid escape kept as written, the user ending at
# the first ':', no password meaning an empty one.
@pytest.mark.parametrize(
    ("userinfo", "sent"),
    [
        ("a%3Ab:p%40w%zz", b"a:b:p@w%zz"),
        ("us%20er:pa%2", b"us er:pa%2"),
        ("user", b"user:"),
        (":pw", b":pw"),
        ("u:%0ax", b"u:\nx"),
        ("u:%ff", b"u:\xff"),
        ("u;x:a;b", b"u;x:a;b"),
        ("us%C3%A9r:x", "usér:x".encode()),
    ],
)
def test_credentials_are_decoded_as_curl_decodes_them(userinfo: str, sent: bytes) -> None:
    target = status_target(f"http://{userinfo}@127.0.0.1:8080/server-status")
    assert target.url == "http://127.0.0.1:8080/server-status?auto"
    assert target.authorization == "Basic " + base64.b64encode(sent).decode()
    assert userinfo not in repr(target)


def test_an_at_sign_in_the_password_needs_no_escape() -> None:
    # The host follows the last '@' (Python and browsers; curl refuses the URL).
    target = status_target("http://opsreader:Vq9k@Zx7w@localhost/server-status")
    assert target.url == "http://localhost/server-status?auto"
    assert target.authorization == "Basic " + base64.b64encode(b"opsreader:Vq9k@Zx7w").decode()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p@127.0.0.1/", "http://***@127.0.0.1/"),
        ("HTTPS://u:p@h@[::1/", "HTTPS://***@[::1/"),
        ("u:p@127.0.0.1/", "***@127.0.0.1/"),  # no scheme: "u:" is not one
        ("http:u:p@127.0.0.1", "http:***@127.0.0.1"),
        ("http://127.0.0.1/server-status", "http://127.0.0.1/server-status"),
    ],
)
def test_shown_url_hides_everything_before_the_last_at(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_fetch_sends_the_credentials_with_the_first_request() -> None:
    with status_server(CREDENTIALS) as server:
        board = fetch_status(f"http://{USER}:{ESCAPED}@127.0.0.1:{server.port}/server-status")
    assert board.source == f"http://127.0.0.1:{server.port}/server-status?auto"
    assert board.count("keepalive") == 1
    # One request, the header in it: no unauthenticated round trip first.
    assert server.seen == ["Basic " + base64.b64encode(CREDENTIALS).decode()]


def test_a_refused_password_is_a_note_without_it() -> None:
    with status_server(CREDENTIALS) as server:
        url = f"http://{USER}:Vq9k-wrong-Zx7w@127.0.0.1:{server.port}/server-status"
        with pytest.raises(StatusUnavailable) as refused:
            fetch_status(url)
        with pytest.raises(StatusUnavailable) as anonymous:
            fetch_status(f"http://127.0.0.1:{server.port}/server-status")
    assert refused.value.reason == (
        f"http://127.0.0.1:{server.port}/server-status?auto answered HTTP 401: "
        "the user and password were refused"
    )
    assert anonymous.value.reason.endswith(
        "answered HTTP 401: it asks for a user and password "
        "(http://USER:PASSWORD@host/... or --status-auth-env)"
    )
    assert server.seen[1] is None
    assert_no_secret(str(refused.value), repr(refused.value), str(refused.value.__cause__))


def test_another_authentication_scheme_is_named() -> None:
    with status_server(CREDENTIALS, challenge="Digest") as server:
        url = f"http://{USER}:{ESCAPED}@127.0.0.1:{server.port}/server-status"
        with pytest.raises(StatusUnavailable, match="asks for Digest authentication"):
            fetch_status(url)


def test_https_with_credentials(certificate: tuple[Path, Path]) -> None:
    # A certificate for www.example.net, signed by nobody: a local server's usual one.
    with status_server(CREDENTIALS, tls=certificate) as server:
        board = fetch_status(f"https://{USER}:{ESCAPED}@localhost:{server.port}/server-status")
        assert board.source == f"https://localhost:{server.port}/server-status?auto"
        assert board.count("waiting") == 2
        # Plain http to the TLS port: a note, still without the secret.
        with pytest.raises(StatusUnavailable) as plain:
            fetch_status(f"http://{USER}:{ESCAPED}@localhost:{server.port}/", timeout_seconds=2)
    assert_no_secret(plain.value.reason)


def test_https_to_a_drained_server_times_out() -> None:
    # Nobody accepts: the TLS handshake waits in the accept queue, as the request would.
    with socket.socket() as drained:
        drained.bind(("127.0.0.1", 0))
        drained.listen(8)
        port = drained.getsockname()[1]
        url = f"https://{USER}:{ESCAPED}@127.0.0.1:{port}/server-status"
        with pytest.raises(StatusUnavailable) as waited:
            fetch_status(url, timeout_seconds=0.3)
    assert waited.value.reason == (
        f"https://127.0.0.1:{port}/server-status?auto did not answer within 0.3 s"
    )


def test_a_path_outside_ascii_is_escaped_not_a_crash() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StatusUnavailable, match="refused") as refused:
        fetch_status(f"http://{USER}:{ESCAPED}@127.0.0.1:{port}/état?n=ü", timeout_seconds=1)
    assert refused.value.reason.startswith(f"http://127.0.0.1:{port}/%C3%A9tat?n=%C3%BC&auto:")


def test_cli_fetches_with_credentials_and_never_prints_them() -> None:
    with status_server(CREDENTIALS) as server:
        url = f"http://{USER}:{ESCAPED}@127.0.0.1:{server.port}/server-status"
        json_run = tcpaudit("-vv", "diagnose", *CAPTURED, "--status-url", url, "--format", "json")
        table_run = tcpaudit("diagnose", *CAPTURED, "--status-url", url, "-v")
    assert json_run.returncode == 0, json_run.stderr
    data = json.loads(json_run.stdout)
    assert data["scoreboard"]["source"] == f"http://127.0.0.1:{server.port}/server-status?auto"
    assert data["workers"]["busy_source"] == "scoreboard"
    assert "with basic authentication" in json_run.stderr  # -vv logs the fetch
    assert table_run.returncode == 0 and "(from scoreboard)" in table_run.stdout
    assert_no_secret(json_run.stdout, json_run.stderr, table_run.stdout, table_run.stderr)


def test_cli_wrong_password_in_every_output() -> None:
    with status_server(CREDENTIALS) as server:
        url = f"http://{USER}:Vq9k%40Zx7w@127.0.0.1:{server.port}/server-status"
        runs = [
            tcpaudit("-vv", "diagnose", *CAPTURED, "--status-url", url, *extra)
            for extra in (
                (),
                ("--format", "json"),
                ("--watch", "0.1", "--count", "2", "--format", "json"),
                ("--watch", "0.1", "--count", "2"),
            )
        ]
    note = "answered HTTP 401: the user and password were refused"
    for result in runs:
        assert result.returncode == 0, result.stderr
        assert note in result.stdout
        assert_no_secret(result.stdout, result.stderr)
    notes = [n["message"] for n in json.loads(runs[1].stdout)["notes"]]
    assert any(note in message for message in notes)


# Each holds the user and pieces of the password; each must give one line and exit 2.
MALFORMED = [
    # '/', '?' or '#' unescaped: the host part ends there, the rest is a path.
    ("http://opsreader:Vq9k/Zx7w@127.0.0.1/server-status", "is written %2F"),
    ("http://opsreader:Vq9k?Zx7w@127.0.0.1/server-status", "is written %2F"),
    ("http://opsreader:Vq9k#Zx7w@127.0.0.1/server-status", "is written %2F"),
    ("http://opsreader:Vq9k@Zx7w@127.0.0.1:80a/server-status", "port is not a number"),
    ("http://opsreader:Vq9kZx7w@127.0.0.1:99999/", "port is not a number"),
    ("http://opsreader:Vq9kZx7w@127.0.0.1:+80/", "port is not a number"),
    ("http://opsreader:Vq9kZx7w@127.0.0.1:" + "9" * 5000 + "/", "port is not a number"),
    ("http://opsreader:Vq9kZx7w@/server-status", "no host"),
    ("http://opsreader:Vq9kZx7w@:8080/server-status", "no host"),
    ("http://opsreader:Vq9kZx7w@[::1/server-status", "its host cannot be read"),
    ("http://opsreader:Vq9kZx7w@[no-address]/server-status", "its host cannot be read"),
    ("http://opsreader\uff1aVq9kZx7w@127.0.0.1/", "its host cannot be read"),
    ("http://opsreader:Vq9k Zx7w@127.0.0.1/", "a space or control character"),
    ("http://opsreader:Vq9k\tZx7w@127.0.0.1/", "a space or control character"),
    ("http://opsreader:Vq9k%00Zx7w@127.0.0.1/", "%00 in the user or password"),
    ("http://opsreader:Vq9kZx7w@192.0.2.1/server-status", "only http://127.0.0.1"),
    ("ftp://opsreader:Vq9kZx7w@127.0.0.1/", "only http://127.0.0.1"),
    ("opsreader:Vq9kZx7w@127.0.0.1/server-status", "only http://127.0.0.1"),
    ("//opsreader:Vq9kZx7w@127.0.0.1/server-status", "only http://127.0.0.1"),
]


@pytest.mark.parametrize(("url", "reason"), MALFORMED)
def test_malformed_urls_give_one_line_without_the_credentials(url: str, reason: str) -> None:
    code, out, err = run(*CAPTURED, "--status-url", url)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("tcpaudit: error: --status-url ") and reason in line
    assert_no_secret(line)


@pytest.mark.parametrize(("url", "reason"), MALFORMED)
def test_malformed_urls_raise_usage_errors_without_the_credentials(url: str, reason: str) -> None:
    # A library caller sees the exception itself, its cause and its repr.
    with pytest.raises(UsageError, match=reason.replace("?", r"\?")) as refused:
        fetch_status(url)
    error = refused.value
    assert_no_secret(str(error), repr(error), str(error.__cause__ or ""))


def test_malformed_urls_in_a_real_process() -> None:
    # The same, end to end: stderr of the real command at -vv, no traceback.
    for url, reason in MALFORMED[:4]:
        result = tcpaudit("-vv", "diagnose", *CAPTURED, "--status-url", url)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert reason in line
        assert_no_secret(line)


def test_credentials_from_the_environment() -> None:
    with status_server(CREDENTIALS) as server:
        url = f"http://127.0.0.1:{server.port}/server-status"
        args = ("diagnose", *CAPTURED, "--status-url", url, "--status-auth-env", "STATUS_AUTH")
        result = tcpaudit(
            "-vv", *args, "--format", "json", env={"STATUS_AUTH": f"{USER}:{PASSWORD}"}
        )
        wrong = tcpaudit(*args, env={"STATUS_AUTH": f"{USER}:Vq9k-Zx7w"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scoreboard"]["busy_workers"] == 2
    # The variable's value is sent as given (not URL-decoded), as curl -u sends it.
    assert server.seen[0] == "Basic " + base64.b64encode(CREDENTIALS).decode()
    assert "the user and password were refused" in wrong.stdout
    assert_no_secret(result.stdout, result.stderr, wrong.stdout, wrong.stderr)


@pytest.mark.parametrize(
    ("url", "environment", "message"),
    [
        (
            "http://127.0.0.1/",
            {},
            "--status-auth-env STATUS_AUTH: the environment variable is unset",
        ),
        ("http://127.0.0.1/", {"STATUS_AUTH": ""}, "is unset or empty"),
        ("http://127.0.0.1/", {"STATUS_AUTH": "opsreaderVq9kZx7w"}, "must hold user:password"),
        (
            "http://opsreader:Vq9k@127.0.0.1/",
            {"STATUS_AUTH": "opsreader:Zx7w"},
            "holds a user already: give the credentials once",
        ),
        (
            "http://opsreader:Vq9k@192.0.2.1/",
            {"STATUS_AUTH": "opsreader:Zx7w"},
            "only http://127.0.0.1",
        ),
        (None, {"STATUS_AUTH": "opsreader:Zx7w"}, "--status-auth-env needs --status-url"),
    ],
)
def test_environment_credentials_misused(
    url: str | None, environment: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STATUS_AUTH", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    status = ["--status-url", url] if url else []
    code, out, err = run(*CAPTURED, *status, "--status-auth-env", "STATUS_AUTH")
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert message in line
    assert_no_secret(line)


def test_help_documents_the_environment_variable() -> None:
    code, out, _ = run("--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "--status-auth-env NAME" in flat and "USER:PASSWORD" in flat
    assert "never printed" in flat


def test_a_prepared_diagnosis_keeps_the_url_out_of_its_repr() -> None:
    url = f"http://{USER}:{ESCAPED}@127.0.0.1:8080/server-status"
    sampler = prepare(HEALTHY, ss=f"{HEALTHY}/ss-tanpoe.txt", status_url=url)
    assert sampler.status_url == url  # still there to fetch with
    assert_no_secret(repr(sampler))


def test_a_password_missing_its_at_sign_is_not_shown() -> None:
    # "user:password" with the "@" escaped reads as host:port: the port error hides both.
    code, _, err = run(*CAPTURED, "--status-url", "http://opsreader:Vq9kZx7w%40127.0.0.1/")
    assert code == 2 and "port is not a number" in err
    assert_no_secret(err)


def test_an_at_sign_left_in_an_accepted_url_hides_what_precedes_it() -> None:
    # User "localhost", password "<port>/Vq9kZx7w" with its "/" unescaped: a fetchable
    # http://localhost:<port>/Vq9kZx7w@127.0.0.1/. The note must not show the rest.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StatusUnavailable, match="refused") as refused:
        fetch_status(f"http://localhost:{port}/Vq9kZx7w@127.0.0.1/", timeout_seconds=1)
    assert refused.value.reason.startswith("http://***@127.0.0.1/?auto: ")
    assert_no_secret(refused.value.reason)


def test_no_password_piece_survives_any_url_shape() -> None:
    """Seeded random URLs: user and password from a hostile alphabet, marked pieces inside."""
    rng = random.Random(11)
    alphabet = "aZ09:@/?#%[]. \t;&=+~\u00e9\uff1a\uff0f"
    hosts = ["127.0.0.1", "localhost", "[::1]", "[::1", "", "192.0.2.1", "localhost:x"]
    leaks = []
    for _ in range(3000):
        noise = ["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(4)]
        user = f"{noise[0]}opsreader{noise[1]}"
        password = f"{noise[2]}Vq9k{noise[3]}Zx7w"
        scheme = rng.choice(["http://", "https://", "HTTP://", "http:", "http:/", "ftp://", ""])
        port = rng.choice(["", ":80", ":0", ":99999", ":8a", ":"])
        path = rng.choice(["/server-status", "", "/a@b", "?auto", "#x"])
        url = f"{scheme}{user}:{password}@{rng.choice(hosts)}{port}{path}"
        try:
            target = status_target(url)
        except UsageError as error:
            shown = str(error)
        else:
            shown = shown_url(target.url)
        if any(secret in shown for secret in ("opsreader", "Vq9k", "Zx7w")):
            leaks.append((url, shown))
    assert leaks == []
