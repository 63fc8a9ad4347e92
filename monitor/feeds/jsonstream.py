"""A large JSON Feed read item by item: memory for the newest items kept, not for all of them.

``orjson.loads`` builds the whole document: a 10 MB feed of 300,000 tiny items costs
about 130 MB of dicts, although a poll reads at most ``[fetch] max_entries`` of them. Above
:data:`STREAM_BYTES`, :mod:`monitor.feeds.jsonfeed` reads the document with ijson's C
parser instead: the top-level fields are built whole, and each item is built, offered to a
heap that keeps the newest ``keep`` (by date, then the feed's order) and let go. Items
nested deeper than the item depth limit are dropped alone, as the fast path does. The two
paths give the same entries (a test reads the same feeds through both).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ijson

# Below this the whole document is parsed at once (orjson is six times as fast).
STREAM_BYTES = 1024 * 1024
_START = frozenset({"start_map", "start_array"})
_END = frozenset({"end_map", "end_array"})


@dataclass(slots=True)
class Streamed:
    """The document without its items, and the items kept."""

    top: dict[str, Any]
    items: list[dict[str, Any]]  # newest first when any were dropped, else in feed order
    has_items: bool = False  # the document had an ``items`` array
    objects: int = 0  # items that are JSON objects (kept or not)
    skipped: int = 0  # items that are not objects
    too_deep: int = 0  # items nested past the depth limit
    _heap: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)


def stream_items(
    body: bytes, keep: int | None, when: Callable[[dict[str, Any]], datetime], depth_limit: int
) -> Streamed:
    """Read ``body`` keeping the newest ``keep`` items (all when None); raises ijson's
    ``JSONError`` when it is not JSON, and ValueError when it is not an object."""
    out = Streamed({}, [])
    depth, key = 0, None
    builder: ijson.ObjectBuilder | None = None
    base, deepest, target = 0, 0, ""
    # basic_parse, not parse: parse keeps a path string per level, which a hostile document
    # nested 100,000 deep turns into gigabytes.
    for event, value in ijson.basic_parse(body, use_float=True):
        if builder is not None or target == "deep":
            if event in _START:
                depth += 1
                deepest = max(deepest, depth)
            elif event in _END:
                depth -= 1
            if target == "item" and deepest - base > depth_limit:
                builder, target = None, "deep"  # stop building; skip to its end
            elif builder is not None:
                builder.event(event, value)
            if depth == base:
                if target == "top":
                    assert builder is not None
                    out.top[str(key)] = builder.value
                elif target == "item":
                    assert builder is not None
                    _offer(out, builder.value, keep, when)
                elif target == "deep":
                    out.too_deep += 1
                builder, target = None, ""
            continue
        if depth == 0:
            if event != "start_map":
                raise ValueError(f"the document is a JSON {_kind(event)}")
            depth = 1
        elif depth == 1:
            if event == "map_key":
                key = value
            elif event == "end_map":
                depth = 0
            elif key == "items" and event == "start_array":
                depth, out.has_items = 2, True
            elif event in _START:
                builder, base, target = ijson.ObjectBuilder(), 1, "top"
                builder.event(event, value)
                depth = deepest = 2
            else:
                out.top[str(key)] = value
        elif event == "end_array":  # the end of items
            depth = 1
        elif event == "start_map":
            builder, base, target = ijson.ObjectBuilder(), 2, "item"
            builder.event(event, value)
            depth = deepest = 3
        elif event == "start_array":  # an item that is no object: read past it
            builder, base, target = ijson.ObjectBuilder(), 2, "not-object"
            builder.event(event, value)
            depth = deepest = 3
            out.skipped += 1
        else:
            out.skipped += 1
    if depth != 0:
        raise ValueError("the document ends early")
    ordered = sorted(out._heap, key=lambda kept: -kept[1])  # the feed's order
    if keep is not None and out.objects > keep:
        ordered.sort(key=lambda kept: kept[0], reverse=True)  # stable: feed order on ties
    out.items = [item for _, _, item in ordered]
    out._heap = []
    return out


def _offer(
    out: Streamed, item: Any, keep: int | None, when: Callable[[dict[str, Any]], datetime]
) -> None:
    if not isinstance(item, dict):  # a list item read past
        return
    position = out.objects
    out.objects += 1
    # A min-heap on (date, later-in-feed-first): what falls off is the oldest, and among
    # equal dates the one latest in the feed, as a stable sort would leave it.
    entry = (when(item), -position, item)
    if keep is None or len(out._heap) < keep:
        heapq.heappush(out._heap, entry)
    elif keep and entry[:2] > out._heap[0][:2]:
        heapq.heapreplace(out._heap, entry)


def _kind(event: str) -> str:
    return {"start_array": "list", "string": "str", "number": "number"}.get(event, event)
