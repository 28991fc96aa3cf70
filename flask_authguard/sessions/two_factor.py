"""The second factor's state: each user's record, the sign-in waiting for its code, and whether
a session passed the second factor.

- Records go through the adapter (``get_two_factor`` / ``save_two_factor``: the
  ``authguard_two_factor`` table) or the ``two_factor.load`` / ``two_factor.save`` callbacks;
  any failure of either is :class:`~flask_authguard.core.errors.BackendUnavailableError` (503,
  never "let in").
- A sign-in that passed its first factor waits in an encrypted cookie (:func:`hold`), five
  minutes, bound to that browser: it is no session (the guard and ``/api/auth/session`` never
  read it), and only the right code turns it into one.
- Whether a session passed the second factor (:func:`passed`): a JWT session says so in its
  ``amr`` claim (``"otp"``). A database session's row (Auth.js's table) has no column for it, so
  the rule is kept instead: every sign-in of an enrolled user stops for the code before its
  session exists, and enrolling ends the user's other sessions; a database session of an
  enrolled user therefore passed it.
"""

from __future__ import annotations

import json
import logging
import typing as t

from ..core import _clock
from ..core._compat import call_sync
from ..core.defences.revocation import UNKNOWN_AUTH_TIME, lifetime_left
from ..core.errors import BackendUnavailableError, TokenError
from ..core.http.cookies import chunk, clean
from ..core.settings.config import Config
from ..core.tokens import jwt
from ..core.tokens.request_token import session_cookie_values, session_cookies
from ..core.two_factor import MULTI_FACTOR_AMR, SECOND_FACTOR_AMR
from .adapter_calls import call_adapter
from .base import encode_token
from .strategy import strategy_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

#: How long a sign-in waits for its code, and an enrolment for its first code (seconds).
PENDING_SECONDS = 5 * 60
SETUP_SECONDS = 15 * 60
#: The most cookies a waiting sign-in may take (an OAuth account's tokens and profile).
_MAX_PENDING_CHUNKS = 4

Record = dict[str, t.Any]


# -- records ---------------------------------------------------------------------------------


def load_record(config: Config, user_id: str) -> Record | None:
    """The user's second-factor record, or ``None`` (not enrolled).

    :raises BackendUnavailableError: the adapter or the ``load`` callback failed.
    """
    options = config.two_factor
    assert options is not None
    if options.load is None:
        found = call_adapter(config, "get_two_factor", user_id)
    else:
        try:
            found = call_sync(options.load, user_id=user_id)
        except Exception as exc:
            raise BackendUnavailableError(f"two_factor.load failed: {type(exc).__name__}") from exc
    if found is None:
        return None
    if not isinstance(found, t.Mapping) or not isinstance(found.get("secret"), str):
        raise BackendUnavailableError("two_factor.load returned no record with a 'secret'")
    return {
        "secret": found["secret"],
        "last_step": found.get("last_step"),
        "recovery_codes": list(found.get("recovery_codes") or ()),
    }


def save_record(config: Config, user_id: str, record: Record | None, previous: Record | None) -> bool:
    """Store ``record`` (``None``: turn the second factor off) in place of ``previous``;
    ``False`` when the store says the record changed meanwhile.

    :raises BackendUnavailableError: the adapter or the ``save`` callback failed.
    """
    options = config.two_factor
    assert options is not None
    if options.save is None:
        return bool(call_adapter(config, "save_two_factor", user_id, record, previous))
    try:
        result = call_sync(options.save, user_id=user_id, record=record, previous=previous)
    except Exception as exc:
        raise BackendUnavailableError(f"two_factor.save failed: {type(exc).__name__}") from exc
    return result is not False


# -- has this session passed it --------------------------------------------------------------


def passed(config: Config, token: t.Mapping[str, t.Any] | None) -> bool:
    """Whether the session of ``token`` passed the second factor (module docstring).

    :raises BackendUnavailableError: the records cannot be read.
    """
    if token is None:
        return False
    amr = token.get("amr")
    if isinstance(amr, list):
        return not MULTI_FACTOR_AMR.isdisjoint(m for m in amr if isinstance(m, str))
    if config.strategy == "database" and config.two_factor is not None and token.get("sub"):
        return load_record(config, str(token["sub"])) is not None
    return False


def with_second_factor(
    config: Config, environ: WSGIEnvironment, secure: bool, token: t.Mapping[str, t.Any]
) -> list[str]:
    """The ``Set-Cookie`` values of the signed-in user's session once it passed the second factor
    (enrolment's first code, or a code asked for by an ``mfa=True`` route): a JWT session is
    issued again with ``"otp"`` added to its ``amr`` (its other claims, sign-in time and id kept);
    with database sessions every session of the user ends and a new one starts, as old as the
    ending one for a view with ``max_age``.

    :raises BackendUnavailableError: the store failed.
    """
    if config.strategy == "database":
        user_id = str(token["sub"])
        strategy = strategy_of(config)
        # defence: the new row's step-up time stays the old session's, as a JWT session keeps its
        # auth_time and idp_auth_time (a code now is no password typed now); unknown stays unknown
        started = strategy.devices.sign_in_time(environ, token)
        call_adapter(config, "delete_user_sessions", user_id)
        made = strategy.create(
            environ,
            secure,
            user={"id": user_id},
            account={},
            authenticated_at=UNKNOWN_AUTH_TIME if started is None else started,
        )
        return made or []
    claims = dict(token)
    amr = (
        [m for m in claims.get("amr") or () if isinstance(m, str)]
        if isinstance(claims.get("amr"), list)
        else []
    )
    claims["amr"] = [*amr, SECOND_FACTOR_AMR] if SECOND_FACTOR_AMR not in amr else amr
    spec = config.session_cookie(secure)
    max_age = config.session_max_age
    left = lifetime_left(token, config)  # defence: never past session.max_lifetime
    if left is not None:
        max_age = max(1, min(max_age, int(left)))
    encoded = encode_token(config, claims, max_age, config.salt_for(spec.name))
    existing = session_cookies(environ, spec.name)
    return chunk(
        spec, encoded, existing=existing, chunk_size=config.chunk_size, expires=_clock.now() + max_age
    )


# -- encrypted cookies: the waiting sign-in, the secret being enrolled ----------------------


def seal(
    config: Config, environ: WSGIEnvironment, secure: bool, kind: str, data: t.Mapping[str, t.Any]
) -> list[str]:
    """``Set-Cookie`` values holding ``data`` encrypted in the ``kind`` cookie (``two_factor``:
    a waiting sign-in, ``two_factor_setup``: an enrolment), keyed by the cookie's name.

    :raises ValueError: the data would take more than four cookies.
    """
    spec = config.cookie(kind, secure)
    seconds = PENDING_SECONDS if kind == "two_factor" else SETUP_SECONDS
    # default=str: an adapter user's emailVerified (a datetime) travels as text
    plain = json.loads(json.dumps(dict(data), default=str))
    sealed = jwt.encode(token=plain, secret=config.current_secrets(), max_age=seconds, salt=spec.name)
    if len(sealed) > _MAX_PENDING_CHUNKS * config.chunk_size:
        raise ValueError("the sign-in is too large to wait for its second factor in cookies")
    existing = session_cookies(environ, spec.name)
    return chunk(
        spec, sealed, existing=existing, chunk_size=config.chunk_size, expires=_clock.now() + seconds
    )


def unseal(config: Config, environ: WSGIEnvironment, secure: bool, kind: str) -> dict[str, t.Any] | None:
    """What :func:`seal` stored in the ``kind`` cookie, or ``None`` (absent, expired, tampered)."""
    spec = config.cookie(kind, secure)
    for candidate in session_cookie_values(environ, spec.name)[1]:
        try:
            found = jwt.decode(token=candidate, secret=config.current_secrets(), salt=spec.name)
        except TokenError:
            continue
        if found is not None:
            return found
    return None


def cleared(config: Config, environ: WSGIEnvironment, secure: bool, kind: str) -> list[str]:
    """Deletions of the ``kind`` cookie (and its chunks) the request carried."""
    spec = config.cookie(kind, secure)
    return clean(spec, existing=session_cookies(environ, spec.name))


__all__ = [
    "PENDING_SECONDS",
    "SETUP_SECONDS",
    "Record",
    "cleared",
    "load_record",
    "passed",
    "save_record",
    "seal",
    "unseal",
    "with_second_factor",
]
