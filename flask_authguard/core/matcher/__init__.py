"""Next.js ``config.matcher`` for WSGI paths, compiled once at start-up.

The patterns are the ones a Next.js ``middleware.ts`` exports (path-to-regexp v6 syntax, the
version Next.js bundles), optionally with ``has``/``missing`` conditions on headers, cookies,
query parameters and the host:

.. code-block:: python

    from flask_authguard.core.matcher import compile_matcher

    matcher = compile_matcher([
        "/dashboard/:path*",
        "/((?!api|_next/static|_next/image|favicon.ico).*)",
        {
            "source": "/api/:path*",
            "has": [{"type": "header", "key": "Authorization", "value": "Bearer (.*)"}],
            "missing": [{"type": "cookie", "key": "session", "value": "active"}],
        },
    ])
    matcher.matches("/dashboard/settings")        # True
    matcher.matches("/api/users", request.environ)  # depends on the headers and cookies

Pattern syntax (path-to-regexp 6.3, with Next.js's options):

- literal text, matched case-sensitively; ``\\`` escapes the next character;
- ``:name``: one path segment; ``:name?`` zero or one, ``:name*`` zero or more, ``:name+`` one
  or more segments (``/about/:path*`` matches ``/about``, ``/about/a`` and ``/about/a/b``);
- ``:name(regex)``: a parameter with its own regular expression (``/post/:id(\\d+)``);
- ``(regex)``: an unnamed parameter (``/((?!api|_next/static).*)``); groups inside must be
  non-capturing or lookarounds (``(?:...)``, ``(?!...)``), as in path-to-regexp;
- ``{...}``: a group of text and at most one parameter, which may take a modifier
  (``/users{/:id}?``);
- the whole path must match, and one trailing slash is optional (``/about`` matches
  ``/about/``).

Invalid patterns fail at start-up with a :class:`~flask_authguard.core.errors.ConfigurationError`
that names the pattern and what is wrong. Besides path-to-regexp's own errors, a lone ``)``
(a literal for path-to-regexp, a typo in practice) is refused: escape it as ``\\)``.

Where this differs from Next.js, on purpose:

- Next.js also matches the ``/_next/data/<build id>/<path>.json`` form of every path, a
  ``.json`` suffix, and ``/index`` for ``/``. Those are Next.js's own data routes; a WSGI app
  has none, so they are not added.
- Next.js matches the pathname as the request spelt it, *percent-encoded* (``/caf%C3%A9/menu``;
  since vercel/next.js#78325 its decoded form too, for public files). The path given here is
  the decoded, normalised ``PATH_INFO`` as text (``/café/menu``; the guard decodes WSGI's latin-1
  string first). So that an entry means one page whichever way it is spelt, a run of
  percent-escapes in an entry's text (outside a ``(regex)``) is decoded at start-up:
  ``/caf%C3%A9/:path*`` is ``/café/:path*``, ``/a%20b`` is ``/a b``, ``%3A`` is a literal ``:``
  (never a parameter); escapes that are not UTF-8 read as U+FFFD, as in a request's path;
  ``\\%`` keeps a literal ``%``. Inside a ``(regex)`` write the character itself.
- So that a decoded ``?``, ``#`` or line break can never slip a request past a
  pattern, a parameter stops only at ``/`` (path-to-regexp stops at ``/``, ``#`` and ``?``,
  which never occur unencoded in a pathname), the optional trailing delimiter is ``/`` only, and
  ``.`` in your regular expressions matches any character, line breaks included.
- Regular expressions are compiled by Python's :mod:`re` with :data:`re.ASCII` (``\\d`` and
  ``\\w`` are ASCII, as in JavaScript). JavaScript's named groups ``(?<name>...)`` are accepted;
  other JavaScript-only syntax is a :class:`~flask_authguard.core.errors.ConfigurationError`.
- A condition's ``value`` must match the *whole* value: ``^(?:value)$``. Next.js builds
  ``^value$``, which for an alternation such as ``a|b`` anchors only its ends.
- Unknown keys in an entry or condition are errors rather than ignored, to catch typos.

``has``/``missing`` read headers, cookies, the query string and ``Host``: all sent by the client.
They are routing conveniences, never security decisions: with
``missing: [{"type": "header", "key": "x-skip"}]`` any client that sends ``x-skip`` turns the
protection of that entry off.

Linear-time matching: Python's :mod:`re` backtracks and has no time limit, so every pattern and
every condition ``value`` is checked at start-up; one that could take more than linear time in the
length of the path (or header, cookie, query value) is a
:class:`~flask_authguard.core.errors.ConfigurationError` naming it and what to do:

- two repeats that can take the same characters, with nothing required between them that the
  later one cannot take: ``/(.*)/(.*)/x``, ``/:a*/:b*``, ``/(.*)/:rest*``, ``/(.*)-(.*)``,
  ``/:f([^/]+-[^/]+)``. A long path that fails to match is split between *k* such repeats in
  about n**k ways (``/(.*)/(.*)/(.*)/x`` used to take a minute on a 4 KB path). Keep one repeat
  that takes the text between them and make the others stop at it: ``/(.*)/:id/x`` is linear
  (``:id`` stops at ``/``), so is ``/:a-:b`` (path-to-regexp keeps ``-`` out of ``:b``);
- a repeat of something repeated or with alternatives, ``((?:a+)+)``, ``((?:a|aa)+)``:
  exponential. Repeat single characters (``[a-z0-9-]+``, ``(?:a|b)+`` is ``[ab]+``);
- as before, a repeated parameter whose expression can match its separator (``/:path(.*)*``),
  and a repeat without a separator.

The check over-approximates what the expressions can take, so it may refuse a pattern that is in
fact linear, never the reverse. ``/:name.:ext*`` and ``/:name.:ext?`` are compiled as
``/:name`` (they match the same paths; the tail only made failures quadratic), ``/:name.:ext+``
with a single ``.ext``.
"""

from __future__ import annotations

from .compiled import Matcher, MatcherEntry, MatcherPatterns, compile_matcher
from .conditions import Condition, ConditionalEntry

__all__ = ["Condition", "ConditionalEntry", "Matcher", "MatcherEntry", "MatcherPatterns", "compile_matcher"]
