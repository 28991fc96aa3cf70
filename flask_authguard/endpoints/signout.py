"""Signing out: ``GET /signout`` (the confirmation page) and ``POST /signout`` (CSRF)."""

from __future__ import annotations

import typing as t

from ..core.cookies import clean, delete_cookie_header, session_values
from ..core.token import request_cookies
from ..sessions.session import decode_session_cookie, fire_event

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
    """End the request's session: ``events.sign_out`` (when there was a session cookie), then
    every session cookie and chunk deleted.

    The one place that asks "JWT or database?" at sign-out: the database row is deleted (a
    failing database raises, and the cookie stays); a JWT is only decoded for the event.
    """
    config = f.config
    spec = config.session_cookie(f.secure)
    cookies = request_cookies(f.environ)
    if config.strategy == "database":
        from ..sessions.database import sign_out_database

        session = sign_out_database(f.environ, config, spec)
        fire_event(config, "sign_out", session=session)
    else:
        candidates = session_values(cookies, spec.name)
        if candidates:
            token = decode_session_cookie(f.environ, config, candidates, spec.name)
            fire_event(config, "sign_out", token=token)
    f.cookies.extend(clean(spec, existing=cookies))
