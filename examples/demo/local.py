"""``python examples/demo/app.py --local``: GitHub-style and email sign-in with no account anywhere.

Two local services stand in for the outside world, the very ones the test suite starts:

- an OpenID Connect provider on 127.0.0.1 (npm ``oauth2-mock-server`` behind
  ``tests/node_oidc/server.mjs``, installed once per machine by ``tests/support/oidc_server.py``;
  it needs Node.js and npm). It approves every sign-in at once, as ``alice@example.com``, and its
  ID tokens say so (``auth_time``: now), as a provider that asks for the password every time
  would, so the account page (``max_age``) takes its sign-ins;
- an SMTP sink on 127.0.0.1 (``aiosmtpd``) that prints each sign-in link it receives, so the
  email provider can be tried from the terminal.

Email sign-in stores its one-time tokens, so the demo gets a database: SQLite in a temporary
directory (sessions stay JWTs). ``pip install -e ".[demo]"`` installs what this needs.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import sys
import tempfile
import typing as t

#: ``tests/``: the launcher of the tests' OpenID Connect provider lives in ``tests/support``.
TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tests")

#: Who the local provider signs in: the demo's alice.
OIDC_CLAIMS = {"sub": "alice", "email": "alice@example.com", "email_verified": True, "name": "Alice"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrintedInbox:
    """The SMTP sink's handler: prints the sign-in link of every mail."""

    def __init__(self, say: t.Callable[[str], None]) -> None:
        self.say = say
        self.links: list[str] = []

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        match = re.search(r"https?://\S+", body.get_content() if body is not None else "")
        if match:
            self.links.append(match.group(0))
            self.say(f"[email] sign-in link for {', '.join(envelope.rcpt_tos)}: {match.group(0)}")
        return "250 Message accepted for delivery"


class LocalProviders:
    """The running OpenID Connect provider and SMTP sink, and the providers and adapter for them."""

    def __init__(self, say: t.Callable[[str], None] = print) -> None:
        from aiosmtpd.controller import Controller

        from flask_authguard import EmailProvider, OIDCProvider
        from flask_authguard.adapters.sqlalchemy import SQLAlchemyAdapter

        if TESTS not in sys.path:
            sys.path.insert(0, TESTS)
        from support import oidc_server  # the tests' launcher: installs and starts the provider

        self.inbox = PrintedInbox(say)
        self.smtp = Controller(self.inbox, hostname="127.0.0.1", port=_free_port())
        self.smtp.start()
        self.oidc = oidc_server.start()
        self.oidc.scenario(claims=OIDC_CLAIMS, auth_time_now=True)
        self._directory = tempfile.TemporaryDirectory(prefix="authguard-demo-")
        #: Users, accounts and email tokens (SQLite, deleted on :meth:`stop`).
        self.adapter = SQLAlchemyAdapter(f"sqlite:///{self._directory.name}/demo.sqlite3", create_tables=True)
        #: An OpenID Connect provider (shown as "Local OIDC") and the email provider.
        self.providers = [
            OIDCProvider(
                id="oidc",
                name="Local OIDC",
                issuer=self.oidc.issuer,
                client_id="demo-client",
                client_secret="demo-secret",
            ),
            EmailProvider(
                server=f"smtp://127.0.0.1:{self.smtp.port}", from_address="Demo <demo@example.com>"
            ),
        ]

    def stop(self) -> None:
        self.oidc.stop()
        self.smtp.stop()
        self._directory.cleanup()
