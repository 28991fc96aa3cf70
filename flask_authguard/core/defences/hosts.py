"""Trusted hosts: which ``Host`` headers may give a link its origin.

The rule itself is :func:`flask_authguard.core.defences.urls.link_origin` ("which origin may a link
use?"); this module holds its parts: ``trusted_hosts`` (werkzeug's and Flask's ``TRUSTED_HOSTS``
semantics: ``"example.com"`` matches that name, ``".example.com"`` it and every subdomain, the
port is ignored), ``trust_host`` (``AUTH_TRUST_HOST``) and the loopback hosts a development
app runs on.

.. code-block:: python

    from flask_authguard.core.defences.hosts import trusted_host

    host = trusted_host(environ, config.trusted_hosts)  # None: refuse the request (400)
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from urllib.parse import urlsplit

from werkzeug.exceptions import BadRequest, SecurityError
from werkzeug.wsgi import get_host

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: A host name (letters, digits, ``-``, ``_``, ``.``) or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")

#: What a deployer must set; said by the start-up warning and the per-request log line.
TRUST_ADVICE = (
    "set url (NEXTAUTH_URL) to the site's public URL, or trusted_hosts to the host names it is "
    "served on, or trust_host=True (AUTH_TRUST_HOST=true) when a proxy you run sets the Host header"
)


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
