"""Which channel sends how: the configured channels bound to their senders for one pass.

Secrets are read from the environment here and nowhere else, once per
delivery pass. Each channel's kind (``alerts/channels/<type>.py``) makes its
sender; blocking ones (SMTP, Apprise, files) run in threads so that one slow
channel never holds up another, and webhooks share one HTTP client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType

import httpx

from alerts.channels import Channels, Context, Send, Sender, kind_of
from alerts.message import Message, Outcome

log = logging.getLogger("alerts.dispatch")


class Senders:
    """Senders for every configured channel, valid for one delivery pass (``async with``)."""

    def __init__(
        self,
        channels: Channels,
        env: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.channels = channels
        self.env = env
        self.clock = clock
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Senders:
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

    def by_channel(self) -> dict[str, Sender]:
        assert self._client is not None, "use Senders in 'async with'"
        context = Context(self.env, self.channels.path, self._client, self.clock)
        return {
            channel.name: _guarded(kind_of(channel).sender(channel, context))
            for channel in self.channels
        }


def _guarded(sender: Sender) -> Sender:
    """A sender that turns a bug into a failed attempt, so the digest is retried, not lost."""
    send: Send = sender.send
    name = sender.channel.name

    async def guarded(message: Message) -> Outcome:
        try:
            return await send(message)
        except Exception as error:
            log.exception("channel %s: unexpected error while sending", name)
            return Outcome.failure("internal", f"unexpected {type(error).__name__}: {error}")

    return Sender(sender.channel, sender.concurrency, guarded)
