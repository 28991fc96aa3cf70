"""Sign-in throttling for the endpoints, framework-free: who is counted, and the 429 answer.

The counting is :class:`~flask_authguard.core.throttle.Throttle`'s; this module picks the
identifiers of a sign-in and the client address (``REMOTE_ADDR``: behind a proxy, wrap the app
in werkzeug's ``ProxyFix`` so it is the client's, not the proxy's), and renders the refusal: 429
with ``Retry-After``, as JSON ``{"url": ".../error?error=TooManyRequests"}`` for ``json=true``
clients (``signIn(..., {redirect: false})`` then resolves to ``{error: "TooManyRequests",
status: 429, ok: false}``), else the page in the sign-in page's layout.

The identifiers come from exactly what the provider acts on, so that no spelling or extra field
moves an attempt to a fresh counter:

- email: the address the mail goes to (the provider's ``recipient``: normalised, one recipient);
- credentials: the dict ``authorize`` receives (:func:`~flask_authguard.providers.base.
  submitted_credentials`: numbers as text), every field in it that may name the account counted
  on its own. With ``credentials=`` declared that is each declared field but passwords and fixed
  choices (checkbox, radio, select, hidden: the same for everybody); with none declared, each of
  the usual login fields present (:data:`LOGIN_FIELDS`), since ``authorize`` then also receives
  whatever else the client adds. A decoy field only adds a counter; the real one is still hit.
"""

from __future__ import annotations

import typing as t

from ..core.config import Config
from ..core.runtime import runtime_of
from ..core.throttle import Throttle, normalize_identifier
from ..providers.base import submitted_credentials

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.wrappers import Response

    from .flow import Flow

#: The error code of a throttled sign-in.
TOO_MANY_REQUESTS = "TooManyRequests"
#: Provider types whose sign-ins are throttled (they take a secret or send mail), and the step
#: counted: the credentials' callback (the password check), the email's start (the mail sent).
THROTTLED_STEPS = {"credentials": "callback", "email": "start"}
#: With no ``credentials=`` declared: the fields counted when present.
LOGIN_FIELDS = ("email", "username", "identifier", "login", "user")
#: Declared field types that cannot name one account: a secret, or a choice everybody shares
#: (counting it would make one counter for everyone who picks it).
_NOT_NAMING = frozenset({"password", "checkbox", "radio", "select", "hidden"})


class Counted(t.NamedTuple):
    """Who a sign-in attempt was counted as, for :func:`succeeded`."""

    #: The normalised identifiers, each counted on its own.
    identifiers: tuple[str, ...]
    #: The client address (``REMOTE_ADDR``).
    address: str | None
    #: Whether a success may reset the identifier's count from this address: the attempt named
    #: exactly one identifier and nothing else ``authorize`` received could name another account.
    #: (Otherwise signing in as oneself with the victim's name in a second field would wipe the
    #: count of the guesses at the victim.)
    resettable: bool


def throttle_of(config: Config) -> Throttle:
    """The throttle of ``config``'s runtime."""
    return runtime_of(config).throttle


def identifiers_of(provider: t.Any, form: t.Mapping[str, t.Any]) -> tuple[str, ...]:
    """The normalised identifiers a sign-in with ``form`` is counted under (module docstring)."""
    return _who(provider, form)[0]


def _who(provider: t.Any, form: t.Mapping[str, t.Any]) -> tuple[tuple[str, ...], bool]:
    """``(identifiers, resettable)`` of a sign-in (see :class:`Counted`)."""
    if getattr(provider, "type", None) == "email":
        recipient = getattr(provider, "recipient", None)
        raw = form.get("email")
        try:
            address = recipient(raw) if callable(recipient) else raw
        except Exception:  # no mail will be sent: the address limit alone counts it
            return (), False
        found = normalize_identifier(address) if isinstance(address, str) else None
        return ((found,) if found else ()), True
    declared: t.Mapping[str, t.Mapping[str, t.Any]] = getattr(provider, "credentials", None) or {}
    submitted = submitted_credentials(declared, form)
    if declared:
        names = [name for name, spec in declared.items() if spec.get("type") not in _NOT_NAMING]
        unknown = False  # every other field authorize gets is a password or a shared choice
    else:
        names = [name for name in LOGIN_FIELDS if name in submitted]
        unknown = any(value for name, value in submitted.items() if name not in names and name != "password")
    values = [normalize_identifier(submitted[name]) for name in names]
    identifiers = tuple(dict.fromkeys(value for value in values if value))
    return identifiers, len(identifiers) == 1 and not unknown


def check_sign_in(
    config: Config, provider: t.Any, form: t.Mapping[str, t.Any], environ: WSGIEnvironment, step: str
) -> tuple[int | None, Counted | None]:
    """Count a sign-in attempt with ``provider`` at ``step`` (``"start"``: ``POST /signin/<id>``,
    ``"callback"``: ``/callback/<id>``): ``(seconds to wait or None, who was counted)``.

    :raises BackendUnavailableError: the store cannot be reached.
    """
    if THROTTLED_STEPS.get(getattr(provider, "type", None) or "") != step:
        return None, None
    identifiers, resettable = _who(provider, form)
    address = environ.get("REMOTE_ADDR")
    wait = throttle_of(config).attempt(identifiers=identifiers, address=address)
    return wait, Counted(identifiers, address, resettable)


def succeeded(config: Config, counted: Counted | None) -> None:
    """A throttled sign-in succeeded: reset its identifier's count from its address, when
    :attr:`Counted.resettable`."""
    if counted is not None and counted.resettable:
        throttle_of(config).succeeded(counted.identifiers[0], counted.address)


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
