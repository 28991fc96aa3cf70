"""Next.js ``config.matcher`` for WSGI paths, compiled once at start-up.

The patterns are the ones a Next.js ``middleware.ts`` exports (path-to-regexp v6 syntax, the
version Next.js bundles), optionally with ``has``/``missing`` conditions on headers, cookies,
query parameters and the host:

.. code-block:: python

    from flask_authguard.matcher import compile_matcher

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

Invalid patterns fail at start-up with a :class:`~flask_authguard.errors.ConfigurationError`
that names the pattern and what is wrong. Besides path-to-regexp's own errors, a lone ``)``
(a literal for path-to-regexp, a typo in practice) is refused: escape it as ``\\)``.

Where this differs from Next.js, on purpose:

- Next.js also matches the ``/_next/data/<build id>/<path>.json`` form of every path, a
  ``.json`` suffix, and ``/index`` for ``/``. Those are Next.js's own data routes; a WSGI app
  has none, so they are not added.
- Next.js matches the *percent-encoded* pathname; the path given here is the decoded, normalised
  ``PATH_INFO``. So that a decoded ``?``, ``#`` or line break can never slip a request past a
  pattern, a parameter stops only at ``/`` (path-to-regexp stops at ``/``, ``#`` and ``?``,
  which never occur unencoded in a pathname), the optional trailing delimiter is ``/`` only, and
  ``.`` in your regular expressions matches any character, line breaks included.
- Regular expressions are compiled by Python's :mod:`re` with :data:`re.ASCII` (``\\d`` and
  ``\\w`` are ASCII, as in JavaScript). JavaScript's named groups ``(?<name>...)`` are accepted;
  other JavaScript-only syntax is a :class:`~flask_authguard.errors.ConfigurationError`.
- A condition's ``value`` must match the *whole* value: ``^(?:value)$``. Next.js builds
  ``^value$``, which for an alternation such as ``a|b`` anchors only its ends.
- Unknown keys in an entry or condition are errors rather than ignored, to catch typos.

Backtracking: Python's :mod:`re` has no time limit, so patterns are checked at start-up. The
built-in parameter forms cannot backtrack badly (a segment never matches its separator), a
repeated parameter (``*``/``+``) whose regular expression can match its own separator (as in
``/:path(.*)*``) is refused because it would backtrack exponentially, and repeating a parameter
without a separator is refused as path-to-regexp does. What remains is yours: several unbounded
wildcards in one pattern (``/(.*)/(.*)/(.*)/x``) cost polynomial time on long paths, and a
nested quantifier inside your own regular expression (``((?:a+)+)``) costs exponential time.
Keep custom expressions simple; the built-in forms are always safe.
"""

from __future__ import annotations

from .compiled import Matcher, MatcherEntry, MatcherPatterns, compile_matcher
from .conditions import Condition, ConditionalEntry  # noqa: F401  (importable from here, as before)

__all__ = ["Matcher", "MatcherEntry", "MatcherPatterns", "compile_matcher"]
