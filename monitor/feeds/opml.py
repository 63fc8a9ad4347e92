"""OPML subscription lists in and out (pure): what feed readers import and export.

Reading takes every ``<outline>`` with an ``xmlUrl`` at any depth (categories nest them),
with its title; a file that declares entities is refused, and the parser loads no DTD or
network resource, so a hostile file can neither expand nor reach anything. Writing gives OPML 2.0 with one
outline per feed, its URL as events show it (credentials and token parameters are not
written out: they come from the environment, see the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr

from anyascii import anyascii
from lxml import etree

from monitor.errors import SourceError

MAX_OUTLINES = 10_000
_SLUG = re.compile(r"[^a-z0-9]+")


class OpmlError(SourceError):
    """A file that is not a readable OPML list."""


@dataclass(frozen=True, slots=True)
class Outline:
    url: str
    title: str
    category: str = ""


def read_opml(data: bytes) -> list[Outline]:
    """The feeds of an OPML file, in document order (duplicates of one URL kept once)."""
    if b"<!ENTITY" in data.upper():
        # OPML has no use for them; libxml2 expands internal ones in attributes even with
        # resolve_entities off, so a file that declares any is refused whole.
        raise OpmlError("the file declares entities (<!ENTITY>), which OPML never needs")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise OpmlError(f"not well-formed XML: {error}") from None
    if root is None or etree.QName(root).localname != "opml":
        raise OpmlError("not an OPML file (its root element is not <opml>)")
    found: dict[str, Outline] = {}
    for outline in root.iter("{*}outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        title = (outline.get("title") or outline.get("text") or "").strip()
        parent = outline.getparent()
        category = ""
        if parent is not None and etree.QName(parent).localname == "outline":
            category = (parent.get("title") or parent.get("text") or "").strip()
        found.setdefault(url, Outline(url, title, category))
        if len(found) > MAX_OUTLINES:
            raise OpmlError(f"more than {MAX_OUTLINES:,} feeds")
    return list(found.values())


def write_opml(feeds: Iterable[tuple[str, str]], title: str = "monitor feeds") -> str:
    """OPML 2.0 of ``(name, url)`` pairs."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title>"
        f"<dateCreated>{formatdate(usegmt=True)}</dateCreated></head>",
        "  <body>",
    ]
    for name, url in feeds:
        lines.append(
            f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
            f"xmlUrl={quoteattr(url)}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _slug(text: str) -> str:
    return _SLUG.sub("-", anyascii(text).lower()).strip("-")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def feed_name(title: str, url: str, taken: Iterable[str]) -> str:
    """A config name for a feed: its title (or host and path) as an ASCII slug
    ("Wiadomości: Polska" -> "wiadomosci-polska"), made unique among ``taken``."""
    parts = urlsplit(url)
    base = _slug(title) or _slug(f"{parts.hostname or 'feed'}{parts.path}")
    base = (base or "feed")[:56].strip("-") or "feed"
    if not base[0].isalnum():
        base = "feed-" + base
    used = set(taken)
    name, number = base, 2
    while name in used:
        name = f"{base}-{number}"
        number += 1
    return name
