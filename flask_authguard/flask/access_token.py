"""``get_access_token(provider_id)``: the signed-in user's access token for a provider, refreshed
when due (:mod:`flask_authguard.sessions.refresh`), in a Flask request or with werkzeug objects.

.. code-block:: python

    from flask_authguard import AccessTokenError, get_access_token

    @app.get("/api/repos")
    @auth_required
    def repos():
        try:
            token = get_access_token("keycloak")
        except AccessTokenError:
            return {"error": "sign in again"}, 401
        return requests.get(API, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()

The rolled cookie (new tokens, or the mark of a failed refresh) reaches the view's response as
``get_server_session()``'s does: error responses included.
"""

from __future__ import annotations

import typing as t

from flask import current_app, has_app_context, request
from werkzeug.wrappers import Request, Response

from ..core.settings.config import Config
from ..core.settings.options import OptionsArg
from ..guard.caching import vary_on_cookie
from ..sessions import config_of
from ..sessions.reading import swap_cookies
from ..sessions.refresh import access_token
from .session import queue_cookies
from .state import LAYER_KEY, GuardState, request_state, state_of

_NO_REQUEST = (
    "get_access_token(provider_id) needs a Flask request; "
    "elsewhere call get_access_token(request, response, provider_id, options)"
)


@t.overload
def get_access_token(provider_id: str, /) -> str | None: ...


@t.overload
def get_access_token(provider_id: str, options: OptionsArg | Config, /) -> str | None: ...


@t.overload
def get_access_token(
    request: Request, response: Response | None, provider_id: str, options: OptionsArg | Config = None, /
) -> str | None: ...


def get_access_token(*args: t.Any) -> str | None:
    """The signed-in user's current access token for the provider ``provider_id`` (an
    :class:`~flask_authguard.OAuthProvider` or :class:`~flask_authguard.OIDCProvider` with
    ``refresh=True``), refreshed at the provider when it expires within 60 seconds:

    - ``get_access_token(provider_id)`` in a Flask request: the guard's options;
    - ``get_access_token(provider_id, options)`` in a Flask request;
    - ``get_access_token(request, response, provider_id, options)`` with werkzeug objects,
      anywhere (``response`` may be ``None`` to write no cookie).

    Concurrent requests of one session refresh once, across workers too with a Redis
    ``store``; the new tokens replace the old ones (the rolled cookie, or the accounts row).

    :returns: the access token, or ``None`` when nobody is signed in or the user has no
        account with that provider.
    :raises AccessTokenError: the refresh failed (refused, or the provider is out of reach);
        the user stays signed in, the session read carries ``"error":
        "RefreshAccessTokenError"``, and the next call tries again.
    :raises BackendUnavailableError: the store or database failed (``AuthGuard`` answers 503).
    :raises ConfigurationError: no provider with that id and ``refresh=True``; no secret.
    :raises TypeError: arguments that fit none of the forms.

    .. versionadded:: 0.1
    """
    if len(args) in (1, 2) and isinstance(args[0], str):
        try:
            environ = request._get_current_object().environ  # type: ignore[attr-defined]
        except RuntimeError:
            raise RuntimeError(_NO_REQUEST) from None
        layer: GuardState | None = environ.get(LAYER_KEY)
        if len(args) == 2:
            config = config_of(args[1])
        else:
            config = request_state(environ).core.config
        answer = access_token(environ, config, args[0])
        queue_cookies(environ, answer.result, config, layer)
    elif len(args) in (3, 4) and isinstance(args[2], str):
        req, resp = args[0], args[1]
        if not isinstance(req, Request):
            raise TypeError(
                "get_access_token(request, response, provider_id, options) needs a werkzeug Request"
            )
        if resp is not None and not hasattr(getattr(resp, "headers", None), "getlist"):
            raise TypeError("get_access_token(request, response, ...): response must be a werkzeug Response")
        environ = req.environ
        options = args[3] if len(args) == 4 else None
        if options is None and has_app_context() and "authguard" in current_app.extensions:
            config = state_of().config
        else:
            config = config_of(options)
        answer = access_token(environ, config, args[2])
        if resp is not None:
            secure = config.is_secure(environ.get("wsgi.url_scheme", "http"))
            swap_cookies(resp.headers, answer.replaced, answer.result, config, secure)
            vary_on_cookie(resp.headers)
    else:
        raise TypeError(
            "get_access_token(provider_id) or get_access_token(request, response, provider_id, options)"
        )
    if answer.error is not None:
        raise answer.error
    return answer.token
