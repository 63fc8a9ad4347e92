"""``monitor feeds``: add a feed from a page address, import and export OPML.

Each edits ``config.toml`` in place (comments and order kept, the result checked as a
start would check it); a running daemon picks the change up through its reload.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from monitor.app.subscriptions import add_feed, export_opml, find_feeds, import_opml
from monitor.cli.context import App, pass_app
from monitor.errors import UsageError


@click.group()
def feeds() -> None:
    """Subscriptions: add a feed by its site's address, import or export OPML."""


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="The feed's name in config.toml (default: from its title).")
@click.option(
    "--pick",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which of the feeds a page names to add.",
)
@pass_app
def feeds_add(app: App, url: str, name: str | None, pick: int) -> None:
    """Add the feed at URL, or the one the page at URL names (its feed links, else the
    usual feed addresses). The address is yours, as in config.toml: it may be local."""
    settings = app.settings
    found = asyncio.run(find_feeds(settings, url, trusted=True))
    added = add_feed(app.config_file, settings, found, pick=pick - 1, name=name)
    click.echo(
        f"added feed {added.name!r}: {added.url}" + (f" ({added.title})" if added.title else "")
    )
    if added.others:
        click.echo("the page names other feeds too (add one with --pick N):")
        for number, other in enumerate(found, start=1):
            if other.url != added.url:
                click.echo(f"  {number}. {other.url}  {other.title}")


@feeds.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def feeds_import(app: App, file: Path) -> None:
    """Add every feed of an OPML FILE that config.toml does not have yet."""
    try:
        data = file.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error}") from None
    report = import_opml(app.config_file, app.settings, data)
    for name, url in report.added:
        click.echo(f"added {name}: {url}")
    click.echo(f"{len(report.added)} feed(s) added, {len(report.already)} already configured")


@feeds.command("export")
@pass_app
def feeds_export(app: App) -> None:
    """The configured feeds as OPML 2.0 on standard output."""
    sys.stdout.write(export_opml(app.settings))
