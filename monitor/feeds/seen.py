"""Entries a feed's last recorded poll held, so the next poll skips what did not change.

A feed without validators (no ETag, no Last-Modified) answers 200 with the same items
poll after poll. Each entry as parsed is digested (8 bytes of BLAKE2b over its fields);
an entry whose digest was in the feed's last recorded poll is neither normalised nor
matched again (it would be recorded as unchanged anyway), so an unchanged feed costs a
parse and a hash check per entry. The digests live in the poller's memory: a restart, a
change of the feed's settings or a failed poll only means one full poll.
"""

from __future__ import annotations

import hashlib

from monitor.config.settings import FeedSettings
from monitor.documents.shapes import RawEntry


def entry_digest(entry: RawEntry) -> int:
    """The same for the same parsed entry in every process (its fields' repr)."""
    return int.from_bytes(hashlib.blake2b(repr(entry).encode(), digest_size=8).digest(), "big")


class SeenEntries:
    def __init__(self) -> None:
        self._by_feed: dict[str, tuple[FeedSettings, frozenset[int]]] = {}

    def known(self, feed: FeedSettings) -> frozenset[int]:
        """The digests of ``feed``'s last recorded poll, made with these same settings."""
        found = self._by_feed.get(feed.name)
        return found[1] if found is not None and found[0] == feed else frozenset()

    def remember(self, feed: FeedSettings, digests: frozenset[int]) -> None:
        self._by_feed[feed.name] = (feed, digests)

    def forget(self, feed: FeedSettings) -> None:
        self._by_feed.pop(feed.name, None)
