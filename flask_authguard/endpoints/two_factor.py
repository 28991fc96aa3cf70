"""The second factor's routes (``two_factor`` on), and the stop every sign-in of an enrolled user
makes after its first factor.

============================  ==========================================================
``GET  /two-factor``          signed in: enrol (a new secret as a QR code and as text, and
                              the field for the first code), or, once enrolled, the state
                              (and the code field, when this session has not passed it)
``POST /two-factor``          (CSRF) ``action=enable`` with the first ``code``: the ten
                              recovery codes, shown once; ``action=confirm``: this session
                              passes the second factor; ``action=disable`` (with a code)
``GET  /two-factor/verify``   "enter your code", for a sign-in waiting for its second factor
``POST /two-factor/verify``   (CSRF) ``code`` (or ``recovery_code``): the session, then
                              ``callbackUrl``
============================  ==========================================================

Codes are throttled like passwords (``throttle.per_identifier`` per user and address, and the
others), counted under the user, so a few mistakes cost nothing and another address's guesses
never lock the owner out.
"""

from __future__ import annotations

import logging
import typing as t

from ..core.errors import SignInError
from ..core.runtime import runtime_of
from ..core.tokens.claims import is_timestamp
from ..core.two_factor import (
    FIRST_FACTOR_AMR,
    PASSKEY_AMR,
    PASSKEY_TYPE,
    SECOND_FACTOR_AMR,
    clean_code,
    matching_step,
    new_record,
    new_recovery_codes,
    new_secret,
    open_secret,
    provisioning_uri,
    qr_svg,
    seal_secret,
    unused_recovery_code,
)
from ..sessions import strategy_of
from ..sessions.base import fire_event
from ..sessions.two_factor import (
    Record,
    cleared,
    load_record,
    passed,
    save_record,
    seal,
    unseal,
    with_second_factor,
)
from .flow import unsupported

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from ..core.settings.config import Config
    from ..providers.base import Provider, SignInResult
    from .flow import Flow

logger = logging.getLogger("flask_authguard")

#: The messages of the two-factor pages.
MESSAGES = {
    "WrongCode": "That code is not right, or it was used already. Try the next code your app shows.",
    "Expired": "That took too long. Please start again.",
    "AlreadyOn": "Two-factor authentication is on already.",
}


# -- the stop after the first factor ---------------------------------------------------------


def first_factor(config: Config, provider: Provider) -> list[str] | None:
    """The ``amr`` of a sign-in with ``provider`` alone (``["pwd"]``...), ``None`` when
    ``two_factor`` is off (tokens then carry no ``amr``)."""
    if config.two_factor is None:
        return None
    if provider.type == PASSKEY_TYPE:
        return list(PASSKEY_AMR)
    return [FIRST_FACTOR_AMR.get(provider.type, provider.type)]


def hold(f: Flow, provider: Provider, result: SignInResult, callback_url: str) -> Response | None:
    """For a user who enrolled: the sign-in waits in an encrypted cookie and the answer goes to
    ``/two-factor/verify``; ``None`` (sign in now) for everyone else, and for a passkey sign-in,
    which is two factors by itself (:data:`~flask_authguard.core.two_factor.PASSKEY_AMR`).

    :raises BackendUnavailableError: the records cannot be read.
    :raises ValueError: the sign-in is too large to wait in cookies.
    """
    config = f.config
    user_id = result.user.get("id")
    if provider.type == PASSKEY_TYPE:
        return None
    if config.two_factor is None or user_id is None or load_record(config, str(user_id)) is None:
        return None
    waiting = {
        "user": dict(result.user),
        "account": dict(result.account),
        "profile": dict(result.profile) if result.profile is not None else None,
        "new": result.is_new_user,
        "amr": first_factor(config, provider),
        "authenticated_at": result.authenticated_at,
        "callbackUrl": callback_url,
    }
    f.cookies.extend(seal(config, f.environ, f.secure, "two_factor", waiting))
    return f.redirect(f"{f.auth_url}/two-factor/verify")


# -- routes ----------------------------------------------------------------------------------


def verify_page(f: Flow, provider_id: str | None) -> Response:
    """``GET /two-factor/verify``: the code field for the waiting sign-in, else back to sign-in."""
    if f.config.two_factor is None or provider_id != "verify":
        return unsupported(f)
    waiting = unseal(f.config, f.environ, f.secure, "two_factor")
    if waiting is None:
        return f.redirect(f"{f.auth_url}/signin")
    return _verify_form(f, waiting, error=None)


def verify(f: Flow, provider_id: str | None) -> Response:
    """``POST /two-factor/verify`` (CSRF): the right code turns the waiting sign-in into the
    session, with ``amr`` naming both factors."""
    config = f.config
    if config.two_factor is None or provider_id != "verify":
        return unsupported(f)
    if not f.csrf_ok():
        return f.redirect(f"{f.auth_url}/two-factor/verify?csrf=true")
    waiting = unseal(config, f.environ, f.secure, "two_factor")
    user = waiting.get("user") if waiting is not None else None
    if waiting is None or not isinstance(user, dict) or user.get("id") is None:
        return f.redirect(f"{f.auth_url}/signin?error=SessionRequired")
    user_id = str(user["id"])
    wait = _count(f, user_id)
    if wait is not None:
        return _too_many(f, wait)
    record = load_record(config, user_id)
    if record is not None and not _use_code(f, user_id, record):
        return _verify_form(f, waiting, error="WrongCode", status=401)
    first = [m for m in waiting.get("amr") or () if isinstance(m, str)]
    # the code is new, the first factor's authentication (an IdP's auth_time) is as old as it was
    authenticated_at = waiting.get("authenticated_at")
    try:
        made = strategy_of(config).create(
            f.environ,
            f.secure,
            user=user,
            account=waiting.get("account") or {},
            profile=waiting.get("profile"),
            is_new_user=bool(waiting.get("new")),
            amr=[*first, SECOND_FACTOR_AMR] if record is not None else first,
            authenticated_at=float(authenticated_at) if is_timestamp(authenticated_at) else None,
        )
    except SignInError as exc:
        return f.redirect(f.error_url(exc.code))
    if made is None:
        return f.redirect(f.error_url("AccessDenied"), json_status=403)
    _succeeded(f, user_id)
    f.cookies.extend(cleared(config, f.environ, f.secure, "two_factor"))
    f.cookies.extend(made)
    fire_event(
        config,
        "sign_in",
        user=user,
        account=waiting.get("account"),
        profile=waiting.get("profile"),
        is_new_user=bool(waiting.get("new")),
    )
    return f.redirect(f.callback_url(waiting.get("callbackUrl")))


def settings_page(f: Flow, provider_id: str | None = None) -> Response:
    """``GET /two-factor``: enrol, or the second factor's state, for the signed-in user."""
    if f.config.two_factor is None:
        return unsupported(f)
    token = strategy_of(f.config).token(f.environ)
    callback_url = f.callback_url(f.request.args.get("callbackUrl"))
    if token is None or not token.get("sub"):
        here = f"{f.auth_url}/two-factor"
        return f.redirect(f.signin_link(f.callback_url(here)))
    user_id = str(token["sub"])
    record = load_record(f.config, user_id)
    if record is None:
        return _setup(f, token, callback_url, error=None)
    return _settings(f, token, record, callback_url, error=None)


def settings(f: Flow, provider_id: str | None = None) -> Response:
    """``POST /two-factor`` (CSRF): ``action`` ``enable``, ``confirm`` or ``disable``."""
    config = f.config
    if config.two_factor is None:
        return unsupported(f)
    callback_url = f.callback_url(f.callback_param())
    if not f.csrf_ok():
        return f.redirect(f"{f.auth_url}/two-factor?csrf=true")
    token = strategy_of(config).token(f.environ)
    if token is None or not token.get("sub"):
        return f.redirect(f.signin_link(f.callback_url(f"{f.auth_url}/two-factor")))
    user_id = str(token["sub"])
    action = f.form.get("action")
    wait = _count(f, user_id)
    if wait is not None:
        return _too_many(f, wait)
    record = load_record(config, user_id)
    if action == "enable":
        return _enable(f, token, record, callback_url)
    if record is None or action not in ("confirm", "disable"):
        return f.redirect(f"{f.auth_url}/two-factor")
    if not _use_code(f, user_id, record):
        return _settings(f, token, record, callback_url, error="WrongCode", status=401)
    _succeeded(f, user_id)
    if action == "disable":
        save_record(config, user_id, None, _latest(config, user_id))
        logger.info("two-factor authentication turned off for a user")
        return f.redirect(f"{f.auth_url}/two-factor")
    f.cookies.extend(with_second_factor(config, f.environ, f.secure, token))
    return f.redirect(callback_url)


def _enable(f: Flow, token: t.Mapping[str, t.Any], record: Record | None, callback_url: str) -> Response:
    """The first code against the secret being enrolled: the recovery codes, once."""
    config = f.config
    user_id = str(token["sub"])
    if record is not None:
        return _settings(f, token, record, callback_url, error="AlreadyOn", status=409)
    setup = unseal(config, f.environ, f.secure, "two_factor_setup")
    secret = setup.get("secret") if setup is not None and setup.get("user") == user_id else None
    if not isinstance(secret, str):
        return _setup(f, token, callback_url, error="Expired", status=400)
    step = matching_step(secret, clean_code(f.form.get("code")), None)
    if step is None:
        return _setup(f, token, callback_url, error="WrongCode", status=400, secret=secret)
    codes = new_recovery_codes()
    sealed = seal_secret(secret, user_id=user_id, secrets=config.current_secrets())
    if not save_record(config, user_id, new_record(sealed, step, codes), None):
        return _settings(
            f, token, load_record(config, user_id) or {}, callback_url, error="AlreadyOn", status=409
        )
    _succeeded(f, user_id)
    logger.info("two-factor authentication turned on for a user")
    f.cookies.extend(cleared(config, f.environ, f.secure, "two_factor_setup"))
    f.cookies.extend(with_second_factor(config, f.environ, f.secure, token))
    return f.page("authguard/two_factor.html", mode="codes", codes=codes, callback_url=callback_url)


def _setup(
    f: Flow,
    token: t.Mapping[str, t.Any],
    callback_url: str,
    *,
    error: str | None,
    status: int = 200,
    secret: str | None = None,
) -> Response:
    """The enrolment page: the secret being enrolled (kept in its cookie across reloads)."""
    config = f.config
    user_id = str(token["sub"])
    if secret is None:
        setup = unseal(config, f.environ, f.secure, "two_factor_setup")
        kept = setup.get("secret") if setup is not None and setup.get("user") == user_id else None
        secret = kept if isinstance(kept, str) else new_secret()
    f.cookies.extend(
        seal(config, f.environ, f.secure, "two_factor_setup", {"user": user_id, "secret": secret})
    )
    assert config.two_factor is not None
    issuer = config.two_factor.issuer or (f.base_url.split("://", 1)[-1] or "flask_authguard")
    account = str(token.get("email") or token.get("name") or user_id)
    uri = provisioning_uri(secret, account=account, issuer=issuer)
    return f.page(
        "authguard/two_factor.html",
        status,
        mode="setup",
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        uri=uri,
        qr=qr_svg(uri),
        callback_url=callback_url,
        error=MESSAGES.get(error or "", ""),
    )


def _settings(
    f: Flow,
    token: t.Mapping[str, t.Any],
    record: Record,
    callback_url: str,
    *,
    error: str | None,
    status: int = 200,
) -> Response:
    mode = "on" if passed(f.config, token) else "confirm"
    left = len(record.get("recovery_codes") or ())
    return f.page(
        "authguard/two_factor.html",
        status,
        mode=mode,
        recovery_left=left,
        callback_url=callback_url,
        error=MESSAGES.get(error or "", ""),
    )


def _verify_form(
    f: Flow, waiting: t.Mapping[str, t.Any], *, error: str | None, status: int = 200
) -> Response:
    if error and f.json_client():
        return f.json(
            {"error": error, "message": MESSAGES[error], "url": f"{f.auth_url}/two-factor/verify"}, 401
        )
    return f.page(
        "authguard/two_factor_verify.html",
        status,
        callback_url=waiting.get("callbackUrl") or "",
        error=MESSAGES.get(error or "", ""),
        csrf_failed=f.request.args.get("csrf") == "true",
    )


# -- codes -----------------------------------------------------------------------------------


def _use_code(f: Flow, user_id: str, record: Record) -> bool:
    """Check the posted ``code`` (six digits, or a recovery code) or ``recovery_code`` and use
    it up: a later time step is stored, or the recovery code removed. ``False`` for a wrong or
    used code, and when another request used the record meanwhile."""
    config = f.config
    code = clean_code(f.form.get("code")) or clean_code(f.form.get("recovery_code"))
    if not code:
        return False
    changed: Record | None = None
    if len(code) == 6:
        secret = open_secret(record.get("secret"), user_id=user_id, secrets=config.current_secrets())
        if secret is None:
            logger.error("a stored two-factor secret does not open with the configured secrets")
            return False
        last = record.get("last_step")
        step = matching_step(secret, code, last if isinstance(last, int) else None)
        if step is not None:
            changed = {**record, "last_step": step}
    else:
        used = unused_recovery_code(code, record.get("recovery_codes") or ())
        if used is not None:
            changed = {**record, "recovery_codes": [h for h in record["recovery_codes"] if h != used]}
            logger.info("a recovery code was used (%d left)", len(changed["recovery_codes"]))
    return changed is not None and save_record(config, user_id, changed, record)


def _latest(config: Config, user_id: str) -> Record | None:
    return load_record(config, user_id)


def _count(f: Flow, user_id: str) -> int | None:
    """Count one code attempt (defence): ``None`` to go on, else the seconds to wait."""
    throttle = runtime_of(f.config).throttle
    return throttle.attempt(identifiers=(f"two-factor:{user_id}",), address=f.environ.get("REMOTE_ADDR"))


def _succeeded(f: Flow, user_id: str) -> None:
    runtime_of(f.config).throttle.succeeded(f"two-factor:{user_id}", f.environ.get("REMOTE_ADDR"))


def _too_many(f: Flow, seconds: int) -> Response:
    return f.notice(
        "TooManyRequests",
        headers={"Retry-After": str(seconds)},
        json_extra={"url": f.error_url("TooManyRequests")},
        seconds=seconds,
    )


__all__ = ["MESSAGES", "first_factor", "hold", "settings", "settings_page", "verify", "verify_page"]
