"""``monitor status``: feeds' health and schedule, the outbox backlog, the daemon's heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from monitor.app.status import load_heartbeat
from monitor.app.status_view import status_command_output
from monitor.cli.context import App, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Feeds' health and schedule, pending and abandoned deliveries, the daemon's heartbeat."""
    heartbeat = load_heartbeat(app.settings.path(app.settings.daemon.heartbeat))
    with app.log() as recorder:
        output = status_command_output(
            recorder.store, app.settings, datetime.now(UTC), as_json, heartbeat=heartbeat
        )
    click.echo(output, nl=False)
