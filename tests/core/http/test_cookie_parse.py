"""Reading the session cookie: the shortcuts give werkzeug's answer on well-formed headers.

Well-formed means RFC 6265: token names, values of cookie-octets. On malformed pairs werkzeug
itself changed between releases (3.1.9 skips pairs 3.1.8 kept); there our shortcuts may find a
value werkzeug drops, which then fails to decode: both answers are "no session".
"""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from flask_authguard.core.tokens.request_token import request_cookies


def test_quoted_and_non_ascii_headers_are_read_as_werkzeug_does() -> None:
    quoted = {"HTTP_COOKIE": 'a="x\\"y"; b=1'}
    assert request_cookies(quoted)["a"] == 'x"y'
    utf8 = {"HTTP_COOKIE": "n=caf\u00c3\u00a9"}  # WSGI latin-1 spelling of UTF-8 "café"
    assert request_cookies(utf8)["n"] == "caf\u00e9"


def test_parsed_once_per_request() -> None:
    environ = {"HTTP_COOKIE": "a=1"}
    assert request_cookies(environ) is request_cookies(environ)


NAME = "next-auth.session-token"
KEYS = st.sampled_from(
    [NAME, f"{NAME}.0", f"{NAME}.1", f"__Secure-{NAME}", f"{NAME}-legacy", "x", f"x{NAME}"]
)
# RFC 6265 cookie-octets (no space, quote, comma, semicolon or backslash), percent included.
OCTETS = string.ascii_letters + string.digits + "-_.%=!#$&'()*+/:<>?@[]^`{|}~"
VALUES = st.text(st.sampled_from(OCTETS), max_size=12)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES), max_size=5), st.sampled_from(["; ", ";", " ; "]))
def test_single_cookie_shortcut_agrees_with_the_general_reader(
    pairs: list[tuple[str, str]], sep: str
) -> None:
    from flask_authguard.core.http.cookies import session_values
    from flask_authguard.core.tokens.request_token import single_cookie_value

    header = sep.join(f"{k}={v}" for k, v in pairs)
    quick = single_cookie_value(header, NAME)
    if quick is not None:
        environ = {"HTTP_COOKIE": header.encode("utf-8").decode("latin-1")}
        assert session_values(request_cookies(environ), NAME) == [quick]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES), max_size=5), st.sampled_from(["; ", ";", " ; "]))
def test_single_cookie_shortcut_agrees_with_the_database_session_reader(
    pairs: list[tuple[str, str]], sep: str
) -> None:
    """A database session's token (never from chunks, no session for two values): whenever the
    shortcut answers, ``opaque_session_value`` on the parsed cookies gives the same token."""
    from flask_authguard.core.http.cookies import opaque_session_value
    from flask_authguard.core.tokens.request_token import single_cookie_value

    header = sep.join(f"{k}={v}" for k, v in pairs)
    quick = single_cookie_value(header, NAME)
    if quick is not None:
        assert opaque_session_value(request_cookies({"HTTP_COOKIE": header}), NAME) == quick


BLANKS = st.sampled_from(["", " ", "\t", "  "])


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.tuples(BLANKS, KEYS, BLANKS, BLANKS, VALUES, BLANKS), max_size=5),
    st.sampled_from(["; ", ";", " ; ", "\t;"]),
    st.sampled_from(["", " ", ";", "; "]),
)
def test_single_cookie_shortcut_agrees_with_blanks_around_every_part(
    pairs: list[tuple[str, str, str, str, str, str]], sep: str, lead: str
) -> None:
    """Blanks before and after names, around ``=`` and after values: whenever the shortcut
    answers, it is the general reader's answer."""
    from flask_authguard.core.http.cookies import session_values
    from flask_authguard.core.tokens.request_token import single_cookie_value

    header = lead + sep.join(f"{a}{k}{b}={c}{v}{d}" for a, k, b, c, v, d in pairs)
    quick = single_cookie_value(header, NAME)
    if quick is not None:
        assert session_values(request_cookies({"HTTP_COOKIE": header}), NAME) == [quick]


#: Beyond cookie-octets: quotes (werkzeug reads a quoted value across ";"), blanks other than
#: space and tab, a comma and a backslash; and a token-shaped value to find.
MALFORMED = st.text(st.sampled_from('ab.-_"\\, \t\x0b\x0c\xa0'), max_size=8)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([NAME, f"{NAME}.0", "a", "b"]), MALFORMED), max_size=5),
    st.sampled_from(["; ", ";"]),
)
def test_on_malformed_headers_the_shortcut_never_finds_a_token_the_general_reader_does_not(
    pairs: list[tuple[str, str]], sep: str
) -> None:
    """Whatever quotes and blanks surround it, a token-shaped value the shortcut answers is the
    general reader's one candidate (a value it answers that is not token-shaped fails to decode:
    no session either way)."""
    from flask_authguard.core.tokens.request_token import session_cookie_values, single_cookie_value

    header = sep.join(f"{k}={v}" for k, v in pairs)
    quick = single_cookie_value(header, NAME)
    if quick is not None and re.fullmatch(r"[\w.-]+", quick, re.ASCII):
        parsed = {"HTTP_COOKIE": header}
        request_cookies(parsed)  # parsed first: the general reader answers
        assert session_cookie_values(parsed, NAME)[1] == [quick]


def test_single_cookie_shortcut_refuses_what_is_not_plain() -> None:
    from flask_authguard.core.http.cookies import session_values
    from flask_authguard.core.tokens.request_token import single_cookie_value

    for header in (
        f"x{NAME}=a",  # a longer name ending in it
        f"a=1 {NAME}=b",  # no ";" before it
        f"{NAME}",  # no value
        f"{NAME}=",
        f"{NAME} x=a",  # something else between the name and "="
        f'{NAME}="a"',
        f"{NAME}=a%3D",
        f"{NAME}=a; {NAME}=b",
    ):
        assert single_cookie_value(header, NAME) is None, header
    # blanks around "=": not plain; the general reader takes the value
    assert single_cookie_value(f" ;\t{NAME} = a ;b=1", NAME) is None
    assert session_values(request_cookies({"HTTP_COOKIE": f" ;\t{NAME} = a ;b=1"}), NAME) == ["a"]


def test_single_cookie_shortcut_takes_the_usual_header() -> None:
    from flask_authguard.core.tokens.request_token import single_cookie_value

    header = f"next-auth.csrf-token=abc%7Cdef; {NAME}=eyJ.a.b.c.d; other=1"
    assert single_cookie_value(header, NAME) == "eyJ.a.b.c.d"
    assert single_cookie_value(f"{NAME}.0=a; {NAME}.1=b", NAME) is None
    assert single_cookie_value(f"__Secure-{NAME}=a", NAME) is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES), max_size=5), st.sampled_from(["; ", ";", " ; "]))
def test_session_cookie_values_name_the_cookies_the_general_reader_sees(
    pairs: list[tuple[str, str]], sep: str
) -> None:
    """The names :func:`session_cookie_values` hands the rolled and cleared cookies give the
    same session cookie and chunks as the request's parsed cookies, fast path or not."""
    from flask_authguard.core.http.cookies import chunk_names, session_values
    from flask_authguard.core.tokens.request_token import session_cookie_values

    header = sep.join(f"{k}={v}" for k, v in pairs)
    names, candidates = session_cookie_values({"HTTP_COOKIE": header}, NAME)
    assert type(names) is tuple
    general = request_cookies({"HTTP_COOKIE": header})
    assert chunk_names(names, NAME) == chunk_names(general, NAME)
    if candidates:
        assert candidates == session_values(general, NAME)
