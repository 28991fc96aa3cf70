"""Signing in: ``GET /signin`` (the page), ``POST /signin/<id>`` (start), ``/callback/<id>`` (finish),
``GET /verify-request`` (the email provider's "check your email" page).

A provider's cookies (an OAuth provider's state/PKCE/nonce checks, set on the way out and
cleared on the way back) ride on every answer, refusals included.
"""

from __future__ import annotations

import dataclasses
import logging
import typing as t

from ..core._compat import call_sync
from ..core.defences import throttle
from ..core.errors import BackendUnavailableError, SignInRedirect
from ..core.runtime import runtime_of
from ..providers.base import RESERVED_FIELDS, SignInError, SignInResult, submitted_credentials
from ..providers.step_up import requested_max_age
from ..sessions import strategy_of
from ..sessions.base import fire_event
from . import passkeys, two_factor, typed_fields
from .flow import unsupported
from .messages import SIGNIN_MESSAGES

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from ..providers.base import Provider
    from ..providers.passkey import PasskeyProvider
    from .flow import Flow

logger = logging.getLogger("flask_authguard")


def signin_page(f: Flow, provider_id: str | None = None) -> Response:
    """The sign-in page (a form per provider, no JavaScript), or a redirect to ``pages.sign_in``."""
    config = f.config
    args = f.request.args
    callback_url = f.callback_url(args.get("callbackUrl"))
    code = args.get("error", "")
    max_age = requested_max_age(args)  # a step-up sign-in: providers are asked to sign in again
    if config.options.pages.sign_in:  # type: ignore[union-attr]
        params = [("callbackUrl", callback_url)] + ([("error", code)] if code else [])
        if max_age is not None:
            params.append(("max_age", str(max_age)))
        return f.redirect(f.page_url(config.sign_in_page, params))
    typed = typed_fields.take(f)  # given back once, after refused credentials only
    return f.page(
        "authguard/signin.html",
        providers=list(f.providers.values()),
        callback_url=callback_url,
        typed=typed if code == "CredentialsSignin" else {},
        error_code=code,
        error=SIGNIN_MESSAGES.get(code, SIGNIN_MESSAGES["Default"]) if code else "",
        csrf_failed=args.get("csrf") == "true",
        two_factor_url=f"{f.auth_url}/two-factor" if config.two_factor is not None else None,
        passkey_script=passkeys.script_url(f) if passkeys.passkey_provider(f) else None,
        max_age=max_age,
    )


def signin_start(f: Flow, provider_id: str | None) -> Response:
    """``POST /signin/<id>`` (CSRF): the provider's first step (an OAuth redirect), or the page."""
    callback_url = f.callback_url(f.callback_param())
    if not f.csrf_ok():
        return f.redirect(f"{f.auth_url}/signin?csrf=true")
    provider = f.providers.get(provider_id or "")
    if provider is None:
        return f.redirect(f"{f.auth_url}/signin?error=Signin")
    wait, _ = count_attempt(f, provider, f.form, "start")  # defence
    if wait is not None:
        return too_many(f, wait, provider, callback_url)
    try:
        response = provider.begin_sign_in(
            f.request, callback_url=callback_url, redirect_uri=f"{f.auth_url}/callback/{provider.id}"
        )
    except SignInError as exc:
        f.cookies.extend(exc.cookies)
        return f.redirect(f.error_url(exc.code, provider=provider.id))
    except SignInRedirect as exc:  # callbacks.sign_in answered a URL
        return f.redirect(f.resolve_redirect(exc.url))
    except BackendUnavailableError:
        raise
    except Exception:
        logger.exception("provider %s failed to start signing in", provider.id)
        return f.redirect(f.error_url("Signin", provider=provider.id))
    if response is None:
        return f.redirect(f"{f.auth_url}/signin")
    return f.provider_response(response)


def callback(f: Flow, provider_id: str | None) -> Response:
    """``/callback/<id>``: the methods the provider accepts; CSRF when it needs it."""
    provider = f.providers.get(provider_id or "")
    if provider is None or f.request.method not in provider.callback_methods:
        return unsupported(f)
    callback_url = f.callback_url(f.callback_param())
    if provider.callback_csrf and not f.csrf_ok():
        return f.redirect(f"{f.auth_url}/signin?csrf=true")
    if passkeys.wants_registration(provider, f.form):  # a new passkey, not a sign-in
        return passkeys.register(f, t.cast("PasskeyProvider", provider), callback_url)
    return sign_in(f, provider, callback_url)


def sign_in(f: Flow, provider: Provider, callback_url: str) -> Response:
    """Finish a sign-in: the provider's result, ``callbacks.sign_in``, the session, ``events.sign_in``.

    A refused credentials sign-in posted with ``json=true`` answers 401 (403 when a callback
    refused), as next-auth does: its client reads ``res.ok``; a throttled one 429 with
    ``Retry-After`` (:mod:`~flask_authguard.core.defences.throttle`).
    """
    config = f.config
    form = f.form
    # defence: count the attempt before the password is checked
    wait, counted = count_attempt(f, provider, form, "callback")
    if wait is not None:
        return too_many(f, wait, provider, callback_url)
    credentials_type = provider.type == "credentials"
    refused = 401 if credentials_type else 200
    try:
        result = provider.handle_callback(f.request, form)
    except SignInError as exc:
        f.cookies.extend(exc.cookies)  # an OAuth provider clears its check cookies
        return f.redirect(f.error_url(exc.code, provider=provider.id), json_status=refused)
    except BackendUnavailableError:
        raise
    except Exception:
        logger.exception("provider %s failed during sign-in", provider.id)
        return f.redirect(f.error_url("Callback", provider=provider.id), json_status=refused)
    if result is None:
        code = "CredentialsSignin" if credentials_type else "Callback"
        if credentials_type and not f.wants_json():
            typed_fields.keep(f, provider)  # the page gives back what was typed, not the password
        return f.redirect(f.error_url(code, provider=provider.id), json_status=refused)
    f.cookies.extend(result.cookies)
    denied = 403 if credentials_type else 200
    user, account = result.user, result.account
    credentials = {k: v for k, v in form.items() if k not in RESERVED_FIELDS} if credentials_type else None
    try:
        if config.callbacks.sign_in is not None:
            allowed = call_sync(
                config.callbacks.sign_in,
                user=user,
                account=account,
                profile=result.profile,
                credentials=credentials,
            )
            if not allowed:  # "" too, as in next-auth
                return f.redirect(f.error_url("AccessDenied"), json_status=denied)
            if isinstance(allowed, str):
                return f.redirect(f.resolve_redirect(allowed))
        result = _account_user(f, provider, result)
        held = two_factor.hold(f, provider, result, callback_url)  # an enrolled user: the code first
        if held is not None:
            throttle.succeeded(runtime_of(config).throttle, counted)  # defence: the first factor was right
            return held
        if not _sign_in_session(f, result, two_factor.first_factor(config, provider)):
            return f.redirect(f.error_url("AccessDenied"), json_status=denied)
    except SignInError as exc:  # OAuthAccountNotLinked, OAuthCreateAccount, EmailCreateAccount
        f.cookies.extend(exc.cookies)
        return f.redirect(f.error_url(exc.code, provider=provider.id), json_status=denied)
    except BackendUnavailableError:
        raise
    except Exception:
        logger.exception("signing in with %s failed in a callback or while encoding the token", provider.id)
        return f.redirect(f.error_url("Callback", provider=provider.id))
    throttle.succeeded(runtime_of(f.config).throttle, counted)  # defence
    fire_event(
        config,
        "sign_in",
        user=result.user,
        account=result.account,
        profile=result.profile,
        is_new_user=result.is_new_user,
    )
    return f.redirect(passkeys.after_sign_in(f, result, callback_url))


def _account_user(f: Flow, provider: Provider, result: SignInResult) -> SignInResult:
    """The result with the user the strategy signs in: the adapter's user when the sign-in is
    stored (next-auth's account linking, once ``callbacks.sign_in`` allowed it), else as it is.

    :raises SignInError: ``OAuthAccountNotLinked``, ``OAuthCreateAccount``, ``EmailCreateAccount``.
    """
    user, created = strategy_of(f.config).account_user(
        result.user,
        result.account,
        profile=result.profile,
        allow_email_linking=_may_link_by_email(provider, result),
    )
    if user is result.user:
        return result
    account = result.account
    if account.get("type") == "email":  # next-auth's email account names the verified user
        account = {**account, "userId": user["id"]}
    return dataclasses.replace(
        result, user=dict(user), account=account, is_new_user=created or result.is_new_user
    )


def _may_link_by_email(provider: Provider, result: SignInResult) -> bool:
    """The provider's ``may_link_by_email(profile)`` (OAuth, OIDC: the option and the profile's
    ``email_verified``), else its ``allow_dangerous_email_account_linking`` option."""
    may_link = getattr(provider, "may_link_by_email", None)
    if callable(may_link):
        return bool(may_link(result.profile))
    return bool(getattr(provider, "allow_dangerous_email_account_linking", False))


def _sign_in_session(f: Flow, result: SignInResult, amr: list[str] | None = None) -> bool:
    """Start the signed-in user's session through the strategy and add its cookies to the
    answer; ``False`` when ``callbacks.jwt`` refused (returned ``None``).

    :raises BackendUnavailableError: the session store failed; no cookie is set.
    """
    strategy = strategy_of(f.config)
    # the session this browser had: a new sign-in replaces it (sessions.devices)
    previous = strategy.devices.current(f.environ)
    cookies = strategy.create(
        f.environ,
        f.secure,
        user=result.user,
        account=result.account,
        profile=result.profile,
        is_new_user=result.is_new_user,
        amr=amr,
        authenticated_at=result.authenticated_at,  # defence: an old IdP sign-in stays old (step-up)
    )
    if cookies is None:
        return False
    strategy.devices.replace(previous)
    f.cookies.extend(cookies)
    return True


def verify_request_page(f: Flow, provider_id: str | None = None) -> Response:
    """``GET /verify-request``: where the email provider sends people once the link is sent
    (or a redirect to ``pages.verify_request``); next-auth's 400 without an email provider."""
    if not any(p.type == "email" for p in f.providers.values()):
        return unsupported(f)
    if f.config.options.pages.verify_request:  # type: ignore[union-attr]
        return f.redirect(f.page_url(f.config.verify_request_page))
    return f.page("authguard/verify_request.html")


__all__ = ["callback", "sign_in", "signin_page", "signin_start", "verify_request_page"]


#: The error code of a throttled sign-in.
TOO_MANY_REQUESTS = "TooManyRequests"


def count_attempt(
    f: Flow, provider: Provider, form: t.Mapping[str, t.Any], step: str
) -> tuple[int | None, throttle.Counted | None]:
    """Count a sign-in attempt at ``step`` in the throttle (:func:`~flask_authguard.core.defences.
    throttle.check_sign_in`): the identifiers come from exactly what ``authorize`` receives.

    :raises BackendUnavailableError: the store cannot be reached.
    """
    submitted = submitted_credentials(getattr(provider, "credentials", None) or {}, form)
    address = f.environ.get("REMOTE_ADDR")
    return throttle.check_sign_in(runtime_of(f.config).throttle, provider, form, submitted, address, step)


def too_many(f: Flow, seconds: int, provider: t.Any, callback_url: str | None = None) -> Response:
    """The 429 answer, with ``Retry-After``: for JSON clients ``{"url": <error page>}`` with
    ``error=TooManyRequests`` (next-auth's shape, as the 401 of refused credentials; with the
    ``error`` and ``message`` of every JSON notice), else the page, with a link back to sign-in
    that keeps ``callback_url``."""
    url = f.error_url(TOO_MANY_REQUESTS, provider=provider.id)
    return f.notice(
        TOO_MANY_REQUESTS,
        callback_url=callback_url,
        headers={"Retry-After": str(seconds)},
        json_extra={"url": url},
        seconds=seconds,
    )
