"""What was typed into a refused credentials form, given back by the sign-in page.

After wrong credentials the user lands on ``/signin?error=CredentialsSignin&callbackUrl=...``
(a redirect, as next-auth answers), so the form would come back empty. The fields the provider
declares, except passwords and hidden fields, travel to that page in a cookie encrypted as a
session token is (the cookie's name is its key-derivation salt), for five minutes, and the page
reads it once and deletes it: nothing typed ends up in a URL, a log or readable cookie.
"""

from __future__ import annotations

import typing as t

from ..core import _clock
from ..core.errors import TokenError
from ..core.http.cookies import decode_value, delete_cookie_header, set_cookie_header
from ..core.tokens import jwt
from ..core.tokens.request_token import request_cookies

if t.TYPE_CHECKING:
    from ..providers.base import Provider
    from .flow import Flow

#: How long the typed fields are kept (seconds).
KEEP_SECONDS = 5 * 60
#: Longest value kept; a longer one is not given back.
_MAX_VALUE = 256
#: Declared field types never given back.
_NOT_KEPT = frozenset({"password", "hidden"})


def keep(f: Flow, provider: Provider) -> None:
    """Queue the cookie holding what was typed into ``provider``'s refused form."""
    fields: t.Mapping[str, t.Mapping[str, t.Any]] = getattr(provider, "credentials", None) or {}
    typed = {
        name: value
        for name, spec in fields.items()
        if spec.get("type") not in _NOT_KEPT
        and isinstance(value := f.form.get(name), str)
        and 0 < len(value) <= _MAX_VALUE
    }
    if not typed:
        return
    spec = f.config.cookie("signin_fields", f.secure)
    sealed = jwt.encode(
        token={"provider": provider.id, "fields": typed},
        secret=f.config.current_secrets(),
        max_age=KEEP_SECONDS,
        salt=spec.name,
        version=f.config.version,
    )
    expires = _clock.now() + KEEP_SECONDS
    f.cookies.append(set_cookie_header(spec, sealed, expires=expires, max_age=KEEP_SECONDS))


def take(f: Flow) -> dict[str, dict[str, str]]:
    """What :func:`keep` stored, by provider id (empty when nothing was or it does not decode),
    and the cookie's deletion queued: it is given back once."""
    spec = f.config.cookie("signin_fields", f.secure)
    raw = request_cookies(f.environ).get(spec.name)
    if raw is None:
        return {}
    f.cookies.append(delete_cookie_header(spec))
    try:
        secrets = f.config.current_secrets()
        claims = jwt.decode(token=decode_value(raw), secret=secrets, salt=spec.name, version=f.config.version)
    except TokenError:
        return {}
    provider_id = (claims or {}).get("provider")
    fields = (claims or {}).get("fields")
    if not isinstance(provider_id, str) or not isinstance(fields, dict):
        return {}
    return {provider_id: {k: v for k, v in fields.items() if isinstance(k, str) and isinstance(v, str)}}
