"""Matches into digests: what each channel of each rule has not had yet, recorded before sending.

:func:`assemble` turns the matches a channel has not had yet into one digest per rule
and channel, rendered and recorded as ``DigestAssembled`` in the same transaction that
read the matches, so a match is in exactly one digest per channel. Feed-health alerts
(:func:`record_health`) and the lifting of a "gone" channel whose destination changed
(:func:`enable_changed_channels`) are recorded the same way: decided and recorded in one
transaction, so deciding twice after a crash cannot alert twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from alerts.channels import Channels, fingerprint, kind_of
from alerts.compose import compose, entries_json
from alerts.digest import build_digest
from alerts.health import health_change, health_digest, health_subject
from alerts.outbox.checks import renderers
from alerts.outbox.queries import disabled_channels, pending_matches
from alerts.rendering import Renderer
from monitor.config.channels import Channel
from monitor.config.digest_schedules import parse_quiet_hours
from monitor.config.settings import FeedSettings, HealthSettings, RuleSettings
from monitor.eventlog.events import ChannelEnabled, DigestAssembled, Event, FeedHealthChanged
from monitor.eventlog.recorder import Recorder
from monitor.eventlog.store import serialise
from monitor.readmodels.feeds import feed_states
from monitor.readmodels.rules import rule_records

log = logging.getLogger("alerts.outbox")


def assemble(
    recorder: Recorder,
    rules: Sequence[RuleSettings],
    channels: Channels,
    *,
    only: Collection[str] | None = None,
    renderer_for: Mapping[str, Renderer] | None = None,
) -> list[str]:
    """Record a digest for every (rule, channel) with matches not yet sent there; their ids.

    ``only`` limits it to those rules (the daemon's scheduled digests).
    """
    renderer_for = renderer_for or renderers(channels)
    by_name = {channel.name: channel for channel in channels}
    with recorder.store.reading() as conn:
        records = rule_records(conn)
        disabled = disabled_channels(conn)
    made = []
    now = recorder.clock()
    for rule in rules:
        record = records.get(rule.name)
        if not rule.enabled or record is None or record.removed or (only and rule.name not in only):
            continue
        for name in rule.channels:
            if name in disabled:
                continue  # its matches wait; they go out when the channel is enabled again
            if rule.schedule == "immediate" and _quiet(by_name[name], now):
                continue  # they wait, and go out together when the quiet hours end
            since = int(record.channel_since.get(name, 0))
            digest_id = _assemble_one(recorder, by_name[name], rule.name, since, renderer_for[name])
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
        message = compose(kind_of(channel).parts(channel), digest, renderer, now)
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


def record_health(
    recorder: Recorder,
    feeds: Sequence[FeedSettings],
    health: HealthSettings,
    channels: Channels,
    polled: Collection[str],
) -> list[str]:
    """Record each polled feed's health change and its alert to every ``[health]`` channel.

    Returns the feeds whose health changed. The alert is keyed by the poll that caused it,
    so deciding twice (after a crash) cannot alert twice.
    """
    urls = {feed.name: feed.shown_url for feed in feeds}
    told = [channel for channel in channels if channel.name in health.channels]
    with recorder.store.transaction() as conn:
        states = feed_states(conn, polled)
        events: list[Event] = []
        for name in polled:
            state = states.get(name)
            if state is None:
                continue
            change = health_change(state, urls.get(name, state.url), health.failures)
            if change is None:
                continue
            events.append(change)
            now = recorder.clock()
            events.extend(
                health_digest(c, kind_of(c).parts(c), change, state.last_seq, now) for c in told
            )
            log.warning("%s", health_subject(change))
        if not events:
            return []
        recorder.append_in(conn, events)
    return [e.feed for e in events if isinstance(e, FeedHealthChanged)]


def enable_changed_channels(recorder: Recorder, channels: Channels) -> list[str]:
    """Enable every disabled channel whose destination changed in the configuration."""
    with recorder.store.reading() as conn:
        disabled = disabled_channels(conn)
    events: list[Event] = []
    for channel in channels:
        where = fingerprint(channel)
        if channel.name in disabled and disabled[channel.name] != where:
            reason = "its destination changed in the configuration"
            events.append(ChannelEnabled(channel=channel.name, reason=reason, destination=where))
    recorder.append(events)
    return [event.channel for event in events if isinstance(event, ChannelEnabled)]
