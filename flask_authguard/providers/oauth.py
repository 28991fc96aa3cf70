"""``OAuthProvider``: sign in with any OAuth 2.0 provider, next-auth v4's flow.

``POST /signin/<id>`` (CSRF checked by the endpoints) answers 302 to the authorization URL, with
the check values (:mod:`.checks`) in next-auth's cookies; ``GET /callback/<id>`` verifies every
check, exchanges the code (Authlib), reads the profile and maps it to a user with ``profile``.
Every failure is a :class:`~.base.SignInError` with next-auth's code: ``Callback`` when the
identity provider answered with an ``error`` (the user denied consent), ``OAuthCallback`` for a
failed check or exchange, ``OAuthSignin`` when the first step cannot be built.

.. code-block:: python

    OAuthProvider(
        id="acme", name="Acme",
        authorization_url="https://acme.example/oauth/authorize",
        token_url="https://acme.example/oauth/token",
        userinfo_url="https://acme.example/api/me",
        client_id=os.environ["ACME_ID"], client_secret=os.environ["ACME_SECRET"],
        scope="read:user",
        profile=lambda profile, tokens: {"id": profile["uid"], "name": profile["display_name"]},
    )
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import typing as t

from werkzeug.wrappers import Response

from ..core._compat import call_sync
from ..core.defences.urls import AUTH_URL_ENVIRON_KEY
from ..core.errors import ConfigurationError
from ..core.settings.config import Config
from . import _authlib
from .base import SignInError, SignInResult, check_provider_id, check_url
from .checks import CHECK_COOKIES, CheckFailed, check_claims, clear_checks, mark_used, set_check
from .environment import client_from_env, env_stem
from .refresh import refresh_grant
from .replies import ExchangeFailed, describe, email_verified, get_json, token_expiry
from .step_up import step_up_checked, step_up_claims, step_up_params

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Request

logger = logging.getLogger("flask_authguard")

#: Seconds each request to the identity provider may take in total, from connecting to the last
#: byte of the answer (next-auth's ``httpOptions.timeout``, 3500 ms, bounds each socket read
#: only: a server dripping bytes never trips it).
DEFAULT_TIMEOUT = 10.0
#: The checks of a provider that names none: Auth.js's PKCE, and the state (next-auth v4: state).
DEFAULT_CHECKS = ("pkce", "state")
#: Token response fields kept in next-auth's ``account``.
TOKEN_FIELDS = (
    "access_token",
    "token_type",
    "expires_at",
    "refresh_token",
    "scope",
    "id_token",
    "session_state",
)

Profile = t.Callable[..., t.Any]


def default_profile(profile: t.Mapping[str, t.Any], tokens: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """next-auth's generic mapping: ``id`` from ``sub`` or ``id``; ``name``, ``email``, and
    ``image`` from ``picture`` (or ``avatar_url``)."""
    return {
        "id": profile.get("sub", profile.get("id")),
        "name": profile.get("name"),
        "email": profile.get("email"),
        "image": profile.get("picture", profile.get("avatar_url")),
    }


@dataclasses.dataclass(eq=False, kw_only=True)
class OAuthProvider:
    """A generic OAuth 2.0 provider (next-auth's ``type: "oauth"``), keyword arguments only.

    :param id: the provider id in URLs (``/api/auth/callback/<id>``).
    :param name: shown on the sign-in page.
    :param client_id: the client registered with the identity provider; default from the
        environment (:func:`~.environment.client_from_env`: ``GITHUB_ID``, else ``AUTH_GITHUB_ID`` for
        ``id="github"``).
    :param client_secret: its secret (``None`` for a public client using PKCE); default from
        the environment likewise (``GITHUB_SECRET``, else ``AUTH_GITHUB_SECRET``), except with
        ``token_endpoint_auth_method="none"``.
    :param authorization_url: where users are sent to consent.
    :param token_url: where the code is exchanged for tokens.
    :param userinfo_url: where the profile is read with the access token.
    :param scope: the scopes asked for, space-separated.
    :param authorization_params: extra query parameters of the authorization URL.
    :param checks: next-auth's ``checks``: one or more of ``"state"``, ``"pkce"`` (S256),
        ``"nonce"``; default ``("pkce", "state")`` (Auth.js sends PKCE by default; next-auth v4
        only the state). An empty list is refused at start-up: a callback must prove it answers
        a sign-in this browser started (and the first check's cookie carries a step-up
        sign-in's ``max_age`` to it). So is ``"nonce"`` alone here: a plain OAuth 2.0 provider
        has no ID token to compare the nonce with, so it needs ``"state"`` or ``"pkce"``
        (:class:`~.oidc.OIDCProvider` verifies the nonce in its ID token, where it is enough).
    :param profile: ``profile(profile, tokens)`` returns the user (``id``, ``name``, ``email``,
        ``image``); default :func:`default_profile`. May be ``async def``.
    :param userinfo_request: ``userinfo_request(session=..., tokens=..., provider=...)`` reads the
        profile instead of a GET of ``userinfo_url`` (``session`` is Authlib's
        ``OAuth2Session`` holding the token); next-auth's ``userinfo.request``.
    :param allow_dangerous_email_account_linking: with an adapter, let this provider sign in to
        an existing user with the same email (next-auth's option of that name), unless the
        profile says ``email_verified`` is not true (:meth:`may_link_by_email`).
    :param token_endpoint_auth_method: ``"client_secret_basic"`` (default),
        ``"client_secret_post"`` or ``"none"``.
    :param timeout: seconds each request to the identity provider (discovery, JWKS, token,
        userinfo) may take in total, redirects included (default 10); its answer is capped at
        1 MiB (:mod:`._http`).
    :param refresh: keep the sign-in's ``access_token``, ``refresh_token`` and ``expires_at``
        (in the session token, or the accounts row with database sessions) and refresh the
        access token when :func:`~flask_authguard.get_access_token` finds it due
        (:mod:`flask_authguard.sessions.refresh`). Default ``False``.
    """

    id: str
    name: str
    client_id: str = ""
    #: Left out of ``repr`` (options are logged): never a secret in logs or tracebacks.
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    authorization_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    scope: str | None = None
    authorization_params: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    checks: t.Sequence[str] = DEFAULT_CHECKS
    profile: Profile | None = None
    userinfo_request: t.Callable[..., t.Any] | None = None
    allow_dangerous_email_account_linking: bool = False
    token_endpoint_auth_method: str = "client_secret_basic"
    timeout: float = DEFAULT_TIMEOUT
    refresh: bool = False
    type: str = dataclasses.field(default="oauth", init=False)
    #: The identity provider redirects back with GET (``response_mode=form_post`` POSTs).
    callback_methods: tuple[str, ...] = dataclasses.field(default=("GET", "POST"), init=False)
    #: The ``state`` check replaces the CSRF token on the way back.
    callback_csrf: bool = dataclasses.field(default=False, init=False)
    #: Whether a callback compares the ``nonce`` check with something the provider signed (an
    #: ID token); plain OAuth 2.0 sends the nonce and gets nothing back to compare it with.
    verifies_nonce: t.ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_provider_id(self.id)
        _authlib.require_authlib()
        public = self.token_endpoint_auth_method == "none"
        if not self.client_id or (self.client_secret is None and not public):
            env_id, env_secret = client_from_env(self.id)
            self.client_id = self.client_id or env_id or ""
            if self.client_secret is None and not public:
                self.client_secret = env_secret
        if not isinstance(self.client_id, str) or not self.client_id:
            stem = env_stem(self.id)
            raise ConfigurationError(
                f"provider {self.id!r}: client_id=... is required (or set {stem}_ID or AUTH_{stem}_ID)"
            )
        if isinstance(self.checks, str) or not self.checks or set(self.checks) - set(CHECK_COOKIES):
            raise ConfigurationError(
                f"provider {self.id!r}: checks must list one or more of 'state', 'pkce', 'nonce' "
                f"(leave it out for {list(DEFAULT_CHECKS)!r}), not {self.checks!r}"
            )
        if not self.verifies_nonce and not {"state", "pkce"} & set(self.checks):
            # defence: a nonce nobody compares binds the callback to nothing (login CSRF)
            raise ConfigurationError(
                f"provider {self.id!r}: checks must include 'state' or 'pkce': a plain OAuth 2.0 "
                f"provider has no ID token to verify a nonce in (leave checks out for "
                f"{list(DEFAULT_CHECKS)!r}), not {list(self.checks)!r}"
            )
        if (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, (int, float))
            or not 0 < self.timeout <= 300
        ):
            raise ConfigurationError(
                f"provider {self.id!r}: timeout must be seconds (0 < timeout <= 300), not {self.timeout!r}"
            )
        if self.token_endpoint_auth_method not in ("client_secret_basic", "client_secret_post", "none"):
            raise ConfigurationError(
                f"provider {self.id!r}: token_endpoint_auth_method must be 'client_secret_basic', "
                f"'client_secret_post' or 'none'"
            )
        if not isinstance(self.refresh, bool):
            raise ConfigurationError(f"provider {self.id!r}: refresh must be True or False")
        if self.profile is not None and not callable(self.profile):
            raise ConfigurationError(f"provider {self.id!r}: profile must be callable")
        self._check_urls()
        self._config: Config | None = None

    def _check_urls(self) -> None:
        for name in ("authorization_url", "token_url"):
            check_url(self.id, name, getattr(self, name), required=True)
        if self.userinfo_request is None:
            check_url(self.id, "userinfo_url", self.userinfo_url, required=True)

    # -- start-up ----------------------------------------------------------------------------------

    def bind(self, config: Config) -> None:
        """Called once at start-up by the endpoints: the secret, cookie rules and base path."""
        self._config = config

    def _bound(self) -> Config:
        if self._config is None:
            raise ConfigurationError(f"provider {self.id!r} was not set up by the endpoints (bind)")
        return self._config

    # -- the identity provider's endpoints (OIDC discovers them) -----------------------------------

    def endpoints(self) -> dict[str, t.Any]:
        """The authorization, token and userinfo URLs."""
        return {
            "authorization_endpoint": self.authorization_url,
            "token_endpoint": self.token_url,
            "userinfo_endpoint": self.userinfo_url,
        }

    def _session(self, redirect_uri: str, token: t.Mapping[str, t.Any] | None = None) -> t.Any:
        return _authlib.oauth_session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.token_endpoint_auth_method,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token=dict(token) if token is not None else None,
            timeout=self.timeout,
        )

    # -- POST /signin/<id> -------------------------------------------------------------------------

    def begin_sign_in(self, request: Request, *, callback_url: str, redirect_uri: str) -> Response | None:
        """302 to the authorization URL, the check cookies set.

        :raises SignInError: ``OAuthSignin`` when the URL cannot be built (discovery failed).
        """
        config = self._bound()
        secure = config.is_secure(request.scheme)
        try:
            endpoints = self.endpoints()
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ExchangeFailed) else type(exc).__name__
            logger.error("provider %s: discovery failed: %s", self.id, reason)
            raise SignInError("OAuthSignin") from None
        cookies: list[str] = []
        values: dict[str, str] = {}
        step_up = step_up_params(self.type, request.args)  # a step-up sign-in asks again
        carrier = self._step_up_check()
        for check, length in (("state", 43), ("pkce", 64), ("nonce", 43)):
            if check in self.checks:
                values[check] = _authlib.generate_token(length)
                extra = step_up_claims(step_up) if check == carrier else None  # for the callback
                cookies.append(set_check(config, check, secure, values[check], self.id, extra=extra))
        params = dict(self.authorization_params)
        params.update(step_up)
        if "nonce" in values:
            params["nonce"] = values["nonce"]
        session = self._session(redirect_uri)
        url, _ = session.create_authorization_url(
            endpoints["authorization_endpoint"],
            state=values.get("state"),
            code_verifier=values.get("pkce"),
            **params,
        )
        response = Response(status=302, headers={"Location": url})
        for header in cookies:
            response.headers.add("Set-Cookie", header)
        return response

    # -- GET /callback/<id> ------------------------------------------------------------------------

    def handle_callback(self, request: Request, form: t.Mapping[str, t.Any]) -> SignInResult | None:
        """Verify the checks, exchange the code, read the profile: the user and account.

        :raises SignInError: ``Callback`` (the identity provider sent an ``error``), else
            ``OAuthCallback``; the check cookies are cleared either way.
        """
        config = self._bound()
        secure = config.is_secure(request.scheme)
        cookies = clear_checks(config, request, secure)
        params = {**request.args.to_dict(), **{k: v for k, v in form.items() if isinstance(v, str)}}
        if params.get("error"):
            logger.warning("provider %s answered error=%.64r", self.id, params["error"])
            raise SignInError("Callback", cookies=cookies)
        try:
            checked = self._verify_checks(config, request, secure, params)
            tokens, profile, authenticated_at = self._exchange(request, params, checked)
            user = call_sync(self.profile or default_profile, profile, tokens)
        except (CheckFailed, ExchangeFailed) as exc:
            logger.warning("provider %s: sign-in refused: %s", self.id, exc)
            raise SignInError("OAuthCallback", cookies=cookies) from None
        except Exception as exc:
            logger.error("provider %s: sign-in failed: %s", self.id, type(exc).__name__)
            raise SignInError("OAuthCallback", cookies=cookies) from None
        if not isinstance(user, t.Mapping) or user.get("id") in (None, ""):
            logger.warning("provider %s: the profile mapped to no user id", self.id)
            raise SignInError("OAuthCallback", cookies=cookies)
        user = dict(user)
        user["id"] = str(user["id"])
        account: dict[str, t.Any] = {k: tokens[k] for k in TOKEN_FIELDS if tokens.get(k) is not None}
        account.update(provider=self.id, type=self.type, providerAccountId=user["id"])
        return SignInResult(
            user=user,
            account=account,
            profile=dict(profile),
            cookies=cookies,
            authenticated_at=authenticated_at,
        )

    def _verify_checks(
        self, config: Config, request: Request, secure: bool, params: t.Mapping[str, str]
    ) -> dict[str, str]:
        checked: dict[str, str] = {}
        carrier = self._step_up_check()
        for check in ("state", "pkce", "nonce"):
            if check not in self.checks:
                continue
            kept = check_claims(config, request, check, secure, self.id)
            if check == "state":
                expected = kept["value"]
                if not hmac.compare_digest(expected.encode(), str(params.get("state", "")).encode()):
                    raise CheckFailed("state does not match its cookie")
                if not mark_used(expected):
                    raise CheckFailed("state was used already (replay)")
            else:
                checked[check] = kept["value"]
            if check == carrier:
                checked.update(step_up_checked(kept))  # the max_age a step-up sign-in asked for
        return checked

    def _step_up_check(self) -> str:
        """The check whose cookie keeps a step-up sign-in's ``max_age`` for the callback: the
        first of ``state``, ``pkce``, ``nonce`` this provider uses (``__post_init__`` refuses a
        provider with none, so every sign-in has one)."""
        return next(check for check in CHECK_COOKIES if check in self.checks)

    def _exchange(
        self, request: Request, params: t.Mapping[str, str], checked: t.Mapping[str, str]
    ) -> tuple[dict[str, t.Any], dict[str, t.Any], float | None]:
        code = params.get("code")
        if not code:
            raise ExchangeFailed("no code in the callback")
        endpoints = self.endpoints()
        session = self._session(self.redirect_uri(request))
        extra = {"code_verifier": checked["pkce"]} if "pkce" in checked else {}
        try:
            tokens = dict(session.fetch_token(endpoints["token_endpoint"], code=code, **extra))
        except ValueError:
            # Authlib's JSON parse, or its expires_at from an expires_in that is no number
            raise ExchangeFailed("the token endpoint answered no JSON object or an unusable expiry") from None
        except Exception as exc:
            raise ExchangeFailed(f"the token request failed: {describe(exc)}") from None
        if not isinstance(tokens.get("access_token"), str) or not tokens["access_token"]:
            raise ExchangeFailed("the token endpoint answered no access_token")
        if tokens.get("expires_at") is not None:
            tokens["expires_at"] = token_expiry(tokens["expires_at"])
        profile, authenticated_at = self.read_identity(session, tokens, checked)
        if not isinstance(profile, t.Mapping):
            raise ExchangeFailed("the profile is not a JSON object")
        return tokens, dict(profile), authenticated_at

    def read_identity(
        self, session: t.Any, tokens: t.Mapping[str, t.Any], checked: t.Mapping[str, str]
    ) -> tuple[t.Any, float | None]:
        """The profile (:meth:`read_profile`), and when the identity provider authenticated the
        user: ``None`` here, since plain OAuth 2.0 does not say (the sign-in counts as now);
        :class:`~.oidc.OIDCProvider` answers its ID token's ``auth_time``.

        :raises ExchangeFailed: the profile cannot be read.
        """
        return self.read_profile(session, tokens, checked), None

    def read_profile(
        self, session: t.Any, tokens: t.Mapping[str, t.Any], checked: t.Mapping[str, str]
    ) -> t.Any:
        """The identity provider's profile: ``userinfo_request`` or a GET of the userinfo URL."""
        if self.userinfo_request is not None:
            return call_sync(self.userinfo_request, session=session, tokens=dict(tokens), provider=self)
        return get_json(session, self.endpoints()["userinfo_endpoint"], self.timeout)

    def refresh_tokens(self, refresh_token: str) -> dict[str, t.Any]:
        """New tokens for ``refresh_token`` from the token endpoint (:func:`.refresh.refresh_grant`).

        :raises AccessTokenError: the provider refused or could not be reached.
        """
        return refresh_grant(self, refresh_token)

    def may_link_by_email(self, profile: t.Mapping[str, t.Any] | None) -> bool:
        """Whether a new account of this provider may be linked to an existing user with the
        same email: ``allow_dangerous_email_account_linking``, unless the profile has an
        ``email_verified`` that is not true. A plain OAuth profile has no standard claim for it,
        so the option alone decides (next-auth's rule); :class:`~.oidc.OIDCProvider` requires it.
        """
        if not self.allow_dangerous_email_account_linking:
            return False
        claim = (profile or {}).get("email_verified")
        return claim is None or email_verified(claim)

    def redirect_uri(self, request: Request) -> str:
        """This provider's ``/callback/<id>`` URL, as the endpoints built it for the first step.

        :raises ExchangeFailed: called outside the endpoints (no auth URL in the request).
        """
        auth_url = request.environ.get(AUTH_URL_ENVIRON_KEY)
        if not isinstance(auth_url, str) or not auth_url:
            raise ExchangeFailed("no auth URL for the redirect_uri: the callback ran outside the endpoints")
        return f"{auth_url}/callback/{self.id}"
