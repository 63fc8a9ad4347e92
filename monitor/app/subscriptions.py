"""Subscribing to feeds: add one from a page address, import and export OPML lists.

Shared by ``monitor feeds`` and the web console. Each change is one edit of
``config.toml`` (:mod:`monitor.config.editing`), checked as a start would check it; the
daemon picks it up through its reload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tomlkit.toml_document import TOMLDocument

from monitor.app.preflight import preflight
from monitor.config import editing
from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.feeds.discovery import FoundFeed, discover
from monitor.feeds.fetch import make_client
from monitor.feeds.opml import Outline, feed_name, read_opml, write_opml
from monitor.feeds.polling import fetch_limits


@dataclass(frozen=True, slots=True)
class Added:
    name: str
    url: str
    title: str
    # The other feeds the page named, for the user who wanted one of them.
    others: tuple[FoundFeed, ...] = ()


@dataclass
class Imported:
    added: list[tuple[str, str]] = field(default_factory=list)  # (name, url)
    already: list[str] = field(default_factory=list)  # URLs configured before


async def find_feeds(settings: Settings, url: str, *, trusted: bool) -> list[FoundFeed]:
    """The working feeds a page address leads to (see :mod:`monitor.feeds.discovery`)."""
    limits = fetch_limits(settings.fetch)
    async with make_client(limits) as client:
        return await discover(client, url, limits, trusted=trusted)


def add_feed(
    config_file: Path,
    settings: Settings,
    found: Sequence[FoundFeed],
    *,
    pick: int = 0,
    name: str | None = None,
    version: str | None = None,
) -> Added:
    """Add ``found[pick]`` to ``config.toml`` under ``name`` (or one made from its title)."""
    if not 0 <= pick < len(found):
        raise editing.NotFound(f"no feed number {pick + 1}: {len(found)} found")
    chosen = found[pick]
    for feed in settings.feeds:
        if feed.url == chosen.url:
            raise ConfigError([f"feeds: {chosen.url} is already configured as {feed.name!r}"])
    taken = [feed.name for feed in settings.feeds]
    name = name or feed_name(chosen.title, chosen.url, taken)
    editing.edit(
        config_file, version, editing.add("feeds", {"name": name, "url": chosen.url}), preflight
    )
    others = tuple(f for n, f in enumerate(found) if n != pick)
    return Added(name, chosen.url, chosen.title, others)


def import_opml(
    config_file: Path, settings: Settings, data: bytes, *, version: str | None = None
) -> Imported:
    """Every feed of an OPML file that is not configured yet, in one edit."""
    outlines = read_opml(data)
    report = Imported()
    configured = {feed.url for feed in settings.feeds}
    taken = [feed.name for feed in settings.feeds]
    new: list[Outline] = []
    for outline in outlines:
        if outline.url in configured:
            report.already.append(outline.url)
        else:
            configured.add(outline.url)
            new.append(outline)
    changes = []
    for outline in new:
        name = feed_name(outline.title, outline.url, taken)
        taken.append(name)
        changes.append(editing.add("feeds", {"name": name, "url": outline.url}))
        report.added.append((name, outline.url))
    if changes:

        def change(document: TOMLDocument) -> None:
            for one in changes:
                one(document)

        editing.edit(config_file, version, change, preflight)
    return report


def export_opml(settings: Settings) -> str:
    """The configured feeds as OPML 2.0 (URLs as events show them: no secrets)."""
    return write_opml((feed.name, feed.shown_url) for feed in settings.feeds)
