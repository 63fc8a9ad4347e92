"""``monitor run`` (the daemon, or one cycle with ``--once``) and ``monitor ingest``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from monitor.app.logs import configure_logging
from monitor.app.once import CycleReport, run_once
from monitor.app.preflight import preflight
from monitor.app.run_lock import run_lock
from monitor.cli.context import App, pass_app
from monitor.cli.output import progress
from monitor.rules.matcher import activate
from monitor.rules.rulebook import build_matcher, sync_rules
from monitor.seeds.ingest import SeedReport, ingest_seeds


@click.command()
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
    if not once:
        # A service logs what it does (INFO) unless asked for less with -q… or more with -vv.
        configure_logging(min(app.log_level, logging.INFO), log_format)  # type: ignore[arg-type]
        preflight(app.settings, str(app.config_file))
        # The daemon (its scheduler, the web console) loads for `run` only, not `run --once`.
        from monitor.app.daemon.service import Daemon

        with run_lock(app.settings.store_url, "run"):
            Daemon(app.config_file, app.settings).run()
        return
    if log_format == "json":
        configure_logging(app.log_level, "json")
    settings = app.settings
    preflight(settings, str(app.config_file))
    with run_lock(settings.store_url, "run --once"):
        report = run_once(settings)
    _print_cycle(report, len(settings.rules))


def _print_cycle(report: CycleReport, rules: int) -> None:
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
    click.echo(f"rules: {rules} rule(s), {matched} new match(es)")
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
    _print_seed_failures(report.seeds)


def _print_seed_failures(report: SeedReport) -> None:
    for failure in report.failed:
        click.echo(f"  {failure.display}: {failure.category}: {failure.message}", err=True)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_app
def ingest(app: App, paths: tuple[Path, ...]) -> None:
    """Ingest documents from files or folders now (.txt .md .html .json .jsonl)."""
    with app.log() as recorder, progress("reading") as advance:
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
    _print_seed_failures(report)
    if report.failed and not report.documents:
        sys.exit(1)
