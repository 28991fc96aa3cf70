"""Start-up checks of the defence options: origins, the store URI, throttle limits.

Each returns the normalised value or raises :class:`~flask_authguard.core.errors.ConfigurationError`
naming the option and what to set.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing as t
from urllib.parse import urlsplit

from ..errors import ConfigurationError

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIS_FORMS = ("", "s", "+unix", "+sentinel", "+cluster")
_FORMS = {
    "server": "redis://[[user]:password@]host[:port][/db] (rediss:// for TLS, redis+unix:///path.sock)",
    "sentinel": "redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db]",
    "cluster": "redis+cluster://[[user]:password@]host:port[,host:port...]",
}
#: Store URI schemes: ``memory://`` for one process; for many, Redis in the storage-URI forms of
#: the ``limits`` library (one server, Sentinel, Cluster), and the same with ``valkey`` for Valkey.
STORE_SCHEMES = ("memory", *(f"{name}{form}" for name in ("redis", "valkey") for form in _REDIS_FORMS))
_PASSWORD = re.compile(r"(://[^/?#@]*?:)[^/?#@]*@|([?&]password=)[^&#]*")


def masked_uri(value: t.Any) -> str:
    """``repr`` of a store URI with its password (``redis://:pw@host``, ``?password=pw``) as
    ``***``: for error messages, which must never show a secret."""
    if not isinstance(value, str):
        return repr(value)
    return repr(_PASSWORD.sub(lambda m: f"{m.group(1)}***@" if m.group(1) else f"{m.group(2)}***", value))


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case without a default port; ``None`` when ``value``
    is not an ``http(s)`` origin (``"null"``, a path, garbage). Paths and queries are dropped,
    so a ``Referer`` URL gives its origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalize_origins(values: t.Any) -> tuple[str, ...]:
    """The ``trusted_origins`` option, each entry normalised (a ``*.`` host prefix is kept:
    ``https://*.example.com`` trusts every subdomain of ``example.com``).

    :raises ConfigurationError: not a list of origins, or an entry with a path or another scheme.
    """
    if isinstance(values, str) or not isinstance(values, t.Iterable):
        raise ConfigurationError(
            f"trusted_origins must be a list of origins such as 'http://localhost:3000', not {values!r}"
        )
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ConfigurationError(f"trusted_origins entries must be strings, not {value!r}")
        wildcard = "://*." in value
        origin = normalize_origin(value.replace("://*.", "://", 1) if wildcard else value)
        path = urlsplit(value).path if origin else ""
        if origin is None or path not in ("", "/") or "?" in value or "#" in value:
            raise ConfigurationError(
                f"trusted_origins entry {value!r} is not an origin: write scheme://host[:port] "
                "(e.g. 'http://localhost:3000' or 'https://*.example.com'), no path"
            )
        out.append(origin.replace("://", "://*.", 1) if wildcard else origin)
    return tuple(out)


def check_store(value: t.Any) -> str:
    """The ``store`` URI.

    :raises ConfigurationError: not ``memory://`` or a Redis URI :func:`redis_target` reads.
    """
    if not isinstance(value, str) or value.split("://", 1)[0] not in STORE_SCHEMES or "://" not in value:
        raise ConfigurationError(
            "store must be 'memory://' or a Redis URI: 'redis://127.0.0.1:6379/0', "
            "'redis+sentinel://127.0.0.1:26379/mymaster', 'redis+cluster://127.0.0.1:7000' "
            f"(or the same with valkey), not {masked_uri(value)}"
        )
    if not value.startswith("memory://"):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                f"store={masked_uri(value)} needs the redis client: pip install 'flask-authguard[redis]'"
            ) from None
        redis_target(value)
    return value


@dataclasses.dataclass(frozen=True)
class RedisTarget:
    """What a Redis store URI names, read as the ``limits`` library reads it."""

    #: ``"server"`` (one Redis), ``"sentinel"`` (the master a Sentinel names) or ``"cluster"``.
    kind: str
    #: The URI for ``limits``, spelt ``redis`` (``valkey`` names the same protocol, which the
    #: ``redis`` client speaks); for Sentinel without the database (``limits`` would read
    #: ``/mymaster/2`` as the service ``mymaster2``).
    uri: str
    #: Sentinel: the database number, the optional last part of the path.
    db: int = 0


def redis_target(uri: str) -> RedisTarget:
    """Read a Redis store URI (its scheme one of :data:`STORE_SCHEMES`).

    :raises ConfigurationError: the URI names no server, sentinel or cluster; the message gives
        the form to write.
    """
    scheme, rest = uri.split("://", 1)
    scheme = "redis" + scheme[len("valkey") :] if scheme.startswith("valkey") else scheme
    kind = scheme.partition("+")[2] if scheme.endswith(("+sentinel", "+cluster")) else "server"
    normalized = f"{scheme}://{rest}"

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(f"store={masked_uri(uri)}: {problem}; write {_FORMS[kind]}")

    parts = urlsplit(normalized)
    if kind == "server":
        from redis import connection

        parse_url: t.Callable[[str], object] = connection.parse_url  # (untyped in redis)
        try:  # the client's own reading (host, port, query options), without connecting
            parse_url(normalized.replace("redis+unix://", "unix://", 1))
        except ValueError:
            raise bad("not a URI the redis client reads") from None
        if scheme != "redis+unix" and not re.fullmatch(r"/?[0-9]*", parts.path):
            raise bad("the path is the database number")  # the client would take database 0
        return RedisTarget("server", normalized)
    if parts.query or parts.fragment:
        raise bad("no query (?...) or fragment: the credentials go before the hosts")
    what = "sentinel" if kind == "sentinel" else "node"
    for location in parts.netloc.rpartition("@")[2].split(","):
        try:
            where = urlsplit(f"//{location.strip()}")
            host, port = where.hostname, where.port
        except ValueError:  # a port that is not a number
            host = port = None
        if not host or port is None:
            raise bad(f"each {what} must be host:port, not {location!r}")
    path = [segment for segment in parts.path.split("/") if segment]
    if kind == "cluster":
        if path not in ([], ["0"]):
            raise bad("a Redis Cluster has database 0 only: drop the path")
        return RedisTarget("cluster", f"{scheme}://{parts.netloc}")
    if len(path) not in (1, 2):
        raise bad("the path is the service name the sentinels monitor, then an optional database")
    if len(path) == 2 and not re.fullmatch(r"[0-9]+", path[1]):
        raise bad(f"the database after the service name must be a number, not {path[1]!r}")
    db = int(path[1]) if len(path) == 2 else 0
    return RedisTarget("sentinel", f"{scheme}://{parts.netloc}/{path[0]}", db)


def check_limits(value: t.Any, where: str) -> str:
    """A limit in the ``limits`` notation (``"5/minute"``, ``"5/minute;30/hour"``).

    :raises ConfigurationError: it does not parse.
    """
    from limits import parse_many

    try:
        items = parse_many(value) if isinstance(value, str) else []
    except ValueError:
        items = []
    if not items:
        raise ConfigurationError(
            f"{where} must be a limit such as '5/minute' or '5/minute;30/hour', not {value!r}"
        )
    return t.cast(str, value)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def check_trusted_hosts(value: t.Any, where: str = "trusted_hosts") -> tuple[str, ...] | None:
    """The option normalised: ``None`` (any host) or a non-empty tuple of host names.

    :raises ConfigurationError: not a list of non-empty host names (a bare string is refused:
        it would be read letter by letter).
    """
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigurationError(f"{where} must be a list of host names, e.g. ['example.com'], not {value!r}")
    hosts = tuple(value)
    for host in hosts:
        if not isinstance(host, str) or not host.strip(". ") or any(c in host for c in "/@ \t\r\n"):
            raise ConfigurationError(f"{where} holds {host!r}, which is not a host name")
    if not hosts:
        raise ConfigurationError(f"{where} is empty: list the hosts, or leave it None to trust any host")
    return hosts


def check_trust_host(value: t.Any) -> bool:
    """``trust_host``: ``True``/``False``, or ``None`` for the ``AUTH_TRUST_HOST`` environment
    variable (``true``/``1``/``yes``/``on`` or ``false``/``0``/``no``/``off``; unset is false).

    :raises ConfigurationError: not a bool, or an environment value that is neither.
    """
    if value is None:
        raw = os.environ.get("AUTH_TRUST_HOST", "").strip().lower()
        if raw not in _TRUE and raw not in _FALSE:
            raise ConfigurationError(f"AUTH_TRUST_HOST must be 'true' or 'false', not {raw[:40]!r}")
        return raw in _TRUE
    if not isinstance(value, bool):
        raise ConfigurationError(f"trust_host must be True, False or None (AUTH_TRUST_HOST), not {value!r}")
    return value
