"""``flask_authguard.testing``: sign a Flask test client in and out with chosen claims.

The helpers live in the Flask layer (:mod:`flask_authguard.flask.testing`, which documents
them); this is the short import path your tests use::

    from flask_authguard.testing import make_session_cookie, sign_in, sign_out
"""

from __future__ import annotations

from .flask.testing import DEFAULT_CLAIMS, make_session_cookie, sign_in, sign_out

__all__ = ["DEFAULT_CLAIMS", "make_session_cookie", "sign_in", "sign_out"]
