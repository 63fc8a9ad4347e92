"""The configured rules, kept on record and compiled for matching.

Rules are events too: when ``config.toml`` gains a rule or changes one (its
query, channels, schedule or enabled flag) the log gets ``RuleDefined`` with
the next version; when a rule is dropped, ``RuleRemoved``. Every
``RuleMatched`` names the version that made it, so a match can always be
traced to the query text behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.config.settings import RuleSettings, Settings
from monitor.eventlog.events import Event, RuleDefined, RuleRemoved
from monitor.eventlog.recorder import Recorder
from monitor.readmodels.rules import RuleRecord, rule_records
from monitor.rules.analysis import forget_words
from monitor.rules.inflection_cache import prepare
from monitor.rules.lemmas import configure
from monitor.rules.lexicon import Lexicon
from monitor.rules.lexicon_cache import build_lexicon, lexicon_key
from monitor.rules.matcher import Matcher
from monitor.rules.query import And, Near, Node, Not, Or, Title, Word, parse_query
from monitor.rules.ruleset import RuleSet, compile_query, has_own_forms
from monitor.rules.text import words


def plan_rule_events(
    configured: Sequence[RuleSettings], recorded: Mapping[str, RuleRecord]
) -> list[Event]:
    """The rule events that bring the log in line with the configuration (pure)."""
    events: list[Event] = []
    for rule in configured:
        row = recorded.get(rule.name)
        current = (rule.query, tuple(rule.channels), rule.schedule, rule.enabled)
        recorded_as = (
            None
            if row is None or row.removed
            else (row.query, row.channels, row.schedule, row.enabled)
        )
        if recorded_as == current:
            continue
        version = row.version + 1 if row is not None else 1
        events.append(
            RuleDefined(
                rule=rule.name,
                version=version,
                query=rule.query,
                channels=list(rule.channels),
                schedule=rule.schedule,
                enabled=rule.enabled,
            )
        )
    names = {rule.name for rule in configured}
    for name, row in sorted(recorded.items()):
        if name not in names and not row.removed:
            events.append(RuleRemoved(rule=name, version=row.version))
    return events


def sync_rules(recorder: Recorder, configured: Sequence[RuleSettings]) -> dict[str, int]:
    """Record rule changes; returns each configured rule's current version."""
    with recorder.store.reading() as conn:
        recorded = rule_records(conn)
    events = plan_rule_events(configured, recorded)
    if events:
        recorder.append(events)
        with recorder.store.reading() as conn:
            recorded = rule_records(conn)
    return {rule.name: recorded[rule.name].version for rule in configured}


def lexicon_fingerprint(settings: Settings) -> str:
    """What the words of a document are analysed with under ``settings``: the registry and
    the user's changes to it, and the lemma languages (the search index is valid for one)."""
    changes = {key: change.model_dump() for key, change in settings.concepts.items()}
    languages = ",".join(sorted(settings.matching.lemma_languages))
    return f"{lexicon_key(settings.aliases, changes)}:{languages}"


def lexicon_for(settings: Settings) -> Lexicon:
    """The lexicon with the user's ``[aliases]`` and ``[concepts]``; also switches on the
    configured lemma languages."""
    # Polish and Russian forms worked out outside this process (monitor.rules.inflection_cache):
    # the aliases' for compiling the lexicon, then the rule words' that are not concepts.
    prepare(
        _single([*settings.aliases, *(w for found in settings.aliases.values() for w in found)])
    )
    changed = configure(frozenset(settings.matching.lemma_languages))
    changes = {key: change.model_dump() for key, change in settings.concepts.items()}
    lexicon = build_lexicon(settings.aliases, changes)
    if changed:
        forget_words(lexicon)  # the words' analyses hold lemmas of the previous languages
    prepare(word for word in rule_words(settings) if has_own_forms(word, lexicon))
    return lexicon


def rule_words(settings: Settings) -> list[str]:
    """The single words of the enabled rules' queries."""
    found: list[str] = []
    for rule in settings.rules:
        if rule.enabled:
            found.extend(_query_words(parse_query(rule.query)))
    return _single(found)


def _single(found: list[str]) -> list[str]:
    return [word for word in found if len(words(word)) == 1]


def _query_words(node: Node) -> list[str]:
    if isinstance(node, Word):
        return [node.text]
    if isinstance(node, Not | Title):
        return _query_words(node.child)
    if isinstance(node, And | Or | Near):
        return [word for child in node.children for word in _query_words(child)]
    return []  # phrases, prefixes and lang: never inflected


def build_matcher(settings: Settings, versions: Mapping[str, int]) -> Matcher:
    """Every enabled rule compiled once, with the version it is recorded under."""
    lexicon = lexicon_for(settings)
    compiled = [
        compile_query(rule.query, lexicon, name=rule.name, version=versions.get(rule.name, 0))
        for rule in settings.rules
        if rule.enabled
    ]
    return Matcher(RuleSet.build(compiled), lexicon, lexicon_fingerprint(settings))
