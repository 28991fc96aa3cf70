"""Trusted hosts: which ``Host`` headers may give a link its origin.

The rule itself is :func:`flask_authguard.core.urls.link_origin` ("which origin may a link
use?"); this module holds its parts: ``trusted_hosts`` (werkzeug's and Flask's ``TRUSTED_HOSTS``
semantics: ``"example.com"`` matches that name, ``".example.com"`` it and every subdomain, the
port is ignored), ``trust_host`` (``AUTH_TRUST_HOST``) and the loopback hosts a development
app runs on.

.. code-block:: python

    from flask_authguard.core.hosts import trusted_host

    host = trusted_host(environ, config.trusted_hosts)  # None: refuse the request (400)
"""

from __future__ import annotations

import ipaddress
import os
import re
import typing as t
from urllib.parse import urlsplit

from werkzeug.exceptions import BadRequest, SecurityError
from werkzeug.wsgi import get_host

from .errors import ConfigurationError

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: A host name (letters, digits, ``-``, ``_``, ``.``) or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")

#: What a deployer must set; said by the start-up warning and the per-request log line.
TRUST_ADVICE = (
    "set url (NEXTAUTH_URL) to the site's public URL, or trusted_hosts to the host names it is "
    "served on, or trust_host=True (AUTH_TRUST_HOST=true) when a proxy you run sets the Host header"
)


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


def trusted_host(environ: WSGIEnvironment, trusted_hosts: t.Collection[str] | None) -> str | None:
    """The request's host (``Host`` header, or ``SERVER_NAME``), or ``None`` when
    ``trusted_hosts`` is set and does not list it. With ``trusted_hosts`` ``None`` every host
    is returned as werkzeug reports it.
    """
    try:
        return get_host(environ, trusted_hosts or None)
    except SecurityError:
        return None


def is_loopback(host: str) -> bool:
    """``localhost`` (or a name under it), ``127.0.0.0/8`` or ``::1``, with any port."""
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def checked_host(environ: WSGIEnvironment) -> str:
    """The request's ``host[:port]``, fit to start a link.

    :raises BadRequest: not a host name or address with a port in range.
    """
    host = get_host(environ)
    match = _HOST.fullmatch(host)
    if match is None or (match.group(1) is not None and int(match.group(1)) > 65535):
        raise BadRequest("Invalid Host header.")
    return host
