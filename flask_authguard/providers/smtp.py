"""The email provider's default sender: the sign-in link by SMTP, with the standard library.

``server`` takes next-auth's (nodemailer's) forms: a URL ``smtp://user:pass@host:port``
(STARTTLS when the server offers it; port 587 by default) or ``smtps://...`` (TLS from the
start; port 465), or an object ``{"host", "port", "auth": {"user", "pass"}, "secure"}``.
"""

from __future__ import annotations

import dataclasses
import html
import smtplib
import ssl
import typing as t
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from ..core.errors import ConfigurationError

#: Seconds for connecting to and talking with the SMTP server.
SMTP_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class SMTPServer:
    """A resolved ``server`` option."""

    host: str
    port: int
    secure: bool
    user: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)


def check_server(server: t.Any) -> SMTPServer:
    """``server`` resolved.

    :raises ConfigurationError: neither an ``smtp(s)://`` URL nor an object with a ``host``.
    """
    if isinstance(server, str):
        parts = urlsplit(server)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                "EmailProvider(server=...) must be 'smtp://user:pass@host:port' or 'smtps://...'"
            )
        secure = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if secure else 587)
        except ValueError:
            raise ConfigurationError("EmailProvider(server=...) has a bad port") from None
        return SMTPServer(
            host=parts.hostname,
            port=port,
            secure=secure,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )
    if isinstance(server, t.Mapping) and isinstance(server.get("host"), str) and server["host"]:
        secure = bool(server.get("secure", False))
        auth = server.get("auth") or {}
        port = server.get("port", 465 if secure else 587)
        if isinstance(port, bool) or not isinstance(port, int):
            raise ConfigurationError("EmailProvider(server={'port': ...}) must be a number")
        return SMTPServer(
            host=server["host"], port=port, secure=secure, user=auth.get("user"), password=auth.get("pass")
        )
    raise ConfigurationError(
        "EmailProvider(server=...) must be 'smtp://user:pass@host:port' or {'host': ..., 'port': ...}"
    )


def message(from_address: str, to: str, url: str) -> EmailMessage:
    """next-auth's sign-in email: ``Sign in to <host>``, the link as text and as a button."""
    host = urlsplit(url).netloc
    msg = EmailMessage()
    msg["Subject"] = f"Sign in to {host}"
    msg["From"] = from_address
    msg["To"] = to
    msg.set_content(f"Sign in to {host}\n{url}\n\n")
    link, name = html.escape(url, quote=True), html.escape(host)
    msg.add_alternative(
        f"""<body style="font-family: Helvetica, Arial, sans-serif">
<p style="font-size: 18px">Sign in to <strong>{name}</strong></p>
<p><a href="{link}" style="display: inline-block; padding: 10px 20px; color: #fff; background: #346df1;
border-radius: 5px; text-decoration: none; font-weight: bold">Sign in</a></p>
<p style="font-size: 14px">If you did not request this email you can safely ignore it.</p>
</body>""",
        subtype="html",
    )
    return msg


def send_email(server: str | t.Mapping[str, t.Any], from_address: str, to: str, url: str) -> None:
    """Send the sign-in link to ``to``.

    :raises OSError: the SMTP server cannot be reached or refused the message.
    """
    config = check_server(server)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if config.secure:
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
    with client:
        client.ehlo()
        if not config.secure and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if config.user:
            client.login(config.user, config.password or "")
        client.send_message(message(from_address, to, url))
