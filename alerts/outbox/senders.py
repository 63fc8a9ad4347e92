"""Which channel sends how: the configured channels bound to their senders.

Secrets are read from the environment here and nowhere else, once per
delivery pass. Blocking senders (SMTP, Apprise, files) run in threads so that
one slow channel never holds up another; webhooks share one HTTP client.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpx

from alerts.channels.apprise import send_apprise
from alerts.channels.email import send_email
from alerts.channels.file import write_digest_file
from alerts.channels.webhook import send_webhook
from alerts.compose import Channel, file_extension
from alerts.message import Message, Outcome
from alerts.signing import secret_bytes
from monitor.config.secrets import expand_headers
from monitor.config.settings import (
    AppriseChannel,
    EmailChannel,
    FileChannel,
    Settings,
    WebhookChannel,
)

log = logging.getLogger("alerts.dispatch")

Send = Callable[[Message], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Sender:
    channel: Channel
    concurrency: int
    send: Send


def destination(channel: Channel) -> str:
    """A fingerprint of where the channel sends: a new destination enables a disabled channel."""
    if isinstance(channel, WebhookChannel):
        where = channel.url
    elif isinstance(channel, EmailChannel):
        where = f"{channel.smtp_host}:{channel.smtp_port}:{','.join(channel.to)}"
    elif isinstance(channel, FileChannel):
        where = str(channel.path)
    else:
        where = channel.urls_env
    return hashlib.sha256(f"{channel.type}\x1f{where}".encode()).hexdigest()[:16]


def split_urls(value: str) -> list[str]:
    return [url for url in value.replace(",", " ").split() if url]


class Dispatcher:
    """Senders for every configured channel, valid for one delivery pass (``async with``)."""

    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.env = env
        self.clock = clock
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Dispatcher:
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()

    def senders(self) -> dict[str, Sender]:
        return {channel.name: self._sender(channel) for channel in self.settings.channels}

    def _sender(self, channel: Channel) -> Sender:
        if isinstance(channel, WebhookChannel):
            return Sender(channel, channel.concurrency, self._webhook(channel))
        if isinstance(channel, EmailChannel):
            return Sender(channel, 1, self._email(channel))
        if isinstance(channel, FileChannel):
            return Sender(channel, 1, self._file(channel))
        return Sender(channel, 1, self._apprise(channel))

    def _webhook(self, channel: WebhookChannel) -> Send:
        raw = self.env.get(channel.secret_env) if channel.secret_env else None
        secret = secret_bytes(raw) if raw else None
        headers = expand_headers(channel.headers, self.env)
        client = self._client
        assert client is not None, "use the Dispatcher in 'async with'"

        async def send(message: Message) -> Outcome:
            return await send_webhook(
                client,
                channel.url,
                message,
                secret=secret,
                timeout=channel.timeout,
                headers=headers,
                clock=self.clock,
            )

        return _guarded(channel, send)

    def _email(self, channel: EmailChannel) -> Send:
        username = self.env.get(channel.username_env) if channel.username_env else None
        password = self.env.get(channel.password_env) if channel.password_env else None
        if channel.ca_file is not None:
            channel = channel.model_copy(update={"ca_file": self.settings.path(channel.ca_file)})

        async def send(message: Message) -> Outcome:
            return await asyncio.to_thread(
                send_email,
                channel,
                message,
                username=username,
                password=password,
                local_hostname=channel.helo,
            )

        return _guarded(channel, send)

    def _file(self, channel: FileChannel) -> Send:
        folder = self.settings.path(channel.path)
        extension = file_extension(channel)

        async def send(message: Message) -> Outcome:
            return await asyncio.to_thread(write_digest_file, folder, message, extension=extension)

        return _guarded(channel, send)

    def _apprise(self, channel: AppriseChannel) -> Send:
        urls = split_urls(self.env.get(channel.urls_env, ""))

        async def send(message: Message) -> Outcome:
            return await asyncio.to_thread(send_apprise, urls, message, timeout=channel.timeout)

        return _guarded(channel, send)


def _guarded(channel: Channel, send: Send) -> Send:
    """A sender that turns a bug into a failed attempt, so the digest is retried, not lost."""

    async def guarded(message: Message) -> Outcome:
        try:
            return await send(message)
        except Exception as error:
            log.exception("channel %s: unexpected error while sending", channel.name)
            return Outcome.failure("internal", f"unexpected {type(error).__name__}: {error}")

    return guarded
