"""Trusted hosts: which ``Host`` headers may give a redirect its origin.

Without ``url``, the sign-in redirect and the endpoints' base URL are built from the request's
``Host`` header, which the client chooses. ``trusted_hosts`` (werkzeug's and Flask's
``TRUSTED_HOSTS`` semantics: ``"example.com"`` matches that name, ``".example.com"`` it and
every subdomain, the port is ignored) limits them; a request from any other host is refused
with 400 before any redirect is built.

.. code-block:: python

    from flask_authguard.core.hosts import trusted_host

    host = trusted_host(environ, config.trusted_hosts)  # None: refuse the request (400)
"""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

from .errors import ConfigurationError

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


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


def trusted_host(environ: WSGIEnvironment, trusted_hosts: t.Collection[str] | None) -> str | None:
    """The request's host (``Host`` header, or ``SERVER_NAME``), or ``None`` when
    ``trusted_hosts`` is set and does not list it. With ``trusted_hosts`` ``None`` every host
    is returned as werkzeug reports it.

    This is the one check for every place that takes an origin from the request: the guard's
    redirects and the endpoints' base URL.
    """
    try:
        return get_host(environ, trusted_hosts or None)
    except SecurityError:
        return None
