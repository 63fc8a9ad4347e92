"""``monitor web``: the web console and API alone, for installations that run
``monitor run --once`` from a timer (``monitor run`` serves them itself when
``[web] listen`` is set)."""

from __future__ import annotations

import logging
import os
import signal
import threading

import click

from monitor.app.logs import configure_logging
from monitor.cli.context import App, pass_app
from monitor.errors import ConfigError
from monitor.web.exposure import exposure_problems

DEFAULT_LISTEN = "127.0.0.1:8080"


@click.command()
@click.option(
    "--listen", metavar="HOST:PORT", help=f"Default: [web] listen, else {DEFAULT_LISTEN}."
)
@pass_app
def web(app: App, listen: str | None) -> None:
    """Serve the console and the API until SIGTERM or SIGINT."""
    settings = app.settings
    where = (listen, "--listen") if listen else settings.web_listen or (DEFAULT_LISTEN, "--listen")
    problems = exposure_problems(where, os.environ, str(app.config_file))
    if problems:
        raise ConfigError(problems)
    configure_logging(min(app.log_level, logging.INFO), "text")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # Imported here: the rest of the command line does not need the web stack.
    from monitor.web.app import make_app
    from monitor.web.context import WebContext
    from monitor.web.server import WebServer

    context = WebContext(app.config_file)
    server = WebServer(make_app(context), *where)
    server.start()
    context.warm()
    click.echo(f"monitor web: console and API on {server.url}", nl=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
        context.close()
