"""Trusted hosts: which ``Host`` headers may give a link its origin.

The rule itself is :func:`flask_authguard.core.defences.urls.link_origin` ("which origin may a link
use?"); this module holds its parts: ``trusted_hosts`` (werkzeug's and Flask's ``TRUSTED_HOSTS``
semantics: ``"example.com"`` matches that name, ``".example.com"`` it and every subdomain, the
port is ignored), ``trust_host`` (``AUTH_TRUST_HOST``) and the loopback hosts a development
app runs on. A ``Host`` that is no host name (``a b``, a port out of range, an empty DNS label as
in ``a..localhost``, a label over 63 characters) is trusted by none of them: no link is built on it.

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
_HOST = re.compile(r"(?:([A-Za-z0-9_.-]+)|\[([0-9A-Fa-f:.]+)\])(?::([0-9]{1,5}))?")

#: What a deployer must set; said by the start-up warning and the per-request log line.
TRUST_ADVICE = (
    "set url (NEXTAUTH_URL) to the site's public URL, or trusted_hosts to the host names it is "
    "served on, or trust_host=True (AUTH_TRUST_HOST=true) when a proxy you run sets the Host header"
)


def has_labels(name: str) -> bool:
    """Whether every dot-separated label of ``name`` (without its port) has 1 to 63 characters,
    one trailing dot allowed (``example.com.``): what IDNA accepts, so what a link can be built
    on. ``a..example.com``, ``.example.com`` and a 64-character label are no host names (werkzeug
    lets them through; building a URL on them raises ``UnicodeError``).
    """
    labels = (name[:-1] if name.endswith(".") else name).split(".")
    return all(0 < len(label) < 64 for label in labels)


def _name_of(host: str) -> str:
    """``host`` without its port, and an IPv6 address without its brackets."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0]


def trusted_host(environ: WSGIEnvironment, trusted_hosts: t.Collection[str] | None) -> str | None:
    """The request's host (``Host`` header, or ``SERVER_NAME``), or ``None`` when
    ``trusted_hosts`` is set and does not list it, or it is no host name (an empty label or
    one over 63 characters: ``a..example.com`` ends with ``.example.com`` all the same). With
    ``trusted_hosts`` ``None`` every host is returned as werkzeug reports it.
    """
    try:
        host = get_host(environ, trusted_hosts or None)
    except SecurityError:
        return None
    if trusted_hosts and not has_labels(_name_of(host)):
        return None
    return host


def is_loopback(host: str) -> bool:
    """``localhost`` (or a name under it), ``127.0.0.0/8`` or ``::1``, with any port."""
    try:
        name = urlsplit("//" + host).hostname
    except ValueError:
        return False
    if not name or not has_labels(name):  # "a..localhost" is no name under localhost
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def checked_host(environ: WSGIEnvironment) -> str:
    """The request's ``host[:port]``, fit to start a link.

    :raises BadRequest: not a host name or address with a port in range (a name with an
        empty label or one over 63 characters is none: see :func:`has_labels`).
    """
    host = get_host(environ)
    match = _HOST.fullmatch(host)
    if (
        match is None
        or not has_labels(match.group(1) or match.group(2))
        or (match.group(3) is not None and int(match.group(3)) > 65535)
    ):
        raise BadRequest("Invalid Host header.")
    return host
