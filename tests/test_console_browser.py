"""The web console driven by a real browser (Playwright with Debian's chromium) against the
real daemon on 127.0.0.1: write a rule and watch the preview, save it, see its digest; add
a feed by its page; import OPML; retry an abandoned delivery.

Skipped, saying why, where chromium is not installed (`.ci/run` installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemonkit import Daemon, wait_until
from feedserver import FeedServer
from playwright.sync_api import Browser, Page, sync_playwright
from test_web_api import PAGE, RSS, free_port, write_config
from webhookreceiver import Respond, WebhookReceiver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium: apt-get install chromium"),
]
OPML = """<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>
<outline text="World"><outline text="BBC World" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
<outline text="Tagesschau" xmlUrl="https://www.tagesschau.de/xml/rss2"/></outline></body></opml>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def console(tmp_path: Path, browser: Browser) -> Iterator[tuple[Page, Path, str, FeedServer]]:
    with WebhookReceiver([Respond(500)], default=Respond(200)) as hook, FeedServer() as feeds:
        feeds.static("/site/", PAGE, headers={"Content-Type": "text/html"})
        feeds.static("/news.xml", RSS, headers={"Content-Type": "application/rss+xml"})
        port = free_port()
        config = write_config(tmp_path, port, hook.url)
        daemon = Daemon(config).start()
        base = f"http://127.0.0.1:{port}"
        page = browser.new_page()
        page.set_default_timeout(30_000)
        try:
            assert wait_until(lambda: _up(page, base), timeout=120, step=0.3), daemon.log()[-3000:]
            yield page, config, base, feeds
        finally:
            page.close()
            code, _ = daemon.stop()
            assert code == 0, daemon.log()[-3000:]


def _up(page: Page, base: str) -> bool:
    try:
        response = page.goto(base + "/healthz")
        return response is not None and response.ok
    except Exception:
        return False


def test_a_rule_typed_previews_the_seed_then_saves_and_gets_its_digest(
    console: tuple[Page, Path, str, FeedServer],
) -> None:
    page, config, base, _ = console
    page.goto(base + "/rules")
    page.fill("#query", "Armenia AND (")
    page.wait_for_selector(".query-error:has-text('unexpected end of query')")
    page.fill("#query", "Armenia AND Azerbaijan")
    page.wait_for_selector("#total:has-text('1')")
    marked = page.locator("#preview mark").all_inner_texts()
    assert any(word.startswith("Azerbejdżan") for word in marked), marked
    assert page.locator("#preview .lang").first.inner_text().lower() == "pl"

    page.fill("input[name=name]", "caucasus")
    page.check("input[name=channels][value=files]")
    page.check("input[name=backfill]")
    page.click("#save")
    page.wait_for_selector(".notice:has-text(\"saved rule 'caucasus'\")")
    rules = tomllib.loads(config.read_text(encoding="utf-8"))["rules"]
    assert {
        "name": "caucasus",
        "query": "Armenia AND Azerbaijan",
        "channels": ["files"],
        "schedule": "immediate",
    } in rules
    listed = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "rules", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "caucasus" in listed.stdout

    def digest_listed() -> bool:
        page.goto(base + "/digests")
        return bool(page.locator("tr:has(td:text-is('caucasus'))").count())

    assert wait_until(digest_listed, timeout=60, step=1.0)
    page.click("tr:has(td:text-is('caucasus')) a")
    page.wait_for_selector("iframe.digest-body, pre.digest-body")


def test_a_feed_is_added_by_its_page_and_an_opml_list_imported(
    console: tuple[Page, Path, str, FeedServer], tmp_path: Path
) -> None:
    page, config, base, feeds = console
    page.goto(base + "/feeds")
    page.fill("#discover input[name=url]", feeds.url("/site/"))
    page.click("#discover button")
    page.wait_for_selector("#pick :text('Loopback News')")
    page.click("#pick button")
    page.wait_for_selector(".notice:has-text(\"added feed 'loopback-news'\")")
    opml = tmp_path / "mine.opml"
    opml.write_text(OPML, encoding="utf-8")
    page.set_input_files("#import input[type=file]", str(opml))
    page.click("#import button")
    page.wait_for_selector(".notice:has-text('imported 2 feed(s)')")
    names = [f["name"] for f in tomllib.loads(config.read_text(encoding="utf-8"))["feeds"]]
    assert names == ["loopback-news", "bbc-world", "tagesschau"]
    assert page.locator("td a:text-is('tagesschau')").count() == 1


def test_an_abandoned_delivery_is_retried_from_the_dead_letters(
    console: tuple[Page, Path, str, FeedServer],
) -> None:
    page, _, base, _ = console

    def abandoned() -> bool:
        page.goto(base + "/digests?state=abandoned")
        return bool(page.locator("tr.state-abandoned").count())

    assert wait_until(abandoned, timeout=60, step=1.0)
    page.click("tr.state-abandoned button:text('Retry')")
    page.wait_for_selector(".notice:has-text('delivered to hook')")
    page.goto(base + "/digests?state=abandoned")
    assert page.locator("tr.state-abandoned").count() == 0
