"""``python -m monitor``, and the ``monitor`` command: the command line, with one thing first.

When the command starts the daemon (``monitor [options] run`` without ``--once``), stop
and reload signals are held from the first statement, before the seconds of imports and
start-up, until the daemon can act on them (``monitor/app/signals.py``).
"""

from __future__ import annotations

import sys


def main() -> None:
    if _starts_the_daemon(sys.argv[1:]):
        from monitor.app.signals import hold

        hold()
    from monitor.cli import main as command_line

    command_line()


def _starts_the_daemon(args: list[str]) -> bool:
    """Whether ``args`` run the daemon: the command after the global options is ``run``,
    without ``--once`` or a request for help."""
    rest = iter(args)
    for arg in rest:
        if arg == "--config":
            next(rest, None)  # its value
        elif not arg.startswith("-"):
            tail = list(rest)
            return arg == "run" and not {"--once", "--help", "-h"} & set(tail)
    return False


if __name__ == "__main__":
    main()
