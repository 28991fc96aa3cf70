"""``get_server_session`` in its werkzeug form: the recorded next-auth cases, then our own rules.

Every case of ``tests/data/session.json`` is replayed with
``get_server_session(request, response, options)``. Where we deliberately differ, the case is
listed in :data:`DEVIATIONS` with the rule's name (also in the test id) and our expectation.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import email.utils
import logging
import typing as t
import uuid

import pytest
from conftest import FrozenClock, load_vectors
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder, create_environ
from werkzeug.wrappers import Request, Response

from flask_authguard import ConfigurationError, decode, encode, get_server_session
from flask_authguard.core.http.dates import iso_ms
from flask_authguard.core.settings.config import resolve_options
from flask_authguard.sessions import apply_cookies, config_of, read_session, writes_session_cookie
from flask_authguard.sessions import base as session_mod

DATA = load_vectors("session.json")
CASES = {c["name"]: c for c in DATA["cases"]}
NOW = DATA["now"]
SECRET = "session-unit-secret-0123456789abcdef0123"
V4 = "next-auth.session-token"
V5 = "authjs.session-token"

# --------------------------------------------------------------------------- the recorded cases

#: Cookies next-auth's ``init()`` adds to every core call; a session read here sets none.
INIT_ROLES = {"csrf_token", "callback_url"}
NO_INIT_COOKIES = "no-init-cookies"

#: Cases whose outcome we deliberately change, and the rule that changes it.
DEVIATIONS: dict[str, str] = {
    # werkzeug's Request always parses the Cookie header: there is no request without cookies.
    "req_without_cookies_object": "cookie-header-always-read",
    # Auth.js v5's rule: a jwt callback returning None signs out (no session, cookie cleared).
    "jwt_callback_returns_null": "jwt-none-signs-out",
    # A custom session cookie keeps the default attributes it does not override (Path=/,
    # HttpOnly, SameSite=Lax): next-auth drops them all, a cookie scripts could read.
    "custom_cookie_name_without_options": "custom-cookie-keeps-default-attributes",
    # No secret is a configuration error everywhere; next-auth derives a throw-away one outside
    # production (a hash of the options that Python cannot reproduce).
    "no_secret_development_derived_secret": "no-secret-raises",
}


def _our_expectation(case: dict[str, t.Any]) -> dict[str, t.Any]:
    """next-auth's expectation with our documented rules applied."""
    expect = copy.deepcopy(case["expect"])
    rule = DEVIATIONS.get(case["name"])
    if rule == "cookie-header-always-read":
        expect = copy.deepcopy(CASES["valid_default_callbacks"]["expect"])
    elif rule == "jwt-none-signs-out":
        expect["session"] = None
        assert expect["new_session_token"] is None  # next-auth cleared the cookie too
    elif rule == "custom-cookie-keeps-default-attributes":
        expect["set_cookie_parsed"] = copy.deepcopy(
            CASES["custom_cookie_name_with_options"]["expect"]["set_cookie_parsed"]
        )
    elif rule == "no-secret-raises":
        expect.update(throws=True, session=None, set_cookie_parsed=[], new_session_token=None)
    expect["set_cookie_parsed"] = [p for p in expect["set_cookie_parsed"] if p["role"] not in INIT_ROLES]
    return expect


def _rules(case: dict[str, t.Any]) -> list[str]:
    rules = [DEVIATIONS[case["name"]]] if case["name"] in DEVIATIONS else []
    if any(p["role"] in INIT_ROLES for p in case["expect"]["set_cookie_parsed"]):
        rules.append(NO_INIT_COOKIES)
    return rules


def _case_id(case: dict[str, t.Any]) -> str:
    rules = _rules(case)
    return f"{case['name']}[{','.join(rules)}]" if rules else case["name"]


def _add_field(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    token["custom"] = "added-by-jwt"
    token["count"] = token.get("count", 0) + 1
    return token


def _strip_groups(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    token.pop("groups", None)
    return token


def _add_large_field(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    token["groups"] = [f"group-{i}-{'z' * 24}" for i in range(220)]
    return token


def _copy_field(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
    # JavaScript's undefined members vanish from JSON: copy only what the token has.
    if "custom" in token:
        session["custom"] = token["custom"]
    if "sub" in token:
        session["user"]["id"] = token["sub"]
    if "role" in token:
        session["user"]["role"] = token["role"]
    return session


def _throws(**_: t.Any) -> t.NoReturn:
    raise RuntimeError("session boom")


#: The recorded callback descriptors as Python callables (``None``: not provided).
JWT_CALLBACKS: dict[str, t.Callable[..., t.Any] | None] = {
    "default": None,
    "add_field": _add_field,
    "strip_groups": _strip_groups,
    "add_large_field": _add_large_field,
    "returns_null": lambda **_: None,
}
SESSION_CALLBACKS: dict[str, t.Callable[..., t.Any] | None] = {
    "default": None,
    "copy_field": _copy_field,
    "returns_empty_object": lambda **_: {},
    "throws": _throws,
}


class Recorder:
    """Wraps a callback and keeps the keyword arguments of every call (deep copies)."""

    def __init__(self, fn: t.Callable[..., t.Any]) -> None:
        self.fn = fn
        self.calls: list[dict[str, t.Any]] = []

    def __call__(self, **kwargs: t.Any) -> t.Any:
        self.calls.append(copy.deepcopy(kwargs))
        return self.fn(**kwargs)


def _options(case: dict[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, Recorder]]:
    js = case["auth_options"]
    recorders: dict[str, Recorder] = {}
    callbacks: dict[str, t.Any] = {}
    for kind, table in (("jwt", JWT_CALLBACKS), ("session", SESSION_CALLBACKS)):
        fn = table[js["callbacks"][kind]]
        if fn is not None:
            recorders[kind] = callbacks[kind] = Recorder(fn)
    options: dict[str, t.Any] = {"callbacks": callbacks}
    unknown = set(js) - {"providers", "callbacks", "secret", "session", "useSecureCookies", "cookies"}
    assert not unknown, f"descriptor(s) not mapped: {unknown}"
    if "secret" in js:
        options["secret"] = js["secret"]
    if "session" in js:
        options["session"] = {"max_age": js["session"]["maxAge"]}
    if "useSecureCookies" in js:
        options["use_secure_cookies"] = js["useSecureCookies"]
    if "cookies" in js:
        token = js["cookies"]["sessionToken"]
        options["cookies"] = {"session_token": {"name": token["name"], "options": token.get("options", {})}}
    return options, recorders


def _request(case: dict[str, t.Any]) -> Request:
    headers = dict(case["request"]["headers"])
    host = headers.pop("host")
    environ = EnvironBuilder(path="/", base_url=f"http://{host}", headers=headers).get_environ()
    if case["env"].get("AUTH_TRUST_HOST") or case["env"].get("VERCEL"):
        # next-auth trusts X-Forwarded-* under AUTH_TRUST_HOST; a WSGI app says so with ProxyFix.
        seen: dict[str, t.Any] = {}

        def capture(env: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
            seen.update(env)
            return []

        ProxyFix(capture, x_proto=1, x_host=1)(environ, lambda *a: None)  # type: ignore[arg-type]
        environ = seen
    return Request(environ)


def _apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str | None]) -> None:
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, t.Any]]:
    first, *parts = header.split("; ")
    name, _, value = first.partition("=")
    attributes: dict[str, t.Any] = {}
    for part in parts:
        key, sep, val = part.partition("=")
        attributes[key] = val if sep else True
    return name, value, attributes


def _chunk_index(name: str) -> int:
    tail = name.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def test_every_deviation_is_a_recorded_case() -> None:
    assert set(DEVIATIONS) <= set(CASES)
    assert len(CASES) == len(DATA["cases"]) == 28


def test_cases_are_matching_or_listed() -> None:
    """A case is either compared with next-auth's own expectation (after the init-cookie filter)
    or listed with the rule that changes it; a listed case must really change."""
    for name, case in CASES.items():
        ours = _our_expectation(case)
        theirs = copy.deepcopy(case["expect"])
        theirs["set_cookie_parsed"] = [p for p in theirs["set_cookie_parsed"] if p["role"] not in INIT_ROLES]
        if name in DEVIATIONS:
            assert ours != theirs, f"{name} is listed but our expectation is next-auth's"
        else:
            assert ours == theirs


@pytest.mark.parametrize("case", [pytest.param(c, id=_case_id(c)) for c in DATA["cases"]])
def test_recorded_case(
    case: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch, frozen_clock: FrozenClock
) -> None:
    _apply_env(monkeypatch, case["env"])
    frozen_clock.now = case["now"]
    expect = _our_expectation(case)
    options, recorders = _options(case)
    request, response = _request(case), Response()

    if expect["throws"]:
        with pytest.raises(ConfigurationError, match="There is a problem with the server configuration"):
            get_server_session(request, response, options)
        assert response.headers.getlist("Set-Cookie") == []
        return
    session = get_server_session(request, response, options)

    assert session == expect["session"]
    if session is not None:
        assert session["expires"] == iso_ms(case["now"] + expect["expires_offset_s"])

    headers = response.headers.getlist("Set-Cookie")
    parsed = [parse_set_cookie(h) for h in headers]
    want = expect["set_cookie_parsed"]
    assert [name for name, _, _ in parsed] == [p["name"] for p in want]  # names and order
    for (_, value, attributes), w in zip(parsed, want, strict=True):
        assert attributes == w["attributes"] | (
            {"Expires": attributes.get("Expires")} if "Expires" in w["attributes"] else {}
        )
        assert len(value) == w["value_length"]
        if "expires_offset_s" in w:
            expires = email.utils.parsedate_to_datetime(attributes["Expires"]).timestamp()
            assert expires - case["now"] == w["expires_offset_s"]
        else:
            assert "Expires" not in attributes
        if "max_age" in w:
            assert int(attributes["Max-Age"]) == w["max_age"] and value == ""

    new = expect["new_session_token"]
    if new is None:
        assert all(value == "" for _, value, _ in parsed)
    else:
        chunks = sorted(
            ((name, value) for name, value, _ in parsed if value), key=lambda p: _chunk_index(p[0])
        )
        assert [name for name, _ in chunks] == new["cookie_names"]
        raw = "".join(value for _, value in chunks)
        assert len(raw) == new["token_length"]
        payload = decode(token=raw, secret=new["decoded_with_secret"])
        assert payload is not None
        assert {k: v for k, v in payload.items() if k not in ("iat", "exp", "jti")} == new[
            "payload_without_iat_exp_jti"
        ]
        assert payload["exp"] - case["now"] == new["exp_minus_now"]
        assert payload["iat"] - case["now"] == new["iat_minus_now"]
        assert str(uuid.UUID(payload["jti"])) == payload["jti"]

    calls = expect["callback_calls"]
    for kind in ("jwt", "session"):
        recorded = recorders[kind].calls if kind in recorders else []
        assert len(recorded) == len(calls[kind])
        for ours, theirs in zip(recorded, calls[kind], strict=True):
            for key in theirs["keys"]:
                assert ours[key] == theirs.get(key), (kind, key)
            # the keywords next-auth leaves undefined are None here
            assert all(ours[k] is None for k in ours if k not in theirs["keys"])


def test_trusted_proxy_headers_need_proxyfix(
    monkeypatch: pytest.MonkeyPatch, frozen_clock: FrozenClock
) -> None:
    """Without ProxyFix the request's own scheme (http) decides: the __Secure- cookie of the
    recorded ``trust_host_forwarded_https`` case is not this request's session cookie."""
    case = CASES["trust_host_forwarded_https"]
    _apply_env(monkeypatch, case["env"])
    frozen_clock.now = case["now"]
    headers = dict(case["request"]["headers"])
    environ = EnvironBuilder(
        path="/", base_url=f"http://{headers.pop('host')}", headers=headers
    ).get_environ()
    response = Response()
    assert get_server_session(Request(environ), response, {}) is None
    assert response.headers.getlist("Set-Cookie") == []


# --------------------------------------------------------------------------- our own rules


def _environ(cookie: str | None = None, *, scheme: str = "http") -> dict[str, t.Any]:
    environ = create_environ("/page", f"{scheme}://localhost")
    if cookie is not None:
        environ["HTTP_COOKIE"] = cookie
    return environ


def _session(
    cookie: str | None, options: dict[str, t.Any], *, scheme: str = "http"
) -> tuple[dict[str, t.Any] | None, list[str]]:
    response = Response()
    session = get_server_session(Request(_environ(cookie, scheme=scheme)), response, options)
    return session, response.headers.getlist("Set-Cookie")


@pytest.fixture
def token(frozen_clock: FrozenClock) -> str:
    return encode(token={"sub": "u1", "name": "Ada", "role": "admin"}, secret=SECRET, max_age=3600)


def test_no_cookie_no_session_no_set_cookie(frozen_clock: FrozenClock) -> None:
    assert _session(None, {"secret": SECRET}) == (None, [])
    assert _session("theme=dark", {"secret": SECRET}) == (None, [])


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("garbage", id="not-a-jwe"),
        pytest.param("a.b.c.d.e", id="five-bad-segments"),
        pytest.param("%E0%A4%A", id="broken-escape"),
        pytest.param("x" * 70_000, id="oversized"),
    ],
)
def test_bad_cookie_is_no_session_and_is_cleared(value: str, frozen_clock: FrozenClock) -> None:
    session, cookies = _session(f"{V4}={value}", {"secret": SECRET})
    assert session is None
    assert [parse_set_cookie(h)[:2] for h in cookies] == [(V4, "")]
    assert parse_set_cookie(cookies[0])[2]["Max-Age"] == "0"


def test_non_utf8_cookie_header_is_no_session(token: str) -> None:
    environ = _environ()
    environ["HTTP_COOKIE"] = f"{V4}=\xff\xfe; other=1"
    response = Response()
    assert get_server_session(Request(environ), response, {"secret": SECRET}) is None


def test_v5_reads_authjs_cookie_and_builds_the_session_after_the_jwt_callback(
    frozen_clock: FrozenClock,
) -> None:
    raw = encode(token={"sub": "u1", "name": "Before"}, secret=SECRET, salt=V5, version=5)

    def rename(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {**token, "name": "After"}

    options = {"secret": SECRET, "version": 5, "callbacks": {"jwt": rename}}
    session, cookies = _session(f"{V5}={raw}", options)
    assert session is not None and session["user"] == {"name": "After"}  # v5: from the callback's token
    (header,) = cookies
    name, value, _ = parse_set_cookie(header)
    assert name == V5
    assert decode(token=value, secret=SECRET, salt=V5, version=5)["name"] == "After"
    # v4 keeps next-auth's order: the default session comes from the token as decoded
    v4 = encode(token={"sub": "u1", "name": "Before"}, secret=SECRET)
    session, _ = _session(f"{V4}={v4}", {"secret": SECRET, "callbacks": {"jwt": rename}})
    assert session is not None and session["user"] == {"name": "Before"}


def test_secure_names_follow_the_request_scheme_when_nothing_fixes_them(token: str) -> None:
    session, cookies = _session(f"__Secure-{V4}={token}", {"secret": SECRET}, scheme="https")
    assert session is not None
    name, _, attributes = parse_set_cookie(cookies[0])
    assert name == f"__Secure-{V4}" and attributes["Secure"] is True
    assert _session(f"__Secure-{V4}={token}", {"secret": SECRET}) == (None, [])


def test_refresh_uses_session_max_age_not_jwt_max_age(token: str, frozen_clock: FrozenClock) -> None:
    options = {"secret": SECRET, "session": {"max_age": 600}, "jwt": {"max_age": 99}}
    session, (header,) = _session(f"{V4}={token}", options)
    assert session is not None and session["expires"] == iso_ms(frozen_clock.now + 600)
    claims = decode(token=parse_set_cookie(header)[1], secret=SECRET)
    assert claims is not None and claims["exp"] == frozen_clock.now + 600


def test_secret_rotation_reads_old_tokens_and_refreshes_with_the_newest(frozen_clock: FrozenClock) -> None:
    old = encode(token={"sub": "u1"}, secret="old-secret-0123456789abcdef0123456789")
    options = {"secret": [SECRET, "old-secret-0123456789abcdef0123456789"]}
    session, (header,) = _session(f"{V4}={old}", options)
    assert session is not None
    assert decode(token=parse_set_cookie(header)[1], secret=SECRET)["sub"] == "u1"


def test_chunked_refresh_expires_stale_chunks(frozen_clock: FrozenClock) -> None:
    big = encode(token={"sub": "u1", "blob": "x" * 9000}, secret=SECRET)
    size = 4096 - 163
    pieces = [big[i : i + size] for i in range(0, len(big), size)]
    cookie = "; ".join(f"{V4}.{i}={p}" for i, p in enumerate(pieces)) + f"; {V4}.{len(pieces)}=stale"

    def shrink(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {"sub": token["sub"]}

    session, cookies = _session(cookie, {"secret": SECRET, "callbacks": {"jwt": shrink}})
    assert session is not None
    parsed = [parse_set_cookie(h) for h in cookies]
    written = {name: value for name, value, _ in parsed if value}
    assert list(written) == [V4]
    deleted = [name for name, value, _ in parsed if not value]
    assert deleted == [f"{V4}.{i}" for i in range(len(pieces) + 1)]


# --------------------------------------------------------------------------- callbacks


def test_jwt_callback_gets_every_keyword_and_none_for_the_absent(token: str) -> None:
    seen: dict[str, t.Any] = {}

    def jwt(**kwargs: t.Any) -> dict[str, t.Any]:
        seen.update(kwargs)
        return kwargs["token"]

    _session(f"{V4}={token}", {"secret": SECRET, "callbacks": {"jwt": jwt}})
    assert set(seen) == {"token", "user", "account", "profile", "trigger", "session"}
    assert seen["token"]["sub"] == "u1"
    assert all(seen[k] is None for k in ("user", "account", "profile", "trigger", "session"))


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param("a string", id="string"),
        pytest.param(["list"], id="list"),
        pytest.param(42, id="number"),
    ],
)
def test_jwt_callback_returning_a_non_token_signs_out(token: str, returned: t.Any) -> None:
    session, cookies = _session(
        f"{V4}={token}", {"secret": SECRET, "callbacks": {"jwt": lambda **_: returned}}
    )
    assert session is None
    assert [parse_set_cookie(h)[:2] for h in cookies] == [(V4, "")]


def test_jwt_callback_raising_signs_out(token: str, caplog: pytest.LogCaptureFixture) -> None:
    def jwt(**_: t.Any) -> t.NoReturn:
        raise LookupError("user gone")

    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        session, cookies = _session(f"{V4}={token}", {"secret": SECRET, "callbacks": {"jwt": jwt}})
    assert session is None and [parse_set_cookie(h)[:2] for h in cookies] == [(V4, "")]
    assert token not in caplog.text


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param({}, id="empty-dict"),
        pytest.param(None, id="none"),
        pytest.param("text", id="string"),
        pytest.param([1], id="list"),
    ],
)
def test_session_callback_without_a_session_gives_none_but_refreshes(token: str, returned: t.Any) -> None:
    session, (header,) = _session(
        f"{V4}={token}", {"secret": SECRET, "callbacks": {"session": lambda **_: returned}}
    )
    assert session is None
    assert parse_set_cookie(header)[1]  # next-auth still sets the refreshed cookie for {}


def test_session_callback_gets_session_token_and_user(token: str) -> None:
    seen: dict[str, t.Any] = {}

    def session_cb(**kwargs: t.Any) -> dict[str, t.Any]:
        seen.update(kwargs)
        return {**kwargs["session"], "sub": kwargs["token"]["sub"]}

    session, _ = _session(f"{V4}={token}", {"secret": SECRET, "callbacks": {"session": session_cb}})
    assert set(seen) == {"session", "token", "user"} and seen["user"] is None
    assert session is not None and session["sub"] == "u1" and session["user"] == {"name": "Ada"}


def test_read_callbacks_get_their_keywords_in_the_documented_order(token: str) -> None:
    """A plain read calls both callbacks directly (no call_sync): same keywords, same order."""
    order: dict[str, list[str]] = {}

    def jwt(**kwargs: t.Any) -> dict[str, t.Any]:
        order["jwt"] = list(kwargs)
        return kwargs["token"]

    def session_cb(**kwargs: t.Any) -> dict[str, t.Any]:
        order["session"] = list(kwargs)
        return kwargs["session"]

    _session(f"{V4}={token}", {"secret": SECRET, "callbacks": {"jwt": jwt, "session": session_cb}})
    assert order == {
        "jwt": ["token", "user", "account", "profile", "trigger", "session"],
        "session": ["session", "token", "user"],
    }


class _Token(t.Mapping[str, t.Any]):
    """A mapping that is no dict (and so not among the results never awaited)."""

    def __init__(self, data: dict[str, t.Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> t.Any:
        return self._data[key]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_read_callbacks_may_return_other_mappings_and_awaitables(token: str) -> None:
    class Later:
        """An awaitable that is no coroutine."""

        def __init__(self, value: t.Any) -> None:
            self.value = value

        def __await__(self) -> t.Generator[t.Any, None, t.Any]:
            yield from asyncio.sleep(0).__await__()
            return self.value

    def jwt(*, token: dict[str, t.Any], **_: t.Any) -> t.Any:
        return _Token({**token, "seen": "mapping"})

    def session_cb(*, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any) -> t.Any:
        return Later({**session, "seen": token["seen"]})

    options = {"secret": SECRET, "callbacks": {"jwt": jwt, "session": session_cb}}
    session, cookies = _session(f"{V4}={token}", options)
    assert session is not None and session["seen"] == "mapping"
    assert decode(token=parse_set_cookie(cookies[0])[1], secret=SECRET)["seen"] == "mapping"


def test_async_callbacks_and_hooks(token: str) -> None:
    async def jwt(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        await asyncio.sleep(0)
        return {**token, "async": True}

    async def session_cb(
        *, session: dict[str, t.Any], token: dict[str, t.Any], **_: t.Any
    ) -> dict[str, t.Any]:
        return {**session, "async": token["async"]}

    events: list[str] = []

    async def on_session(**_: t.Any) -> None:
        events.append("session")

    options = {
        "secret": SECRET,
        "callbacks": {"jwt": jwt, "session": session_cb},
        "events": {"session": on_session},
    }
    session, cookies = _session(f"{V4}={token}", options)
    assert session is not None and session["async"] is True and events == ["session"]
    assert decode(token=parse_set_cookie(cookies[0])[1], secret=SECRET)["async"] is True


def test_async_callbacks_work_inside_a_running_event_loop(token: str) -> None:
    """An ``async def`` Flask view runs in an event loop; async callbacks must still run."""

    async def jwt(*, token: dict[str, t.Any], **_: t.Any) -> dict[str, t.Any]:
        return {**token, "seen": "async"}

    async def decode_hook(*, token: str, secret: t.Any) -> dict[str, t.Any] | None:
        return decode(token=token, secret=secret)

    options = {"secret": SECRET, "callbacks": {"jwt": jwt}, "jwt": {"decode": decode_hook}}

    async def view() -> tuple[dict[str, t.Any] | None, list[str]]:
        return _session(f"{V4}={token}", options)

    session, cookies = asyncio.run(view())
    assert session is not None and cookies
    assert decode(token=parse_set_cookie(cookies[0])[1], secret=SECRET)["seen"] == "async"


def test_events_session_failure_is_logged_not_raised(token: str, caplog: pytest.LogCaptureFixture) -> None:
    def on_session(**_: t.Any) -> None:
        raise RuntimeError("event boom")

    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        session, cookies = _session(f"{V4}={token}", {"secret": SECRET, "events": {"session": on_session}})
    assert session is not None and cookies
    assert "events.session raised" in caplog.text


def test_custom_jwt_hooks_encode_and_decode(frozen_clock: FrozenClock) -> None:
    calls: list[dict[str, t.Any]] = []

    def my_encode(**kwargs: t.Any) -> str:
        calls.append(kwargs)
        return "signed:" + kwargs["token"]["sub"]

    def my_decode(*, token: str, secret: t.Any) -> dict[str, t.Any] | None:
        return {"sub": token.removeprefix("signed:"), "name": "N"} if token.startswith("signed:") else None

    options = {
        "secret": SECRET,
        "session": {"max_age": 60},
        "jwt": {"encode": my_encode, "decode": my_decode},
    }
    session, (header,) = _session(f"{V4}=signed:u9", options)
    assert session == {"user": {"name": "N"}, "expires": iso_ms(frozen_clock.now + 60)}
    assert parse_set_cookie(header)[1] == "signed%3Au9"  # encodeURIComponent, as next-auth writes
    assert calls[0]["max_age"] == 60 and calls[0]["secret"] == SECRET and calls[0]["salt"] == ""


@pytest.mark.parametrize(
    "encoder",
    [
        pytest.param(lambda **_: 1 / 0, id="raises"),
        pytest.param(lambda **_: None, id="returns-none"),
        pytest.param(lambda **_: 42, id="returns-a-number"),
    ],
)
def test_failed_refresh_keeps_the_cookie(
    token: str, encoder: t.Callable[..., t.Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="flask_authguard"):
        session, cookies = _session(f"{V4}={token}", {"secret": SECRET, "jwt": {"encode": encoder}})
    assert session is not None and session["user"] == {"name": "Ada"}
    assert cookies == []  # neither refreshed nor cleared: a failed refresh signs nobody out


# --------------------------------------------------------------------------- once per request


def test_repeated_reads_decode_and_encode_once_even_with_a_dict(
    token: str, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    encodes: list[t.Any] = []
    real_encode = session_mod.jwe_encode
    monkeypatch.setattr(session_mod, "jwe_encode", lambda **kw: encodes.append(1) or real_encode(**kw))
    request = Request(_environ(f"{V4}={token}"))
    options = {"secret": SECRET}
    first, second = Response(), Response()
    a = get_server_session(request, first, options)
    b = get_server_session(request, second, options)
    assert a == b and a is not None
    assert len(decodes) == 1 and len(encodes) == 1
    assert first.headers.getlist("Set-Cookie") == second.headers.getlist("Set-Cookie")
    # other options are another read
    get_server_session(request, None, {"secret": SECRET})
    assert len(decodes) == 2


def test_config_of_keeps_one_resolution_per_options_object() -> None:
    environ = _environ()
    options = {"secret": SECRET}
    assert config_of(options) is config_of(options)
    assert config_of(options) is not config_of(dict(options))
    config = resolve_options(options)
    assert config_of(config) is config
    assert read_session(environ, config).session is None


# --------------------------------------------------------------------------- the response's own word


@pytest.mark.parametrize(
    ("already", "refreshed"),
    [
        pytest.param([], True, id="nothing-yet"),
        pytest.param(["theme=dark; Path=/"], True, id="unrelated-cookie"),
        pytest.param([f"{V4}-legacy=; Max-Age=0; Path=/"], True, id="prefix-sharing-name"),
        pytest.param([f"{V4}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"], False, id="sign-out-deletes"),
        pytest.param([f"{V4}.1=; Max-Age=0; Path=/"], False, id="sign-out-deletes-a-chunk"),
        pytest.param(
            [f"{V4}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"], False, id="delete-by-expires"
        ),
        pytest.param([f"{V4}=new-token; Path=/"], False, id="sign-in-sets-a-new-one"),
    ],
)
def test_a_response_writing_the_session_cookie_gets_no_refresh(
    token: str, already: list[str], refreshed: bool
) -> None:
    environ = _environ(f"{V4}={token}")
    config = resolve_options({"secret": SECRET})
    result = read_session(environ, config)
    response = Response()
    for header in already:
        response.headers.add("Set-Cookie", header)
    assert apply_cookies(response.headers, result, config, False) is refreshed
    headers = response.headers.getlist("Set-Cookie")
    assert headers == already + (result.set_cookies if refreshed else [])
    assert writes_session_cookie(headers, V4) is (refreshed or bool(already))


def test_applying_twice_adds_nothing_new(token: str) -> None:
    environ = _environ(f"{V4}={token}")
    config = resolve_options({"secret": SECRET})
    result = read_session(environ, config)
    response = Response()
    assert apply_cookies(response.headers, result, config, False)
    assert apply_cookies(response.headers, result, config, False)
    assert response.headers.getlist("Set-Cookie") == result.set_cookies


# --------------------------------------------------------------------------- call forms


def test_response_none_reads_without_writing(token: str) -> None:
    request = Request(_environ(f"{V4}={token}"))
    session = get_server_session(request, None, {"secret": SECRET})
    assert session is not None and session["user"] == {"name": "Ada"}


def test_options_from_the_environment(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXTAUTH_SECRET", SECRET)
    session = get_server_session(Request(_environ(f"{V4}={token}")), Response(), None)
    assert session is not None


def test_no_secret_raises_configuration_error(token: str) -> None:
    with pytest.raises(ConfigurationError, match="NEXTAUTH_SECRET"):
        get_server_session(Request(_environ(f"{V4}={token}")), Response(), {})


@pytest.mark.parametrize(
    ("args", "error"),
    [
        pytest.param(("not a request", Response(), {}), TypeError, id="not-a-request"),
        pytest.param((Request(create_environ()),), TypeError, id="request-without-response"),
        pytest.param((Request(create_environ()), "nope", {}), TypeError, id="response-without-headers"),
        pytest.param((Request(create_environ()), None, {}, "extra"), TypeError, id="four-arguments"),
        pytest.param((), RuntimeError, id="no-flask-request"),
        pytest.param(({"secret": SECRET},), RuntimeError, id="options-without-flask-request"),
    ],
)
def test_call_forms_that_do_not_fit(args: tuple[t.Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        get_server_session(*args)


@pytest.mark.parametrize("args", [(), ({"secret": SECRET},)], ids=["no-arguments", "options"])
def test_short_forms_outside_a_request_say_what_to_call(args: tuple[t.Any, ...]) -> None:
    from flask import Flask

    app = Flask(__name__)
    said = r"needs a Flask request.*get_server_session\(request"
    for context in (contextlib.nullcontext(), app.app_context()):  # an app context is no request
        with context, pytest.raises(RuntimeError, match=said):
            get_server_session(*args)
