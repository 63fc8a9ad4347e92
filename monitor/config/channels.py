"""The channel settings: one model per channel type, told apart by ``type``.

Adding a channel type means a model here (and in :data:`Channel` and
:data:`CHANNEL_TYPES`), its file in ``alerts/channels/`` and a template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from monitor.config.fields import Duration, EnvName, HttpUrl, Name, QuietHoursText, Section


class ChannelBase(Section):
    """What every channel has: how digests are cut, and how failed attempts are retried."""

    name: Name
    # Stories shown in one digest; the rest are counted in an "and N more" line.
    max_entries: int = Field(default=50, ge=1, le=1000)
    max_attempts: int = Field(default=8, ge=1, le=100)
    # The wait after the first failed attempt; each further failure doubles it, up to
    # retry_max_backoff, with jitter so that retries from many digests do not arrive together.
    retry_backoff: Duration = 30.0
    retry_max_backoff: Duration = 3600.0
    # Send the matches that `monitor rules backfill` recorded too (off: a backfill is a look
    # at the past, not news).
    include_backfill: bool = False
    # A folder whose templates replace the defaults of the same name.
    templates: Path | None = None
    # "22:00-07:00 Europe/Warsaw": immediate digests wait and go out together when it ends.
    quiet_hours: QuietHoursText | None = None


class FileChannel(ChannelBase):
    type: Literal["file"]
    path: Path = Path("digests")
    format: Literal["markdown", "html"] = "markdown"


class WebhookChannel(ChannelBase):
    type: Literal["webhook"]
    url: HttpUrl
    secret_env: EnvName | None = None
    # "standard": our JSON body (webhook.json.j2); "slack": a Slack-compatible body (slack.json.j2).
    format: Literal["standard", "slack"] = "standard"
    timeout: Duration = 10.0
    # Extra request headers; values may use ${ENV} for tokens.
    headers: dict[str, str] = Field(default_factory=dict)
    # Digests of this channel sent at once (different channels never wait for each other).
    concurrency: int = Field(default=8, ge=1, le=64)


class EmailChannel(ChannelBase):
    type: Literal["email"]
    to: list[str] = Field(min_length=1)
    from_address: str = Field(default="monitor@localhost", alias="from")
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    security: Literal["plain", "starttls", "tls"] = "plain"
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    # A CA bundle to trust instead of the system's, for a server with a private certificate.
    ca_file: Path | None = None
    # The name to greet the server with (EHLO); default: this machine's fully qualified name.
    helo: str | None = None
    timeout: Duration = 30.0

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannel:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("username_env and password_env go together: set both or neither")
        return self


class AppriseChannel(ChannelBase):
    type: Literal["apprise"]
    # Apprise URLs carry tokens, so they come from the environment (separated by spaces,
    # commas or new lines).
    urls_env: EnvName
    timeout: Duration = 30.0


Channel = FileChannel | WebhookChannel | EmailChannel | AppriseChannel
ChannelSettings = Annotated[Channel, Field(discriminator="type")]
CHANNEL_TYPES: dict[str, type[BaseModel]] = {
    "file": FileChannel,
    "webhook": WebhookChannel,
    "email": EmailChannel,
    "apprise": AppriseChannel,
}
