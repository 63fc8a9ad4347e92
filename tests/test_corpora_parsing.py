"""Every feed in the shared corpora, served over HTTP, fetched and parsed like a real poll.

For each file: no exception but FeedMalformed, quick, and nothing lost: the
entries (and their titles) are exactly what ``feedparser.parse`` reads from the
same bytes and headers, FeedMalformed only where feedparser reads none, and a
warning exactly where feedparser flags a problem. parse_feed reads a
``text/xml`` type without charset by RFC 7303 (see monitor/parsing.py), so the
warning is compared with feedparser under that reading; the entries match
either way.

The corpora live beside the repository (../shared/corpora) and are never
copied into it; without them these tests are skipped.
"""

# The spot-check titles are Cyrillic, Greek and Turkish on purpose.

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import feedparser
import pytest
from corpora import CASES, CORPORA, REAL_FEEDS, Case
from feedserver import FeedServer

from monitor.errors import FeedMalformed
from monitor.feeds.fetch import FetchLimits, FetchResult, fetch, make_client
from monitor.feeds.parse import ParsedFeed, parse_feed

LIMITS = FetchLimits(total_timeout=20)
SECONDS_PER_FILE = 10.0  # the 2.7 MB Londonist feed takes about 1 s

pytestmark = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"shared corpora not found at {CORPORA}"
)


@dataclass
class Session:
    server: FeedServer
    runner: asyncio.Runner
    client: Any

    def get(self, case: Case) -> FetchResult:
        result: FetchResult = self.runner.run(
            fetch(self.client, self.server.url(case.route), limits=LIMITS)
        )
        return result


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    with FeedServer() as server, asyncio.Runner() as runner:
        for case in CASES:
            server.static(case.route, case.body, headers=case.headers)
        client = make_client(LIMITS)
        try:
            yield Session(server, runner, client)
        finally:
            runner.run(client.aclose())


def _feedparser(body: bytes, headers: dict[str, str], url: str) -> Any:
    # With the options monitor/parsing.py uses: entry HTML becomes plain text there, so
    # feedparser's sanitiser and link rewriting inside it are switched off.
    return feedparser.parse(
        body,
        response_headers={"content-location": url, **headers},
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def _as_rfc7303(headers: dict[str, str]) -> dict[str, str]:
    content_type = headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if "charset" in content_type.lower() or not (
        media_type in ("text/xml", "text/xml-external-parsed-entity")
        or (media_type.startswith("text/") and media_type.endswith("+xml"))
    ):
        return headers
    params = content_type[len(content_type.partition(";")[0]) :]
    return {**headers, "content-type": "application/xml" + params}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_file(session: Session, case: Case) -> None:
    started = time.monotonic()
    result = session.get(case)
    try:
        parsed: ParsedFeed | None = parse_feed(result.body, result.headers, result.url)
        problem = None
    except FeedMalformed as exc:
        parsed, problem = None, exc.message
    assert time.monotonic() - started < SECONDS_PER_FILE
    if case.name.endswith(".json"):
        assert parsed is not None and parsed.format == "json1"
        assert [e.title for e in parsed.entries] == ["post 2", None]
        return
    expected = _feedparser(result.body, result.headers, result.url)
    expected_titles = [dict.get(e, "title") or None for e in expected.entries]
    if parsed is None:
        assert expected_titles == [], f"feedparser reads {len(expected_titles)} entries: {problem}"
        return
    assert [e.title for e in parsed.entries] == expected_titles
    flagged = _feedparser(result.body, _as_rfc7303(result.headers), result.url).bozo
    assert (parsed.warning is not None) == bool(flagged), parsed.warning


def test_gzip_file_is_garbage_without_its_content_encoding(session: Session) -> None:
    raw = next(c for c in CASES if c.name.endswith(".gz (raw)"))
    result = session.get(raw)
    assert result.body == raw.body
    with pytest.raises(FeedMalformed):
        parse_feed(result.body, result.headers, result.url)
    decoded = session.get(next(c for c in CASES if c.name == raw.name.removesuffix(" (raw)")))
    assert decoded.body == gzip.decompress(raw.body)


# Titles that only come out right when the charset is honoured.
SPOT_CHECKS = [
    (
        "ru-newsru-windows1251.xml",
        "В Турции психически нездоровый мужчина взорвал хлопушку в здании Минюста",
    ),
    (
        "ru-newsru-koi8r.xml",
        "В Турции психически нездоровый мужчина взорвал хлопушку в здании Минюста",
    ),
    ("ru-aif-health-windows1251.xml", "Идите в баню!"),
    ("ru-oren-ru-windows1251.xml.gz", "ЧОПовцы в Оренбурге избили молодого человека"),
    ("el-naftemporiki-world.xml", "Μεγάλη η αύξηση στις πωλήσεις ημιαγωγών παγκοσμίως"),
    ("el-liberal-gr.xml", "«Πορτραίτα καραντίνας» για έμπνευση από τη συλλογή Φέλιου"),
    ("hu-hirtv.xml", "Őrjöngő nő zaklatta a lakókat"),
    ("tr-divxplanet-iso8859-9.xml", "Two-Lane Blacktop Türkçe 1 CD altyazısı"),
    (
        "uk-suspilne-wrong-namespace.xml",
        "Торгівля між Росією та Китаєм у 2023 році перевищила 200 млрд доларів — New York Times",
    ),
    (
        "ur-bbc-urdu.xml",
        "امریکہ کے ساتھ خفیہ معلومات کا تبادلہ اور فوجی تعاون معطل کر دیا: وزیر دفاع",
    ),
    (
        "de-golem-full.xml",
        "Red Dead Redemption 2: Hinweise auf PC-Umsetzung in App von Rockstar Games",
    ),
]


@pytest.mark.parametrize(("name", "title"), SPOT_CHECKS, ids=[name for name, _ in SPOT_CHECKS])
def test_non_utf8_titles_round_trip(session: Session, name: str, title: str) -> None:
    case = next(c for c in CASES if c.name == f"real-feeds/{name}")
    result = session.get(case)
    feed = parse_feed(result.body, result.headers, result.url)
    assert title in [e.title for e in feed.entries]
    assert feed.warning is None


def test_real_feeds_are_intact() -> None:
    lines = (REAL_FEEDS / "SHA256SUMS").read_text(encoding="utf-8").split("\n")
    sums = [line.split(maxsplit=1) for line in lines if line.strip()]
    assert len(sums) == 70
    for digest, name in sums:
        path = REAL_FEEDS / name.lstrip("*")  # "*" marks binary mode in sha256sum output
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name


def _best_of(runs: int, work: Any) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def test_parse_feed_costs_little_more_than_feedparser() -> None:
    body = (REAL_FEEDS / "en-in-indianexpress-world.xml").read_bytes()  # 316 kB, 200 entries
    headers = {"content-type": "application/rss+xml"}
    url = "https://indianexpress.com/feed/"
    bare = _best_of(3, lambda: _feedparser(body, headers, url))
    ours = _best_of(3, lambda: parse_feed(body, headers, url))
    assert ours < 1.5 * bare, f"parse_feed {ours:.3f} s against feedparser {bare:.3f} s"
