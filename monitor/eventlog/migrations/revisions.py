"""Alembic, driven on a connection we hand it: the event log's numbered revisions.

No ``env.py`` and no ``alembic.ini``: a ``ScriptDirectory`` over this package's folder
loads the files of ``versions/``, a ``MigrationContext`` runs them on the caller's
connection inside the caller's transaction, and ``Operations.context`` points
``alembic.op`` at it. That is what ``alembic upgrade`` does through ``env.py``, without a
config file to find or a working directory to depend on. Only the slow path of
:func:`monitor.eventlog.migrations.migrate` imports this module: Alembic takes longer to import
than an up-to-date database takes to check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection


@functools.cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(Path(__file__).parent))


def current(conn: Connection) -> str | None:
    """The revision the event log is at (None: not under migrations yet)."""
    return _context(conn).get_current_revision()


def stamp(conn: Connection, revision: str) -> None:
    """Record ``revision`` as applied without running anything."""
    _context(conn).stamp(scripts(), revision)


def upgrade(conn: Connection, to: str = "heads") -> None:
    """Run the revisions up to ``to`` on ``conn``, in the caller's transaction."""
    _run(conn, lambda heads: scripts()._upgrade_revs(to, heads))


def downgrade(conn: Connection, to: str) -> None:
    """Undo the revisions down to ``to`` (``"base"``: all of them); tests use it."""
    _run(conn, lambda heads: scripts()._downgrade_revs(to, heads))


def _run(conn: Connection, steps: Callable[[Any], list[RevisionStep]]) -> None:
    # alembic.command.upgrade and downgrade build their steps with these same private
    # ScriptDirectory methods; tests/test_migrations.py runs both ways on every backend.
    def plan(heads: Any, _context: MigrationContext) -> list[RevisionStep]:
        return steps(heads)

    context = _context(conn, fn=plan)
    with Operations.context(context):
        context.run_migrations()


def _context(conn: Connection, **opts: Any) -> MigrationContext:
    # The connection is already in a transaction, so Alembic opens none of its own: the
    # whole migration commits or rolls back as one.
    return MigrationContext.configure(connection=conn, opts={"script": scripts(), **opts})
