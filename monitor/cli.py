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
from rich.table import Table

from monitor.config.settings import Settings, config_path, load_settings
from monitor.errors import ConfigError, MonitorError, QueryError, UsageError
from monitor.eventlog.events import EVENT_TYPES
from monitor.eventlog.log import EventLog, StoredEvent
from monitor.eventlog.store import Store, open_store

err = Console(stderr=True, highlight=False)


class App:
    """What every command needs: where the config is, loaded on first use."""

    def __init__(self, config: str | None) -> None:
        self.config_file = config_path(config)
        self._settings: Settings | None = None
        self.log_level = logging.WARNING

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
    from monitor.app.logs import configure_logging

    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    configure_logging(level, "text")
    ctx.obj = App(config)
    ctx.obj.log_level = level


@cli.command()
@click.option("--once", is_flag=True, help="Run one full cycle and exit.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="Log lines on stderr as text or as JSON (one object a line, for log collectors).",
)
@pass_app
def run(app: App, once: bool, log_format: str) -> None:
    """The daemon: poll feeds, match rules and send digests on schedule until SIGTERM.

    With --once: one full cycle (seeds, every feed once, every digest that has matches).
    """
    from monitor.app.logs import configure_logging
    from monitor.app.once import preflight, run_once

    if not once:
        from monitor.app.daemon.service import Daemon

        # A service logs what it does (INFO) unless asked for less with -q… or more with -vv.
        configure_logging(min(app.log_level, logging.INFO), log_format)  # type: ignore[arg-type]
        preflight(app.settings, str(app.config_file))
        Daemon(app.config_file, app.settings).run()
        return
    if log_format == "json":
        configure_logging(app.log_level, "json")
    settings = app.settings
    preflight(settings, str(app.config_file))
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
    matched = report.seeds.matched + sum(p.matched for p in report.polls)
    click.echo(f"rules: {len(settings.rules)} rule(s), {matched} new match(es)")
    outbox = report.outbox
    click.echo(
        f"digests: {len(outbox.assembled)} assembled; {outbox.count('DeliverySucceeded')} delivered, "
        f"{outbox.count('DeliveryFailed')} failed, {outbox.count('DeliveryAbandoned')} abandoned"
    )
    for attempt in outbox.attempts:
        if not attempt.outcome.ok:
            click.echo(
                f"  {attempt.channel}: digest {attempt.digest_id[:8]}: "
                f"{attempt.outcome.category}: {attempt.outcome.message}",
                err=True,
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
    from monitor.documents.recording import Recorder
    from monitor.rules.matcher import activate
    from monitor.rules.rulebook import build_matcher, sync_rules
    from monitor.seeds.ingest import ingest_seeds

    with app.store() as store, _progress("reading") as advance:
        recorder = Recorder(store)
        recorder.catch_up()
        # Documents ingested by hand are matched like any other.
        activate(build_matcher(app.settings, sync_rules(recorder, app.settings.rules)))
        report = ingest_seeds(
            recorder,
            list(paths),
            base=Path.cwd(),
            max_bytes=app.settings.seeds.max_bytes,
            on_file=lambda _: advance(),
        )
    click.echo(
        f"{report.files} file(s), {report.documents} document(s): {report.new} new, "
        f"{report.revised} revised, {len(report.failed)} failed; {report.matched} new match(es)"
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
    from monitor.eventlog.log import EventLog
    from monitor.readmodels.tables import Projector

    with app.store() as store, _progress("replaying") as advance, store.transaction() as conn:
        total = Projector(EventLog()).rebuild(conn, progress=advance)
    click.echo(f"replayed {total} event(s) into every projection")


@cli.group()
def rules() -> None:
    """Watch rules: list, preview, explain and backfill."""


@rules.command("list")
@pass_app
def rules_list(app: App) -> None:
    """The configured rules, with their recorded version and match count."""
    from monitor.readmodels.tables import rule_rows

    with app.store() as store, store.reading() as conn:
        recorded = rule_rows(conn)
    table = Table(box=None, pad_edge=False)
    for column in ("rule", "version", "enabled", "schedule", "channels", "matches", "query"):
        table.add_column(column)
    for rule in app.settings.rules:
        row = recorded.get(rule.name, {})
        version = str(row.get("version", "-"))
        if row and (row["query"], row["schedule"]) != (rule.query, rule.schedule):
            version += " (changed: recorded at the next run)"
        table.add_row(
            rule.name,
            version,
            "yes" if rule.enabled else "no",
            rule.schedule,
            ", ".join(rule.channels),
            str(row.get("matches", 0)),
            rule.query,
        )
    out = Console(highlight=False)
    # Piped output has no terminal width to fit: do not cut rule names and queries short.
    (out if out.is_terminal else Console(highlight=False, width=240)).print(table)


@rules.command("test")
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=20, help="Print at most N matches.")
@pass_app
def rules_test(app: App, query: str, limit: int) -> None:
    """Run QUERY over every stored document and print what it matches (a backfill preview)."""
    from monitor.readmodels.tables import count_documents, stored_documents
    from monitor.rules.matcher import Matcher
    from monitor.rules.rulebook import lexicon_for
    from monitor.rules.ruleset import RuleSet, compile_query

    lexicon = lexicon_for(app.settings)
    matcher = Matcher(RuleSet.build([compile_query(query, lexicon, name="test")]), lexicon)
    shown = total = seen = 0
    with app.store() as store, store.reading() as conn, _progress("matching") as advance:
        advance.total(count_documents(conn))
        for document in stored_documents(conn):
            seen += 1
            advance(1)
            for match in matcher.match(document):
                total += 1
                if shown < limit:
                    shown += 1
                    _print_match(document, match)
    click.echo(
        f"{total} of {seen} stored document(s) match"
        + (f" ({shown} shown)" if total > shown else "")
    )


@rules.command("explain")
@click.argument("rule")
@click.argument("document_id")
@pass_app
def rules_explain(app: App, rule: str, document_id: str) -> None:
    """Why DOCUMENT_ID did or did not match RULE, word by word."""
    from monitor.readmodels.tables import stored_documents
    from monitor.rules.analysis import analyse
    from monitor.rules.explain import explain
    from monitor.rules.rulebook import lexicon_for
    from monitor.rules.ruleset import compile_query

    configured = {r.name: r for r in app.settings.rules}
    if rule not in configured:
        raise UsageError(f"no rule named {rule!r}; configured: {', '.join(configured) or 'none'}")
    with app.store() as store, store.reading() as conn:
        found = list(stored_documents(conn, ids=[document_id]))
    if not found:
        raise UsageError(f"no stored document with id {document_id!r} (see 'monitor events')")
    document = found[0]
    lexicon = lexicon_for(app.settings)
    compiled = compile_query(configured[rule].query, lexicon, name=rule)
    doc = analyse(document.title, document.text, document.language, lexicon)
    click.echo(f"{rule} on {document_id} ({document.source}): {document.title}")
    for line in explain(compiled, doc):
        click.echo(line)


@rules.command("backfill")
@click.argument("rule")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only documents stored since DATE."
)
@pass_app
def rules_backfill(app: App, rule: str, since: Any) -> None:
    """Record RULE's matches among documents stored before it existed (marked as backfill)."""
    from monitor.app.backfill import backfill

    configured = {r.name: r for r in app.settings.rules}
    if rule not in configured:
        raise UsageError(f"no rule named {rule!r}; configured: {', '.join(configured) or 'none'}")
    with app.store() as store, _progress("backfilling") as advance:
        report = backfill(store, app.settings, rule, since=since, on_document=lambda: advance(1))
    click.echo(
        f"{rule}: {report.matched} new match(es) recorded as backfill "
        f"among {report.documents} document(s); {report.already} already matched"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Feeds' health and schedule, pending and abandoned deliveries, the daemon's heartbeat."""
    from datetime import UTC, datetime

    from monitor.app.status import load_heartbeat, status_command_output

    heartbeat = load_heartbeat(app.settings.path(app.settings.daemon.heartbeat))
    with app.store() as store:
        output = status_command_output(
            store, app.settings, datetime.now(UTC), as_json, heartbeat=heartbeat
        )
    click.echo(output, nl=False)


@cli.group(invoke_without_command=True)
@click.option(
    "--state",
    type=click.Choice(["pending", "delivered", "abandoned"]),
    help="Only digests in this state.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, help="At most N digests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def deliveries(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """Digests and their delivery state, newest first; 'retry ID' retries an abandoned one."""
    if ctx.invoked_subcommand is not None:
        return
    from alerts.outbox.service import list_deliveries

    app = ctx.find_object(App)
    assert app is not None
    with app.store() as store, store.reading() as conn:
        rows = list_deliveries(conn, state=state, limit=limit)
    if as_json:
        for row in rows:
            sys.stdout.buffer.write(orjson.dumps(row, default=str) + b"\n")
        return
    table = Table(box=None, pad_edge=False)
    for column in (
        "digest",
        "created (UTC)",
        "rule",
        "channel",
        "state",
        "docs",
        "tries",
        "next / done",
        "last error",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["digest_id"][:8],
            f"{row['created_at']:%Y-%m-%d %H:%M}",
            row["rule"],
            row["channel"],
            _state(row),
            str(row["documents"]),
            str(row["total_attempts"]),
            _when(row),
            f"{row['last_category']}: {row['last_error']}" if row["last_error"] else "",
        )
    out = Console(highlight=False)
    (out if out.is_terminal else Console(highlight=False, width=240)).print(table)
    if not rows:
        click.echo("no digests yet")


def _state(row: dict[str, Any]) -> str:
    if row["state"] == "pending" and row["next_attempt_at"] is None:
        return "held (channel disabled)"
    return str(row["state"])


def _when(row: dict[str, Any]) -> str:
    stamp = row["delivered_at"] if row["state"] == "delivered" else row["next_attempt_at"]
    return "" if stamp is None else f"{stamp:%Y-%m-%d %H:%M:%S}"


@deliveries.command("retry")
@click.argument("digest_id")
@pass_app
def deliveries_retry(app: App, digest_id: str) -> None:
    """Try DIGEST_ID (an abandoned or waiting digest; a prefix is enough) again now."""
    from alerts.outbox.service import request_retry
    from monitor.app.once import preflight
    from monitor.documents.recording import Recorder

    preflight(app.settings, str(app.config_file))
    with app.store() as store:
        row, attempts = request_retry(Recorder(store), app.settings, digest_id)
    if not attempts:
        click.echo(f"digest {row['digest_id']}: retry recorded; not attempted now")
        return
    outcome = attempts[0].outcome
    if outcome.ok:
        click.echo(f"digest {row['digest_id']} -> {row['channel']}: delivered {outcome.detail}")
    else:
        click.echo(
            f"digest {row['digest_id']} -> {row['channel']}: failed again: "
            f"{outcome.category}: {outcome.message} (retried on its schedule)",
            err=True,
        )
        sys.exit(1)


def _print_match(document: Any, match: Any) -> None:
    from monitor.rules.snippets import mark

    click.echo(f"{document.document_id}  {document.language}  {document.source}  {document.title}")
    for snippet in match.snippets:
        click.echo(f"    {snippet['field']}: {mark(snippet, '[', ']')}")


def _event_line(event: StoredEvent) -> str:
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


class _Advance:
    """Moves a progress bar; does nothing when there is none."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.task = progress.add_task("", total=None) if progress else None

    def __call__(self, n: int = 1) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)

    def total(self, total: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, total=total)


@contextmanager
def _progress(label: str) -> Iterator[_Advance]:
    """A progress bar on a terminal; nothing when stderr is a pipe or a file."""
    if not err.is_terminal:
        yield _Advance()
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        yield _Advance(progress)


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
    except QueryError as error:
        click.echo(f"monitor: bad query: {error}", err=True)
        sys.exit(2)
    except MonitorError as error:
        click.echo(f"monitor: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
