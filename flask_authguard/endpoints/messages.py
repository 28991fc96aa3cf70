"""What the endpoints say: next-auth's error codes, page texts and the headers of their answers."""

from __future__ import annotations

import typing as t

#: next-auth's headers on the session and csrf answers.
NO_CACHE = {"Cache-Control": "private, no-cache, no-store", "Pragma": "no-cache", "Expires": "0"}
#: The built-in pages carry a CSRF token: never cached, never framed (clickjacking).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    # no inline script: the only script (passkeys) is served from the auth routes
    "Content-Security-Policy": (
        "frame-ancestors 'none'; script-src 'self'; object-src 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
}
#: next-auth's body of a 500 for a configuration problem (no secret).
SERVER_ERROR = "There is a problem with the server configuration. Check the server logs for more information."

#: Error codes the error route sends on to the sign-in page (next-auth's list).
SIGNIN_ERRORS = frozenset(
    {
        "Signin",
        "OAuthSignin",
        "OAuthCallback",
        "OAuthCreateAccount",
        "EmailCreateAccount",
        "Callback",
        "OAuthAccountNotLinked",
        "EmailSignin",
        "CredentialsSignin",
        "SessionRequired",
        "WebAuthnVerificationError",
    }
)
#: The sign-in page's message per error code (next-auth's texts).
SIGNIN_MESSAGES = {
    "Signin": "Try signing in with a different account.",
    "OAuthSignin": "Try signing in with a different account.",
    "OAuthCallback": "Try signing in with a different account.",
    "OAuthCreateAccount": "Try signing in with a different account.",
    "EmailCreateAccount": "Try signing in with a different account.",
    "Callback": "Try signing in with a different account.",
    "OAuthAccountNotLinked": "To confirm your identity, sign in with the same account you used originally.",
    "EmailSignin": "The e-mail could not be sent.",
    "CredentialsSignin": "Sign in failed. Check the details you provided are correct.",
    "SessionRequired": "Please sign in to access this page.",
    "WebAuthnVerificationError": "The passkey could not be verified. Try again, or sign in another way.",
    "Default": "Unable to sign in.",
}


class ErrorPage(t.NamedTuple):
    """What the error page shows for one code, and its status (spec 7.2)."""

    status: int
    heading: str
    message: str
    #: Offer a sign-in link rather than a link home.
    signin: bool = False


#: The error page per lower-cased code (next-auth matches codes case-insensitively).
ERROR_PAGES = {
    "configuration": ErrorPage(500, "Server error", SERVER_ERROR),
    "accessdenied": ErrorPage(403, "Access denied", "You do not have permission to sign in.", signin=True),
    "verification": ErrorPage(
        403,
        "Unable to sign in",
        "The sign in link is no longer valid. It may have been used already or it may have expired.",
        signin=True,
    ),
    # where a throttled json=true sign-in is sent (next-auth/react follows the {"url"} it gets)
    "toomanyrequests": ErrorPage(
        200, "Too many sign-in attempts", "Wait a minute, then try again.", signin=True
    ),
    "default": ErrorPage(200, "Error", "Something went wrong. Please try again."),
}
#: The other answers that are not redirects, by error code: a page in the same layout as the
#: error page (with a link back to sign-in), or ``{"error": code, "message": ...}`` for JSON
#: clients. ``{}`` fields in a message are filled in per request.
NOTICES = {
    "TooManyRequests": ErrorPage(
        429, "Too many sign-in attempts", "Wait {seconds} seconds, then try again.", signin=True
    ),
    # next-auth answers these 400 in plain text ("... is not supported by NextAuth.js")
    "UnknownAction": ErrorPage(
        400, "Page not found", "This action with HTTP {method} is not supported.", signin=True
    ),
    "ServiceUnavailable": ErrorPage(
        503,
        "Try again shortly",
        "The session store is unavailable. Try again shortly.",
        signin=True,
    ),
}
