"""Attempting what is due: every due digest once, channels side by side, each outcome recorded.

A crash between a send and its record leaves the digest due, and the resend carries the
same ids (webhook-id, Message-ID, file name), so the receiver can drop the copy. Within a
channel the first due digest goes alone: when the channel is down, one attempt finds
out, not ``concurrency`` of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from alerts.attempts import UNREACHABLE, Due, attempt_events
from alerts.channels import Channels, Sender, fingerprint
from alerts.message import Outcome
from alerts.outbox.queries import due_deliveries
from alerts.outbox.senders import Senders
from alerts.retry import RetryPolicy
from monitor.eventlog.events import Event
from monitor.eventlog.leases import Leases
from monitor.eventlog.recorder import Clock, Recorder

log = logging.getLogger("alerts.outbox")


@dataclass(frozen=True, slots=True)
class Attempted:
    digest_id: str
    rule: str
    channel: str
    outcome: Outcome
    events: tuple[str, ...]  # the types recorded: DeliveryFailed, DeliveryAbandoned, …


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
    channels: Channels,
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
        results = await _attempt_all(recorder, channels, due, env, rng or random.Random())
    finally:
        claimed.difference_update(d.digest_id for d in due)
        if leases is not None:
            leases.release(names)
    return [attempt for result in results for attempt in result]


async def _attempt_all(
    recorder: Recorder,
    channels: Channels,
    due: Sequence[Due],
    env: Mapping[str, str] | None,
    rng: random.Random,
) -> list[list[Attempted]]:
    by_channel: dict[str, list[Due]] = defaultdict(list)
    for item in due:
        by_channel[item.channel].append(item)
    # Webhook signatures carry the real time, whatever clock schedules the attempts: a
    # receiver checks the timestamp against its own clock to refuse replays.
    async with Senders(channels, os.environ if env is None else env) as pass_senders:
        senders = pass_senders.by_channel()
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
    where = fingerprint(channel)
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
