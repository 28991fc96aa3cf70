"""The ``AUTHGUARD_*`` Flask config keys: which option each sets and what it accepts."""

from __future__ import annotations

import dataclasses
import typing as t

from ..core.errors import ConfigurationError
from ..core.settings.options import AuthOptions, OptionsArg, coerce_options

#: ``AUTHGUARD_*`` config keys and the option each one sets; a key left at ``None`` leaves the
#: option as given to :class:`AuthGuard`.
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "AUTHGUARD_SECRET": ("secret",),
    "AUTHGUARD_URL": ("url",),
    "AUTHGUARD_VERSION": ("version",),
    "AUTHGUARD_BASE_PATH": ("base_path",),
    "AUTHGUARD_SIGN_IN_PAGE": ("pages", "sign_in"),
    "AUTHGUARD_SIGN_OUT_PAGE": ("pages", "sign_out"),
    "AUTHGUARD_ERROR_PAGE": ("pages", "error"),
    "AUTHGUARD_VERIFY_REQUEST_PAGE": ("pages", "verify_request"),
    "AUTHGUARD_SESSION_STRATEGY": ("session", "strategy"),
    "AUTHGUARD_SESSION_MAX_AGE": ("session", "max_age"),
    "AUTHGUARD_SESSION_UPDATE_AGE": ("session", "update_age"),
    "AUTHGUARD_JWT_MAX_AGE": ("jwt", "max_age"),
    "AUTHGUARD_USE_SECURE_COOKIES": ("use_secure_cookies",),
    "AUTHGUARD_API_MODE": ("api_mode",),
    "AUTHGUARD_ENDPOINTS": ("endpoints",),
    "AUTHGUARD_CORS_PREFLIGHT": ("cors_preflight",),
    "AUTHGUARD_TRUSTED_HOSTS": ("trusted_hosts",),
    "AUTHGUARD_TRUST_HOST": ("trust_host",),
    "AUTHGUARD_TRUSTED_ORIGINS": ("trusted_origins",),
    "AUTHGUARD_CROSS_SITE_PROTECTION": ("cross_site_protection",),
    "AUTHGUARD_STORE": ("store",),
    "AUTHGUARD_STORE_CACHE": ("store_cache",),
    "AUTHGUARD_SESSION_MAX_LIFETIME": ("session", "max_lifetime"),
    "AUTHGUARD_TWO_FACTOR": ("two_factor",),
}


def _is_text(value: t.Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_seconds(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_secret(value: t.Any) -> bool:
    if _is_text(value):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_text(s) for s in value)


#: What each config key accepts: a check and the words for the error message.
_CONFIG_CHECKS: dict[str, tuple[t.Callable[[t.Any], bool], str]] = {
    "AUTHGUARD_SECRET": (_is_secret, "a non-empty string or a list of them (newest first)"),
    "AUTHGUARD_URL": (_is_text, "the app's URL, e.g. 'https://example.com'"),
    "AUTHGUARD_VERSION": (lambda v: v in (4, 5) and not isinstance(v, bool), "4 (next-auth) or 5 (Auth.js)"),
    "AUTHGUARD_BASE_PATH": (lambda v: _is_text(v) and v.startswith("/"), "a path starting with '/'"),
    "AUTHGUARD_SIGN_IN_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_SIGN_OUT_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_ERROR_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_VERIFY_REQUEST_PAGE": (_is_text, "a non-empty path or URL"),
    "AUTHGUARD_SESSION_STRATEGY": (lambda v: v in ("jwt", "database"), "'jwt' or 'database'"),
    "AUTHGUARD_SESSION_MAX_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_SESSION_UPDATE_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_JWT_MAX_AGE": (_is_seconds, "a whole number of seconds >= 0"),
    "AUTHGUARD_USE_SECURE_COOKIES": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_API_MODE": (lambda v: v in ("auto", "redirect", "json"), "'auto', 'redirect' or 'json'"),
    "AUTHGUARD_ENDPOINTS": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_CORS_PREFLIGHT": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_TRUSTED_HOSTS": (lambda v: isinstance(v, (list, tuple)), "a list of host names"),
    "AUTHGUARD_TRUST_HOST": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_TRUSTED_ORIGINS": (
        lambda v: isinstance(v, (list, tuple)) and all(_is_text(o) for o in v),
        "a list of origins such as ['http://localhost:3000']",
    ),
    "AUTHGUARD_CROSS_SITE_PROTECTION": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_STORE": (_is_text, "'memory://' or a Redis URI such as 'redis://127.0.0.1:6379/0'"),
    "AUTHGUARD_STORE_CACHE": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_TWO_FACTOR": (lambda v: isinstance(v, bool), "True or False"),
    "AUTHGUARD_SESSION_MAX_LIFETIME": (_is_seconds, "a whole number of seconds >= 0"),
}


def merged_options(options: OptionsArg, app_config: t.Mapping[str, t.Any]) -> AuthOptions:
    """``options`` with the ``AUTHGUARD_*`` keys of ``app_config`` applied.

    :raises ConfigurationError: a key holds a value of the wrong type; the message names the key.
    """
    opts = coerce_options(options)
    for key, target in CONFIG_KEYS.items():
        value: t.Any = app_config.get(key)
        if value is None:
            continue
        check, expected = _CONFIG_CHECKS[key]
        if not check(value):
            shown = type(value).__name__ if key == "AUTHGUARD_SECRET" else repr(value)  # never a secret
            raise ConfigurationError(f"app.config[{key!r}] must be {expected}, not {shown}")
        if isinstance(value, list):
            value = tuple(value)
        if len(target) == 1:
            opts = dataclasses.replace(opts, **{target[0]: value})
        else:
            group = dataclasses.replace(getattr(opts, target[0]), **{target[1]: value})
            opts = dataclasses.replace(opts, **{target[0]: group})
    return opts
