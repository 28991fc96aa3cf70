"""The per-request checks of the Flask layer: site-wide (:func:`site_wide_check`), blueprint
(:func:`blueprint_check`, installed by :meth:`AuthGuard.protect
<flask_authguard.AuthGuard.protect>`) and view (:func:`auth_required`), and which views stay
public (static files, views marked :meth:`AuthGuard.exempt <flask_authguard.AuthGuard.exempt>`).

All three share ``with_auth``'s rule set through the app's
:class:`~flask_authguard.guard.decision.AuthCore`; :mod:`flask_authguard.flask.ext` installs them.
"""

from __future__ import annotations

import functools
import inspect
import typing as t
from types import MethodType

from flask import Blueprint, current_app, g, request

from ..core.tokens.request_token import TOKEN_ENVIRON_KEY
from ..guard.answers import Redirect
from ..guard.decision import CHECK_ATTR
from ..guard.step_up import checked_max_age
from .state import LAYER_KEY, GuardState, state_of

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from flask import Request
    from werkzeug.routing import Rule

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
Authorized = t.Callable[..., t.Any]

#: Set on a view function by :meth:`AuthGuard.exempt <flask_authguard.AuthGuard.exempt>`.
EXEMPT_ATTR = "_authguard_exempt"


def checked_path(environ: WSGIEnvironment) -> tuple[GuardState, str]:
    """The guard's state for the request and its normalised path: the guard's WSGI layer
    normalised ``PATH_INFO`` already (an empty one routes as ``/``); a request dispatched
    without the layer is normalised now."""
    layer: GuardState | None = environ.get(LAYER_KEY)
    if layer is not None:
        return layer, environ.get("PATH_INFO") or "/"
    state = state_of()
    return state, state.core.path(environ)


def is_open_view(state: GuardState, rule: Rule | None) -> bool:
    """The request's matched ``rule`` (``request.url_rule``) serves a static file (the app's or
    a registered blueprint's own static view) or an exempt view."""
    if rule is None:
        return False
    app = state.app
    view = app.view_functions.get(rule.endpoint)
    if view is None:
        return False
    if getattr(view, EXEMPT_ATTR, False) or view is state.static_view:
        return True
    # A blueprint's static rule is its own bound send_static_file.
    if not isinstance(view, MethodType) or view.__name__ != "send_static_file":
        return False
    owner = view.__self__
    return isinstance(owner, Blueprint) and any(owner is bp for bp in app.blueprints.values())


def has_own_check(view: t.Callable[..., t.Any] | None, method: str) -> bool:
    """Whether ``view`` runs an :func:`auth_required` check of its own for ``method``: the view
    function itself, or, for a class-based view (``View.as_view``), its ``dispatch_request`` or,
    for a ``MethodView``, the method that serves ``method`` (``get`` for ``HEAD`` without a
    ``head``), as Flask dispatches it."""
    if getattr(view, CHECK_ATTR, False):
        return True
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return False
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)
    dispatch = getattr(view_class, "dispatch_request", None)
    return bool(getattr(handler, CHECK_ATTR, False) or getattr(dispatch, CHECK_ATTR, False))


def is_last_check(state: GuardState, req: Request, hook: t.Callable[..., t.Any] | None = None) -> bool:
    """Whether the check ``hook`` (``None``: the site-wide one) is the last of the guard's checks
    for the request ``req``, so that it runs the inner middleware: no protected blueprint's hook
    runs after it (Flask runs the hooks of the outermost blueprint first) and the view has no
    :func:`auth_required` of its own. The inner middleware answers only once every check that
    applies let the request through."""
    if state.core.middleware is None:
        return True
    app = state.app
    rule = req.url_rule
    # an OPTIONS request Flask answers itself (provide_automatic_options) never reaches the view
    answered_by_flask = req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False)
    if (
        rule is not None
        and not answered_by_flask
        and has_own_check(app.view_functions.get(rule.endpoint), req.method)
    ):
        return False
    after = hook is None
    for name in reversed(req.blueprints):
        for fn in app.before_request_funcs.get(name, ()):
            if after and getattr(fn, CHECK_ATTR, False):
                return False
            after = after or fn is hook
    return True


def hand_token_to_g(environ: WSGIEnvironment) -> None:
    """After a passed check: the token it decoded becomes ``g.auth_token`` now, written on
    ``g``'s own object, rather than through ``g``'s lazy lookup later."""
    g._get_current_object().__dict__["auth_token"] = environ.get(TOKEN_ENVIRON_KEY)


def site_wide_check() -> t.Any:
    """The site-wide check, the app's first ``before_request`` hook (installed when the matcher can
    match a path). Flask's ``url_value_preprocessor`` functions run before it, for every request."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    state, path = checked_path(environ)
    core = state.core
    if not core.is_protected(environ, path) or is_open_view(state, req.url_rule):
        return None
    refusal = core.check(environ, request=req, inner=is_last_check(state, req))
    if refusal is None:
        hand_token_to_g(environ)
        return None
    if type(refusal) is Redirect:  # as the app's own Response: Flask would run a WSGI app to get one
        return refusal.to_response(state.app.response_class)
    return refusal


def blueprint_check(
    authorized: Authorized | None, *, mfa: bool, max_age: int | None
) -> t.Callable[[], WSGIApplication | None]:
    """The ``before_request`` hook of a protected blueprint: the refusal for the current request,
    or ``None`` (after running the inner middleware, for a checked request).

    :param max_age: as already checked by :func:`~flask_authguard.guard.step_up.checked_max_age`.
    """

    def check() -> WSGIApplication | None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        state, path = checked_path(environ)
        core = state.core
        if core.is_preflight(environ) or is_open_view(state, req.url_rule) or core.is_skipped(environ, path):
            return None
        last = is_last_check(state, req, check)
        refusal = core.check(environ, authorized, request=req, max_age=max_age, mfa=mfa, inner=last)
        if refusal is None:
            hand_token_to_g(environ)
        return refusal

    setattr(check, CHECK_ATTR, True)
    return check


@t.overload
def auth_required(view: F) -> F: ...


@t.overload
def auth_required(
    *, authorized: Authorized | None = None, mfa: bool = False, max_age: int | None = None
) -> t.Callable[[F], F]: ...


def auth_required(
    view: F | None = None,
    *,
    authorized: Authorized | None = None,
    mfa: bool = False,
    max_age: int | None = None,
) -> t.Any:
    """Protect one view: ``@auth_required``, ``@auth_required(authorized=fn)``,
    ``@auth_required(max_age=300)``; ``@auth_required(mfa=True)`` also requires the second
    factor (``two_factor``): a session without it is sent to enrol or enter a code (401 JSON for
    APIs).

    Refusals are the guard's: sign-in redirect (401 JSON for APIs) when anonymous, 403 when
    signed in but refused. CORS preflights (``cors_preflight``) and the skip list pass; the
    guard's inner middleware runs for an authorized request. ``async def`` views work (``flask[async]``).

    :param max_age: step-up sign-in: a session that signed in more than ``max_age`` seconds ago
        is sent to sign in again and back to this URL (401 JSON for APIs; see
        :mod:`~flask_authguard.guard.step_up`).
    :raises ValueError: ``max_age`` is not whole seconds, at least 1.
    """
    max_age = checked_max_age(max_age)

    def decorate(fn: F) -> F:
        # decided once: a plain view is called as it is, an ``async def`` one through the app
        is_async = inspect.iscoroutinefunction(fn)

        @functools.wraps(fn)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            req = request._get_current_object()  # type: ignore[attr-defined]
            environ = req.environ
            state, path = checked_path(environ)
            core = state.core
            if not (core.is_preflight(environ) or core.is_skipped(environ, path)):
                refusal = core.check(environ, authorized, request=req, max_age=max_age, mfa=mfa)
                if refusal is not None:
                    return refusal
                hand_token_to_g(environ)
            if is_async:
                return current_app.ensure_sync(fn)(*args, **kwargs)
            return fn(*args, **kwargs)

        setattr(wrapper, CHECK_ATTR, True)  # the site-wide and blueprint checks leave it the inner middleware
        return t.cast(F, wrapper)

    return decorate(view) if view is not None else decorate
