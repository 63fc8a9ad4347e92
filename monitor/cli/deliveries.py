"""``monitor deliveries``: digests and their delivery state; ``deliveries retry ID``."""

from __future__ import annotations

import sys

import click
import orjson
from rich.table import Table

from alerts.outbox.folds import DELIVERED, STATES
from alerts.outbox.queries import DeliveryRecord, list_deliveries
from monitor.cli.context import App, pass_app
from monitor.cli.output import print_table

COLUMNS = (
    "digest",
    "created (UTC)",
    "rule",
    "channel",
    "state",
    "docs",
    "tries",
    "next / done",
    "last error",
)


@click.group(invoke_without_command=True)
@click.option("--state", type=click.Choice(STATES), help="Only digests in this state.")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="At most N digests.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def deliveries(ctx: click.Context, state: str | None, limit: int, as_json: bool) -> None:
    """Digests and their delivery state, newest first; 'retry ID' retries an abandoned one."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    with app.log() as recorder, recorder.store.reading() as conn:
        records = list_deliveries(conn, state=state, limit=limit)
    if as_json:
        for record in records:
            sys.stdout.buffer.write(orjson.dumps(record, default=str) + b"\n")
        return
    table = Table(box=None, pad_edge=False)
    for column in COLUMNS:
        table.add_column(column)
    for record in records:
        table.add_row(
            record.digest_id[:8],
            f"{record.created_at:%Y-%m-%d %H:%M}",
            record.rule,
            record.channel,
            "held (channel disabled)" if record.held else record.state,
            str(record.documents),
            str(record.total_attempts),
            _when(record),
            f"{record.last_category}: {record.last_error}" if record.last_error else "",
        )
    print_table(table)
    if not records:
        click.echo("no digests yet")


def _when(record: DeliveryRecord) -> str:
    stamp = record.delivered_at if record.state == DELIVERED else record.next_attempt_at
    return "" if stamp is None else f"{stamp:%Y-%m-%d %H:%M:%S}"


@deliveries.command("retry")
@click.argument("digest_id")
@pass_app
def deliveries_retry(app: App, digest_id: str) -> None:
    """Try DIGEST_ID (an abandoned or waiting digest; a prefix is enough) again now."""
    # The channels (httpx, smtplib, Jinja2) load for a retry only: listing needs none of them.
    from alerts.channels import Channels
    from alerts.outbox.commands import request_retry
    from monitor.app.preflight import preflight

    preflight(app.settings, str(app.config_file))
    with app.log() as recorder:
        record, attempts = request_retry(recorder, Channels.of(app.settings), digest_id)
    if not attempts:
        click.echo(f"digest {record.digest_id}: retry recorded; not attempted now")
        return
    outcome = attempts[0].outcome
    if outcome.ok:
        click.echo(f"digest {record.digest_id} -> {record.channel}: delivered {outcome.detail}")
    else:
        click.echo(
            f"digest {record.digest_id} -> {record.channel}: failed again: "
            f"{outcome.category}: {outcome.message} (retried on its schedule)",
            err=True,
        )
        sys.exit(1)
