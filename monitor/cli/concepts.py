"""``monitor concepts show``: what a rule word resolves to, and where each form came from."""

from __future__ import annotations

import click

from monitor.cli.context import App, pass_app
from monitor.rules.inspection import ConceptView, WordView, inspect
from monitor.rules.lexicon_cache import default_lexicon
from monitor.rules.registry import ANY, shipped, with_changes
from monitor.rules.rulebook import lexicon_for


@click.group()
def concepts() -> None:
    """The concept registry: what rule words name, in every language."""


@concepts.command("show")
@click.argument("word")
@click.option(
    "--lang",
    "languages",
    multiple=True,
    metavar="L",
    help="Only these languages (ISO 639-1); repeat it or separate codes with commas.",
)
@pass_app
def concepts_show(app: App, word: str, languages: tuple[str, ...]) -> None:
    """What WORD names in a rule: each concept's id and kind, and per language its names,
    forms, demonyms and adjectives with their origin. Changes in config.toml's [aliases]
    and [concepts] are included."""
    codes = frozenset(code.strip() for item in languages for code in item.split(",") if code)
    if app.config_file.exists():
        settings = app.settings
        changes = {key: change.model_dump() for key, change in settings.concepts.items()}
        registry = with_changes(shipped(), settings.aliases, changes)
        lexicon = lexicon_for(settings)
    else:  # the registry needs no configuration: show it as shipped
        click.echo(f"no config file at {app.config_file}: the registry as shipped", err=True)
        registry, lexicon = shipped(), default_lexicon()
    found = inspect(word, lexicon, registry, codes)
    if isinstance(found, WordView):
        _print_word(found)
        return
    for view in found:
        _print_concept(view)


def _print_concept(view: ConceptView) -> None:
    click.echo(f"{view.id}  {view.kind}  {view.label}")
    if view.description and view.description != view.label:
        click.echo(f"  {view.description}")
    if view.capital:
        click.echo(f"  capital: {view.capital}")
    if view.country:
        click.echo(f"  country: {view.country}")
    for language, table in view.forms.items():
        shown = "any" if language == ANY else language
        for number, (category, forms) in enumerate(table.items()):
            label = shown if number == 0 else ""
            click.echo(f"  {label:<4} {category:<10} {_by_origin(forms)}")
    if view.stems:
        stems = "; ".join(f"{language} {', '.join(s)}" for language, s in view.stems.items())
        click.echo(f"  stems (Snowball, matched at run time): {stems}")
    for line in view.rules:
        click.echo(f"  ambiguity: {line}")
    click.echo("")


# Maintained data first, then reviewed data and the user's, then what tools generated.
_ORIGINS = ("cldr", "cldr-language", "cldr-currency", "cldr-city", "countrynames", "geonames",
            "reviewed", "overlay", "config", "morfeusz2", "pymorphy3", "rule:compound")  # fmt: skip


def _by_origin(forms: list[tuple[str, str]]) -> str:
    """ "Ukraina (cldr); Ukrainy, Ukrainie (morfeusz2)": forms grouped by where they came from."""
    grouped: dict[str, list[str]] = {}
    for text, origin in forms:
        grouped.setdefault(origin, []).append(text)
    order = sorted(grouped, key=lambda o: _ORIGINS.index(o) if o in _ORIGINS else len(_ORIGINS))
    return "; ".join(f"{', '.join(grouped[origin])} ({origin})" for origin in order)


def _print_word(view: WordView) -> None:
    term = view.term
    click.echo(f"{view.word!r} names no concept: a rule matches it by its own forms")
    if view.hint:
        click.echo(f"  ({view.hint})")
    click.echo(f"  as written: {term.folded}, without diacritics: {term.stripped}")
    for language, forms in term.inflections.items():
        made_by = "morfeusz2" if language == "pl" else "pymorphy3"
        click.echo(f"  {language:<4} inflection {', '.join(sorted(forms))} ({made_by})")
    if term.stems:
        stems = ", ".join(f"{language} {stem}" for language, stem in term.stems.items())
        click.echo(f"  stems (Snowball): {stems}")
    if term.name:
        click.echo(
            f"  as a name: any capitalised word whose transliteration key starts with "
            f"{term.name!r} (anyascii) and adds at most a few letters"
        )
    click.echo(
        "forms of a concept can be added in config.toml: [aliases] or [concepts.<id>]", err=True
    )
