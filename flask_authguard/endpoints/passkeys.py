"""Passkey routes: the options, registration, the page that manages a user's passkeys, its script.

============================================  ==================================================
``GET  /webauthn-options/<id>?action=...``    Auth.js's options JSON: ``authenticate`` (anyone;
                                              also what an anonymous ``register`` gets) or
                                              ``register`` (a signed-in user), with the
                                              challenge cookie
``POST /callback/<id>`` with ``action=register``  store the new passkey of the signed-in user
                                              (sign-ins, ``action=authenticate``, go through
                                              :func:`~.signin.sign_in` like every provider's)
``GET  /passkeys``                            the signed-in user's passkeys: list, add, remove
``POST /passkeys``                            remove one (CSRF): it signs in no more
``GET  /passkey.js``                          the pages' script (same origin, no CDN)
============================================  ==================================================

Registration is for a signed-in user only (any sign-in method): the options' cookie names the
user, and the callback stores the passkey only for the same user still signed in. An anonymous
``action=register&email=...`` answers authenticate options instead: it can never add a passkey
to that account (Auth.js signs up a new account there; we leave sign-up to the methods that
prove an address, and offer a passkey after a first email sign-in: :func:`after_sign_in`).

The passkey's owner is the adapter's user: the session's user (database sessions), else on the
JWT strategy the adapter's user with the token's ``email`` (made when there is none yet), as
Auth.js finds it; an account without an email address gets no passkey (Auth.js's rule).
"""

from __future__ import annotations

import importlib.resources
import logging
import typing as t

from werkzeug.wrappers import Response

from ..core import _clock
from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError
from ..providers.base import SignInError
from ..providers.passkey import VERIFICATION_ERROR, PasskeyProvider, is_passkey_provider
from ..providers.passkey_challenge import clear_challenge
from ..sessions import strategy_of
from ..sessions.adapter_calls import call_adapter
from ..sessions.base import fire_event
from ..sessions.two_factor import load_record, passed
from .flow import unsupported
from .messages import NO_CACHE

if t.TYPE_CHECKING:
    from ..providers.base import SignInResult
    from .flow import Flow

logger = logging.getLogger("flask_authguard")

#: The refusal of a session that has not passed the second factor of an enrolled user.
SECOND_FACTOR = "SecondFactorRequired"
#: The refusal of a sign-in older than the provider's ``add_max_age``, asked to add a passkey.
SIGN_IN_AGAIN = "SignInAgain"
#: What the passkeys page says for an error code in its query.
PAGE_ERRORS = {
    VERIFICATION_ERROR: "The passkey could not be added. Try again.",
    "PasskeyExists": "This passkey is registered already.",
    "NoEmail": "Passkeys need an account with an email address.",
    SECOND_FACTOR: "Enter a code from your authenticator app first: sign in again to add or remove passkeys.",
    SIGN_IN_AGAIN: "Adding a passkey needs a recent sign-in: sign in again, then add it.",
}
#: The pages' script, read once.
_SCRIPT: bytes | None = None


def passkey_provider(f: Flow) -> PasskeyProvider | None:
    """The first passkey provider configured, or ``None``."""
    return next((p for p in f.providers.values() if is_passkey_provider(p)), None)


def _signed_in(f: Flow) -> dict[str, t.Any] | None:
    """The session's user as claims (``sub``, ``email``, ``name``...), or ``None``."""
    claims = strategy_of(f.config).token(f.environ)
    return dict(claims) if claims else None


def lacks_second_factor(f: Flow, claims: t.Mapping[str, t.Any]) -> bool:
    """Whether the signed-in user has a second factor (``two_factor``) that this session has not
    passed: such a session may not add or remove passkeys. A passkey added by it would sign in
    with both factors (``amr`` ``hwk`` and ``mfa``): an older session from before the user turned
    the second factor on, or a stolen one, would otherwise get past every ``mfa=True`` route
    without a code."""
    config = f.config
    if config.two_factor is None or passed(config, claims):
        return False
    sub = claims.get("sub")
    return bool(sub) and load_record(config, str(sub)) is not None


def sign_in_again_url(f: Flow, provider: PasskeyProvider, claims: t.Mapping[str, t.Any]) -> str | None:
    """The sign-in page's URL (with ``max_age``, and back to the passkeys page) when this
    session signed in longer ago than ``provider.add_max_age`` (or when is unknown), else
    ``None``: an older session may not add a passkey, which would outlive it as a fresh sign-in.

    :raises BackendUnavailableError: the store cannot be reached (database sessions).
    """
    max_age = provider.add_max_age
    if max_age is None:
        return None
    started = strategy_of(f.config).devices.sign_in_time(f.environ, claims)
    if started is not None and _clock.now() - started <= max_age:
        return None
    return f"{f.signin_link(manage_url(f))}&max_age={max_age}"  # signin_link has a query


def _owner(f: Flow, claims: t.Mapping[str, t.Any], *, create: bool) -> dict[str, t.Any] | None:
    """The adapter's user whose passkeys the signed-in user manages (see the module text), or
    ``None`` (no email address; not stored yet and ``create`` is false)."""
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        return None
    sub = claims.get("sub")
    user = call_adapter(f.config, "get_user", str(sub)) if sub else None
    if user is None or user.get("email") != email:
        user = call_adapter(f.config, "get_user_by_email", email)
    if user is None and create:
        profile = {
            "name": claims.get("name"),
            "email": email,
            "emailVerified": None,
            "image": claims.get("picture"),
        }
        user = call_adapter(f.config, "create_user", profile)
        fire_event(f.config, "create_user", user=user)
    return dict(user) if user is not None else None


# -- GET /webauthn-options/<id> -------------------------------------------------------------------


def webauthn_options(f: Flow, provider_id: str | None) -> Response:
    """Auth.js's options JSON (see the module text); 400 ``{"error"}`` for another provider,
    an unknown action, or a signed-in user who names none (Auth.js's answers)."""
    provider = f.providers.get(provider_id or "")
    if not is_passkey_provider(provider):
        return f.json({"error": "Invalid provider"}, status=400, headers=NO_CACHE)
    action = f.request.args.get("action")
    if action not in (None, "register", "authenticate"):
        return f.json({"error": "Invalid action"}, status=400, headers=NO_CACHE)
    claims = _signed_in(f) if action != "authenticate" else None
    if claims is not None and action is None:
        return f.json({"error": "Invalid request"}, status=400, headers=NO_CACHE)
    if claims is not None and lacks_second_factor(f, claims):
        message = PAGE_ERRORS[SECOND_FACTOR]
        return f.json({"error": SECOND_FACTOR, "message": message}, status=401, headers=NO_CACHE)
    again = sign_in_again_url(f, provider, claims) if claims is not None else None
    if again is not None:  # defence: an old or stolen session may not add a lasting sign-in
        body = {"error": SIGN_IN_AGAIN, "message": PAGE_ERRORS[SIGN_IN_AGAIN], "url": again}
        return f.json(body, status=401, headers=NO_CACHE)
    if claims is not None:  # register, signed in
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            return f.json(
                {"error": "NoEmail", "message": PAGE_ERRORS["NoEmail"]}, status=400, headers=NO_CACHE
            )
        owner = _owner(f, claims, create=False)
        existing = call_adapter(f.config, "list_authenticators_by_user_id", owner["id"]) if owner else []
        user = {"sub": claims.get("sub"), "email": email, "name": claims.get("name")}
        options, cookie = provider.registration_options(f.request, user=user, existing=existing)
        action = "register"
    else:  # anyone signing in, and an anonymous register: never a passkey for an account named here
        options, cookie = provider.authentication_options(f.request)
        action = "authenticate"
    f.cookies.append(cookie)
    return f.json({"action": action, "options": options}, headers=NO_CACHE)


# -- POST /callback/<id>, action=register ---------------------------------------------------------


def wants_registration(provider: t.Any, form: t.Mapping[str, t.Any]) -> bool:
    """Whether a callback is a passkey registration (handled by :func:`register`)."""
    return is_passkey_provider(provider) and form.get("action") == "register"


def register(f: Flow, provider: PasskeyProvider, callback_url: str) -> Response:
    """Store the new passkey of the signed-in user (CSRF checked by the caller), then go to
    ``callbackUrl``; refused: back to the passkeys page with the reason. The session is kept as
    it is (Auth.js signs the user in again)."""
    f.cookies.append(clear_challenge(f.config, f.secure))
    claims = _signed_in(f)
    if claims is None:
        logger.info("passkey: registration refused: nobody is signed in")
        return f.redirect(f.error_url("SessionRequired"), json_status=401)
    if lacks_second_factor(f, claims):
        logger.info("passkey: registration refused: the session has not passed the second factor")
        return f.redirect(manage_url(f, error=SECOND_FACTOR), json_status=401)
    again = sign_in_again_url(f, provider, claims)
    if again is not None:
        logger.info("passkey: registration refused: the sign-in is older than add_max_age")
        return f.redirect(again, json_status=401)
    try:
        record = provider.verify_registration(
            f.request, f.form, user={"sub": claims.get("sub"), "email": claims.get("email")}
        )
    except SignInError as exc:
        return f.redirect(manage_url(f, error=exc.code), json_status=400)
    owner = _owner(f, claims, create=True)
    if owner is None:
        return f.redirect(manage_url(f, error="NoEmail"), json_status=400)
    if call_adapter(f.config, "get_authenticator", record["credentialID"]) is not None:
        return f.redirect(manage_url(f, error="PasskeyExists"), json_status=400)
    account = {
        "userId": owner["id"],
        "type": "webauthn",
        "provider": provider.id,
        "providerAccountId": record["providerAccountId"],
    }
    adapter = f.config.options.adapter
    try:
        call_sync(adapter.link_account, account)
        call_sync(adapter.create_authenticator, {**record, "userId": owner["id"]})
    except BackendUnavailableError:
        raise
    except Exception as exc:  # a concurrent registration of the same passkey, a value too long
        logger.error("passkey: storing the new passkey failed: %s", type(exc).__name__)
        return f.redirect(manage_url(f, error=VERIFICATION_ERROR), json_status=400)
    fire_event(f.config, "link_account", user=owner, account=account, profile=None)
    logger.info("passkey: a passkey was added to user %s", owner["id"])
    return f.redirect(callback_url)


# -- the passkeys page ----------------------------------------------------------------------------


def manage_url(f: Flow, *, callback_url: str | None = None, **flags: str) -> str:
    """The passkeys page's URL, with the way back and ``flags`` (``error=<code>``,
    ``welcome="1"``...) in its query."""
    params = [("callbackUrl", callback_url)] if callback_url else []
    params += [(name, value) for name, value in flags.items() if value]
    return f.page_url(f"{f.config.base_path}/passkeys", params)


def after_sign_in(f: Flow, result: SignInResult, callback_url: str) -> str:
    """Where a sign-in goes next: the passkeys page (to add one, then on to ``callback_url``)
    after the email link that created the user, when passkeys are on and the built-in pages
    are used; else ``callback_url``."""
    if (
        result.is_new_user
        and result.account.get("type") == "email"
        and passkey_provider(f) is not None
        and not f.config.options.pages.sign_in  # type: ignore[union-attr]
    ):
        return manage_url(f, callback_url=callback_url, welcome="1")
    return callback_url


def manage_page(f: Flow, provider_id: str | None = None) -> Response:
    """``GET /passkeys``: the signed-in user's passkeys, a button to add one, a form to remove
    each; anonymous visitors go to sign in first."""
    provider = passkey_provider(f)
    if provider is None:
        return unsupported(f)
    args = f.request.args
    callback_url = f.callback_url(args.get("callbackUrl"))
    claims = _signed_in(f)
    if claims is None:
        return f.redirect(f.signin_link(manage_url(f, callback_url=callback_url)))
    owner = _owner(f, claims, create=False)
    passkeys = call_adapter(f.config, "list_authenticators_by_user_id", owner["id"]) if owner else []
    code = args.get("error", "")
    again = sign_in_again_url(f, provider, claims)
    return f.page(
        "authguard/passkeys.html",
        provider=provider,
        passkeys=passkeys,
        email=claims.get("email"),
        callback_url=callback_url,
        page_url=manage_url(f, callback_url=callback_url),
        error=PAGE_ERRORS.get(code, "") if code else "",
        welcome=args.get("welcome") == "1",
        removed=args.get("removed") == "1",
        csrf_failed=args.get("csrf") == "true",
        script_url=script_url(f),
        sign_in_again_url=again,
        sign_in_again=PAGE_ERRORS[SIGN_IN_AGAIN],
    )


def remove(f: Flow, provider_id: str | None = None) -> Response:
    """``POST /passkeys`` (CSRF) with ``credentialID``: delete one of the signed-in user's
    passkeys (and its account link), then back to the page."""
    provider = passkey_provider(f)
    if provider is None:
        return unsupported(f)
    callback_url = f.callback_url(f.callback_param())
    page = manage_url(f, callback_url=callback_url)
    if not f.csrf_ok():
        return f.redirect(manage_url(f, callback_url=callback_url, csrf="true"))
    claims = _signed_in(f)
    if claims is None:
        return f.redirect(f.signin_link(page))
    if lacks_second_factor(f, claims):
        logger.info("passkey: removal refused: the session has not passed the second factor")
        return f.redirect(manage_url(f, callback_url=callback_url, error=SECOND_FACTOR), json_status=401)
    owner = _owner(f, claims, create=False)
    credential_id = f.form.get("credentialID")
    stored = (
        call_adapter(f.config, "get_authenticator", credential_id) if isinstance(credential_id, str) else None
    )
    if owner is None or stored is None or stored["userId"] != owner["id"]:
        logger.info("passkey: removal refused: not a passkey of the signed-in user")
        return f.redirect(page, json_status=404)
    call_adapter(f.config, "delete_authenticator", stored["credentialID"])
    key = {"provider": provider.id, "providerAccountId": stored["providerAccountId"]}
    call_adapter(f.config, "unlink_account", key)
    logger.info("passkey: a passkey of user %s was removed", owner["id"])
    return f.redirect(manage_url(f, callback_url=callback_url, removed="1"))


def script(f: Flow, provider_id: str | None = None) -> Response:
    """``GET /passkey.js``: the script of the sign-in and passkeys pages."""
    global _SCRIPT
    if passkey_provider(f) is None:
        return unsupported(f)
    if _SCRIPT is None:
        _SCRIPT = importlib.resources.files(__package__).joinpath("static/passkey.js").read_bytes()
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(_SCRIPT, mimetype="text/javascript", headers=headers)


def script_url(f: Flow) -> str:
    """Where the pages load the script from."""
    return f"{f.auth_url}/passkey.js"


__all__ = [
    "PAGE_ERRORS",
    "after_sign_in",
    "manage_page",
    "manage_url",
    "passkey_provider",
    "register",
    "remove",
    "script",
    "script_url",
    "wants_registration",
    "webauthn_options",
]
