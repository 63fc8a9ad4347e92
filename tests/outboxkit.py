"""Helpers for outbox tests: settings with channels, matches recorded without the matcher,
and a clock the test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config.settings import Settings, settings_from_dict
from monitor.eventlog.events import DocumentIngested, PublishedDate, RuleMatched
from monitor.eventlog.recorder import Recorder
from monitor.rules.rulebook import sync_rules


class ManualClock:
    def __init__(self, start: datetime = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def to(self, when: datetime) -> None:
        self.now = max(self.now, when)


def settings_with(
    tmp_path: Path,
    channels: list[dict[str, Any]],
    *,
    rules: list[dict[str, Any]] | None = None,
) -> Settings:
    names = [c["name"] for c in channels]
    raw = {
        "rules": rules or [{"name": "aa", "query": "Armenia AND Azerbaijan", "channels": names}],
        "channels": channels,
    }
    return settings_from_dict(raw, source="test.toml", base_dir=tmp_path)


def record_matches(
    recorder: Recorder,
    rule: str,
    docs: list[tuple[str, str, str]],
    *,
    backfill: bool = False,
) -> None:
    """Store (document_id, title, text) documents and a RuleMatched for each."""
    events: list[Any] = []
    for doc_id, title, text in docs:
        published = PublishedDate(value="2026-11-28T07:00Z", precision="minute")
        common = {
            "document_id": doc_id,
            "source": f"feed-{doc_id}",
            "url": f"https://news.example/{doc_id}",
            "title": title,
            "language": "en",
            "published": published,
        }
        events.append(
            DocumentIngested(
                **common, text=text, content_hash=doc_id * 2, identity=f"guid:{doc_id}"
            )
        )
        snippet = {"field": "body", "text": text[:80], "highlights": [[0, 7]]}
        events.append(
            RuleMatched(
                **common,
                rule=rule,
                rule_version=1,
                snippets=[snippet],
                terms=[],
                backfill=backfill,
            )
        )
    recorder.append(events)


def define_rules(recorder: Recorder, settings: Settings) -> None:
    sync_rules(recorder, settings.rules)
