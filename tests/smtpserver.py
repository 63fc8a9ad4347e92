"""A real SMTP server on 127.0.0.1 (aiosmtpd) for tests that need a peer, not a mock.

    with SMTPServer(security="starttls", login=("alice", "s3cret")) as server:
        ca_file = server.write_ca(tmp_path / "ca.pem")  # trust this instead of the system store
        server.fail_next("451 4.3.0 Try again later")    # the next DATA gets this reply
        server.refuse("nobody@example.test")             # RCPT TO this address: 550
        ...  # send to server.host, server.port
        server.messages[0].message["Subject"]

``security`` is "plain" (no TLS offered at all), "starttls" (STARTTLS
offered, not required) or "tls" (TLS from the first byte). Certificates come
from one throw-away ``trustme`` CA per test run, issued for 127.0.0.1 and
localhost. With ``login`` the server offers AUTH PLAIN and LOGIN (on plain
connections too, so tests need no TLS to log in) and answers MAIL FROM with
530 until the client has logged in; without it the server offers no AUTH.

Every message that reaches the end of DATA is recorded, refused or not, with
the reply it got; :attr:`SMTPServer.delivered` holds the accepted ones.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import ssl
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Literal, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Security = Literal["plain", "starttls", "tls"]
Stage = Literal["MAIL", "DATA"]
SERVER_NAME = "smtp.test"  # given to aiosmtpd, which would otherwise look up this host's FQDN


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    reply: str  # what the server answered to the end of DATA
    tls: bool  # the message travelled over TLS (implicit or STARTTLS)
    login: str | None  # the user logged in on that connection

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")


@dataclass(frozen=True)
class _TLS:
    ca: trustme.CA
    server: trustme.LeafCert


@functools.cache
def _tls() -> _TLS:
    # One CA per run: key generation is the slow part of a TLS test.
    ca = trustme.CA()
    return _TLS(ca, ca.issue_cert("127.0.0.1", "localhost"))


def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _tls().server.configure_cert(context)
    return context


class SMTPServer:
    host = "127.0.0.1"

    def __init__(
        self, *, security: Security = "plain", login: tuple[str, str] | None = None
    ) -> None:
        self.security = security
        self.login = login
        self.logins: list[tuple[str, bool]] = []  # every AUTH attempt: (user, accepted)
        self._messages: list[Received] = []
        self._replies: dict[Stage, list[str]] = {"MAIL": [], "DATA": []}
        self._refusals: dict[str, str] = {}
        self._lock = threading.Lock()
        context = _server_context() if security != "plain" else None
        self._controller = _Controller(
            _Handler(self),
            hostname=self.host,
            port=0,
            ssl_context=context if security == "tls" else None,
            tls_context=context if security == "starttls" else None,
            server_hostname=SERVER_NAME,
            authenticator=self._authenticate if login is not None else None,
            # aiosmtpd's own auth_required warns when TLS is not required too; MAIL FROM
            # is refused in _Handler instead.
            auth_require_tls=False,
        )

    def __enter__(self) -> SMTPServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def delivered(self) -> list[Received]:
        return [received for received in self.messages if received.accepted]

    def fail_next(self, reply: str, count: int = 1, *, at: Stage = "DATA") -> None:
        """Answer the next ``count`` MAIL FROM or end-of-DATA with ``reply`` ("451 4.3.0 ...")."""
        with self._lock:
            self._replies[at].extend([reply] * count)

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        """Answer RCPT TO ``address`` with ``reply`` from now on."""
        with self._lock:
            self._refusals[address.lower()] = reply

    def write_ca(self, path: Path) -> Path:
        """The CA that signed the server's certificate, as a PEM file at ``path``."""
        _tls().ca.cert_pem.write_to_path(str(path))
        return path

    def _next_reply(self, stage: Stage) -> str | None:
        with self._lock:
            return self._replies[stage].pop(0) if self._replies[stage] else None

    def _refusal(self, address: str) -> str | None:
        with self._lock:
            return self._refusals.get(address.lower())

    def _record(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace")
        ok = (
            self.login is not None
            and (user, data.password.decode("utf-8", "replace")) == self.login
        )
        with self._lock:
            self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


class _Handler:
    """aiosmtpd hooks: each one that exists must do aiosmtpd's default work itself."""

    def __init__(self, owner: SMTPServer) -> None:
        self.owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.owner.login is None:  # aiosmtpd would offer AUTH after STARTTLS regardless
            return [line for line in responses if not line[4:].startswith("AUTH")]
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.login is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        reply = self.owner._next_reply("MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        refusal = self.owner._refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        count = len(self.owner.messages) + 1
        reply = self.owner._next_reply("DATA") or f"250 2.0.0 OK queued as Q{count}"
        raw = bytes(envelope.original_content or b"")
        transport = server.transport
        self.owner._record(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                message=email.message_from_bytes(raw, policy=email.policy.default),
                reply=reply,
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                login=cast("str | None", session.auth_data) if session.authenticated else None,
            )
        )
        return reply


class _Controller(Controller):
    """aiosmtpd's threaded controller, bound to an ephemeral port.

    It connects once to its own port when it starts, so it must know the port
    the system picked before then.
    """

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind(super()._create_server())

    async def _bind(self, creating: Awaitable[asyncio.AbstractServer]) -> asyncio.AbstractServer:
        server = await creating
        assert isinstance(server, asyncio.Server)
        self.port = int(server.sockets[0].getsockname()[1])
        return server
