"""``monitor rules test``, ``explain`` and ``backfill``: the rule commands that need the
lexicon and the matcher (``monitor rules list`` does not, and loads none of this)."""

from __future__ import annotations

from datetime import datetime

import click

from monitor.app.backfill import backfill
from monitor.cli.context import App, pass_app
from monitor.cli.output import progress
from monitor.config.settings import RuleSettings
from monitor.documents.shapes import Document
from monitor.errors import UsageError
from monitor.readmodels.documents import count_documents, stored_documents
from monitor.rules.analysis import analyse
from monitor.rules.explain import explain
from monitor.rules.matcher import Match
from monitor.rules.rulebook import lexicon_fingerprint, lexicon_for
from monitor.rules.ruleset import compile_query
from monitor.rules.snippets import mark
from monitor.search.preview import Searcher


@click.command("test")
@click.argument("query")
@click.option("--limit", type=click.IntRange(min=1), default=20, help="Print at most N matches.")
@pass_app
def rules_test(app: App, query: str, limit: int) -> None:
    """Run QUERY over every stored document and print what it matches (a backfill preview).

    The search index proposes the candidates (filed first where it lacks documents); the
    rules' own matcher decides on each."""
    settings = app.settings
    with app.log() as recorder:
        searcher = Searcher(recorder.store, lexicon_for(settings), lexicon_fingerprint(settings))
        searcher.compile(query)  # a bad query fails before any indexing
        with progress("indexing") as advance:
            searcher.catch_up(advance)
        result = searcher.preview(query, limit=limit)
        with recorder.store.reading() as conn:
            stored = count_documents(conn)
    for document, match in result.matches:
        _print_match(document, match)
    shown = len(result.matches)
    read = (
        f"the index proposed {result.candidates}"
        if result.indexed
        else "the query has no word to look up, so every one was read"
    )
    click.echo(
        f"{result.total} of {stored} stored document(s) match"
        + (f" ({shown} shown)" if result.total > shown else "")
        + f"; {read} ({result.elapsed_ms / 1000:.2f} s)"
    )


@click.command("explain")
@click.argument("rule")
@click.argument("document_id")
@pass_app
def rules_explain(app: App, rule: str, document_id: str) -> None:
    """Why DOCUMENT_ID did or did not match RULE, word by word."""
    configured = _configured(app, rule)
    with app.log() as recorder, recorder.store.reading() as conn:
        found = list(stored_documents(conn, ids=[document_id]))
    if not found:
        raise UsageError(f"no stored document with id {document_id!r} (see 'monitor events')")
    document = found[0]
    lexicon = lexicon_for(app.settings)
    compiled = compile_query(configured.query, lexicon, name=rule)
    doc = analyse(document.title, document.text, document.language, lexicon)
    click.echo(f"{rule} on {document_id} ({document.source}): {document.title}")
    for line in explain(compiled, doc):
        click.echo(line)


@click.command("backfill")
@click.argument("rule")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only documents stored since DATE."
)
@pass_app
def rules_backfill(app: App, rule: str, since: datetime | None) -> None:
    """Record RULE's matches among documents stored before it existed (marked as backfill)."""
    _configured(app, rule)
    with app.log() as recorder, progress("backfilling") as advance:
        report = backfill(recorder, app.settings, rule, since=since, on_document=lambda: advance(1))
    click.echo(
        f"{rule}: {report.matched} new match(es) recorded as backfill "
        f"among {report.documents} document(s); {report.already} already matched"
    )


def _configured(app: App, rule: str) -> RuleSettings:
    configured = {r.name: r for r in app.settings.rules}
    if rule not in configured:
        raise UsageError(f"no rule named {rule!r}; configured: {', '.join(configured) or 'none'}")
    return configured[rule]


def _print_match(document: Document, match: Match) -> None:
    click.echo(f"{document.document_id}  {document.language}  {document.source}  {document.title}")
    for snippet in match.snippets:
        click.echo(f"    {snippet['field']}: {mark(snippet, '[', ']')}")
