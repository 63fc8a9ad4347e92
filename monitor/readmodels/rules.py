"""Rules as recorded (definitions, removals, match counts) and the matches already made."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from monitor.eventlog.store import in_chunks
from monitor.readmodels.tables import matches_table, rules_table


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """One ``rules`` row: a rule's latest recorded definition (see ``fold_rule``)."""

    rule: str
    version: int
    query: str
    channels: tuple[str, ...]
    # Channel -> the seq from which its matches go to it: a channel added to a rule later
    # gets the news from then on, not the rule's whole history.
    channel_since: Mapping[str, int]
    schedule: str
    enabled: bool
    removed: bool
    matches: int
    defined_at: datetime
    last_seq: int

    @classmethod
    def from_row(cls, row: RowMapping) -> RuleRecord:
        values = {name: row[name] for name in _FIELDS}
        return cls(**values | {"channels": tuple(row["channels"])})


_FIELDS = tuple(f.name for f in fields(RuleRecord))


def rule_records(conn: Connection) -> dict[str, RuleRecord]:
    """Every rule ever defined (removed ones too), by name."""
    rows = conn.execute(sa.select(rules_table)).mappings()
    return {row["rule"]: RuleRecord.from_row(row) for row in rows}


def matched_pairs(conn: Connection, document_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The (rule, document_id) pairs already matched among ``document_ids``."""
    found: set[tuple[str, str]] = set()
    column = matches_table.c
    for chunk in in_chunks(document_ids):
        query = sa.select(column.rule, column.document_id).where(column.document_id.in_(chunk))
        found.update((rule, doc) for rule, doc in conn.execute(query))
    return found
