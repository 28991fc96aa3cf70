"""Provider access tokens, refreshed for you: what ``get_access_token`` does, framework-free.

.. code-block:: python

    OIDCProvider(id="keycloak", name="Keycloak", issuer=..., refresh=True)

    token = get_access_token("keycloak")   # Flask; werkzeug and ASGI forms alike
    requests.get(API, headers={"Authorization": f"Bearer {token}"})

:func:`access_token` reads the request's session (as ``get_server_session`` does: the cookie is
rolled) and the tokens it keeps for the provider (:mod:`.provider_tokens`). An access token that
expires within :data:`REFRESH_LEEWAY` seconds is refreshed at the provider
(:meth:`OAuthProvider.refresh_tokens <flask_authguard.OAuthProvider.refresh_tokens>`) and the
new tokens replace the old ones: in the session token (the rolled cookie) on JWT sessions, in the
accounts row on database sessions.

**One refresh per refresh token.** A refresh is a *flight* (:mod:`flask_authguard.core.single_flight`)
keyed by a digest of the tokens it replaces (the refresh token, the access token and its
``expires_at``): concurrent requests of one session (threads, workers and hosts sharing the Redis
``store``) wait for the one that refreshes and take its answer. The answer stays in the store,
encrypted with a key derived from the app's secret and the old refresh token, for
:data:`OUTCOME_TTL` seconds: a request still holding the old tokens (a response that set the
cookie from before the refresh arrived last) takes it from there, so a refresh token rotated out
is never sent again within that time. A provider that does not rotate refresh tokens sends the
same one with the next refresh, but with the access token that refresh replaces: a new key, so the
provider is asked again.

**A failed refresh signs nobody out.** The provider refusing (``invalid_grant``) or being out of
reach gives :class:`~flask_authguard.AccessTokenError`; the session is marked
(``"error": "RefreshAccessTokenError"`` in its read) until a refresh succeeds or the user signs in
again; the refresh token is kept and the next call tries again. Those waiting on a failed flight
get its error without asking the provider again. A store or database that fails raises
:class:`~flask_authguard.BackendUnavailableError` (503).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import typing as t
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..core import _clock
from ..core.defences.revocation import lifetime_left
from ..core.errors import AccessTokenError, BackendUnavailableError
from ..core.http.cookies import chunk
from ..core.runtime import runtime_of
from ..core.settings.config import Config
from ..core.single_flight import flights_of
from ..core.tokens.claims import is_timestamp
from ..core.tokens.request_token import Claims, session_cookies
from .adapter_calls import call_adapter
from .base import Session, SessionResult, cookie_spec, encode_token
from .jwt import JwtSessions
from .provider_tokens import (
    KEPT_FIELDS,
    PROVIDER_TOKENS,
    REFRESH_ERROR,
    mark_refresh_error,
    refreshing_provider,
    token_record,
)
from .reading import read_session, replace_result
from .strategy import strategy_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

logger = logging.getLogger("flask_authguard")

#: An access token that expires within this many seconds is refreshed.
REFRESH_LEEWAY = 60
#: Seconds a refresh's answer stays in the store for requests still holding the old token.
OUTCOME_TTL = 3600
#: Seconds a failed refresh's outcome is kept for those that waited on it.
FAILURE_TTL = 60
#: Seconds a flight may hold its lock beyond the provider's ``timeout``.
LOCK_MARGIN = 5.0
#: How many refreshes in a row one call may follow (answers whose tokens were due again).
MAX_HOPS = 4


class AccessTokenAnswer(t.NamedTuple):
    """What :func:`access_token` produced for the front ends."""

    #: The access token, or ``None`` (nobody signed in, no account with the provider, an error).
    token: str | None
    #: The request's session read now: its ``set_cookies`` go on the response.
    result: SessionResult
    #: The read it replaced, whose cookies (already on a response) must give way; else ``None``.
    replaced: SessionResult | None
    #: The refresh's failure, to raise once the cookies are on the response.
    error: AccessTokenError | None


def access_token(environ: WSGIEnvironment, config: Config, provider_id: str) -> AccessTokenAnswer:
    """The signed-in user's access token for ``provider_id``, refreshed when due (see the module
    docstring); a failure is returned in :attr:`AccessTokenAnswer.error`, never raised.

    :raises ConfigurationError: no provider ``provider_id`` with ``refresh=True``; no secret.
    :raises BackendUnavailableError: the store or the database failed.
    """
    provider = refreshing_provider(config, provider_id)
    result = read_session(environ, config)
    if result.session is None:
        return AccessTokenAnswer(None, result, None, None)
    if isinstance(strategy_of(config), JwtSessions):
        return _from_token(environ, config, provider, result)
    return _from_account(environ, config, provider, result)


def _due(record: t.Mapping[str, t.Any]) -> bool:
    """Whether ``record``'s access token is to be refreshed: it expires within
    :data:`REFRESH_LEEWAY`, or its ``expires_at`` is no time to compute with (a huge number, a
    string: a session token written elsewhere; the refresh replaces it). Without ``expires_at``
    (the provider said none) it never is."""
    expires_at = record.get("expires_at")
    if expires_at is None:
        return False
    return not is_timestamp(expires_at) or expires_at - _clock.now() < REFRESH_LEEWAY


# -- JWT sessions: the tokens are in the session token ----------------------------------------


def _from_token(
    environ: WSGIEnvironment, config: Config, provider: t.Any, result: SessionResult
) -> AccessTokenAnswer:
    token = result.token
    record = token_record(token, provider.id)
    if token is None or record is None:
        return AccessTokenAnswer(None, result, None, None)
    if not _due(record) and token.get("error") != REFRESH_ERROR:
        return AccessTokenAnswer(record["access_token"], result, None, None)
    new_token = dict(token)
    if _due(record):
        try:
            record = refreshed(config, provider, record)
        except AccessTokenError as exc:
            new_token["error"] = REFRESH_ERROR
            return AccessTokenAnswer(None, _rolled(environ, config, result, new_token), result, exc)
        held = token.get(PROVIDER_TOKENS)
        kept = {name: record[name] for name in KEPT_FIELDS if record.get(name) is not None}
        new_token[PROVIDER_TOKENS] = {**(held if isinstance(held, dict) else {}), provider.id: kept}
    new_token.pop("error", None)  # the marked token's access token is good again
    return AccessTokenAnswer(
        record["access_token"], _rolled(environ, config, result, new_token), result, None
    )


def _rolled(environ: WSGIEnvironment, config: Config, result: SessionResult, token: Claims) -> SessionResult:
    """The session read again with ``token``: its cookies, the session's ``error`` to match;
    the request's read from now on (:func:`~.reading.replace_result`)."""
    spec = cookie_spec(environ, config)
    max_age = config.session_max_age
    left = lifetime_left(token, config)  # defence: the absolute lifetime still caps it
    if left is not None:
        max_age = max(1, min(max_age, int(left)))
    try:
        encoded = encode_token(config, token, max_age, config.salt_for(spec.name))
    except Exception:
        logger.exception("re-encoding the session token after a provider refresh failed")
        return result
    cookies = chunk(
        spec,
        encoded,
        existing=session_cookies(environ, spec.name),
        chunk_size=config.chunk_size,
        expires=_clock.now() + max_age,
    )
    new = SessionResult(_with_error(result.session, token.get("error") == REFRESH_ERROR), cookies, token)
    replace_result(environ, config, new)
    return new


def _with_error(session: Session | None, failed: bool) -> Session | None:
    if session is None:
        return None
    session = dict(session)
    if failed:
        session["error"] = REFRESH_ERROR
    elif session.get("error") == REFRESH_ERROR:
        del session["error"]
    return session


# -- database sessions: the tokens are in the accounts row ------------------------------------


def _from_account(
    environ: WSGIEnvironment, config: Config, provider: t.Any, result: SessionResult
) -> AccessTokenAnswer:
    claims = strategy_of(config).token(environ)
    user_id = claims.get("sub") if claims is not None else None
    if not isinstance(user_id, str):
        return AccessTokenAnswer(None, result, None, None)
    account = call_adapter(config, "get_user_account", user_id, provider.id)
    if account is None or not (account.get("access_token") or account.get("refresh_token")):
        return AccessTokenAnswer(None, result, None, None)
    key = {"provider": provider.id, "providerAccountId": account["providerAccountId"]}
    record = {name: account.get(name) for name in KEPT_FIELDS}
    marked = result.session is not None and result.session.get("error") == REFRESH_ERROR
    if isinstance(record["access_token"], str) and record["access_token"] and not _due(record) and not marked:
        return AccessTokenAnswer(record["access_token"], result, None, None)

    def save(new: t.Mapping[str, t.Any]) -> None:
        tokens = {name: new.get(name) for name in (*KEPT_FIELDS, "id_token") if new.get(name) is not None}
        call_adapter(config, "update_account", {**key, **tokens})

    def reload() -> dict[str, t.Any] | None:
        row = call_adapter(config, "get_user_account", user_id, provider.id)
        return None if row is None else {name: row.get(name) for name in KEPT_FIELDS}

    if _due(record) or not record["access_token"]:
        try:
            record = refreshed(config, provider, record, save=save, reload=reload)
        except AccessTokenError as exc:
            mark_refresh_error(config, provider.id, user_id, True)
            new = SessionResult(_with_error(result.session, True), result.set_cookies, None)
            replace_result(environ, config, new)
            return AccessTokenAnswer(None, new, result, exc)
    if marked:
        mark_refresh_error(config, provider.id, user_id, False)
    new = SessionResult(_with_error(result.session, False), result.set_cookies, None)
    replace_result(environ, config, new)
    return AccessTokenAnswer(record["access_token"], new, result, None)


# -- one refresh per refresh token --------------------------------------------------------------


def refreshed(
    config: Config,
    provider: t.Any,
    record: t.Mapping[str, t.Any],
    *,
    save: t.Callable[[t.Mapping[str, t.Any]], None] | None = None,
    reload: t.Callable[[], t.Mapping[str, t.Any] | None] | None = None,
) -> dict[str, t.Any]:
    """New tokens for ``record``'s refresh token, asked of the provider once however many
    requests want them at the same time (see the module docstring).

    :param save: called by the one that refreshed, before the others are told (the accounts row).
    :param reload: called by the one about to refresh: the tokens as they are stored now (another
        process may have refreshed them already).
    :raises AccessTokenError: the refresh failed, or the flight it waited on did.
    :raises BackendUnavailableError: the store (or ``save``) failed.
    """
    flights = flights_of(runtime_of(config).store)
    lock_ttl = float(provider.timeout) + LOCK_MARGIN
    current: t.Mapping[str, t.Any] = record
    hops = 0
    while True:
        refresh_token = current.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            logger.info("provider %s: the access token is due and there is no refresh token", provider.id)
            raise AccessTokenError(provider.id, "no_refresh_token")
        key = _digest(provider.id, current)
        owner, sealed = flights.look(key)
        outcome = _open(config, sealed, refresh_token)
        if outcome is not None and "tokens" in outcome:
            current, hops = outcome["tokens"], hops + 1
            if not _due(current) or hops > MAX_HOPS:
                return dict(current)
            continue  # its access token is due as well: refresh with the token it brought
        if owner is None:
            flight = uuid.uuid4().hex
            if flights.begin(key, flight, lock_ttl):
                answer, final = _fly(config, provider, flights, key, flight, refresh_token, save, reload)
                if final and answer is not None:
                    return answer
                current, hops = answer or current, hops + 1
                if hops > MAX_HOPS:
                    raise AccessTokenError(provider.id, "unavailable")
            continue
        _wait(config, provider, flights, key, owner, refresh_token, time.monotonic() + lock_ttl + 1)


def _wait(
    config: Config,
    provider: t.Any,
    flights: t.Any,
    key: str,
    owner: str,
    refresh_token: str,
    deadline: float,
) -> None:
    """Wait for ``owner``'s flight to end (then the caller looks again).

    :raises AccessTokenError: that flight failed, or it did not end in time.
    """
    while time.monotonic() < deadline:
        flights.wait(key, deadline - time.monotonic())
        now_owner, sealed = flights.look(key)
        outcome = _open(config, sealed, refresh_token)
        if outcome is not None and outcome.get("failed") == owner:
            raise AccessTokenError(provider.id, str(outcome.get("reason")), outcome.get("error"))
        if now_owner != owner or (outcome is not None and "tokens" in outcome):
            return
    logger.warning("provider %s: gave up waiting for another request's refresh", provider.id)
    raise AccessTokenError(provider.id, "unavailable")


def _fly(
    config: Config,
    provider: t.Any,
    flights: t.Any,
    key: str,
    flight: str,
    refresh_token: str,
    save: t.Callable[[t.Mapping[str, t.Any]], None] | None,
    reload: t.Callable[[], t.Mapping[str, t.Any] | None] | None,
) -> tuple[dict[str, t.Any] | None, bool]:
    """Refresh as the flight's owner: the new tokens and ``True``; or, when the tokens changed
    meanwhile, the stored ones (``None``: look again) and ``False``. The outcome is published
    and the lock released."""
    published = False
    try:
        _, sealed = flights.look(key)  # a flight that ended between our look and our lock
        if sealed is not None and (_open(config, sealed, refresh_token) or {}).get("tokens"):
            return None, False
        if reload is not None:
            stored = reload()
            if stored is not None and stored.get("refresh_token") not in (None, refresh_token):
                return dict(stored), not _due(stored)  # another process refreshed them
        try:
            tokens = provider.refresh_tokens(refresh_token)
        except AccessTokenError as exc:
            failure = {"failed": flight, "reason": exc.reason, "error": exc.error}
            flights.finish(key, flight, _seal(config, failure, refresh_token), FAILURE_TTL)
            published = True
            raise
        try:
            if save is not None:
                save(tokens)
        finally:
            # published even when saving failed: the new refresh token must not be lost
            sealed = _seal(config, {"tokens": tokens}, refresh_token)
            try:
                flights.finish(key, flight, sealed, OUTCOME_TTL)
                published = True
            except BackendUnavailableError as exc:
                logger.error("provider %s: the refresh's answer could not be shared: %s", provider.id, exc)
        return dict(tokens), True
    finally:
        if not published:
            try:
                flights.finish(key, flight, None, 0)
            except BackendUnavailableError:
                pass  # the lock expires on its own


def _digest(provider_id: str, record: t.Mapping[str, t.Any]) -> str:
    """The flight of the refresh that replaces ``record``: the refresh token alone would name
    every refresh of a provider that does not rotate it, and hand the next one this one's answer."""
    replaced = "\0".join(str(record.get(name)) for name in ("refresh_token", "access_token", "expires_at"))
    return hashlib.sha256(f"{provider_id}\0{replaced}".encode()).hexdigest()


# -- outcomes in the store: encrypted for holders of the old refresh token ----------------------


def _key(secret: str, refresh_token: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"flask_authguard refresh outcome",
        info=refresh_token.encode("utf-8", "surrogatepass"),
    )
    return hkdf.derive(secret.encode())


def _seal(config: Config, outcome: t.Mapping[str, t.Any], refresh_token: str) -> str:
    nonce = os.urandom(12)
    key = _key(config.current_secrets()[0], refresh_token)
    sealed = AESGCM(key).encrypt(nonce, json.dumps(outcome).encode(), None)
    return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def _open(config: Config, sealed: str | None, refresh_token: str) -> dict[str, t.Any] | None:
    """The outcome sealed for ``refresh_token``; ``None`` when absent or unreadable."""
    if not sealed:
        return None
    try:
        data = base64.urlsafe_b64decode(sealed.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    for secret in config.current_secrets():
        try:
            plain = AESGCM(_key(secret, refresh_token)).decrypt(data[:12], data[12:], None)
        except (InvalidTag, ValueError):
            continue
        outcome = json.loads(plain)
        return outcome if isinstance(outcome, dict) else None
    return None


__all__ = ["AccessTokenAnswer", "REFRESH_LEEWAY", "access_token", "refreshed"]
