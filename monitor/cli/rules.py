"""``monitor rules``: list here; test (a backfill preview), explain and backfill in
``rule_tools``, loaded when they run (they need the lexicon: ``list`` does not)."""

from __future__ import annotations

import click
from rich.table import Table

from monitor.cli.context import App, pass_app
from monitor.cli.lazy import LazyGroup
from monitor.cli.output import print_table
from monitor.readmodels.rules import rule_records

TOOLS = {
    "test": "monitor.cli.rule_tools:rules_test",
    "explain": "monitor.cli.rule_tools:rules_explain",
    "backfill": "monitor.cli.rule_tools:rules_backfill",
}
SUMMARIES = {
    "test": "Run QUERY over every stored document and print what it matches (a backfill preview).",
    "explain": "Why DOCUMENT_ID did or did not match RULE, word by word.",
    "backfill": "Record RULE's matches among documents stored before it existed (marked as backfill).",
}


@click.group(cls=LazyGroup, lazy=TOOLS, summaries=SUMMARIES)
def rules() -> None:
    """Watch rules: list, preview, explain and backfill."""


@rules.command("list")
@pass_app
def rules_list(app: App) -> None:
    """The configured rules, with their recorded version and match count."""
    with app.log() as recorder, recorder.store.reading() as conn:
        recorded = rule_records(conn)
    table = Table(box=None, pad_edge=False)
    for column in ("rule", "version", "enabled", "schedule", "channels", "matches", "query"):
        table.add_column(column)
    for rule in app.settings.rules:
        record = recorded.get(rule.name)
        version = "-" if record is None else str(record.version)
        if record and (record.query, record.schedule) != (rule.query, rule.schedule):
            version += " (changed: recorded at the next run)"
        table.add_row(
            rule.name,
            version,
            "yes" if rule.enabled else "no",
            rule.schedule,
            ", ".join(rule.channels),
            str(record.matches if record else 0),
            rule.query,
        )
    print_table(table)
