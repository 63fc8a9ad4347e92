"""config.toml edited in place (comments kept, checked first, atomic, conflicts refused),
and ``monitor feeds add|import|export`` against real pages and feeds on 127.0.0.1."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import pytest
from clirun import run_cli as cli
from feedserver import FeedServer

from monitor.config import editing
from monitor.errors import ConfigError
from monitor.feeds.discovery import feed_links
from monitor.feeds.opml import OpmlError, feed_name, read_opml, write_opml

CONFIG = """# My monitor: hand-written, with comments.
[store]
url = "sqlite:///monitor.db"  # next to this file

[fetch]
allow_private_networks = true  # the test publishers live on loopback

[[feeds]]
# The first feed: keep this comment.
name = "first"
url = "http://127.0.0.1:1/first.xml"

[[rules]]
name = "aa"
query = "Armenia AND Azerbaijan"  # the example
channels = ["files"]

[[channels]]
name = "files"
type = "file"
path = "digests"
"""
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Example News</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>One</title><link>http://127.0.0.1/1</link><guid>1</guid></item>
</channel></rss>"""
PAGE = b"""<!doctype html><html><head><title>Example</title>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="All stories" href="/rss.xml">
<link rel="alternate" type="application/atom+xml" title="Comments" href="comments.atom">
</head><body><a href="/feed">not a link tag</a></body></html>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Comments</title><id>urn:c</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>c1</title><id>urn:c1</id><updated>2024-01-01T00:00:00Z</updated></entry></feed>"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_an_edit_keeps_comments_and_order_and_changes_only_its_keys(config: Path) -> None:
    snapshot = editing.read(config)
    rule = {"name": "ua", "query": "Ukraine", "channels": ["files"], "schedule": "daily 08:00"}
    after = editing.edit(config, snapshot.version, editing.add("rules", rule))
    text = config.read_text(encoding="utf-8")
    assert text.startswith(CONFIG.split("[[channels]]")[0].rstrip("\n").split("[[rules]]")[0])
    for comment in ("# My monitor", "# The first feed: keep this comment.", "# the example"):
        assert comment in text
    assert [r.name for r in after.settings.rules] == ["aa", "ua"]
    editing.edit(config, after.version, editing.update("rules", "aa", {"query": "Armenia"}))
    parsed = tomllib.loads(config.read_text(encoding="utf-8"))
    assert parsed["rules"][0]["query"] == "Armenia" and parsed["rules"][0]["channels"] == ["files"]
    assert 'query = "Armenia"  # the example' in config.read_text(encoding="utf-8")
    assert "# The first feed: keep this comment." in config.read_text(encoding="utf-8")


def test_an_edit_on_a_file_changed_since_it_was_read_is_refused(config: Path) -> None:
    snapshot = editing.read(config)
    config.write_text(CONFIG + "\n# edited by hand\n", encoding="utf-8")
    with pytest.raises(editing.ConfigConflict, match="changed on disk since it was read"):
        editing.edit(config, snapshot.version, editing.remove("rules", "aa"))
    assert "# edited by hand" in config.read_text(encoding="utf-8")


def test_an_edit_that_would_not_start_is_refused_and_nothing_is_written(config: Path) -> None:
    before = config.read_bytes()
    bad = {"name": "bad", "query": "Armenia AND (", "channels": ["files"]}
    with pytest.raises(ConfigError, match=r"rules\[1\]\.query: at 13: unexpected end"):
        editing.edit(config, None, editing.add("rules", bad))
    nowhere = {"name": "bad", "query": "Armenia", "channels": ["nowhere"]}
    with pytest.raises(ConfigError, match=r"rules\[1\]\.channels\[0\]: no channel named"):
        editing.edit(config, None, editing.add("rules", nowhere))
    assert config.read_bytes() == before
    assert not list(config.parent.glob(".config.toml.*"))  # no temporary file left


def test_concurrent_edits_each_land_once_or_are_refused(config: Path) -> None:
    version = editing.read(config).version
    outcomes: list[str] = []

    def add(n: int) -> None:
        rule = {"name": f"r{n}", "query": f"word{n}", "channels": ["files"]}
        try:
            editing.edit(config, version, editing.add("rules", rule))
            outcomes.append("saved")
        except editing.ConfigConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict"] * 7 + ["saved"]
    assert len(editing.read(config).settings.rules) == 2


def test_feed_links_of_a_page_resolve_against_its_address() -> None:
    links = feed_links(PAGE.decode(), "http://example.org/news/index.html")
    assert links == [
        ("http://example.org/rss.xml", "All stories"),
        ("http://example.org/news/comments.atom", "Comments"),
    ]


def test_opml_round_trip_and_hostile_files() -> None:
    text = write_opml(
        [("bbc", "https://feeds.bbci.co.uk/news/rss.xml"), ("a&b", "https://e.org/?a=1&b=2")]
    )
    assert [(o.title, o.url) for o in read_opml(text.encode())] == [
        ("bbc", "https://feeds.bbci.co.uk/news/rss.xml"),
        ("a&b", "https://e.org/?a=1&b=2"),
    ]
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<opml version="2.0"><body><outline title="&c;" xmlUrl="https://e.org/f"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="declares entities"):
        read_opml(bomb)
    external = (
        b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml><body><outline title="&x;" xmlUrl="https://e.org/g"/></body></opml>'
    )
    with pytest.raises(OpmlError, match="declares entities"):
        read_opml(external)
    with pytest.raises(OpmlError, match="not an OPML file"):
        read_opml(b"<rss/>")
    with pytest.raises(OpmlError, match="not well-formed"):
        read_opml(b"<opml><body>")


def test_feed_names_are_ascii_slugs_made_unique() -> None:
    assert feed_name("Wiadomości: Polska", "https://e.pl/rss", []) == "wiadomosci-polska"
    assert feed_name("", "https://www.e.org/news/rss.xml", []) == "www-e-org-news-rss-xml"
    assert feed_name("Новости", "https://e.ru/", ["novosti"]) == "novosti-2"


def test_feeds_add_from_a_page_address(
    config: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.static("/", PAGE, headers={"Content-Type": "text/html; charset=utf-8"})
    feed_server.static("/rss.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    feed_server.static("/comments.atom", ATOM, headers={"Content-Type": "application/atom+xml"})
    code, out, err = cli(capsys, "--config", str(config), "feeds", "add", feed_server.url("/"))
    assert code == 0, err
    assert "added feed 'example-news'" in out and "2. " in out and "comments.atom" in out
    parsed = tomllib.loads(config.read_text(encoding="utf-8"))
    assert parsed["feeds"][-1] == {"name": "example-news", "url": feed_server.url("/rss.xml")}
    code, out, _ = cli(
        capsys, "--config", str(config), "feeds", "add", feed_server.url("/"), "--pick", "2"
    )
    assert code == 0 and "added feed 'comments'" in out
    code, _, err = cli(capsys, "--config", str(config), "feeds", "add", feed_server.url("/rss.xml"))
    assert code == 2 and "already configured as 'example-news'" in err


def test_feeds_add_of_a_page_without_feeds_says_so(
    config: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.static(
        "/plain", b"<html><body>hi</body></html>", headers={"Content-Type": "text/html"}
    )
    before = config.read_bytes()
    code, _, err = cli(capsys, "--config", str(config), "feeds", "add", feed_server.url("/plain"))
    assert code == 1 and "no working feed found (tried the usual feed addresses)" in err
    assert config.read_bytes() == before


def test_feeds_import_then_export(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head><title>x</title></head><body>'
        '<outline text="News"><outline text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>'
        '<outline text="First again" xmlUrl="http://127.0.0.1:1/first.xml"/></outline>'
        '<outline text="Tagesschau" type="rss" xmlUrl="https://www.tagesschau.de/xml/rss2"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    code, out, err = cli(capsys, "--config", str(config), "feeds", "import", str(opml))
    assert code == 0, err
    assert "2 feed(s) added, 1 already configured" in out
    code, out, _ = cli(capsys, "--config", str(config), "feeds", "export")
    assert code == 0
    assert [o.url for o in read_opml(out.encode())] == [
        "http://127.0.0.1:1/first.xml",
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "https://www.tagesschau.de/xml/rss2",
    ]
    assert "# The first feed: keep this comment." in config.read_text(encoding="utf-8")
