"""Sign-in throttling for the endpoints, framework-free: who is counted, and the 429 answer.

The counting is :class:`~flask_authguard.core.throttle.Throttle`'s; this module picks the
identifier of a sign-in (the credentials' login field, or the email address) and the client
address (``REMOTE_ADDR``: behind a proxy, wrap the app in werkzeug's ``ProxyFix`` so it is the
client's, not the proxy's), and renders the refusal: 429 with ``Retry-After``, as JSON
``{"url": ".../error?error=TooManyRequests"}`` for ``json=true`` clients (``signIn(...,
{redirect: false})`` then resolves to ``{error: "TooManyRequests", status: 429, ok: false}``),
else the page in the sign-in page's layout.
"""

from __future__ import annotations

import typing as t

from ..core.config import Config
from ..core.throttle import Throttle

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Response

    from .flow import Flow

#: The error code of a throttled sign-in.
TOO_MANY_REQUESTS = "TooManyRequests"
#: Provider types whose sign-ins are throttled (they take a secret or send mail), and the step
#: counted: the credentials' callback (the password check), the email's start (the mail sent).
THROTTLED_STEPS = {"credentials": "callback", "email": "start"}
_LOGIN_FIELDS = ("email", "username", "identifier", "login", "user")
_THROTTLE_KEY = "_authguard_throttle"


def throttle_of(config: Config) -> Throttle:
    """The throttle of ``config``, made once."""
    found: Throttle | None = config.__dict__.get(_THROTTLE_KEY)
    if found is None:
        found = Throttle(config)
        config.__dict__[_THROTTLE_KEY] = found
    return found


def identifier_of(provider: t.Any, form: t.Mapping[str, t.Any]) -> str | None:
    """The identifier a sign-in is counted under: an email provider's ``email``; for
    credentials the first declared field that is not a password (``username``), else a usual
    login field name."""
    if getattr(provider, "type", None) == "email":
        value = form.get("email")
        return value if isinstance(value, str) else None
    fields: t.Mapping[str, t.Mapping[str, t.Any]] = getattr(provider, "credentials", None) or {}
    for name, spec in fields.items():
        if spec.get("type") != "password":
            value = form.get(name)
            return value if isinstance(value, str) else None
    for name in _LOGIN_FIELDS:
        value = form.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def check_sign_in(
    config: Config, provider: t.Any, form: t.Mapping[str, t.Any], environ: WSGIEnvironment, step: str
) -> tuple[int | None, str | None]:
    """Count a sign-in attempt with ``provider`` at ``step`` (``"start"``: ``POST /signin/<id>``,
    ``"callback"``: ``/callback/<id>``): ``(seconds to wait or None, identifier)``.

    :raises BackendUnavailableError: the store cannot be reached.
    """
    if THROTTLED_STEPS.get(getattr(provider, "type", None) or "") != step:
        return None, None
    identifier = identifier_of(provider, form)
    wait = throttle_of(config).attempt(identifier=identifier, address=environ.get("REMOTE_ADDR"))
    return wait, identifier


def succeeded(config: Config, provider: t.Any, identifier: str | None) -> None:
    """A throttled sign-in succeeded: reset its identifier's counter."""
    if getattr(provider, "type", None) in THROTTLED_STEPS:
        throttle_of(config).succeeded(identifier)


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
