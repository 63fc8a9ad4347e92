"""Peak memory and time of `monitor run --once` on hostile feeds, each within the body cap.

Each feed is served from 127.0.0.1 and read by a real `monitor run --once` under
`/usr/bin/time -v`, which reports the peak resident set of the process and its children.
Target (issue 12): every peak under 300 MB. For the full-text cases the peak is that of
the largest single process (GNU time's ru_maxrss of the children): the daemon, or the child
that read the page and then ended.

    .venv/bin/python bench/hostile.py            # every feed
    .venv/bin/python bench/hostile.py json-items # one of them
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CAP = 10 * 1024 * 1024 - 4096  # just inside the default [fetch] max_bytes


def json_items() -> tuple[bytes, str]:
    """A JSON Feed of ~600,000 tiny items (2.5 GB in one process before the caps)."""
    items, size, n = [], 80, 0
    while size < CAP - 40:
        item = f'{{"id":"{n}","content_text":"x"}}'
        items.append(item)
        size += len(item) + 1
        n += 1
    body = '{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[' + ",".join(items)
    return (body + "]}").encode(), "application/feed+json"


def rss_items() -> tuple[bytes, str]:
    """An RSS feed of ~100,000 tiny items."""
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    items, size, n = [], len(head) + 40, 0
    while True:
        item = f"<item><guid>g{n}</guid><title>t{n}</title></item>"
        if size + len(item) > CAP:
            break
        items.append(item)
        size += len(item)
        n += 1
    return (head + "".join(items) + "</channel></rss>").encode(), "application/rss+xml"


def rss_description() -> tuple[bytes, str]:
    """One RSS item whose description is 9 MB of text."""
    words = ("Armenia and Azerbaijan talks resumed in Brussels on Monday. " * 160_000)[:9_000_000]
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>g</guid>'
        f"<title>Talks</title><description>{words}</description></item></channel></rss>"
    )
    return body.encode(), "application/rss+xml"


def json_deep() -> tuple[bytes, str]:
    """A JSON Feed whose second item is nested 100,000 deep among 1,000 good items."""
    good = [f'{{"id":"{n}","title":"Story {n}","content_text":"x"}}' for n in range(1000)]
    deep = '{"id":"deep","title":"deep","content_text":' + "[" * 100_000 + "]" * 100_000 + "}"
    items = [good[0], deep, *good[1:]]
    body = '{"version":"https://jsonfeed.org/version/1.1","items":[' + ",".join(items) + "]}"
    return body.encode(), "application/feed+json"


def article_page(tables: int) -> bytes:
    """An article page of many small tables of distinct words: seconds of trafilatura per MB."""
    rnd = random.Random(7)
    words = ["tram", "city", "council", "river", "vote", "plan", "budget", "line"]

    def cell() -> str:
        return " ".join(f"{rnd.choice(words)}{rnd.randrange(1000)}" for _ in range(30))

    cells = "".join(
        f"<table><tr><td><p>{cell()}</p></td><td><a href='/x{i}'>more</a></td></tr></table>"
        for i in range(tables)
    )
    return f"<html><body><article>{cells}</article></body></html>".encode()


# Item pages (full text) the feeds below link to, served beside them.
PAGES: dict[str, bytes] = {}


def full_text_feed(page: bytes) -> tuple[bytes, str]:
    PAGES["/page"] = page
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>g</guid>'
        "<title>Talks</title><link>LINK/page</link><description>Armenia and Azerbaijan talks."
        "</description></item></channel></rss>"
    )
    return body.encode(), "application/rss+xml"


def page_slow() -> tuple[bytes, str]:
    """full_text on an item whose page is 2 MB of the slowest structure found (tables)."""
    return full_text_feed(article_page(6_000))


def page_10mb() -> tuple[bytes, str]:
    """full_text on an item whose page is 10 MB (95 s and 450 MB in a parse worker, once)."""
    return full_text_feed(article_page(30_000))


def baseline() -> tuple[bytes, str]:
    """Not hostile: 20 ordinary items, for the floor a matching cycle costs."""
    items = "".join(
        f"<item><guid>g{n}</guid><title>Story {n}</title><description>Armenia and Azerbaijan "
        f"talks resumed in Brussels, day {n}.</description></item>"
        for n in range(20)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    )
    return body.encode(), "application/rss+xml"


FEEDS: dict[str, Callable[[], tuple[bytes, str]]] = {
    "baseline": baseline,
    "json-items": json_items,
    "rss-items": rss_items,
    "rss-description": rss_description,
    "json-deep": json_deep,
    "page-slow": page_slow,
    "page-10mb": page_10mb,
}


def serve(body: bytes, content_type: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = PAGES.get(self.path)
            if page is not None:
                self.reply(page, "text/html; charset=utf-8")
            else:
                self.reply(body.replace(b"LINK", base.encode()), content_type)

        def reply(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(ConnectionError):  # a client past its size cap hangs up
                self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def measure(name: str) -> None:
    PAGES.clear()
    body, content_type = FEEDS[name]()
    server = serve(body, content_type)
    # The page is on loopback, where item links may go only with allow_private_networks.
    full_text = "full_text = true\nallow_private_networks = true\n" if PAGES else ""
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(
            '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n'
            f'[[feeds]]\nname = "hostile"\nurl = "http://127.0.0.1:{server.server_port}/f"\n'
            f"{full_text}"
            '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["out"]\n'
            '[[channels]]\nname = "out"\ntype = "file"\npath = "digests"\n',
            encoding="utf-8",
        )
        command = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
        done = subprocess.run(
            ["/usr/bin/time", "-v", *command],
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=900,
        )
        events = subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(config), "events", "--json"],
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=300,
        ).stdout
    server.shutdown()
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])  # type: ignore[index]
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", done.stderr)[1]  # type: ignore[index]
    polls = [json.loads(line) for line in events.splitlines() if '"Feed' in line]
    summary = next((e for e in polls if e["type"] in ("FeedPolled", "FeedPollFailed")), {})
    data = summary.get("data", {})
    print(
        f"{name:16} {(len(body) + sum(map(len, PAGES.values()))) / 1e6:5.1f} MB body  peak {peak / 1024:6.0f} MB  wall {wall:>8}  "
        f"exit {done.returncode}  {summary.get('type', '?')}: entries={data.get('entries')} "
        f"dropped={data.get('dropped')} warning={(data.get('warning') or data.get('message'))!r:.90}"
    )


def main() -> None:
    for name in sys.argv[1:] or list(FEEDS):
        measure(name)


if __name__ == "__main__":
    main()
