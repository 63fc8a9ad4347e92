"""The delivery channels: one file per channel type, and each file describes its channel.

``alerts/channels/<type>.py`` is named after the ``type`` of its settings model
(``monitor/config/channels.py``) and holds a :class:`ChannelKind` called ``KIND``:

- ``parts``: message part -> template kind, the templates its messages are rendered
  from (``alerts/templates/``);
- ``destination``: where it sends, so that a new destination can enable a channel whose
  endpoint said it is gone;
- ``sender``: a :class:`Sender` for one delivery pass, given what the pass provides
  (:class:`Context`: the environment for secrets, the config folder, one HTTP client);
- ``problems``: what is wrong with its secrets, checked before anything runs.

Nothing else in ``alerts`` tells the channel types apart: :func:`kind_of` finds the
file by the type's name, so adding a channel touches its settings model, its file here
and its template. Every attempt returns an :class:`~alerts.message.Outcome`; a channel
never raises for a failed delivery.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from alerts.message import Message, Outcome
from monitor.config.channels import Channel
from monitor.config.fields import within

if TYPE_CHECKING:  # only senders use it, and only the delivery pass makes one
    import httpx

    from monitor.config.settings import Settings

C = TypeVar("C", bound=Channel)
Send = Callable[[Message], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Sender:
    """How one channel sends during a delivery pass, and how many digests at once."""

    channel: Channel
    concurrency: int
    send: Send


@dataclass(frozen=True, slots=True)
class Context:
    """What a delivery pass gives its senders."""

    env: Mapping[str, str]  # where secrets come from
    path: Callable[[Path], Path]  # a configured path, taken from the config file's folder
    http: httpx.AsyncClient  # shared by every HTTP channel of the pass
    # The real time (webhook signatures carry it, whatever clock schedules the attempts).
    clock: Callable[[], float]


def _no_problems(_channel: Any, _env: Mapping[str, str]) -> list[str]:
    return []


@dataclass(frozen=True)
class ChannelKind(Generic[C]):
    """What a channel type is (see the module docstring)."""

    parts: Callable[[C], dict[str, str]]
    destination: Callable[[C], str]
    sender: Callable[[C, Context], Sender]
    # Problems with the channel's secrets, as "key: problem" (the key names the setting).
    problems: Callable[[C, Mapping[str, str]], list[str]] = _no_problems


@functools.cache
def _kind(type_name: str) -> ChannelKind[Any]:
    module = importlib.import_module(f"{__name__}.{type_name}")
    kind: ChannelKind[Any] = module.KIND
    return kind


def kind_of(channel: Channel) -> ChannelKind[Any]:
    """The kind of ``channel``, from ``alerts/channels/<its type>.py``."""
    return _kind(channel.type)


def template_kinds(channel: Channel) -> tuple[str, ...]:
    """Every template ``channel``'s messages are rendered from, the subject first."""
    return ("subject", *kind_of(channel).parts(channel).values())


def fingerprint(channel: Channel) -> str:
    """A short digest of where ``channel`` sends: a new destination enables a disabled channel."""
    where = kind_of(channel).destination(channel)
    return hashlib.sha256(f"{channel.type}\x1f{where}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Channels:
    """The configured channels, and the folder their relative paths are taken from."""

    items: tuple[Channel, ...]
    base_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> Channels:
        return cls(tuple(settings.channels), settings.base_dir)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.items)

    def named(self, name: str) -> Channel | None:
        return next((channel for channel in self.items if channel.name == name), None)

    def path(self, value: Path) -> Path:
        return within(self.base_dir, value)
