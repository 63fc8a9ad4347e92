"""Article extraction in a child per page: a page past its time limit is killed and answered,
a cancelled wait kills its page at once, and a dead server answers its pages and is replaced.

Pages are real and really slow: trafilatura takes seconds over a few MB of tables (3.6 s for
2.6 MB here, more on a loaded machine), against limits of a fraction of a second.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemonkit import Daemon, descendants, gone, wait_until
from feedserver import FeedServer

from monitor.app.wiring import open_log
from monitor.eventlog.log import EventLog
from monitor.feeds.article import FullText
from monitor.feeds.extractor import Extractor

ARTICLE = (
    "<!doctype html><html><head><title>Trams</title></head><body><article><h1>Trams</h1>"
    + "".join(
        f"<p>Paragraph {i}: the city council voted on Tuesday to expand the tram network "
        "across the river, a plan that residents have debated for more than a decade.</p>"
        for i in range(4)
    )
    + "</article></body></html>"
).encode()


def slow_page(tables: int = 12_000) -> bytes:
    """Many small tables of distinct words: seconds of trafilatura per MB."""
    rnd = random.Random(7)
    words = ["tram", "city", "council", "river", "vote", "plan", "budget", "line"]

    def cell() -> str:
        return " ".join(f"{rnd.choice(words)}{rnd.randrange(1000)}" for _ in range(30))

    tables_html = "".join(
        f"<table><tr><td><p>{cell()}</p></td><td><a href='/x{i}'>more</a></td></tr></table>"
        for i in range(tables)
    )
    return f"<html><body><article>{tables_html}</article></body></html>".encode()


async def until(condition: object, seconds: float = 20.0) -> None:
    """Wait, bounded, for ``condition()`` (a callable) to hold."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def test_an_ordinary_page_is_read() -> None:
    async def go() -> FullText:
        extractor = Extractor(10)
        try:
            return await extractor.extract(ARTICLE, "http://news.example/a", "text/html")
        finally:
            await extractor.aclose()

    found = asyncio.run(go())
    assert found.text is not None and "tram network" in found.text


def test_a_page_past_its_time_limit_is_killed_and_the_next_is_read() -> None:
    async def go() -> tuple[FullText, FullText, set[int]]:
        extractor = Extractor(0.4)
        try:
            slow = await extractor.extract(slow_page(), "http://news.example/slow", "text/html")
            pid = extractor.pid
            assert pid is not None
            left = descendants(pid)
            ordinary = await extractor.extract(ARTICLE, "http://news.example/a", "text/html")
            assert extractor.pid == pid  # the server lived on; only the page's child was killed
            return slow, ordinary, left
        finally:
            await extractor.aclose()

    slow, ordinary, left = asyncio.run(go())
    assert slow == FullText(None, "time limit")
    assert left == set()
    assert ordinary.text is not None and "tram network" in ordinary.text


def test_pages_past_the_limit_together_are_each_answered() -> None:
    async def go() -> list[FullText]:
        extractor = Extractor(0.4)
        try:
            return await asyncio.gather(
                *(extractor.extract(slow_page(), f"http://n.example/{i}", None) for i in range(3)),
                extractor.extract(ARTICLE, "http://news.example/a", "text/html"),
            )
        finally:
            await extractor.aclose()

    *slow, ordinary = asyncio.run(go())
    assert slow == [FullText(None, "time limit")] * 3
    assert ordinary.text is not None


def test_a_cancelled_page_is_killed_at_once() -> None:
    async def go() -> None:
        extractor = Extractor(600)
        try:
            task = asyncio.create_task(extractor.extract(slow_page(40_000), "http://n/", None))
            await until(lambda: extractor.pid is not None and descendants(extractor.pid))
            pid = extractor.pid
            assert pid is not None
            [child] = descendants(pid)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # Killed on the cancel, not at the limit (600 s) nor when the page is done.
            await until(lambda: gone(child), seconds=10)
            assert extractor.pid == pid
        finally:
            await extractor.aclose()

    asyncio.run(go())


def test_closing_ends_the_server_and_its_pages() -> None:
    async def go() -> tuple[int, int]:
        extractor = Extractor(600)
        task = asyncio.create_task(extractor.extract(slow_page(40_000), "http://n/", None))
        await until(lambda: extractor.pid is not None and descendants(extractor.pid))
        pid = extractor.pid
        assert pid is not None
        [child] = descendants(pid)
        await extractor.aclose()
        assert extractor.pid is None
        task.cancel()
        return pid, child

    server, child = asyncio.run(go())
    assert gone(server)
    deadline = time.monotonic() + 10
    while not gone(child):
        assert time.monotonic() < deadline, "the page's child outlived the server"
        time.sleep(0.02)


def test_a_dead_server_answers_its_pages_and_a_new_one_reads_the_next() -> None:
    async def go() -> tuple[FullText, FullText, int, int]:
        extractor = Extractor(600)
        try:
            task = asyncio.create_task(extractor.extract(slow_page(40_000), "http://n/", None))
            await until(lambda: extractor.pid is not None and descendants(extractor.pid))
            server = extractor.pid
            assert server is not None
            [child] = descendants(server)
            os.kill(server, signal.SIGKILL)  # what the OOM killer would do
            lost = await task
            await until(lambda: gone(child), seconds=10)  # PR_SET_PDEATHSIG
            ordinary = await extractor.extract(ARTICLE, "http://news.example/a", "text/html")
            assert extractor.pid is not None
            return lost, ordinary, server, extractor.pid
        finally:
            await extractor.aclose()

    lost, ordinary, first, second = asyncio.run(go())
    assert lost == FullText(None, "extraction failed: extractor ended")
    assert ordinary.text is not None and "tram network" in ordinary.text
    assert first != second


# -- through the product: run --once and the daemon ------------------------------


def full_text_config(folder: Path, server: FeedServer, fetch: str, daemon: str = "") -> Path:
    server.static(
        "/feed.xml",
        (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            "<link>http://x/</link><description>d</description>"
            + "".join(
                f"<item><title>Talks {page}</title><guid>{page}</guid>"
                f"<link>{server.url('/' + page)}</link>"
                "<description>Ministers met on Tuesday.</description></item>"
                for page in ("slow", "article")
            )
            + "</channel></rss>"
        ).encode(),
    )
    path = folder / "config.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n'
        f'[fetch]\nallow_private_networks = true\nmax_bytes = "64MB"\nfull_text_max_bytes = "64MB"\n'
        f"{fetch}\n"
        f'[daemon]\ntick = "0.5s"\n{daemon}\n'
        f'[[feeds]]\nname = "ft"\nurl = "{server.url("/feed.xml")}"\nfull_text = true\n'
        'full_text_rate = 50\ninterval = "1h"\n',
        encoding="utf-8",
    )
    return path


def documents(folder: Path) -> dict[str, str]:
    store = open_log(f"sqlite:///{folder / 'monitor.db'}").store
    try:
        with store.reading() as conn:
            events = list(EventLog().read(conn))
    finally:
        store.dispose()
    texts = {
        e.data["url"].rpartition("/")[2]: e.data["text"]
        for e in events
        if e.type == "DocumentIngested"
    }
    warnings = [e.data["warning"] for e in events if e.type == "FeedPolled"]
    return {**texts, "warning": "; ".join(w or "" for w in warnings)}


def test_run_once_keeps_the_summary_of_a_page_past_the_limit_and_says_why(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.static("/slow", slow_page(), headers={"Content-Type": "text/html"})
    feed_server.static("/article", ARTICLE, headers={"Content-Type": "text/html"})
    config = full_text_config(tmp_path, feed_server, 'full_text_timeout = "0.4s"')
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    found = documents(tmp_path)
    assert found["slow"] == "Ministers met on Tuesday."
    assert "tram network" in found["article"]
    assert "1 page(s) past [fetch] full_text_timeout (time limit)" in found["warning"]
    assert feed_server.url("/slow") in found["warning"]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_page_being_read_neither_delays_a_stop_nor_outlives_the_daemon(
    tmp_path: Path, feed_server: FeedServer, how: str
) -> None:
    # Minutes of trafilatura, a limit longer still: only the stop can end this page early.
    feed_server.static("/slow", slow_page(40_000), headers={"Content-Type": "text/html"})
    feed_server.static("/article", ARTICLE, headers={"Content-Type": "text/html"})
    config = full_text_config(
        tmp_path, feed_server, 'full_text_timeout = "600s"', 'shutdown_grace = "1s"'
    )
    daemon = Daemon(config).start()
    try:
        assert daemon.process is not None

        def reading() -> set[int]:
            assert daemon.process is not None
            below = descendants(daemon.process.pid)
            return {p for p in below if "extraction_server" in _cmdline(p)}

        assert wait_until(lambda: any(descendants(s) for s in reading()), 60), daemon.log()
        processes = descendants(daemon.process.pid)
        if how == "SIGTERM":
            code, took = daemon.stop(timeout=60)
            assert code == 0, daemon.log()[-3000:]
            # The page needs 23 s of trafilatura on an idle machine (more on a busy one): a
            # stop well before that was not waiting for it.
            assert took < 15, took
            assert "abandoned 1 job(s) in flight at shutdown" in daemon.log()
            assert "monitor stopped" in daemon.log()
        else:
            daemon.kill()
        assert wait_until(lambda: all(gone(p) for p in processes), 10), processes
    finally:
        daemon.close()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
