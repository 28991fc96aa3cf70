"""``EmailProvider``: sign in with a magic link, as next-auth's email provider sends it.

``POST /signin/email`` (CSRF checked by the endpoints) normalises the address, stores a
verification token through the adapter (hashed: ``sha256(token + secret)``; 24 hours; single
use), calls ``send_verification_request(identifier=..., url=..., provider=..., token=...,
expires=...)`` (default: an email by SMTP, :mod:`.smtp`) and answers 302 to
``<base>/verify-request?provider=email&type=email``. ``GET /callback/email?token=...&email=...``
uses the token up (a second click is refused with ``Verification``), then signs the user in:
the adapter's user with that address (``emailVerified`` set now) or a new one.

.. code-block:: python

    EmailProvider(server="smtp://user:pass@smtp.example.com:587", from_address="auth@example.com")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
import typing as t
import unicodedata
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from ..core import _clock
from ..core._compat import call_sync
from ..core.errors import BackendUnavailableError, ConfigurationError, SignInRedirect
from ..core.settings.config import Config
from .base import SignInError, SignInResult, adapter_with, check_provider_id
from .smtp import check_server, send_email

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

logger = logging.getLogger("flask_authguard")

#: Seconds a sign-in link stays valid (next-auth: 24 hours).
DEFAULT_MAX_AGE = 24 * 60 * 60
#: The adapter methods email sign-in needs.
ADAPTER_METHODS = (
    "create_verification_token",
    "use_verification_token",
    "get_user_by_email",
    "create_user",
    "update_user",
)


#: Characters that separate, group or comment addresses in a mail header (RFC 5322 "specials"
#: but the dot): an address holding one could reach more than one recipient.
_NOT_IN_ADDRESS = frozenset('()<>[]:;@\\,"')


def normalize_identifier(email: t.Any) -> str:
    """An email address as next-auth normalises it: NFKC, trimmed, exactly one ``@``, no
    ``"``, lower-cased, the domain cut at its first ``,``; then refused unless it is one
    recipient (:func:`check_single_recipient`).

    :raises ValueError: not such an address.
    """
    if not isinstance(email, str):
        raise ValueError("no email address")
    text = unicodedata.normalize("NFKC", email).strip()
    if text.count("@") != 1 or '"' in text:
        raise ValueError("not a single email address")
    local, domain = text.lower().split("@")
    domain = domain.split(",")[0]
    if not local or not domain:
        raise ValueError("not an email address")
    return check_single_recipient(f"{local}@{domain}")


def check_single_recipient(address: str) -> str:
    """``address`` when it names exactly one mailbox: one ``@``, both sides non-empty, and no
    space, control character or character that separates addresses in a mail header (``,``
    ``;`` ``<`` ``>`` ``:``...), which would make the mail go to several recipients.

    :raises ValueError: it is not one plain address.
    """
    local, at, domain = address.partition("@")
    if (
        not at
        or not local
        or not domain
        or any(
            c in _NOT_IN_ADDRESS or c.isspace() or not c.isprintable() for c in address.replace("@", "", 1)
        )
    ):
        raise ValueError("not a single email address")
    return address


def hash_token(token: str, secret: str) -> str:
    """The stored form of a verification token: ``sha256_hex(token + secret)``, as next-auth."""
    return hashlib.sha256(f"{token}{secret}".encode()).hexdigest()


@dataclasses.dataclass(eq=False, kw_only=True)
class EmailProvider:
    """Magic-link sign-in (next-auth's ``type: "email"``). Needs an adapter.

    :param server: the SMTP server for the default sender: ``"smtp://user:pass@host:587"``
        (STARTTLS when offered), ``"smtps://..."`` (TLS), or next-auth's object form
        ``{"host", "port", "auth": {"user", "pass"}, "secure"}``.
    :param from_address: the ``From`` of the email.
    :param send_verification_request: ``send_verification_request(identifier=..., url=...,
        provider=..., token=..., expires=...)`` sends the link your way instead (may be
        ``async def``); raising fails the sign-in with ``EmailSignin``.
    :param max_age: seconds a link is valid (24 hours).
    :param secret: hashes the stored tokens; default the app's secret.
    :param generate_verification_token: ``() -> str``; default 32 random bytes as hex.
    :param normalize_identifier: ``(email) -> str``; default :func:`normalize_identifier`.
    """

    #: Left out of ``repr`` with ``secret`` (it may hold the SMTP password).
    server: str | t.Mapping[str, t.Any] | None = dataclasses.field(default=None, repr=False)
    from_address: str = "no-reply@localhost"
    send_verification_request: t.Callable[..., t.Any] | None = None
    id: str = "email"
    name: str = "Email"
    max_age: int = DEFAULT_MAX_AGE
    secret: str | None = dataclasses.field(default=None, repr=False)
    generate_verification_token: t.Callable[[], str] | None = None
    normalize_identifier: t.Callable[[str], str] | None = None
    type: str = dataclasses.field(default="email", init=False)
    callback_methods: tuple[str, ...] = dataclasses.field(default=("GET",), init=False)
    callback_csrf: bool = dataclasses.field(default=False, init=False)

    def __post_init__(self) -> None:
        check_provider_id(self.id)
        if self.send_verification_request is None:
            if self.server is None:
                raise ConfigurationError(
                    "EmailProvider needs server='smtp://user:pass@host:587' or send_verification_request=..."
                )
            check_server(self.server)
        elif not callable(self.send_verification_request):
            raise ConfigurationError("EmailProvider(send_verification_request=...) must be callable")
        if isinstance(self.max_age, bool) or not isinstance(self.max_age, int) or self.max_age <= 0:
            raise ConfigurationError(f"EmailProvider(max_age=...) must be seconds > 0, not {self.max_age!r}")
        self._config: Config | None = None

    def bind(self, config: Config) -> None:
        """Start-up: an adapter with the verification-token methods is required.

        :raises ConfigurationError: no adapter, or one that lacks a method.
        """
        adapter_with(config, "EmailProvider", "tokens", ADAPTER_METHODS)
        self._config = config

    def _bound(self) -> Config:
        if self._config is None:
            raise ConfigurationError(f"provider {self.id!r} was not set up by the endpoints (bind)")
        return self._config

    def _secret(self, config: Config) -> str:
        if self.secret:
            return self.secret
        current = config.current_secrets()
        if not current:
            raise ConfigurationError("EmailProvider needs a secret to hash its tokens")
        return current[0]

    def recipient(self, email: t.Any) -> str:
        """The address a sign-in with ``email`` (as submitted) mails: ``normalize_identifier``'s
        answer, checked to be one recipient whatever normaliser gave it. Sign-in throttling
        counts the attempt under this address.

        :raises Exception: not an address (a custom normaliser may raise anything).
        """
        return check_single_recipient((self.normalize_identifier or normalize_identifier)(email))

    # -- POST /signin/email ------------------------------------------------------------------------

    def begin_sign_in(self, request: Request, *, callback_url: str, redirect_uri: str) -> Response | None:
        """Store a token, send the link, 302 to the verify-request page.

        :raises SignInError: ``EmailSignin`` (a bad address, the sender failed), ``AccessDenied``
            (``callbacks.sign_in`` refused the address).
        :raises SignInRedirect: ``callbacks.sign_in`` answered a URL (nothing is sent).
        """
        config = self._bound()
        body = request.get_json(silent=True) if request.is_json else request.form
        raw = body.get("email") if isinstance(body, t.Mapping) else None
        try:
            identifier = self.recipient(raw)
        except Exception:
            raise SignInError("EmailSignin") from None
        adapter = config.options.adapter
        if config.callbacks.sign_in is not None:
            user = call_sync(adapter.get_user_by_email, identifier) or {"id": identifier, "email": identifier}
            account = {
                "providerAccountId": identifier,
                "userId": identifier,
                "type": "email",
                "provider": self.id,
            }
            allowed = call_sync(
                config.callbacks.sign_in,
                user=dict(user),
                account=account,
                profile=None,
                credentials=None,
                email={"verificationRequest": True},
            )
            if not allowed:  # "" too, as in next-auth
                raise SignInError("AccessDenied")
            if isinstance(allowed, str):  # next-auth's string answer: go there, send nothing
                raise SignInRedirect(allowed)
        token = (
            self.generate_verification_token() if self.generate_verification_token else secrets.token_hex(32)
        )
        expires = dt.datetime.fromtimestamp(_clock.now() + self.max_age, dt.timezone.utc)
        try:
            call_sync(
                adapter.create_verification_token,
                {
                    "identifier": identifier,
                    "token": hash_token(token, self._secret(config)),
                    "expires": expires,
                },
            )
        except BackendUnavailableError:
            raise
        except Exception as exc:
            logger.error("adapter.create_verification_token failed: %s", type(exc).__name__)
            raise SignInError("EmailSignin") from None
        url = (
            f"{redirect_uri}?{urlencode({'callbackUrl': callback_url, 'token': token, 'email': identifier})}"
        )
        try:
            if self.send_verification_request is not None:
                call_sync(
                    self.send_verification_request,
                    identifier=identifier,
                    url=url,
                    provider=self,
                    token=token,
                    expires=expires,
                )
            else:
                send_email(self.server, self.from_address, identifier, url)  # type: ignore[arg-type]
        except Exception as exc:
            logger.error("provider %s: sending the sign-in email failed: %s", self.id, type(exc).__name__)
            raise SignInError("EmailSignin") from None
        auth_url = redirect_uri.rsplit("/callback/", 1)[0]
        query = urlencode({"provider": self.id, "type": "email"})
        return Response(status=302, headers={"Location": f"{auth_url}/verify-request?{query}"})

    # -- GET /callback/email -----------------------------------------------------------------------

    def handle_callback(self, request: Request, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        """Use the link's token up: the user it signs in.

        :raises SignInError: ``Verification`` (unknown, used or expired link).
        """
        config = self._bound()
        token, identifier = request.args.get("token"), request.args.get("email")
        if not token or not identifier:
            raise SignInError("Verification")
        adapter = config.options.adapter
        used = call_sync(
            adapter.use_verification_token,
            {"identifier": identifier, "token": hash_token(token, self._secret(config))},
        )
        if used is None or used.get("identifier") != identifier:  # exactly the address it was for
            logger.info("provider %s: the sign-in link is unknown or used already", self.id)
            raise SignInError("Verification")
        if _timestamp(used["expires"]) < _clock.now():
            logger.info("provider %s: the sign-in link has expired", self.id)
            raise SignInError("Verification")
        existing = call_sync(adapter.get_user_by_email, identifier)
        user = dict(existing) if existing else {"id": identifier, "email": identifier, "emailVerified": None}
        account = {"providerAccountId": identifier, "type": "email", "provider": self.id}
        return SignInResult(user=user, account=account, profile=dict(user))


def _timestamp(value: t.Any) -> float:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.timestamp()
    return float(value)
