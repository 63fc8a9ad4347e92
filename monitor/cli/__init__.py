"""The command line: parse arguments, call the application, print.

Exit codes (a contract): 0 success, 2 bad usage or invalid configuration,
1 any other failure. Nothing here decides anything the rest of the package
does not already decide. One module per command or group of commands;
``context`` holds what they share (the config file, the settings, the log),
``output`` how they print. A command's module is imported when that command
runs (see :data:`COMMANDS` and :mod:`monitor.cli.lazy`), so ``monitor events`` does not
pay for loading the feed pipeline, the daemon and the outbox.
"""

from __future__ import annotations

import logging
import sys

import click

from monitor.app.logs import configure_logging
from monitor.cli.context import App
from monitor.cli.lazy import LazyGroup
from monitor.errors import ConfigError, MonitorError, QueryError, UsageError

# Command -> "module:attribute" of its click command.
COMMANDS = {
    "run": "monitor.cli.running:run",
    "ingest": "monitor.cli.running:ingest",
    "events": "monitor.cli.events:events",
    "replay": "monitor.cli.events:replay",
    "rules": "monitor.cli.rules:rules",
    "concepts": "monitor.cli.concepts:concepts",
    "status": "monitor.cli.status:status",
    "deliveries": "monitor.cli.deliveries:deliveries",
    "feeds": "monitor.cli.feeds:feeds",
    "web": "monitor.cli.web:web",
}


# Command -> its summary in `monitor --help`: the first line of its docstring.
SUMMARIES = {
    "concepts": "The concept registry: what rule words name, in every language.",
    "deliveries": "Digests and their delivery state, newest first; 'retry ID' retries an abandoned one.",
    "events": "Print the event log, oldest first.",
    "feeds": "Subscriptions: add a feed by its site's address, import or export OPML.",
    "ingest": "Ingest documents from files or folders now (.txt .md .html .json .jsonl).",
    "replay": "Drop every projection and rebuild it from the event log, the search index too.",
    "rules": "Watch rules: list, preview, explain and backfill.",
    "run": "The daemon: poll feeds, match rules and send digests on schedule until SIGTERM.",
    "status": "Feeds' health and schedule, pending and abandoned deliveries, the daemon's heartbeat.",
    "web": "Serve the console and the API until SIGTERM or SIGINT.",
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    summaries=SUMMARIES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    configure_logging(level, "text")
    ctx.obj = App(config)
    ctx.obj.log_level = level


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
