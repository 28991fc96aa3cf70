"""``get_server_session`` without a framework: the session read, once per request and options.

.. code-block:: python

    from werkzeug.wrappers import Request, Response
    from flask_authguard import get_server_session

    def app(environ, start_response):
        request, response = Request(environ), Response()
        session = get_server_session(request, response, options)
        response.set_data("hello " + (session["user"]["name"] if session else "stranger"))
        return response(environ, start_response)

The strategy (:mod:`~flask_authguard.sessions.jwt` or :mod:`~flask_authguard.sessions.database`)
does the reading; this module resolves the options, keeps the result in the environ, and puts
its cookies on a response. Where this deliberately differs from next-auth:

- no CSRF or callback-url cookie is ever set by a session read (next-auth's ``init()`` does);
- without a secret a read always raises :exc:`~flask_authguard.ConfigurationError` (next-auth
  derives a throw-away secret outside production);
- a response that already writes the session cookie (a sign-out deleting it, a sign-in setting
  a new one) is never given the refresh on top: the response's own word wins;
- a cookie-authenticated mutation or WebSocket handshake from another site reads as "no
  session", with the cookie left as it is (:func:`~flask_authguard.core.defences.crosssite.forged_reason`;
  ``trusted_origins`` pass, ``cross_site_protection=False`` turns it off).
"""

from __future__ import annotations

import logging
import typing as t

from ..core.defences import crosssite
from ..core.errors import ConfigurationError
from ..core.http.cookies import is_session_cookie
from ..core.runtime import Runtime, runtime_for
from ..core.settings.config import Config
from ..core.settings.options import NO_SECRET, AuthOptions
from .base import NOT_UPDATE, SessionResult
from .strategy import strategy_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

OptionsLike = AuthOptions | t.Mapping[str, t.Any] | Config | Runtime | None

_RESULT_KEY = "authguard.session"
_NO_SECRET = (
    "There is a problem with the server configuration: no secret. "
    "Set NEXTAUTH_SECRET (or AUTH_SECRET), or pass secret=..."
)


def config_of(options: OptionsLike) -> Config:
    """The resolved options of ``options``' runtime (:func:`~flask_authguard.core.runtime.runtime_for`):
    the same options object, unchanged, is resolved once."""
    return runtime_for(options).config


def read_session(environ: WSGIEnvironment, config: Config, *, update: t.Any = NOT_UPDATE) -> SessionResult:
    """The session of a request, computed once per request and options; ``None`` for a
    cookie-authenticated mutation or WebSocket handshake from another site.

    :param update: for a session update (``POST /session``): the posted data, handed to
        ``callbacks.jwt`` with ``trigger="update"``; never cached.

    :raises ConfigurationError: no secret is configured.
    :raises BackendUnavailableError: the session store failed (database strategy).
    """
    cached = environ.get(_RESULT_KEY)
    if cached is not None and cached[0] is config and update is NOT_UPDATE:
        return t.cast(SessionResult, cached[1])
    if not config.current_secrets():
        logger.error("NO_SECRET: %s", NO_SECRET)
        raise ConfigurationError(_NO_SECRET)
    reason = crosssite.forged_reason(environ, config)
    if reason is None:
        result = strategy_of(config).read(environ, update)
    else:  # defence: another site's page must not act as the user, nor sign them out
        logger.info("cross-site request, no session: %s", reason)
        result = SessionResult(None, [], None)
    environ[_RESULT_KEY] = (config, result)
    return result


def replace_result(environ: WSGIEnvironment, config: Config, result: SessionResult) -> None:
    """Make ``result`` the request's session read (a provider token refresh changed the token
    or the session's ``error``): later reads of the request get it."""
    environ[_RESULT_KEY] = (config, result)


def _cookie_name(set_cookie_header: str) -> str:
    return set_cookie_header.split(";", 1)[0].partition("=")[0].strip()


def writes_session_cookie(set_cookie_headers: t.Iterable[str], session_name: str) -> bool:
    """Whether a response already sets or deletes the session cookie or a chunk of it."""
    return any(is_session_cookie(_cookie_name(h), session_name) for h in set_cookie_headers)


def cookies_to_add(
    existing: t.Sequence[str], result: SessionResult, config: Config, secure: bool
) -> list[str] | None:
    """The ``Set-Cookie`` values of ``result`` a response already setting ``existing`` still
    needs; ``None`` when the response writes the session cookie itself (sign-out, sign-in): its
    own word wins."""
    if not existing:  # the usual response: it sets no cookie of its own
        return list(result.set_cookies)
    name = config.session_cookie(secure).name
    if writes_session_cookie(existing, name):
        ours = set(result.set_cookies)
        if not all(h in ours for h in existing if is_session_cookie(_cookie_name(h), name)):
            logger.debug("the response writes the session cookie itself: no refresh")
            return None
    return [h for h in result.set_cookies if h not in existing]


def apply_cookies(headers: t.Any, result: SessionResult, config: Config, secure: bool) -> bool:
    """Add ``result``'s cookies to werkzeug ``Headers``, unless the response writes the session
    cookie itself (sign-out, sign-in): its own word wins.

    :returns: whether the cookies were added.
    """
    if not result.set_cookies:
        return False
    existing = headers.getlist("Set-Cookie")
    added = cookies_to_add(existing, result, config, secure)
    if added is None:
        return False
    for header in added:
        headers.add("Set-Cookie", header)
    return True


def swap_cookies(
    headers: t.Any, replaced: SessionResult | None, result: SessionResult, config: Config, secure: bool
) -> bool:
    """:func:`apply_cookies` for a read that ``replaced`` an earlier one of the request (a
    provider token refresh): the earlier read's cookies on the response give way first.

    :param headers: werkzeug ``Headers`` (or anything with ``getlist``, ``add``, ``remove``).
    :returns: whether ``result``'s cookies were added.
    """
    if replaced is not None and replaced.set_cookies != result.set_cookies:
        stale = set(replaced.set_cookies)
        present = headers.getlist("Set-Cookie")
        kept = [header for header in present if header not in stale]
        if len(kept) != len(present):
            headers.remove("Set-Cookie")
            for header in kept:
                headers.add("Set-Cookie", header)
    return apply_cookies(headers, result, config, secure)
