"""The outbox: digests recorded before they are sent, every attempt recorded after.

A pass has three steps. :func:`enable_changed_channels` lifts a "gone"
channel whose destination the user changed. :func:`assemble` turns the
matches a channel has not had yet into one digest per rule and channel,
rendered and recorded as ``DigestAssembled`` in the same transaction that
read the matches, so a match is in exactly one digest per channel.
:func:`deliver` attempts every digest that is due, channels side by side,
and records each outcome; a crash between a send and its record leaves the
digest due, and the resend carries the same ids (webhook-id, Message-ID, file
name), so the receiver can drop the copy.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.attempts import UNREACHABLE, Due, attempt_events
from alerts.compose import Channel, compose, entries_json, template_kinds
from alerts.digest import MatchedDocument, build_digest
from alerts.health import health_change, health_digest, health_subject
from alerts.message import Message, Outcome
from alerts.outbox.senders import Dispatcher, Sender, destination
from alerts.outbox.tables import (
    PENDING,
    channel_state_table,
    deliveries_table,
    digest_items_table,
)
from alerts.rendering import Renderer
from alerts.retry import RetryPolicy
from monitor.config.schedules import parse_quiet_hours
from monitor.config.settings import Settings
from monitor.documents.recording import Clock, Recorder
from monitor.errors import ConfigError, UsageError
from monitor.eventlog.events import (
    ChannelEnabled,
    DeliveryRetryRequested,
    DigestAssembled,
    Event,
    FeedHealthChanged,
)
from monitor.eventlog.leases import Leases
from monitor.eventlog.log import events_table
from monitor.eventlog.store import serialise
from monitor.readmodels.tables import document_texts, feed_states, matches_table, rule_rows

log = logging.getLogger("alerts.outbox")


@dataclass(frozen=True, slots=True)
class Attempted:
    digest_id: str
    rule: str
    channel: str
    outcome: Outcome
    events: tuple[str, ...]  # the types recorded: DeliveryFailed, DeliveryAbandoned, …


@dataclass(slots=True)
class OutboxReport:
    assembled: list[str] = field(default_factory=list)
    attempts: list[Attempted] = field(default_factory=list)

    def count(self, event_type: str) -> int:
        return sum(1 for a in self.attempts if event_type in a.events)


# -- start-up checks --------------------------------------------------------------------------


def renderers(settings: Settings) -> dict[str, Renderer]:
    """A renderer per channel (channels sharing a templates folder share one)."""
    by_folder: dict[str | None, Renderer] = {}
    found = {}
    for channel in settings.channels:
        folder = settings.path(channel.templates) if channel.templates else None
        key = str(folder) if folder else None
        if key not in by_folder:
            by_folder[key] = Renderer(folder)
        found[channel.name] = by_folder[key]
    return found


def check_channels(settings: Settings, source: str) -> None:
    """Every template each channel uses loads and renders; raises ConfigError naming them."""
    problems = []
    checked: set[tuple[str | None, str]] = set()
    for index, channel in enumerate(settings.channels):
        folder = settings.path(channel.templates) if channel.templates else None
        if folder is not None and not folder.is_dir():
            problems.append(f"{source}: channels[{index}].templates: no such folder: {folder}")
            continue
        kinds = tuple(
            kind for kind in template_kinds(channel) if (str(folder), kind) not in checked
        )
        checked.update((str(folder), kind) for kind in kinds)
        try:
            Renderer(folder).check(kinds)
        except ConfigError as error:
            problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)


# -- assembly ---------------------------------------------------------------------------------


def assemble(
    recorder: Recorder,
    settings: Settings,
    *,
    rules: Collection[str] | None = None,
    renderer_for: Mapping[str, Renderer] | None = None,
) -> list[str]:
    """Record a digest for every (rule, channel) with matches not yet sent there; their ids."""
    renderer_for = renderer_for or renderers(settings)
    channels = {channel.name: channel for channel in settings.channels}
    with recorder.store.reading() as conn:
        rows = rule_rows(conn)
        disabled = disabled_channels(conn)
    made = []
    now = recorder.clock()
    for rule in settings.rules:
        row = rows.get(rule.name)
        if not rule.enabled or row is None or row["removed"] or (rules and rule.name not in rules):
            continue
        for name in rule.channels:
            if name in disabled:
                continue  # its matches wait; they go out when the channel is enabled again
            if rule.schedule == "immediate" and _quiet(channels[name], now):
                continue  # they wait, and go out together when the quiet hours end
            since = int(row["channel_since"].get(name, 0))
            digest_id = _assemble_one(
                recorder, channels[name], rule.name, since, renderer_for[name]
            )
            if digest_id is not None:
                made.append(digest_id)
    return made


def _quiet(channel: Channel, now: datetime) -> bool:
    return channel.quiet_hours is not None and parse_quiet_hours(channel.quiet_hours).active_at(now)


def _assemble_one(
    recorder: Recorder, channel: Channel, rule: str, since: int, renderer: Renderer
) -> str | None:
    with recorder.store.transaction() as conn:
        # Two workers assembling the same pair would otherwise both read the same matches.
        serialise(conn, f"assemble:{rule}/{channel.name}")
        pending = pending_matches(
            conn, rule, channel.name, since=since, include_backfill=channel.include_backfill
        )
        digest = build_digest(rule, channel.name, pending, cap=channel.max_entries)
        if digest is None:
            return None
        now = recorder.clock()
        message = compose(channel, digest, renderer, now)
        document_of = {match.seq: match.document_id for match in pending}
        event = DigestAssembled(
            digest_id=digest.digest_id,
            rule=rule,
            channel=channel.name,
            channel_type=channel.type,
            matches=list(digest.seqs),
            documents=[document_of[seq] for seq in digest.seqs],
            entries=entries_json(digest),
            more=digest.more,
            message=message.to_json(),
        )
        recorder.append_in(conn, [event], expected={event.stream: 0})
    log.info(
        "digest %s: %s -> %s, %d match(es)", digest.digest_id, rule, channel.name, digest.documents
    )
    return digest.digest_id


def pending_matches(
    conn: Connection, rule: str, channel: str, *, since: int, include_backfill: bool
) -> list[MatchedDocument]:
    """The rule's matches after ``since`` whose document no digest has taken to ``channel``.

    A digest takes every pending match at once, in ``seq`` order, so the channel's newest
    taken match is a watermark: only matches after it need the per-document check, which
    keeps the query small however long the rule's history (and whatever the planner's
    statistics say about young tables).
    """
    m, items, ev = matches_table.c, digest_items_table.c, events_table.c
    watermark = conn.execute(
        sa.select(sa.func.max(items.match_seq)).where(items.rule == rule, items.channel == channel)
    ).scalar()
    since = max(since, int(watermark or 0))
    taken = (
        sa.select(items.item_id)
        .where(items.rule == rule, items.channel == channel, items.document_id == m.document_id)
        .exists()
    )
    query = (
        sa.select(m.seq, ev.data)
        .join(events_table, ev.seq == m.seq)
        .where(m.rule == rule, m.seq > since, ~taken)
        .order_by(m.seq)
    )
    if not include_backfill:
        query = query.where(m.backfill == sa.false())
    found = [(int(seq), data) for seq, data in conn.execute(query)]
    texts = document_texts(conn, [data["document_id"] for _, data in found])
    return [_matched(seq, data, texts.get(data["document_id"], "")) for seq, data in found]


def _matched(seq: int, data: dict[str, Any], text: str) -> MatchedDocument:
    return MatchedDocument(
        seq=seq,
        document_id=data["document_id"],
        title=data["title"],
        url=data.get("url"),
        source=data["source"],
        language=data["language"],
        published=data["published"]["value"],
        snippets=tuple(data.get("snippets", ())),
        text=text,
    )


def record_health(recorder: Recorder, settings: Settings, feeds: Collection[str]) -> list[str]:
    """Record each polled feed's health change and its alert to every ``[health]`` channel.

    Returns the feeds whose health changed. The alert is keyed by the poll that caused it,
    so deciding twice (after a crash) cannot alert twice.
    """
    urls = {feed.name: feed.url for feed in settings.feeds}
    channels = [c for c in settings.channels if c.name in settings.health.channels]
    with recorder.store.transaction() as conn:
        rows = feed_states(conn, feeds)
        events: list[Event] = []
        for name in feeds:
            row = rows.get(name)
            if row is None:
                continue
            change = health_change(row, urls.get(name, str(row["url"])), settings.health.failures)
            if change is None:
                continue
            events.append(change)
            now = recorder.clock()
            events.extend(health_digest(c, change, int(row["last_seq"]), now) for c in channels)
            log.warning("%s", health_subject(change))
        if not events:
            return []
        recorder.append_in(conn, events)
    return [e.feed for e in events if isinstance(e, FeedHealthChanged)]


# -- delivery ---------------------------------------------------------------------------------


def disabled_channels(conn: Connection) -> dict[str, str]:
    """Channel -> the destination that was gone, for every disabled channel."""
    c = channel_state_table.c
    query = sa.select(c.channel, c.destination).where(c.disabled == sa.true())
    return {name: where for name, where in conn.execute(query)}


def enable_changed_channels(recorder: Recorder, settings: Settings) -> list[str]:
    """Enable every disabled channel whose destination changed in the configuration."""
    with recorder.store.reading() as conn:
        disabled = disabled_channels(conn)
    events: list[Event] = []
    for channel in settings.channels:
        where = destination(channel)
        if channel.name in disabled and disabled[channel.name] != where:
            reason = "its destination changed in the configuration"
            events.append(ChannelEnabled(channel=channel.name, reason=reason, destination=where))
    recorder.append(events)
    return [event.channel for event in events if isinstance(event, ChannelEnabled)]


def due_deliveries(
    conn: Connection, now: datetime, only: Collection[str] | None = None
) -> list[Due]:
    """Pending digests whose next attempt is due, oldest first, channels disabled left out."""
    d, ev = deliveries_table.c, events_table.c
    disabled = set(disabled_channels(conn))
    query = (
        sa.select(d.digest_id, d.rule, d.channel, d.attempts, ev.data)
        .join(events_table, ev.seq == d.assembled_seq)
        # No time while pending: held by a disabled channel, due as soon as it is enabled.
        .where(d.state == PENDING, sa.or_(d.next_attempt_at <= now, d.next_attempt_at.is_(None)))
        .order_by(d.created_at, d.digest_id)
    )
    if only is not None:
        query = query.where(d.digest_id.in_(list(only)))
    return [
        Due(digest_id, rule, channel, attempts, Message.from_json(data["message"]))
        for digest_id, rule, channel, attempts, data in conn.execute(query)
        if channel not in disabled
    ]


class _Writer:
    """Records attempt events as they come, a batch per transaction, in arrival order.

    A sender waits until its events are committed before it takes the next digest, so at
    most ``concurrency`` sends per channel can be unrecorded when the process dies.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.queue: asyncio.Queue[tuple[list[Event], asyncio.Future[None]]] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def record(self, events: list[Event]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.queue.put((events, done))
        await done

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                self.recorder.append([event for events, _ in batch for event in events])
            except Exception as error:
                for _, done in batch:
                    done.set_exception(error)
            else:
                for _, done in batch:
                    done.set_result(None)


async def deliver(
    recorder: Recorder,
    settings: Settings,
    *,
    env: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    only: Collection[str] | None = None,
    claimed: set[str] | None = None,
    leases: Leases | None = None,
) -> list[Attempted]:
    """Attempt every due digest once; channels run side by side.

    ``claimed`` holds the digests an earlier, still running call of this process is
    attempting; they are skipped here, and each attempt holds its digest there until its
    outcome is recorded, so overlapping passes (the daemon's) never send a digest twice.
    """
    clock = recorder.clock
    claimed = set() if claimed is None else claimed
    with recorder.store.reading() as conn:
        due = [d for d in due_deliveries(conn, clock(), only) if d.digest_id not in claimed]
    if not due:
        return []
    names: set[str] = set()
    if leases is not None:
        # Other workers share the outbox: take each digest's lease, then read its state
        # again, so one that another worker delivered meanwhile is not sent twice.
        names = leases.claim([f"digest:{d.digest_id}" for d in due])
        mine = {name.removeprefix("digest:") for name in names}
        with recorder.store.reading() as conn:
            due = [d for d in due_deliveries(conn, clock(), mine) if d.digest_id not in claimed]
    claimed.update(d.digest_id for d in due)
    try:
        results = await _attempt_all(recorder, settings, due, env, rng or random.Random())
    finally:
        claimed.difference_update(d.digest_id for d in due)
        if leases is not None:
            leases.release(names)
    return [attempt for result in results for attempt in result]


async def _attempt_all(
    recorder: Recorder,
    settings: Settings,
    due: Sequence[Due],
    env: Mapping[str, str] | None,
    rng: random.Random,
) -> list[list[Attempted]]:
    by_channel: dict[str, list[Due]] = defaultdict(list)
    for item in due:
        by_channel[item.channel].append(item)
    # Webhook signatures carry the real time, whatever clock schedules the attempts: a
    # receiver checks the timestamp against its own clock to refuse replays.
    async with Dispatcher(settings, os.environ if env is None else env) as dispatcher:
        senders = dispatcher.senders()
        writer = _Writer(recorder)
        try:
            passes = [
                _channel_pass(senders[name], items, writer, recorder.clock, rng)
                for name, items in by_channel.items()
                if name in senders  # a channel no longer configured keeps its digests pending
            ]
            return list(await asyncio.gather(*passes))
        finally:
            await writer.close()


async def _channel_pass(
    sender: Sender,
    items: Sequence[Due],
    writer: _Writer,
    clock: Clock,
    rng: random.Random,
) -> list[Attempted]:
    channel = sender.channel
    policy = RetryPolicy(channel.max_attempts, channel.retry_backoff, channel.retry_max_backoff)
    where = destination(channel)
    gate = asyncio.Semaphore(sender.concurrency)
    stopped = False
    attempted: list[Attempted] = []

    async def attempt(item: Due) -> None:
        nonlocal stopped
        async with gate:
            if stopped:
                return
            started = time.monotonic()
            outcome = await sender.send(item.message)
            events = attempt_events(
                item,
                outcome,
                policy=policy,
                now=clock(),
                elapsed=time.monotonic() - started,
                rng=rng,
                destination=where,
            )
            if not outcome.ok and (outcome.disable or outcome.category in UNREACHABLE):
                stopped = True
            await writer.record(events)
            types = tuple(event.type_name for event in events)
            attempted.append(Attempted(item.digest_id, item.rule, item.channel, outcome, types))
            _log(item, outcome)

    # The first digest goes alone: when the channel is down, one attempt finds out, not
    # ``concurrency`` of them.
    await attempt(items[0])
    await asyncio.gather(*(attempt(item) for item in items[1:]))
    return attempted


def _log(item: Due, outcome: Outcome) -> None:
    if outcome.ok:
        log.info("digest %s -> %s: delivered %s", item.digest_id, item.channel, outcome.detail)
    else:
        log.warning(
            "digest %s -> %s: attempt %d failed: %s: %s",
            item.digest_id,
            item.channel,
            item.attempts + 1,
            outcome.category,
            outcome.message,
        )


# -- one pass, and retries on request ---------------------------------------------------------


def run_outbox(
    recorder: Recorder,
    settings: Settings,
    *,
    rules: Collection[str] | None = None,
    env: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> OutboxReport:
    """Enable changed channels, assemble what is due, attempt everything due."""
    enable_changed_channels(recorder, settings)
    report = OutboxReport(assembled=assemble(recorder, settings, rules=rules))
    report.attempts = asyncio.run(deliver(recorder, settings, env=env, rng=rng))
    return report


def find_digest(conn: Connection, prefix: str) -> dict[str, Any]:
    """The deliveries row whose id starts with ``prefix``; UsageError when none or several."""
    d = deliveries_table.c
    if len(prefix) < 4:
        raise UsageError("give at least 4 characters of the digest id")
    rows = (
        conn.execute(sa.select(deliveries_table).where(d.digest_id.like(f"{prefix}%")).limit(2))
        .mappings()
        .all()
    )
    if not rows:
        raise UsageError(f"no digest with id {prefix!r}; see 'monitor deliveries'")
    if len(rows) > 1:
        raise UsageError(f"{prefix!r} is ambiguous; give more of the id")
    return dict(rows[0])


def request_retry(
    recorder: Recorder,
    settings: Settings,
    prefix: str,
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[Attempted]]:
    """Make an abandoned (or waiting) digest due now and attempt it; returns its row and attempt."""
    with recorder.store.reading() as conn:
        row = find_digest(conn, prefix)
        disabled = disabled_channels(conn)
    if row["state"] == "delivered":
        raise UsageError(
            f"digest {row['digest_id']} was delivered at {row['delivered_at']:%Y-%m-%d %H:%M:%S} UTC; nothing to retry"
        )
    channel = next((c for c in settings.channels if c.name == row["channel"]), None)
    if channel is None:
        raise UsageError(
            f"digest {row['digest_id']} is for channel {row['channel']!r}, which is no longer configured"
        )
    events: list[Event] = []
    if channel.name in disabled:
        reason = "a retry was requested with 'monitor deliveries retry'"
        events.append(
            ChannelEnabled(channel=channel.name, reason=reason, destination=destination(channel))
        )
    events.append(
        DeliveryRetryRequested(
            digest_id=row["digest_id"],
            rule=row["rule"],
            channel=row["channel"],
            previous_state=row["state"],
        )
    )
    recorder.append(events)
    attempts = asyncio.run(deliver(recorder, settings, env=env, only={row["digest_id"]}))
    return row, attempts


def digest_entries(conn: Connection, digests: Collection[str]) -> list[dict[str, Any]]:
    """The stories (leads and copies) the given digests showed, as recorded."""
    d, ev = deliveries_table.c, events_table.c
    query = (
        sa.select(ev.data)
        .join(deliveries_table, ev.seq == d.assembled_seq)
        .where(d.digest_id.in_(list(digests)))
    )
    found: list[dict[str, Any]] = []
    for (data,) in conn.execute(query):
        for entry in data.get("entries", []):
            found.append(entry)
            found.extend(entry.get("copies", []))
    return found


def list_deliveries(
    conn: Connection, *, state: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Digests newest first, with their delivery state."""
    d = deliveries_table.c
    query = sa.select(deliveries_table).order_by(d.created_at.desc(), d.digest_id).limit(limit)
    if state is not None:
        query = query.where(d.state == state)
    return [dict(row) for row in conn.execute(query).mappings()]
