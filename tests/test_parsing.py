"""parse_feed: feedparser and JSON Feed mapped to RawEntry, encodings, hostile input."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest
from feedserver import FeedServer

from monitor.documents.normalise import html_to_text, normalise_entry
from monitor.errors import FeedMalformed
from monitor.feeds.fetch import FetchLimits, fetch, make_client
from monitor.feeds.parse import ENTITY_EXPANSION_BUDGET, ParsedFeed, parse_feed

BASE = "https://example.org/news/feed.xml"
RSS_TYPE = {"content-type": "application/rss+xml"}

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example News</title><link>/</link><language>pl</language>
  <item>
    <title>Armenia &amp; Azerbaijan</title>
    <link>/2023/10/talks</link>
    <guid isPermaLink="false">urn:example:1</guid>
    <description>Short summary.</description>
    <content:encoded><![CDATA[<p>The <b>long</b> story, with <a href="/more">more</a>.</p>]]></content:encoded>
    <pubDate>Mon, 02 Oct 2023 12:00:00 +0200</pubDate>
    <author>desk@example.org (News Desk)</author>
  </item>
  <item xml:lang="ru">
    <title>Second</title>
    <dc:date>2023-10-03</dc:date>
    <description>Plain words only</description>
  </item>
</channel>
</rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Atom Example</title><id>urn:feed</id><updated>2023-10-02T10:00:00Z</updated>
  <link href="https://example.org/"/>
  <entry xml:lang="de">
    <title type="html">&lt;i&gt;Gespr\xc3\xa4che&lt;/i&gt;</title>
    <id>urn:entry:1</id>
    <link href="entries/1"/>
    <updated>2023-10-02T10:00:00Z</updated>
    <author><name>Ann</name></author>
    <summary type="text">A summary that is longer than the content.</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Short</p></div></content>
  </entry>
  <entry>
    <title>No dates, no content</title><id>urn:entry:2</id>
  </entry>
</feed>"""


def xml_feed(title: str, *, encoding: str = "utf-8", declare: bool = True) -> bytes:
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n' if declare else ""
    text = (
        f'{declaration}<rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{title}</title><guid>g1</guid></item></channel></rss>"
    )
    return text.encode(encoding)


# -- feedparser entries -------------------------------------------------------


def test_rss_entry_fields() -> None:
    feed = parse_feed(RSS, RSS_TYPE, BASE)
    assert (feed.format, feed.title, feed.link, feed.language) == (
        "rss20",
        "Example News",
        "https://example.org/",
        "pl",
    )
    assert feed.warning is None
    first, second = feed.entries
    assert first.guid == "urn:example:1"
    assert first.url == "https://example.org/2023/10/talks"  # relative to the fetched URL
    assert first.title == "Armenia & Azerbaijan"
    # The longer of content:encoded and description, as the feed's HTML (it only ever
    # becomes plain text, so links inside it are left as they are).
    assert first.content == '<p>The <b>long</b> story, with <a href="/more">more</a>.</p>'
    assert html_to_text(first.content) == "The long story, with more."
    assert first.content_is_html
    assert first.published == "Mon, 02 Oct 2023 12:00:00 +0200"
    assert first.published_parsed == datetime(2023, 10, 2, 10, 0, tzinfo=UTC)
    assert first.author == "desk@example.org (News Desk)"
    assert first.language == "pl"  # the channel's <language>
    assert second.language == "ru"  # the item's xml:lang wins
    assert second.published == "2023-10-03"  # dc:date, when there is no pubDate
    assert second.published_parsed == datetime(2023, 10, 3, tzinfo=UTC)
    assert second.content == "Plain words only"


def test_atom_entry_fields() -> None:
    feed = parse_feed(ATOM, {"content-type": "application/atom+xml"}, BASE)
    assert (feed.format, feed.title, feed.language) == ("atom10", "Atom Example", "en")
    first, second = feed.entries
    assert first.guid == "urn:entry:1"
    assert first.url == "https://example.org/news/entries/1"
    assert first.title == "<i>Gespräche</i>"
    assert (first.content, first.content_is_html) == (
        "A summary that is longer than the content.",
        False,
    )
    assert (first.published, first.published_parsed) == (
        "2023-10-02T10:00:00Z",
        datetime(2023, 10, 2, 10, 0, tzinfo=UTC),
    )
    assert (first.language, first.author) == ("de", "Ann")
    assert (second.published, second.published_parsed, second.content) == (None, None, None)
    assert second.language == "en"


def test_rdf_feed() -> None:
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://example.org/"><title>RDF</title><link>https://example.org/</link></channel>
  <item rdf:about="https://example.org/1"><title>One</title><link>https://example.org/1</link></item>
</rdf:RDF>"""
    feed = parse_feed(rdf, {"content-type": "application/rdf+xml"}, BASE)
    assert feed.format == "rss10"
    assert [(e.title, e.url) for e in feed.entries] == [("One", "https://example.org/1")]


def test_content_language_header_is_the_last_resort() -> None:
    headers = {"Content-Type": "application/rss+xml", "Content-Language": "de"}
    no_channel_language = RSS.replace(b"<language>pl</language>", b"")
    feed = parse_feed(no_channel_language, headers, BASE)
    assert feed.language == "de"
    assert [e.language for e in feed.entries] == ["de", "ru"]
    assert [e.language for e in parse_feed(RSS, headers, BASE).entries] == ["pl", "ru"]


def test_content_location_overrides_the_url_as_base() -> None:
    headers = {"content-type": "application/rss+xml", "content-location": "/elsewhere/"}
    assert parse_feed(RSS, headers, BASE).entries[0].url == "https://example.org/2023/10/talks"
    relative = RSS.replace(b"<link>/2023/10/talks</link>", b"<link>talks</link>")
    assert (
        parse_feed(relative, headers, BASE).entries[0].url == "https://example.org/elsewhere/talks"
    )


def test_html_and_scripts_in_titles_come_back_raw() -> None:
    body = (
        b'<rss version="2.0"><channel><title>x</title>'
        b"<item><title>&lt;b&gt;Bold&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;</title></item>"
        b"<item><title><![CDATA[<i>cdata</i> <script>evil()</script>]]></title></item>"
        b"</channel></rss>"
    )
    titles = [e.title for e in parse_feed(body, RSS_TYPE, BASE).entries]
    assert titles == [
        "<b>Bold</b> <script>alert(1)</script>",
        "<i>cdata</i> <script>evil()</script>",
    ]


def test_scripts_never_reach_a_document() -> None:
    body = (
        b'<rss version="2.0"><channel><title>x</title><item><title>t&lt;script&gt;x()'
        b"&lt;/script&gt;</title>"
        b"<description>&lt;p&gt;Hi&lt;script&gt;steal()&lt;/script&gt;"
        b"&lt;style&gt;p{}&lt;/style&gt;&lt;/p&gt;</description>"
        b"</item></channel></rss>"
    )
    entry = parse_feed(body, RSS_TYPE, BASE).entries[0]
    document = normalise_entry(entry, source="x", fetched_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert (document.title, document.text) == ("t", "Hi")


def test_valid_feed_without_entries_is_fine() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(body, RSS_TYPE, BASE) == ParsedFeed(
        format="rss20", title="Quiet", link=None, language=None, entries=[], warning=None
    )


def test_empty_feed_with_a_wrong_content_type_is_still_a_feed() -> None:
    body = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parse_feed(body, {"content-type": "text/html"}, BASE)
    assert (feed.format, feed.entries) == ("rss20", [])
    assert feed.warning is not None and "NonXMLContentType" in feed.warning


# -- malformed input ----------------------------------------------------------


def test_malformed_xml_without_entries_is_malformed() -> None:
    body = (
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Broken</title>\n<!-- Server err'
    )
    with pytest.raises(FeedMalformed) as caught:
        parse_feed(body, RSS_TYPE, BASE)
    assert caught.value.category == "malformed"
    assert caught.value.message.startswith("malformed rss20 feed: SAXParseException")
    assert "\n" not in caught.value.message


def test_recoverable_errors_keep_the_entries_with_a_warning() -> None:
    body = (
        b'<rss version="2.0"><channel><title>AT&T news</title>'
        b"<item><title>One & two</title></item><item><title>Three</title></item></channel></rss>"
    )
    feed = parse_feed(body, RSS_TYPE, BASE)
    assert [e.title for e in feed.entries] == ["One & two", "Three"]
    assert feed.warning is not None and feed.warning.startswith("SAXParseException")


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>",
        b"<html xmlns='http://www.w3.org/1999/xhtml'><head><title>x</title></head></html>",
        b"plain text, no markup",
        b"",
    ],
    ids=["html", "xhtml", "text", "empty"],
)
def test_documents_that_are_not_feeds(body: bytes) -> None:
    with pytest.raises(FeedMalformed, match=r"^not a feed: "):
        parse_feed(body, {"content-type": "text/html; charset=utf-8"}, BASE)


def test_a_body_that_looks_like_a_url_or_path_is_never_opened(feed_server: FeedServer) -> None:
    feed_server.static("/feed.xml", xml_feed("fetched"))
    for body in (feed_server.url("/feed.xml").encode(), b"/etc/hostname"):
        with pytest.raises(FeedMalformed):
            parse_feed(body, {}, BASE)
    assert feed_server.requests == []


# -- encodings, served over HTTP ----------------------------------------------


def fetch_and_parse(server: FeedServer, body: bytes, content_type: str | None) -> ParsedFeed:
    server.static("/feed", body, headers={"Content-Type": content_type} if content_type else {})

    async def go() -> ParsedFeed:
        async with make_client(FetchLimits()) as client:
            result = await fetch(client, server.url("/feed"), limits=FetchLimits())
        return parse_feed(result.body, result.headers, result.url)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("encoding", "title"),
    [("windows-1251", "Армения и Азербайджан"), ("iso-8859-2", "Łódź, Kraków i Gdańsk")],
)
@pytest.mark.parametrize(
    "content_type",
    ["text/xml; charset={encoding}", "text/xml", "application/rss+xml", "application/xml", None],
)
def test_legacy_charsets_round_trip(
    feed_server: FeedServer, encoding: str, title: str, content_type: str | None
) -> None:
    served_as = content_type.format(encoding=encoding) if content_type else None
    feed = fetch_and_parse(feed_server, xml_feed(title, encoding=encoding), served_as)
    assert feed.title == title
    assert [e.title for e in feed.entries] == [title]
    # Declared in the document or in the header: nothing was guessed, nothing to warn about,
    # except that a response should say what it is.
    expected_warning = None if content_type else "NonXMLContentType: no Content-type specified"
    assert feed.warning == expected_warning


@pytest.mark.parametrize(
    ("encoding", "title"), [("windows-1251", "Армения"), ("iso-8859-2", "Łódź")]
)
def test_charset_only_in_the_header(feed_server: FeedServer, encoding: str, title: str) -> None:
    body = xml_feed(title, encoding=encoding, declare=False)
    feed = fetch_and_parse(feed_server, body, f"application/rss+xml; charset={encoding}")
    assert [e.title for e in feed.entries] == [title]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_served_as_text_xml(feed_server: FeedServer, encoding: str) -> None:
    # RFC 3023 would call this US-ASCII and fail; RFC 7303 lets the BOM or declaration decide.
    declared = encoding.partition("-be")[0]
    body = xml_feed("Ürümqi — 乌鲁木齐", encoding=declared).decode(declared).encode(encoding)
    feed = fetch_and_parse(feed_server, body, "text/xml")
    assert [e.title for e in feed.entries] == ["Ürümqi — 乌鲁木齐"]


# -- hostile XML --------------------------------------------------------------


def _billion_laughs() -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    doctype = "<!DOCTYPE rss [\n" + "\n".join(levels) + "\n]>\n"
    return (
        f'<?xml version="1.0"?>\n{doctype}<rss version="2.0"><channel><title>&lol9;</title>'
        "<item><title>&lol9;</title></item></channel></rss>"
    ).encode()


def _quadratic_blowup(encoding: str = "utf-8", size: int = 50_000) -> bytes:
    # One 50 kB entity referenced 100,000 times: 5 GB if anything expands it.
    refs = "&a;" * size
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<!DOCTYPE rss [\n<!ENTITY a "{"A" * size}">\n]>\n'
        f'<rss version="2.0"><channel><title>q</title><item><title>{refs}</title>'
        f"<description>{refs}</description></item></channel></rss>"
    ).encode(encoding)


@pytest.mark.parametrize(
    "body",
    [_billion_laughs(), _quadratic_blowup(), _quadratic_blowup("utf-16")],
    ids=["billion-laughs", "quadratic", "quadratic-utf16"],
)
def test_entity_bombs_finish_fast_and_small(body: bytes) -> None:
    started = time.monotonic()
    feed = parse_feed(body, {"content-type": "text/xml"}, BASE)
    assert time.monotonic() - started < 2
    produced = sum(len(e.title or "") + len(e.content or "") for e in feed.entries)
    assert produced <= 2 * len(body)  # references left as text (escaped in HTML), never expanded
    assert feed.warning is not None


def test_quadratic_blowup_reports_the_dropped_declaration() -> None:
    feed = parse_feed(_quadratic_blowup(), {"content-type": "application/xml"}, BASE)
    assert feed.warning is not None and feed.warning.startswith("dropped 1 entity declarations")


def test_a_flood_of_entity_declarations_is_dropped_without_weighing_each() -> None:
    # Weighing costs a scan of the body per declaration: 5,000 of them over 2 MB would be 10 GB.
    declarations = "\n".join(f'<!ENTITY e{i} "x">' for i in range(5000))
    filler = f"<item><title>t</title><description>{'words ' * 350_000}</description></item>"
    body = (
        f"<!DOCTYPE rss [\n{declarations}\n]>\n"
        f'<rss version="2.0"><channel><title>&e1;</title>{filler}</channel></rss>'
    ).encode()
    started = time.monotonic()
    feed = parse_feed(body, {"content-type": "application/xml"}, BASE)
    assert time.monotonic() - started < 5
    assert len(feed.entries) == 1
    assert feed.warning is not None and feed.warning.startswith("dropped 5000 entity declarations")


def test_small_internal_entities_still_expand() -> None:
    body = b"""<!DOCTYPE rss [
  <!ENTITY id "tag:example.com,">
]>
<rss version="2.0"><channel><item><guid isPermaLink='false'>&id;2006-05-04:/blog/</guid></item></channel></rss>"""
    feed = parse_feed(body, {"content-type": "text/xml"}, BASE)
    assert feed.warning is None
    assert feed.entries[0].guid == "tag:example.com,2006-05-04:/blog/"
    assert len("tag:example.com,") < ENTITY_EXPANSION_BUDGET


# -- JSON Feed ----------------------------------------------------------------

JSON_FEED_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON News",
    "home_page_url": "https://example.org/",
    "language": "en",
    "authors": [{"name": "Feed Author"}],
    "items": [
        {
            "id": "1",
            "url": "/posts/1",
            "title": "<b>Armenia</b>",
            "content_html": "<p>Hello</p>",
            "content_text": "Hello",
            "date_published": "2023-10-02T12:00:00+02:00",
            "language": "hy",
            "authors": [{"name": "Ann"}, {"name": "Bob"}],
        },
        {
            "id": 2,
            "external_url": "https://elsewhere.example/2",
            "content_text": "Plain",
            "date_modified": "2023-10-03T08:00:00Z",
        },
        {"id": "3", "summary": "Only a summary", "date_published": "not a date"},
    ],
}


def test_json_feed_11() -> None:
    body = json.dumps(JSON_FEED_11).encode()
    feed = parse_feed(body, {"content-type": "application/feed+json"}, BASE)
    assert (feed.format, feed.title, feed.link, feed.language, feed.warning) == (
        "json11",
        "JSON News",
        "https://example.org/",
        "en",
        None,
    )
    first, second, third = feed.entries
    assert (first.guid, first.url, first.title) == (
        "1",
        "https://example.org/posts/1",
        "<b>Armenia</b>",
    )
    assert (first.content, first.content_is_html) == ("<p>Hello</p>", True)
    assert first.published == "2023-10-02T12:00:00+02:00"
    assert first.published_parsed == datetime(2023, 10, 2, 10, 0, tzinfo=UTC)
    assert (first.language, first.author) == ("hy", "Ann, Bob")
    assert (second.guid, second.url) == ("2", "https://elsewhere.example/2")
    assert (second.content, second.content_is_html) == ("Plain", False)
    assert second.published_parsed == datetime(2023, 10, 3, 8, 0, tzinfo=UTC)
    assert (second.language, second.author) == ("en", "Feed Author")
    assert (third.content, third.published, third.published_parsed) == (
        "Only a summary",
        "not a date",
        None,
    )


def test_json_feed_10_with_author_and_sniffed_without_content_type() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Old",
        "author": {"name": "Solo"},
        "items": [{"id": "a", "content_text": "x"}, "not an item"],
    }
    body = b"\xef\xbb\xbf \n" + json.dumps(document).encode()
    feed = parse_feed(body, {"content-type": "text/plain", "content-language": "fr"}, BASE)
    assert (feed.format, feed.language) == ("json1", "fr")
    assert [(e.guid, e.author, e.language) for e in feed.entries] == [("a", "Solo", "fr")]
    assert feed.warning == "skipped 1 items that are not JSON objects"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "title": "x"}', "without an items list"),
        (b'{"version": "https://jsonfeed.org/version/2", "items": []}', "not a JSON Feed"),
        (b'{"items": []}', "version is missing"),
        (b"[1, 2]", "not a JSON Feed"),
    ],
    ids=["invalid", "no-items", "bad-version", "no-version", "array"],
)
def test_broken_json_feeds(body: bytes, message: str) -> None:
    with pytest.raises(FeedMalformed, match=message):
        parse_feed(body, {"content-type": "application/json"}, BASE)


def test_xml_served_as_json_is_still_read_as_xml() -> None:
    feed = parse_feed(RSS, {"content-type": "application/json"}, BASE)
    assert feed.format == "rss20" and len(feed.entries) == 2
