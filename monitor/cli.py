"""The command line: parse arguments, call the application, print.

Exit codes (a contract): 0 success, 2 bad usage or invalid configuration,
1 any other failure. Nothing here decides anything the rest of the package
does not already decide.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monitor.errors import ConfigError, MonitorError, UsageError
from monitor.event_log import EventLog, StoredEvent
from monitor.events import EVENT_TYPES
from monitor.settings import Settings, config_path, load_settings
from monitor.store import Store, open_store

err = Console(stderr=True, highlight=False)


class App:
    """What every command needs: where the config is, loaded on first use."""

    def __init__(self, config: str | None) -> None:
        self.config_file = config_path(config)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings

    @contextmanager
    def store(self) -> Iterator[Store]:
        store = open_store(self.settings.store_url, busy_timeout=self.settings.store.busy_timeout)
        try:
            yield store
        finally:
            store.dispose()


pass_app = click.make_pass_decorator(App)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    metavar="PATH",
    help="Config file (default: $MONITOR_CONFIG, else ./config.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="news-monitor")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """An event-sourced news monitor: feeds and documents in, watch rules, digests out."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = App(config)


@cli.command()
@click.option("--once", is_flag=True, help="Run one full cycle and exit.")
@pass_app
def run(app: App, once: bool) -> None:
    """Ingest seeds, poll feeds, match rules and send digests."""
    from monitor.cycle import run_once

    if not once:
        raise UsageError(
            "the long-running scheduler is not part of this release yet; "
            "run 'monitor run --once' from a timer (see README, 'Running on a schedule')"
        )
    settings = app.settings
    report = run_once(settings)
    click.echo(
        f"seeds: {report.seeds.files} file(s), {report.seeds.new} new, "
        f"{report.seeds.revised} revised, {len(report.seeds.failed)} failed"
    )
    click.echo(
        f"feeds: {len(report.polls)} polled: {report.count('polled')} ok, "
        f"{report.count('not_modified')} not modified, {report.count('failed')} failed; "
        f"{sum(p.new for p in report.polls)} new, {sum(p.revised for p in report.polls)} revised"
    )
    for poll in report.polls:
        if poll.outcome == "failed":
            click.echo(f"  {poll.feed}: {poll.category}: {poll.message}", err=True)
    for failure in report.seeds.failed:
        click.echo(f"  {failure.display}: {failure.category}: {failure.message}", err=True)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def ingest(app: App, paths: tuple[Path, ...]) -> None:
    """Ingest documents from files or folders now (.txt .md .html .json .jsonl)."""
    from monitor.recording import Recorder
    from monitor.seeding import ingest_seeds

    with app.store() as store, _progress("reading") as advance:
        recorder = Recorder(store)
        recorder.catch_up()
        report = ingest_seeds(
            recorder,
            list(paths),
            base=Path.cwd(),
            max_bytes=app.settings.seeds.max_bytes,
            on_file=lambda _: advance(1),
        )
    click.echo(
        f"{report.files} file(s), {report.documents} document(s): {report.new} new, "
        f"{report.revised} revised, {len(report.failed)} failed"
    )
    for failure in report.failed:
        click.echo(f"  {failure.display}: {failure.category}: {failure.message}", err=True)
    if report.failed and not report.documents:
        sys.exit(1)


@cli.command()
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
    with app.store() as store, store.reading() as conn:
        for event in EventLog().read(
            conn, after=after, types=list(types) or None, stream=stream, limit=limit
        ):
            if as_json:
                out.write(orjson.dumps(event.envelope()) + b"\n")
            else:
                out.write(_event_line(event).encode() + b"\n")
    out.flush()


@cli.command()
@pass_app
def replay(app: App) -> None:
    """Drop every projection and rebuild it from the event log."""
    from monitor.event_log import EventLog
    from monitor.projections import Projector

    with app.store() as store, _progress("replaying") as advance, store.transaction() as conn:
        total = Projector(EventLog()).rebuild(conn, progress=advance)
    click.echo(f"replayed {total} event(s) into every projection")


def _event_line(event: StoredEvent) -> str:
    when = event.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{event.seq:>8}  {when}  {event.type:<18} {event.stream:<40} {_summary(event.data)}"


def _summary(data: dict[str, Any]) -> str:
    if "title" in data:
        return f"{data.get('language', '')} {data['title'][:70]}"
    if "category" in data:
        return f"{data['category']}: {str(data.get('message', ''))[:70]}"
    if "entries" in data:
        return f"{data['status']} {data['entries']} entries, {data['new']} new, {data['revised']} revised"
    return str(data.get("status", ""))


@contextmanager
def _progress(label: str) -> Iterator[Any]:
    """A progress bar on a terminal; nothing when stderr is a pipe or a file."""
    if not err.is_terminal:
        yield lambda _n: None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except ConfigError as error:
        for line in error.problems:
            click.echo(line, err=True)
        sys.exit(2)
    except UsageError as error:
        click.echo(f"monitor: {error}", err=True)
        sys.exit(2)
    except MonitorError as error:
        click.echo(f"monitor: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
