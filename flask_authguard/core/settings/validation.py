"""Start-up checks for the option values that end up in headers and URLs.

Each function normalises a value or raises :class:`~flask_authguard.ConfigurationError` naming
the key, so that no configuration value can become an exception in a later request (a page
``"login"`` used to make every protected request fail building ``http://host:5007login``).
"""

from __future__ import annotations

import re
import typing as t
from urllib.parse import urlsplit

from ..errors import ConfigurationError

# Control characters and whitespace would break a Location or Set-Cookie header.
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
# RFC 6265 cookie-name (an RFC 7230 token).
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SAME_SITE = ("strict", "lax", "none")
#: Longest lifetime accepted: past it, cookie expiry dates stop being representable.
MAX_SECONDS = 100 * 365 * 24 * 60 * 60


def absolute_url(value: t.Any, where: str) -> str:
    """An ``http(s)://host[:port]/...`` URL, checked as a browser and werkzeug will read it."""
    if not isinstance(value, str) or not value or _UNSAFE.search(value):
        raise ConfigurationError(f"{where} must be a URL without spaces, not {value!r}")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ConfigurationError(f"{where} must be an http(s) URL with a host and valid port, not {value!r}")
    return value


def page(value: t.Any, where: str) -> str | None:
    """A page option: ``None``, an absolute URL, or a path; a relative path (``"login"``) is
    resolved against the site's root, as next-auth does (``"/login"``).

    :raises ConfigurationError: empty, not a string, with spaces or control characters, or
        protocol-relative (``//host/...``: give the scheme).
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value or _UNSAFE.search(value):
        raise ConfigurationError(f"{where} must be a non-empty path or URL without spaces, not {value!r}")
    if "://" in value:
        return absolute_url(value, where)
    if value.startswith(("//", "/\\", "\\")):
        raise ConfigurationError(f"{where} must be a path on this site or a full URL, not {value!r}")
    return value if value.startswith("/") else "/" + value


def base_path(value: t.Any, where: str = "base_path") -> str:
    """A path starting with ``/``, without query, fragment or spaces."""
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or value.startswith("//")
        or _UNSAFE.search(value)
        or "?" in value
        or "#" in value
    ):
        raise ConfigurationError(f"{where} must be a path starting with '/', not {value!r}")
    return value


def optional_bool(value: t.Any, where: str) -> bool | None:
    """``True``, ``False`` or ``None`` (a truthy string is refused, not guessed)."""
    if value is None:
        return None
    return flag(value, where)


def flag(value: t.Any, where: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where} must be True or False, not {value!r}")
    return value


def seconds(value: t.Any, where: str) -> int:
    """A lifetime: whole seconds from 0 to :data:`MAX_SECONDS` (100 years)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SECONDS:
        raise ConfigurationError(
            f"{where} must be a whole number of seconds from 0 to {MAX_SECONDS} (100 years), not {value!r}"
        )
    return value


def cookie_options(name: t.Any, options: t.Mapping[str, t.Any], where: str) -> None:
    """A cookie override: a valid name and attributes ``dump_cookie`` will accept."""
    if not isinstance(name, str) or not _COOKIE_NAME.fullmatch(name):
        raise ConfigurationError(f"{where}.name must be a cookie name (letters, digits, -_.), not {name!r}")
    path = options.get("path")
    if path is not None and (
        not isinstance(path, str) or not path.startswith("/") or _UNSAFE.search(path) or ";" in path
    ):
        raise ConfigurationError(f"{where}.options.path must be a path starting with '/', not {path!r}")
    for key in ("http_only", "httpOnly", "secure"):
        if key in options and not isinstance(options[key], bool):
            raise ConfigurationError(f"{where}.options.{key} must be True or False, not {options[key]!r}")
    for key in ("same_site", "sameSite"):
        value = options.get(key)
        if value is not None and (not isinstance(value, str) or value.lower() not in _SAME_SITE):
            raise ConfigurationError(
                f"{where}.options.{key} must be 'Strict', 'Lax', 'None' or None, not {value!r}"
            )
    domain = options.get("domain")
    if domain is not None and (
        not isinstance(domain, str) or not domain.strip(".") or _UNSAFE.search(domain) or ";" in domain
    ):
        raise ConfigurationError(f"{where}.options.domain must be a domain name, not {domain!r}")
