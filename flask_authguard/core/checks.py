"""Start-up checks of the defence options: origins, the store URI, throttle limits.

Each returns the normalised value or raises :class:`~flask_authguard.errors.ConfigurationError`
naming the option and what to set.
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

from .errors import ConfigurationError

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Store URI schemes: ``memory://`` for one process, Redis (``limits``' storage-URI form) for many.
STORE_SCHEMES = ("memory", "redis", "rediss", "redis+unix")
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

    :raises ConfigurationError: not ``memory://`` or a ``redis://`` URI.
    """
    if not isinstance(value, str) or value.split("://", 1)[0] not in STORE_SCHEMES or "://" not in value:
        raise ConfigurationError(
            "store must be 'memory://' or a Redis URI such as 'redis://127.0.0.1:6379/0', "
            f"not {masked_uri(value)}"
        )
    if not value.startswith("memory://"):
        try:
            import redis  # noqa: F401
        except ImportError:
            raise ConfigurationError(
                f"store={masked_uri(value)} needs the redis client: pip install 'flask-authguard[redis]'"
            ) from None
    return value


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
