"""On real apache2 (prefork, worker and event, side by side): diagnose finds and judges each running instance.

Each site runs from a temporary directory as ``apache2 -f DIR/site.conf -D
SLOWSITE``, a file no layout search would find, whose Timeout depends on the
``-D`` and whose ``User`` line needs Debian's built-in mod_unixd. With only
``--ports``, diagnose must judge that very file (every Apache finding's
file:line in it, Timeout 120 from inside ``<IfDefine SLOWSITE>``), count the
queued CLOSE_WAIT that hold only the FIN apart from the one carrying a
request, see the SYN-RECV and the kernel's counters, and name the ProxyPass
line whose pooled backend connection sits in CLOSE_WAIT. Both servers and
their backends start and are driven concurrently; everything is stopped on
the way out, failure or not. Without apache2 the tests fail: they are the proof.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import jsonschema
import pytest
from apache_server import (
    APACHE2,
    MODULE_DIR,
    ApacheServer,
    Clients,
    free_port,
    make_workdir,
    server_sockets,
    start,
    wait_for,
    write_config,
)
from diagnose_helpers import run, run_json
from live_site import STEP_SECONDS, WORKERS, Site, drive, give_up, running_site

from tcpaudit.diagnose import Diagnosis, TcpState, prepare
from tcpaudit.diagnose.counters import read_listen_counters
from tcpaudit.rootfs import RootFS

MPMS = ("prefork", "worker", "event")


@pytest.fixture(scope="module")
def sites() -> Iterator[dict[str, Site]]:
    assert APACHE2 is not None, "apache2 is required (Debian: apt-get install apache2)"
    release = threading.Event()
    with ExitStack() as stack, ThreadPoolExecutor(len(MPMS)) as pool:
        started = list(pool.map(lambda mpm: stack.enter_context(running_site(mpm, release)), MPMS))
        list(pool.map(drive, started))
        yield {site.mpm: site for site in started}


def _instance_checks(data: dict[str, Any], site: Site) -> None:
    assert site.server is not None
    instance = data["instance"]
    assert instance["pid"] == site.server.process.pid
    assert instance["config_file"] == str(site.conf)
    assert (
        instance["arguments"][:2] == ["-f", str(site.conf)] and "SLOWSITE" in instance["arguments"]
    )
    assert instance["binary_version"].startswith("Apache/2.4.")
    assert (
        f"process {site.server.process.pid} (apache2) holds the listening socket"
        in (instance["found_by"])
    )
    assert data["apache"]["mpm"] == site.mpm


@pytest.mark.parametrize("mpm", MPMS)
def test_ports_alone_judge_the_running_instance(sites: dict[str, Site], mpm: str) -> None:
    site = sites[mpm]
    assert site.server is not None
    code, data = run_json("--ports", str(site.port))
    assert code == 1
    _instance_checks(data, site)
    apache_files = {
        f["location"]["file"]
        for f in data["findings"]
        if f["location"] and not f["location"]["file"].startswith("/proc/")
    }
    assert apache_files == {str(site.conf)}
    timeout = next(f for f in data["findings"] if f["rule"] == "TA101")
    assert (timeout["current"], timeout["location"]["line"]) == (120, site.timeout_line)

    c = data["connections"]
    assert {
        key: c[key]
        for key in (
            "close_wait_unaccepted",
            "close_wait_unaccepted_fin_only",
            "close_wait_owned",
            "close_wait_unknown",
            "established_unaccepted",
            "established",
            "syn_recv",
            "close_wait_other",
        )
    } == {
        "close_wait_unaccepted": 3,
        "close_wait_unaccepted_fin_only": 2,
        "close_wait_owned": 1,
        "close_wait_unknown": 0,
        "established_unaccepted": 1,
        "established": 1,
        "syn_recv": 1,
        "close_wait_other": 1,
    }
    (listener,) = data["listeners"]
    assert (listener["address"], listener["accept_queue"]) == (f"127.0.0.1:{site.port}", 4)
    workers = site.server.workers()
    owned = [s for s in data["close_wait"] if s["accepted"]]
    assert len(owned) == 1 and set(owned[0]["pids"]) <= set(workers)
    queued = sorted(s["unread_bytes"] for s in data["close_wait"] if s["accepted"] is False)
    assert queued[:2] == [1, 1] and queued[2] > 1
    if mpm != "event":  # one worker per accepted connection: counted from the sockets
        assert (data["workers"]["busy"], data["workers"]["limit"]) == (WORKERS, WORKERS)
    else:  # event parks idle connections without a worker: not counted from sockets
        assert data["workers"]["busy"] is None and data["workers"]["limit"] == WORKERS

    pooled = site.pooled_backend.port
    (backend,) = data["backends"]
    assert backend["backend"] == f"127.0.0.1:{pooled}" and backend["close_wait"] == 1
    assert (backend["file"], backend["line"]) == (str(site.conf), site.api_line)
    assert backend["route"] == f"ProxyPass /api/ http://127.0.0.1:{pooled}/api/"
    assert set(backend["pids"]) <= set(workers)
    kernel = data["kernel"]
    assert isinstance(kernel["listen_overflows"], int) and isinstance(kernel["listen_drops"], int)

    verdict = data["verdict"]
    assert verdict.startswith(
        f"3 unowned CLOSE_WAIT in the accept queue of 127.0.0.1:{site.port} (queue 4/511), "
        "1 more client still waiting there: clients that gave up before a worker accepted "
        "them; 2 sent nothing but the FIN (Recv-Q 1: a worker will read end-of-file and "
        "close, logging nothing), 1 carries a request (Recv-Q above 1)"
    )
    assert "1 connection in SYN-RECV on the ports" in verdict
    assert "drained by slow handlers" in verdict and "Timeout=120 s" in verdict
    assert f"TA101 Timeout at {site.conf}:{site.timeout_line}" in verdict
    assert (
        f"toward the backend 127.0.0.1:{pooled} of `ProxyPass /api/ http://127.0.0.1:{pooled}"
        f"/api/` at {site.conf}:{site.api_line}: pooled backend connection"
    ) in verdict
    if mpm != "event":
        assert "All MaxRequestWorkers=2 workers are busy" in verdict


def test_the_file_given_with_apache_conf_is_read_as_the_host_runs_it(
    sites: dict[str, Site],
) -> None:
    # Its bare `User` needs mod_unixd, built into Debian's apache2 (not a LoadModule).
    site = sites["prefork"]
    code, data = run_json("--ports", str(site.port), "--apache-conf", str(site.conf))
    assert code == 1 and data["apache"]["main_file"] == str(site.conf)
    # The running server is named beside the file judged, with its own command line.
    assert site.server is not None and data["instance"]["pid"] == site.server.process.pid
    assert data["instance"]["found_by"].startswith(
        f"judged {site.conf}, as --apache-conf says; the server running there is process "
        f"{site.server.process.pid} (apache2), started as: "
    )
    assert "-D SLOWSITE" in data["instance"]["found_by"]
    # Without the instance's -D SLOWSITE the file says Timeout 300; -D adds it back.
    timeout = next(f for f in data["findings"] if f["rule"] == "TA101")
    assert timeout["current"] == 300
    code, data = run_json(
        "--ports", str(site.port), "--apache-conf", str(site.conf), "-D", "SLOWSITE"
    )
    timeout = next(f for f in data["findings"] if f["rule"] == "TA101")
    assert (timeout["current"], timeout["location"]["line"]) == (120, site.timeout_line)


def test_several_instances_one_section_each(sites: dict[str, Site]) -> None:
    by_port = sorted(MPMS, key=lambda mpm: sites[mpm].port)
    ports = ",".join(str(sites[mpm].port) for mpm in MPMS)
    code, data = run_json("--ports", ports)
    assert code == 1
    sections = data["instances"]  # in the order of their ports
    assert [section["apache"]["mpm"] for section in sections] == by_port
    for section, mpm in zip(sections, by_port, strict=True):
        _instance_checks(section, sites[mpm])
        assert section["ports"] == [sites[mpm].port]
    n = len(MPMS)
    assert data["connections"]["close_wait_unaccepted"] == 3 * n
    assert data["connections"]["close_wait_unaccepted_fin_only"] == 2 * n
    assert len(data["backends"]) == n
    assert data["verdict"].startswith(f"{n} Apache instances on the ports. [httpd ")
    # The two-section document is the published diagnose schema's, sections included.
    schema = Diagnosis.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []
    # The table shows one section each.
    code, out, _ = run("--ports", ports)
    assert out.count("=== ") == len(MPMS) and "Instance:" in out


def test_without_ports_every_running_httpd_is_found(sites: dict[str, Site]) -> None:
    # Other httpd may run on this machine: ours must be among the sections.
    code, out, err = run("--format", "json")
    assert code in (0, 1), err
    data = json.loads(out)
    sections = data["instances"] or [data]
    found = {section["instance"]["pid"]: section for section in sections if section["instance"]}
    for site in sites.values():
        assert site.server is not None
        section = found[site.server.process.pid]
        assert section["instance"]["config_file"] == str(site.conf)
        assert site.port in section["ports"]


def test_watch_samples_growth_against_the_exhaustion_rate(sites: dict[str, Site]) -> None:
    site = sites["prefork"]
    code, out, _ = run(
        "--ports", str(site.port), "--watch", "0.2", "--count", "2", "--format", "json"
    )
    lines = out.splitlines()
    assert code == 1 and len(lines) == 2
    documents = [json.loads(line) for line in lines]
    assert [d["sample"]["index"] for d in documents] == [1, 2]
    assert documents[1]["kernel"]["listen_overflows_increase"] is not None
    code, out, _ = run("--ports", str(site.port), "--watch", "0.1", "--count", "2")
    table = out.splitlines()
    assert table[0].split()[:4] == ["sample", "s", "queued", "FIN"]
    assert table[1].split()[:5] == ["1/2", "0.0", "3", "2", "1"]
    assert table[2].split()[0] == "2/2" and "Verdict:" in out

    sampler = prepare(ports=[site.port])
    first = sampler.sample(1, 3)
    assert first.sample is not None and first.sample.elapsed_seconds == 0
    # One more client gives up in the queue between the samples: CLOSE_WAIT grows.
    give_up(site.connect())
    wait_for(
        lambda: sum(1 for r in server_sockets(site.port) if r.state is TcpState.CLOSE_WAIT) == 5,
        STEP_SECONDS,
        "a fifth CLOSE_WAIT",
    )
    sampler.sample(2, 3)
    last = sampler.sample(3, 3)
    assert last.sample is not None and last.sample.index == 3
    assert last.connections.close_wait_unaccepted_fin_only == 3
    rate = last.sample.close_wait_per_second
    assert rate is not None and rate > 0
    assert last.sample.drain_seconds == 0  # both prefork workers were already taken
    assert last.sample.exhaustion_clients_per_second == pytest.approx(
        last.derived.exhaustion_clients_per_second
    )
    assert f"Over {last.sample.elapsed_seconds:g} s (3 samples): CLOSE_WAIT +" in last.verdict
    assert "the pool is drained" in last.verdict and "exhausts it" in last.verdict


def test_without_f_the_compiled_in_file_under_d_is_judged() -> None:
    """``apache2 -d DIR -C 'Timeout 77'``: httpd reads DIR/apache2.conf (SERVER_CONFIG_FILE).

    The file sets no ServerRoot and includes ``conf.d/*.conf`` by a relative
    path: only ``-d`` says where both are; only the binary says the file's name.
    """
    assert APACHE2 is not None
    workdir = make_workdir()
    server = None
    try:
        port = free_port()
        for directory in ("logs", "run", "htdocs", "conf.d"):
            (workdir / directory).mkdir()
        (workdir / "conf.d" / "keepalive.conf").write_text("KeepAliveTimeout 15\n")
        user = pwd.getpwnam("nobody")
        group = grp.getgrgid(user.pw_gid).gr_name
        if os.geteuid() == 0:
            shutil.chown(workdir / "run", user=user.pw_name, group=group)
        conf = workdir / "apache2.conf"
        conf.write_text(
            f"LoadModule mpm_prefork_module {MODULE_DIR}/mod_mpm_prefork.so\n"
            f"LoadModule authz_core_module {MODULE_DIR}/mod_authz_core.so\n"
            f"ServerName localhost\nListen 127.0.0.1:{port}\n"
            "PidFile run/httpd.pid\nErrorLog logs/error.log\nDefaultRuntimeDir run\n"
            f"Mutex file:{workdir}/run default\nDocumentRoot htdocs\n"
            f"User {user.pw_name}\nGroup {group}\n"
            "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nServerLimit 1\n"
            "MaxRequestWorkers 1\nInclude conf.d/*.conf\n"
        )
        server = start(conf, port, 1, ("-d", str(workdir), "-C", "Timeout 77"), with_f=False)
        code, data = run_json("--ports", str(port))
        assert code in (0, 1)
        instance = data["instance"]
        assert instance["pid"] == server.process.pid and instance["config_file"] == str(conf)
        assert (
            "no -f: the binary's compiled-in SERVER_CONFIG_FILE apache2.conf = "
            in (instance["found_by"])
        )
        keepalive = next(f for f in data["findings"] if f["setting"] == "KeepAliveTimeout")
        assert keepalive["current"] == 15
        assert keepalive["location"] == {"file": str(workdir / "conf.d" / "keepalive.conf"),
                                         "line": 1}  # fmt: skip
        assert {f["current"] for f in data["findings"] if f["setting"] == "Timeout"} == {77}
        assert not any("changed after every process" in n["message"] for n in data["notes"])
        # Edited after the server started, not reloaded: the diagnosis says so.
        edited = workdir / "conf.d" / "keepalive.conf"
        later = time.time() + 5
        os.utime(edited, (later, later))
        _, data = run_json("--ports", str(port))
        assert f"{edited} changed after every process of httpd {server.process.pid} started" in (
            " | ".join(n["message"] for n in data["notes"])
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_an_instance_in_its_own_mount_namespace_is_judged_by_what_it_sees() -> None:
    """``unshare -m``: a bind mount puts another site.conf at the path the command line names.

    tcpaudit's own view of that path holds a decoy (Timeout 300); the server
    reads the file mounted over it (Timeout 55), which /proc/PID/root reaches.
    """
    assert APACHE2 is not None
    unshare = shutil.which("unshare")
    assert unshare is not None, "unshare (util-linux) is required"
    assert os.geteuid() == 0, "a mount namespace needs root"
    shown, hidden = make_workdir(), make_workdir()
    process = None
    try:
        port = free_port()
        for workdir in (shown, hidden):
            write_config(workdir, port, workers=1, timeout=300, name="site.conf")
        # The server's ServerRoot, logs and pid file are the shown directory's path too.
        conf_text = (hidden / "site.conf").read_text().replace(str(hidden), str(shown))
        (hidden / "site.conf").write_text(conf_text.replace("Timeout 300", "Timeout 55"))
        script = (
            f"mount --bind {hidden} {shown} && exec {APACHE2} -f {shown}/site.conf -DFOREGROUND"
        )
        process = subprocess.Popen(
            [unshare, "-m", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(
            lambda: any(r.state is TcpState.LISTEN for r in server_sockets(port)),
            STEP_SECONDS,
            "the namespaced apache2 listening",
        )
        code, data = run_json("--ports", str(port))
        assert code in (0, 1)
        assert data["instance"]["pid"] == process.pid  # sh exec'd apache2
        assert {f["current"] for f in data["findings"] if f["setting"] == "Timeout"} == {55}
        assert data["instance"]["config_file"] == f"{str(shown).lstrip('/')}/site.conf"
        assert any("sees another filesystem than tcpaudit" in n["message"] for n in data["notes"])
    finally:
        if process is not None:
            server = ApacheServer(conf=shown / "site.conf", port=0, process=process)
            server.stop()
        for workdir in (shown, hidden):
            shutil.rmtree(workdir, ignore_errors=True)


def _queue(port: int) -> int:
    return sum(r.rx_queue for r in server_sockets(port) if r.state is TcpState.LISTEN)


def _overflows() -> int:
    counters = read_listen_counters(RootFS("/"))
    assert counters is not None and counters.listen_overflows is not None
    return counters.listen_overflows


def test_watch_sees_the_kernel_drop_clients_at_a_full_queue() -> None:
    """ListenBacklog 1 and one worker kept in keep-alive: the queue fills, the kernel drops.

    ListenOverflows is the host's (other processes may add to it): the test
    asserts at least the drops it caused, and that the verdict says so.
    """
    assert APACHE2 is not None
    workdir = make_workdir()
    server = None
    clients = Clients(0)
    try:
        port = free_port()
        clients.port = port
        conf = write_config(workdir, port, workers=1, listen_backlog=1, keepalive_timeout=15)
        server = start(conf, port, 1)
        clients.request("/index.html", read_reply=True)  # the only worker waits in keep-alive
        sampler = prepare(ports=[port])
        first = sampler.sample(1, 2)
        assert first.kernel is not None and first.kernel.listen_overflows is not None
        # The queue holds backlog + 1 = 2 (clients that sent a request: AcceptFilter's
        # TCP_DEFER_ACCEPT keeps silent ones out of it); SYNs beyond are dropped.
        for _ in range(2):
            clients.request("/index.html")
        wait_for(lambda: _queue(port) == 2, STEP_SECONDS, "a full queue")
        for _ in range(2):
            clients.knock()
        wait_for(
            lambda: _overflows() >= (first.kernel.listen_overflows or 0) + 2,  # type: ignore[union-attr]
            STEP_SECONDS,
            "the kernel counting overflows",
        )
        last = sampler.sample(2, 2)
        assert last.kernel is not None and (last.kernel.listen_overflows_increase or 0) >= 2
        assert last.listeners[0].accept_queue == 2 and last.listeners[0].backlog == 1
        assert f"The accept queue of 127.0.0.1:{port} is full (2 > backlog 1)" in last.verdict
        assert "ListenOverflows rose by" in last.verdict
        assert "One of these queues is full now, so the count is rising." in last.verdict
    finally:
        clients.close()
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


_WATCHING: list[list[str]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Record what tcpaudit asks of the system while a test watches (audit hooks stay for good)."""
    if not _WATCHING:
        return
    if event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork",
                 "os.forkpty", "os.kill", "os.killpg", "signal.pthread_kill", "os.spawn"):  # fmt: skip
        _WATCHING[-1].append(f"{event} {args[:1]!r}")
    elif event == "open":
        path, mode, flags = args
        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & writes
        ):
            _WATCHING[-1].append(f"open for writing {path!r}")
    elif event in ("os.remove", "os.rename", "os.chmod", "os.chown", "os.mkdir", "os.symlink",
                   "os.truncate", "os.utime", "shutil.rmtree"):  # fmt: skip
        _WATCHING[-1].append(f"{event} {args[:1]!r}")


sys.addaudithook(_audit)


def test_diagnosing_runs_no_program_sends_no_signal_and_writes_nothing(
    sites: dict[str, Site],
) -> None:
    ports = [sites[mpm].port for mpm in MPMS]
    _WATCHING.append([])
    try:
        sampler = prepare(ports=ports)
        for index in (1, 2):
            diagnosis = sampler.sample(index, 2)
        seen = _WATCHING[-1]
    finally:
        _WATCHING.pop()
    assert len(diagnosis.instances) == len(MPMS)  # it did read every instance
    assert seen == []
