"""Signing out: ``GET /signout`` (the confirmation page) and ``POST /signout`` (CSRF)."""

from __future__ import annotations

import typing as t

from ..core.http.cookies import clean, delete_cookie_header
from ..core.tokens.request_token import request_cookies
from ..sessions import strategy_of
from ..sessions.revoke import Revoker
from . import passkeys

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from .flow import Flow


def signout_page(f: Flow, provider_id: str | None = None) -> Response:
    """The sign-out page (a form, no JavaScript), or a redirect to ``pages.sign_out``."""
    if f.config.options.pages.sign_out:  # type: ignore[union-attr]
        return f.redirect(f.page_url(f.config.sign_out_page))
    args = f.request.args
    return f.page(
        "authguard/signout.html",
        callback_url=f.sign_out_url(args.get("callbackUrl")),
        csrf_failed=args.get("csrf") == "true",
        two_factor_url=f"{f.auth_url}/two-factor" if f.config.two_factor is not None else None,
        passkeys_url=passkeys.manage_url(f) if passkeys.passkey_provider(f) else None,
    )


def signout(f: Flow, provider_id: str | None = None) -> Response:
    """Sign out (CSRF), then go to ``callbackUrl`` (checked) or the base URL."""
    callback_url = f.sign_out_url(f.callback_param())
    if not f.csrf_ok():
        return f.redirect(f"{f.auth_url}/signout?csrf=true")
    _sign_out_session(f)
    cookies = request_cookies(f.environ)
    # The next person on this browser must not inherit the last sign-in target.
    callback_spec = f.config.cookie("callback_url", f.secure)
    if callback_spec.name in cookies:
        f.cookies.append(delete_cookie_header(callback_spec))
    return f.redirect(callback_url)


def _sign_out_session(f: Flow) -> None:
    """End the request's session through the strategy (``events.sign_out``; a database row is
    deleted, and a failing database raises so the cookie stays), then delete every session
    cookie and chunk. With ``everywhere=true`` in the body, every session of the user ends
    (:meth:`~flask_authguard.sessions.revoke.Revoker.revoke_user`).

    :raises BackendUnavailableError: the database or the store cannot be reached.
    """
    strategy = strategy_of(f.config)
    everywhere = str(f.form.get("everywhere", "")).lower() == "true"  # defence: every session
    token = strategy.token(f.environ) if everywhere else None
    strategy.end(f.environ, f.secure)
    if token is not None and token.get("sub"):
        Revoker(f.config).revoke_user(token["sub"])
    spec = f.config.session_cookie(f.secure)
    f.cookies.extend(clean(spec, existing=request_cookies(f.environ)))
