"""The store as deployed: which ``store`` URIs start, and Redis behind Sentinel or as a Cluster.

The Sentinel and Cluster tests run real servers: ``redis-server`` and ``redis-sentinel`` (without
it, ``redis-server --sentinel``, the same program) on free loopback ports, started here with their
configuration in a temporary directory and stopped (at worst killed) afterwards; the Cluster's slots
are assigned by ``redis-cli --cluster create``. Without those programs the tests skip with the
reason, except under ``CI=true`` (``.ci/run`` installs them), where they fail.
"""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import time
import typing as t
import uuid

import pytest
from conftest import SECRET, FrozenClock
from support import missing
from support.handler_app import csrf_of
from support.processes import free_port
from support.revocation_app import bearer, signed_in
from support.revocation_app import make_app as revocation_app
from support.throttle_app import attempt, new_client
from support.throttle_app import make_app as throttle_app

from flask_authguard import ConfigurationError
from flask_authguard.core.defences.redis_store import RedisStore
from flask_authguard.core.errors import BackendUnavailableError
from flask_authguard.core.runtime import runtime_of
from flask_authguard.core.settings.config import resolve_options

#: The longest a server gets to start, or a cluster to agree on its slots (seconds).
START_SECONDS = 15.0
SERVICE = "authguard-master"


# -- which URIs start ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "redis+sentinel://127.0.0.1:26379/mymaster",
        "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster",
        "redis+sentinel://user:pw@sentinel:26379/mymaster/2",
        "redis+cluster://127.0.0.1:7000",
        "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7000/",
        "valkey://127.0.0.1:6379/0",
        "valkeys://:pw@cache.example:6380/1",
        "valkey+unix:///run/valkey.sock",
        "valkey+sentinel://127.0.0.1:26379/mymaster",
        "valkey+cluster://127.0.0.1:7000",
    ],
)
def test_sentinel_cluster_and_valkey_uris_are_accepted(uri: str) -> None:
    assert resolve_options({"secret": SECRET, "store": uri}).store == uri


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        pytest.param("redis+sentinel://127.0.0.1:26379", "service name", id="sentinel-no-service"),
        pytest.param("redis+sentinel://127.0.0.1:26379/", "service name", id="sentinel-empty-service"),
        pytest.param("redis+sentinel://127.0.0.1/mymaster", "host:port", id="sentinel-no-port"),
        pytest.param("redis+sentinel:///mymaster", "host:port", id="sentinel-no-host"),
        pytest.param("redis+sentinel://h:26379,/mymaster", "host:port", id="sentinel-empty-host"),
        pytest.param("redis+sentinel://h:port/mymaster", "host:port", id="sentinel-bad-port"),
        pytest.param("redis+sentinel://h:26379/mymaster/two", "database", id="sentinel-bad-db"),
        pytest.param("redis+sentinel://h:26379/mymaster/0/x", "service name", id="sentinel-long-path"),
        pytest.param("redis+sentinel://h:26379/mymaster?db=2", "query", id="sentinel-query"),
        pytest.param("redis+cluster://127.0.0.1", "host:port", id="cluster-no-port"),
        pytest.param("redis+cluster://", "host:port", id="cluster-no-host"),
        pytest.param("redis+cluster://h:7000/3", "database 0", id="cluster-db"),
        pytest.param("redis+cluster://h:7000?password=pw", "query", id="cluster-query"),
        pytest.param("redis://127.0.0.1:notaport/0", "redis://", id="redis-bad-port"),
        pytest.param("redis://127.0.0.1:6379/zero", "redis://", id="redis-bad-db"),
        pytest.param("rediss+sentinel://h:26379/mymaster", "must be", id="unknown-scheme"),
    ],
)
def test_a_bad_store_uri_fails_at_start_up_saying_what_to_set(uri: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match="store") as caught:
        resolve_options({"secret": SECRET, "store": uri})
    assert says in str(caught.value)


def test_a_bad_uri_message_hides_the_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_options({"secret": SECRET, "store": "redis+sentinel://:hunter2@h:26379/mymaster/x"})
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize(
    "uri",
    ["redis+sentinel://127.0.0.1:1/mymaster", "redis+cluster://127.0.0.1:1"],
    ids=["sentinel", "cluster"],
)
def test_sentinel_or_cluster_down_answers_503(uri: str, make_token: t.Callable[..., str]) -> None:
    """No sentinel or cluster node answers: sign-in and a guarded request get 503, never 500,
    never "let in"."""
    assert attempt(new_client(throttle_app(store=uri))).status_code == 503
    app, _ = revocation_app(store=uri)
    assert bearer(app, make_token(sub="1", auth_time=1, sid="s1")) == 503


# -- real servers ----------------------------------------------------------------------------


def _tool(name: str, *fallback: str) -> list[str]:
    """The command of ``name`` (or ``fallback``, when that is on PATH instead); skips without it
    (fails under ``CI=true``)."""
    for command in ([name], list(fallback)):
        if command and shutil.which(command[0]):
            return command
    reason = f"{name} is not installed (apt-get install redis-server redis-sentinel); needed for this test"
    missing(reason)


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free too."""
    import random

    for _ in range(100):
        port = random.randrange(20000, 40000)
        try:
            with socket.socket() as one, socket.socket() as bus:
                one.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    pytest.fail("no free port pair for a cluster node")


def _wait_for(what: str, check: t.Callable[[], bool], processes: t.Sequence[subprocess.Popen[bytes]]) -> None:
    """Poll ``check`` until it holds; fail after :data:`START_SECONDS` or when a process died."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            break
        try:
            if check():
                return
        except Exception:  # not up yet: connection refused, loading, no master known
            pass
        time.sleep(0.05)
    pytest.fail(f"{what} did not come up within {START_SECONDS} s")


class Servers:
    """Redis processes started by a test, stopped (then killed) at teardown."""

    def __init__(self, where: pathlib.Path) -> None:
        self.where = where
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        log = (self.where / f"{name}.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=self.where)
        log.close()
        self.processes.append(process)
        return process

    def redis(self, port: int, *extra: str) -> subprocess.Popen[bytes]:
        server = _tool("redis-server")
        base = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return self.start([*server, *base, "--dir", str(self.where), *extra], f"redis-{port}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _client(port: int, db: int = 0) -> t.Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=port, db=db, socket_timeout=2, socket_connect_timeout=2)


def _master_of(port: int) -> tuple[str, int]:
    """The master the Sentinel on ``port`` names for :data:`SERVICE` (as the store asks)."""
    from redis.sentinel import Sentinel

    return t.cast(
        "tuple[str, int]", tuple(Sentinel([("127.0.0.1", port)], socket_timeout=1).discover_master(SERVICE))
    )


def _start_sentinel(servers: Servers, master: int, down_after: int = 5000) -> int:
    """A Sentinel monitoring the master on ``master`` as :data:`SERVICE`, which it holds down
    after ``down_after`` ms without an answer; its port."""
    # Without Debian's redis-sentinel package, the same program: ``redis-server <conf> --sentinel``.
    command = _tool("redis-sentinel", "redis-server")
    port = free_port()
    config = servers.where / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {servers.where}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master} 1\n"
        f"sentinel down-after-milliseconds {SERVICE} {down_after}\n"
        f"sentinel failover-timeout {SERVICE} 4000\n",
        encoding="utf-8",
    )
    servers.start(
        [*command, str(config), *(["--sentinel"] if command == ["redis-server"] else [])], "sentinel"
    )
    _wait_for("redis-sentinel", lambda: _master_of(port) == ("127.0.0.1", master), servers.processes)
    return port


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, int]]:
    """A Redis master on a free port and one Sentinel monitoring it as :data:`SERVICE`; the URL
    names only the Sentinel, so the store finds the master through it."""
    pytest.importorskip("redis")
    servers = Servers(tmp_path_factory.mktemp("sentinel"))
    master = free_port()
    try:
        servers.redis(master)
        _wait_for("redis-server", lambda: bool(_client(master).ping()), servers.processes)
        yield {"port": _start_sentinel(servers, master), "master": master}
    finally:
        servers.stop()


@pytest.fixture
def failover(tmp_path: pathlib.Path) -> t.Iterator[dict[str, t.Any]]:
    """A master, its replica (in sync), and a Sentinel that knows both and fails over 1 s after
    the master stops answering (``stop_master()``)."""
    pytest.importorskip("redis")
    servers = Servers(tmp_path)
    master, replica = free_port(), free_port()
    try:
        # No delay before the replica's first sync (Redis 7 waits 5 s for more replicas).
        process = servers.redis(master, "--repl-diskless-sync-delay", "0")
        servers.redis(replica, "--replicaof", "127.0.0.1", str(master))
        _wait_for(
            "a redis-server replica in sync",
            lambda: _client(replica).info("replication")["master_link_status"] == "up",
            servers.processes,
        )
        port = _start_sentinel(servers, master, down_after=1000)

        def replica_known() -> bool:
            from redis.sentinel import Sentinel

            found = Sentinel([("127.0.0.1", port)], socket_timeout=1).discover_slaves(SERVICE)
            return [tuple(f) for f in found] == [("127.0.0.1", replica)]

        _wait_for("the Sentinel to know the replica", replica_known, servers.processes)

        def stop_master() -> None:
            process.kill()
            process.wait(timeout=5)
            servers.processes.remove(process)

        yield {"port": port, "master": master, "replica": replica, "stop_master": stop_master}
    finally:
        servers.stop()


def _start_cluster(servers: Servers) -> list[int]:
    """Three Redis Cluster masters (no replicas) on free ports, their slots assigned; the ports."""
    cli = _tool("redis-cli")
    ports = [_free_cluster_port() for _ in range(3)]
    for port in ports:
        node = ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"]
        servers.redis(port, *node, "--cluster-node-timeout", "5000")
    _wait_for(
        "3 redis-server cluster nodes", lambda: all(_client(p).ping() for p in ports), servers.processes
    )
    nodes = [f"127.0.0.1:{p}" for p in ports]
    subprocess.run(
        [*cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=START_SECONDS,
    )

    def agreed() -> bool:
        return all(b"cluster_state:ok" in _client(p).execute_command("CLUSTER", "INFO") for p in ports)

    _wait_for("the cluster's slots", agreed, servers.processes)
    return ports


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[list[int]]:
    """A Redis Cluster of three masters for the module's tests."""
    pytest.importorskip("redis")
    servers = Servers(tmp_path_factory.mktemp("cluster"))
    try:
        yield _start_cluster(servers)
    finally:
        servers.stop()


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}:"


def _keys(client: t.Any, prefix: str) -> list[bytes]:
    return list(client.scan_iter(match=f"*{prefix}*", count=500))


def test_sentinel_throttling_counts_across_workers(sentinel: dict[str, int]) -> None:
    options = {"store": f"redis+sentinel://127.0.0.1:{sentinel['port']}/{SERVICE}", "store_prefix": _prefix()}
    one, two = throttle_app(**options), throttle_app(**options)
    statuses = [attempt(new_client(app)).status_code for app in (one, two, one, two)]
    assert statuses == [302, 302, 302, 429]
    # The counters are on the master the Sentinel named (the URL names only the Sentinel).
    assert _keys(_client(sentinel["master"]), options["store_prefix"])


def test_sentinel_revoke_user_holds_on_every_worker(clock: FrozenClock, sentinel: dict[str, int]) -> None:
    options = {
        "store": f"redis+sentinel://127.0.0.1:{sentinel['port']}/{SERVICE}/3",
        "store_prefix": _prefix(),
    }
    app_one, guard_one = revocation_app(**options)
    app_two, _ = revocation_app(**options)
    _, value = signed_in(app_one)
    assert (bearer(app_two, value), bearer(app_two, value)) == (200, 200)  # the second from the copy
    store = runtime_of(app_two.extensions["authguard"].core.config).store
    assert isinstance(store, RedisStore) and store.cache is not None
    assert store.cache._connection is not None  # tracking, on the master found through Sentinel
    clock.now += 1
    guard_one.revoke_user("1", app=app_one)
    assert bearer(app_two, value) == 401
    # Database 3 of the master, as the URL's last segment says.
    master = sentinel["master"]
    assert _keys(_client(master, 3), options["store_prefix"]) and not _keys(
        _client(master), options["store_prefix"]
    )


def test_sentinel_failover_the_store_follows_the_new_master(
    clock: FrozenClock, failover: dict[str, t.Any]
) -> None:
    """The master dies and the Sentinel promotes its replica: every connection (the kept reads,
    the pool's writes, the worker copy's tracking connection) goes to the new master."""
    options = {"store": f"redis+sentinel://127.0.0.1:{failover['port']}/{SERVICE}", "store_prefix": _prefix()}
    app_one, guard_one = revocation_app(**options)
    app_two, _ = revocation_app(**options)
    _, first = signed_in(app_one)
    assert (bearer(app_two, first), bearer(app_two, first)) == (200, 200)
    failover["stop_master"]()
    new = failover["replica"]
    _wait_for("the Sentinel's failover", lambda: _master_of(failover["port"]) == ("127.0.0.1", new), [])
    guard_one.revoke_token(first, app=app_one)
    assert bearer(app_two, first) == 401
    assert _keys(_client(new), options["store_prefix"])

    _, second = signed_in(app_one)  # the throttle's counters too
    assert (bearer(app_two, second), bearer(app_two, second)) == (200, 200)
    cache = t.cast(RedisStore, runtime_of(app_two.extensions["authguard"].core.config).store).cache
    assert cache is not None and cache._connection is not None and cache._connection.port == new
    guard_one.revoke_token(second, app=app_one)
    assert bearer(app_two, second) == 401


def test_cluster_throttling_and_revocation(clock: FrozenClock, cluster: list[int]) -> None:
    nodes = ",".join(f"127.0.0.1:{port}" for port in cluster[:2])  # a third node is found by the client
    options = {"store": f"redis+cluster://{nodes}", "store_prefix": _prefix()}
    one, two = throttle_app(**options), throttle_app(**options)
    statuses = [attempt(new_client(app)).status_code for app in (one, two, one, two)]
    assert statuses == [302, 302, 302, 429]

    app_one, guard_one = revocation_app(**options)
    app_two, _ = revocation_app(**options)
    _, value = signed_in(app_one)
    _, other = signed_in(app_one)
    assert (bearer(app_two, value), bearer(app_two, other)) == (200, 200)
    guard_one.revoke_token(value, app=app_one)
    assert (bearer(app_two, value), bearer(app_two, other)) == (401, 200)
    clock.now += 1
    guard_one.revoke_user("1", app=app_one)
    assert bearer(app_two, other) == 401
    # No worker's copy on a cluster: every read asks the nodes that hold the keys.
    store = runtime_of(app_two.extensions["authguard"].core.config).store
    assert isinstance(store, RedisStore) and store.cache is None
    assert any(_keys(_client(port), options["store_prefix"]) for port in cluster)


def test_a_cluster_gone_after_start_answers_503(clock: FrozenClock, tmp_path: pathlib.Path) -> None:
    """Every node stops: the cluster client's own error (not a ``RedisError``) is a 503 too."""
    pytest.importorskip("redis")
    servers = Servers(tmp_path)
    try:
        ports = _start_cluster(servers)
        app, guard = revocation_app(store=f"redis+cluster://127.0.0.1:{ports[0]}", store_prefix=_prefix())
        client, value = signed_in(app)
        assert bearer(app, value) == 200
    finally:
        servers.stop()
    assert bearer(app, value) == 503  # the revocation read
    data = {"csrfToken": csrf_of(client), "username": "ada", "password": "pw"}
    assert client.post("/api/auth/callback/credentials", data=data).status_code == 503  # the throttle
    with pytest.raises(BackendUnavailableError):
        guard.revoke_user("1", app=app)


@pytest.fixture
def clock(frozen_clock: FrozenClock) -> FrozenClock:
    return frozen_clock
