"""Show a revocation and the sign-in throttle holding across the cluster's workers.

Start the cluster (``gunicorn -c examples/cluster/gunicorn.conf.py``), then::

    python examples/cluster/tour.py                  # or: python examples/cluster/tour.py http://127.0.0.1:5007/

Each request opens its own connection, and they go three at a time, as several browsers' do
through a load balancer: a worker busy with one leaves the next to another (one request at a time,
one after the other, could all land on the same idle worker). Every line says which worker
answered (the ``X-Worker`` header).
"""

from __future__ import annotations

import http.cookiejar
import json
import sys
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

URL = "http://127.0.0.1:5007/"
#: Requests sent at the same time.
AT_ONCE = 3


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: t.Any, **kwargs: t.Any) -> None:
        return None  # show the 302 itself


class Browser:
    """A cookie jar and a connection per request, like a browser talking to a load balancer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """``(status, worker, body)`` of one request; a form makes it a POST."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.url + path.lstrip("/"), data=data)
        request.add_header("Accept", "application/json")
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.headers.get("X-Worker", "?"), response.read().decode()
        except urllib.error.HTTPError as answer:  # 3xx (not followed), 4xx: an answer all the same
            return answer.code, answer.headers.get("X-Worker", "?"), answer.read().decode()

    def csrf(self) -> str:
        return str(json.loads(self.request("/api/auth/csrf")[2])["csrfToken"])

    def sign_in(self, username: str, password: str, csrf: str | None = None) -> tuple[int, str, str]:
        """A credentials sign-in (``csrf``: a token fetched before, for several at once)."""
        form = {"username": username, "password": password, "csrfToken": csrf or self.csrf(), "json": "true"}
        return self.request("/api/auth/callback/credentials", form)

    def session_cookie(self) -> str | None:
        return next((c.value for c in self.jar if c.name == "next-auth.session-token"), None)


def revocation(url: str, say: t.Callable[[str], None] = print) -> dict[str, t.Any]:
    """Bob signs in, keeps a copy of his cookie, signs out everywhere on one worker; the copy
    is then refused by the others. (Bob: alice's sign-in asks for her second factor's code.)"""
    bob = Browser(url)
    status, worker, _ = bob.sign_in("bob", "bob-user-pw")
    say(f"bob signs in: {status} (worker {worker})")
    stolen = bob.session_cookie()
    assert stolen is not None, "no session cookie after signing in"
    status, worker, _ = bob.request("/api/me")
    say(f"GET /api/me with his cookie: {status} (worker {worker})")
    form = {"csrfToken": bob.csrf(), "everywhere": "true"}
    status, revoked_by, _ = bob.request("/api/auth/signout", form)
    say(f"he signs out everywhere: {status} (worker {revoked_by})")

    thief = Browser(url)  # a copy of the old cookie, as a stolen one would be
    thief.opener.addheaders = [("Cookie", f"next-auth.session-token={stolen}")]
    answers: list[tuple[int, str]] = []
    with ThreadPoolExecutor(AT_ONCE) as pool:
        while len({w for _, w in answers} - {revoked_by}) < 1 and len(answers) < 30:
            for status, worker, _ in pool.map(lambda _: thief.request("/api/me"), range(AT_ONCE)):
                answers.append((status, worker))
                say(f"GET /api/me with the copy of his old cookie: {status} (worker {worker})")
    return {"revoked_by": revoked_by, "answers": answers}


def throttle(url: str, say: t.Callable[[str], None] = print) -> dict[str, t.Any]:
    """Wrong passwords for alice, each on whichever worker answers: ten are counted (401), and
    every one after them is refused (429), since every worker counts in the same Redis (10 a
    minute per account and address)."""
    alice = Browser(url)
    csrf = alice.csrf()  # one token (and its cookie) for every attempt, sent three at a time
    answers: list[tuple[int, str]] = []
    with ThreadPoolExecutor(AT_ONCE) as pool:
        while not any(status == 429 for status, _ in answers) and len(answers) < 30:
            tries = pool.map(lambda _: alice.sign_in("alice", "a wrong password", csrf), range(AT_ONCE))
            for status, worker, _ in tries:
                answers.append((status, worker))
                say(f"wrong password for alice, attempt {len(answers)}: {status} (worker {worker})")
    counted = sorted({w for status, w in answers if status != 429})
    refused = sorted({w for status, w in answers if status == 429})
    say(f"counted by workers {', '.join(counted)}; refused by worker {', '.join(refused)}")
    return {"answers": answers}


def main(argv: t.Sequence[str] | None = None) -> dict[str, t.Any]:
    args = list(sys.argv[1:] if argv is None else argv)
    url = (args[0] if args else URL).rstrip("/") + "/"
    print(f"Revocation across workers ({url}):")
    revoked = revocation(url)
    print("\nSign-in throttle across workers:")
    throttled = throttle(url)
    print("\n(alice stays throttled from this address for a minute; start again after that.)")
    return {"revocation": revoked, "throttle": throttled}


if __name__ == "__main__":
    main()
