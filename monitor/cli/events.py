"""``monitor events`` (the log, as lines or JSON) and ``monitor replay``."""

from __future__ import annotations

import sys
from typing import Any

import click
import orjson

from monitor.cli.context import App, pass_app
from monitor.cli.output import progress
from monitor.errors import UsageError
from monitor.eventlog.events import EVENT_TYPES, StoredEvent
from monitor.eventlog.log import EventLog


@click.command()
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    metavar="SEQ",
    help="Only events after this sequence number.",
)
@click.option(
    "--type", "types", multiple=True, metavar="TYPE", help="Only events of this type (repeatable)."
)
@click.option("--stream", metavar="STREAM", help="Only events of this stream, e.g. feed:bbc.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
def events(
    app: App,
    after: int,
    types: tuple[str, ...],
    stream: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Print the event log, oldest first."""
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise UsageError(
            f"unknown event type {unknown[0]!r}; known types: {', '.join(sorted(EVENT_TYPES))}"
        )
    out = sys.stdout.buffer
    with app.log() as recorder, recorder.store.reading() as conn:
        for event in EventLog().read(
            conn, after=after, types=list(types) or None, stream=stream, limit=limit
        ):
            if as_json:
                out.write(orjson.dumps(event.envelope()) + b"\n")
            else:
                out.write(event_line(event).encode() + b"\n")
    out.flush()


@click.command()
@pass_app
def replay(app: App) -> None:
    """Drop every projection and rebuild it from the event log, the search index too."""
    settings = app.settings
    with app.log() as recorder:
        with progress("replaying") as advance, recorder.store.transaction() as conn:
            total = recorder.projector.rebuild(conn, progress=advance)
        # The index analyses every document again: after the tables, in batches of its own.
        # Imported here so that `monitor events`, in this module too, does not load the rules.
        from monitor.rules.rulebook import lexicon_fingerprint, lexicon_for
        from monitor.search.preview import Searcher

        searcher = Searcher(recorder.store, lexicon_for(settings), lexicon_fingerprint(settings))
        with progress("indexing") as advance:
            filed = searcher.rebuild(advance)
    click.echo(
        f"replayed {total} event(s) into every projection; "
        f"{filed} document version(s) in the search index"
    )


def event_line(event: StoredEvent) -> str:
    when = event.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{event.seq:>8}  {when}  {event.type:<18} {event.stream:<40} {_summary(event.data)}"


def _summary(data: dict[str, Any]) -> str:
    if isinstance(data.get("message"), dict):  # a digest
        return (
            f"{data['channel']}: {len(data['documents'])} doc(s): {data['message']['subject'][:60]}"
        )
    if "title" in data:
        return f"{data.get('language', '')} {data['title'][:70]}"
    if "category" in data:
        return f"{data['category']}: {str(data.get('message', ''))[:70]}"
    if isinstance(data.get("entries"), int):
        return f"{data['status']} {data['entries']} entries, {data['new']} new, {data['revised']} revised"
    if "channel" in data:
        return f"{data['channel']}: {data.get('detail') or data.get('reason') or ''}"[:90]
    return str(data.get("status", ""))
