"""Whether the route an ASGI request goes to checks it again, so that :class:`AuthMiddleware
<flask_authguard.asgi.AuthMiddleware>` leaves its inner middleware to that check.

The inner middleware runs once per request, after the strictest check: its answer never stands
in for a check (Flask's rule too, :func:`~flask_authguard.flask.protection.is_last_check`). The
middleware's own check comes first, before the app routes the request, so it looks the route up
the way Starlette's router will: the first route of the wrapped app (else of the app the scope
names) that matches the request fully, through mounted apps and routers. A FastAPI route checks
again when :func:`~flask_authguard.asgi.require_auth` is among its dependencies (its own or a
dependency's), which are known before the request runs.

What cannot be seen for sure counts as no later check, so the inner middleware is never left
out, but runs at the middleware, before the route's own check: a ``require_auth()`` awaited
inside a plain Starlette endpoint, and the routes of a router FastAPI includes whole
(``app.include_router`` in FastAPI 0.16x, which matches them itself). There, make the stricter
check in the inner middleware itself, or declare the route on the app (or on a mounted app).
"""

from __future__ import annotations

import typing as t

from ..guard.decision import CHECK_ATTR

#: How deep mounted apps are followed (a mount inside a mount...).
MAX_DEPTH = 8


def route_checks_again(scope: t.MutableMapping[str, t.Any], app: t.Any) -> bool:
    """Whether the route that will serve ``scope`` (the path the guard checked) runs a
    ``require_auth`` dependency; ``app`` is the app the middleware wraps, used when the scope
    names none (a middleware wrapped around the app rather than added to it).

    Only a check found for sure counts: the answer errs on one side only. A route this cannot
    follow for sure counts as none, and the inner middleware then runs at the middleware, as it
    did before routes were looked at: so it may run before a stricter check, but is never left
    out. Such routes: a router of another kind; a router FastAPI includes whole
    (``include_router`` in FastAPI 0.16x, whose own matching applies the inclusion's prefix and
    dependencies); a dependency on the way to ``require_auth`` that ``dependency_overrides``
    replaces by something else.
    """
    from starlette.routing import Match

    routes = routes_of(app, scope)
    scope = dict(scope)  # a route's matches() may write into the scope (FastAPI's does): a copy
    for _ in range(MAX_DEPTH):
        for route in routes:
            try:
                match, child = route.matches(scope)
            except Exception:  # a route of the app's own kind: the router decides, not us
                continue
            if match == Match.FULL:
                break
        else:
            return False
        if getattr(route, "original_router", None) is not None:
            return False  # FastAPI's whole inclusion: its matching is its own (see above)
        inner = getattr(route, "routes", None)  # a Mount or a Host (of an app or a router)
        if inner is None:
            return _has_check(route)
        scope = {**scope, **child}
        routes = inner
    return False


def mounted_apps(routes: t.Sequence[t.Any]) -> list[t.Any]:
    """The apps mounted among ``routes`` (``Mount(app=...)``) and below them, at any depth up to
    :data:`MAX_DEPTH`."""
    found: list[t.Any] = []
    level = list(routes)
    for _ in range(MAX_DEPTH):
        below: list[t.Any] = []
        for route in level:
            mounted = getattr(route, "app", None)
            if getattr(route, "routes", None) is not None and mounted is not None:  # a Mount
                found.append(mounted)
                below.extend(_routes_of(mounted))
        level = below
    return found


def routes_of(app: t.Any, scope: t.Mapping[str, t.Any]) -> t.Sequence[t.Any]:
    """The routes the request will be routed among: those of ``app`` (the app the middleware
    wraps) when it has any, else those of the app the scope names (FastAPI's ``add_middleware``
    puts the middleware in front of the app's own router, which it cannot reach)."""
    return _routes_of(app) or _routes_of(scope.get("app"))


def _routes_of(app: t.Any) -> t.Sequence[t.Any]:
    router = getattr(app, "router", None)  # Starlette and FastAPI apps
    return getattr(router, "routes", None) or getattr(app, "routes", None) or ()


def _has_check(route: t.Any) -> bool:
    """A FastAPI route whose dependencies include a ``require_auth`` check."""
    provider = getattr(route, "dependency_overrides_provider", None)
    overrides = getattr(provider, "dependency_overrides", None) or {}
    pending = [getattr(route, "dependant", None)]
    while pending:
        dependant = pending.pop()
        if dependant is None:
            continue
        call = dependant.call
        try:
            replaced = call in overrides
        except TypeError:  # an unhashable callable cannot be a key of the overrides
            replaced = False
        if replaced:  # what runs is the override (its own dependencies unknown here)
            if getattr(overrides[call], CHECK_ATTR, False):
                return True
            continue
        if getattr(call, CHECK_ATTR, False):
            return True
        pending.extend(dependant.dependencies)
    return False


__all__ = ["MAX_DEPTH", "mounted_apps", "route_checks_again", "routes_of"]
