"""A local feed server that answers every request after a delay, as a distant server does.

    python bench/slowserver.py --feeds 1000 --items 50 --delay 0.2 --port 0

Serves /feed/N.xml (N = 0 … feeds-1), each an RSS feed of ``items`` items
whose titles and texts are real news items from ../shared/corpora/real-feeds
(15 languages; word salad would mislead language identification), each item
with a guid of its own, and an ETag: a request carrying it gets 304 (after the same
delay). /feed/N.xml?gen=G serves generation G, so a benchmark can make every
feed new again. Plain asyncio, one process, no threads: thousands of waiting
requests cost nothing. Prints the port on its first line.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import socket
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

REAL_FEEDS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "real-feeds"


@functools.cache
def real_items() -> list[tuple[str, str]]:
    """(title, text) of the real feed items with some text, XML-escaped."""
    import feedparser

    found = []
    for path in sorted(REAL_FEEDS.glob("*.*")):
        if path.suffix in {".xml", ".rss", ".atom", ".rdf"}:
            for entry in feedparser.parse(path.read_bytes()).entries:
                text = str(entry.get("summary") or "")
                if len(text) > 80:
                    found.append((escape(str(entry.get("title", ""))), escape(text)))
    if not found:
        sys.exit(f"no real feed items under {REAL_FEEDS}")
    return found


def feed_body(feed: int, items: int, generation: int) -> bytes:
    parts = []
    base = datetime(2026, 11, 1, tzinfo=UTC)
    pool = real_items()
    for i in range(items):
        title, text = pool[(feed * items + i + generation * 7919) % len(pool)]
        when = format_datetime(base + timedelta(minutes=feed * items + i))
        parts.append(
            f"<item><title>{title} ({feed}/{i})</title>"
            f"<link>http://127.0.0.1/f{feed}/g{generation}/s{i}</link>"
            f"<guid isPermaLink='false'>f{feed}-g{generation}-s{i}</guid>"
            f"<pubDate>{when}</pubDate><description>{text}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>http://127.0.0.1/</link><description>bench</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


class Server:
    def __init__(self, feeds: int, items: int, delay: float) -> None:
        self.feeds, self.items, self.delay = feeds, items, delay
        self.cache: dict[tuple[int, int], tuple[bytes, str]] = {}
        self.requests = 0

    def body(self, feed: int, generation: int) -> tuple[bytes, str]:
        key = (feed, generation)
        if key not in self.cache:
            body = feed_body(feed, self.items, generation)
            self.cache[key] = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
        return self.cache[key]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                self.requests += 1
                await asyncio.sleep(self.delay)
                writer.write(self.respond(target, headers))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def respond(self, target: str, headers: dict[str, str]) -> bytes:
        path, _, query = target.partition("?")
        generation = int(query.partition("gen=")[2] or 0) if "gen=" in query else 0
        try:
            feed = int(path.removeprefix("/feed/").removesuffix(".xml"))
        except ValueError:
            feed = -1
        if not 0 <= feed < self.feeds:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        body, etag = self.body(feed, generation)
        if headers.get("if-none-match") == etag:
            return (
                f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode()
            )
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: {etag}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--publishers",
        type=int,
        default=0,
        help="also listen on 127.0.0.2 ... 127.0.0.(N+1), one address a publisher",
    )
    args = parser.parse_args()
    server = Server(args.feeds, args.items, args.delay)
    hosts = ["127.0.0.1", *(f"127.0.0.{2 + n}" for n in range(args.publishers))]
    port = args.port
    if port == 0 and args.publishers:  # one port on every address
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
            port = probe.getsockname()[1]
    listener = await asyncio.start_server(server.handle, hosts, port, backlog=4096)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
