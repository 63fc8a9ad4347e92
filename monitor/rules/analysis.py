"""A document read once for every rule: tokens, stems, concept mentions, presearch keys.

A document word names a concept when its form is one of the concept's (any
language; a generated inflection only in its own language), when its form without
diacritics is, when its stem is the stem of one of the concept's names, adjectives or
demonyms in the document's language, or when its lemma is one of them. Names of several
words ("Unia Europejska", "Côte d'Ivoire") are found word by word, and the longest wins:
"Guinea" inside "Papua New Guinea" is not Guinea. Every mention then passes the checks
of :mod:`monitor.rules.ambiguity`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable

from monitor.rules import morphology
from monitor.rules.analysed import Analysis, Mention, WordInfo, positions_of
from monitor.rules.lemmas import lemma
from monitor.rules.lexicon import Exclusion, FormHit, Lexicon, Phrase
from monitor.rules.mentions import Mentions
from monitor.rules.names import is_abjad, name_key, skeleton
from monitor.rules.registry import ANY
from monitor.rules.text import fold, has_unspaced_script, strip_diacritics, words


def analyse(title: str, text: str, language: str, lexicon: Lexicon) -> Analysis:
    """Read a document once; every rule is then evaluated against the result."""
    written_title = words(title)
    written = written_title + words(text)
    folded = _fold_words(written, lexicon.folds)
    if "" in folded:  # a token of combining marks only, which folding leaves empty
        kept = [n for n, word in enumerate(folded) if word]
        title_kept = sum(1 for n in kept if n < len(written_title))
        written_title = written_title[:title_kept]
        written, folded = [written[n] for n in kept], [folded[n] for n in kept]
    positions = positions_of(folded)  # every document needs it: mentions are found by it
    info = _word_infos(lexicon, positions.keys(), language)
    analysis = Analysis(
        language=language,
        title=title,
        text=text,
        title_length=len(written_title),
        folded=folded,
        info=info,
        lexicon=lexicon,
        _words=written,
        _positions=positions,
    )
    _find_mentions(analysis, lexicon)
    return analysis


def _fold_words(written: list[str], folds: dict[str, str]) -> list[str]:
    """Every token folded (:func:`monitor.rules.text.fold`), looked up at C speed in the
    folds of words seen before: documents share most of their words, and sharing one
    string for each lets every later dictionary lookup of it compare by identity."""
    folded: list[str | None] = list(map(folds.get, written))
    if None in folded:
        if len(folds) > WORDS_KEPT:
            folds.clear()
        for index, word in enumerate(folded):
            if word is None:
                written_word = written[index]
                word = fold(written_word)
                folded[index] = folds[written_word] = written_word if word == written_word else word
    return folded  # type: ignore[return-value]  # no None is left


def _word_infos(lexicon: Lexicon, distinct: Iterable[str], language: str) -> dict[str, WordInfo]:
    """Each word's analysis, from the cache where it is there."""
    cache = lexicon.word_cache.setdefault(language, {})
    info = {word: cache.get(word) or word_info(lexicon, word, language) for word in distinct}
    if cache is not lexicon.word_cache.get(language):
        # Emptied on the way (WORDS_KEPT): every word again, into the new cache and indexes.
        info = {word: word_info(lexicon, word, language) for word in distinct}
    return info


def word_info(lexicon: Lexicon, word: str, language: str) -> WordInfo:
    """What ``word`` (folded) is in ``language``: cached on the lexicon, words repeat a lot."""
    cache = lexicon.word_cache.setdefault(language, {})
    found: WordInfo | None = cache.get(word)
    if found is not None:
        return found
    if sum(len(words) for words in lexicon.word_cache.values()) >= WORDS_KEPT:
        forget_words(lexicon)
        cache = lexicon.word_cache.setdefault(language, {})
    plain = strip_diacritics(word)
    plain = word if plain == word else plain  # one string, not two equal ones
    stem = morphology.stem(word, language)
    stem = word if stem == word else stem
    root = _lemma(word, language)
    root = word if root == word else root
    # Names reach across scripts: a word is found by its name key (and in Arabic, Persian or
    # Hebrew by its consonants), which the rule set looks up by its prefixes.
    name = name_key(word) if word[:1].isalpha() else ""
    consonants = skeleton(word) if name and is_abjad(word) else ""
    hits, via = _hits(lexicon, word, language, stem, root)
    starts = _phrase_starts(lexicon, word, language, stem, root)
    found = WordInfo(plain, root, stem, _best_hits(hits, language), via, name, consonants, starts)
    cache[word] = found
    # Every word seen, filed under its lemma and its plain form, so a rule word finds its
    # other forms in a document without the document building indexes of its own.
    # Lists, not sets: most hold one word, and a list of one is a quarter of a set's size.
    if root is not None and root != word:
        _file(lexicon.lemma_forms.setdefault(language, {}), root, word)
    if plain != word:
        _file(lexicon.plain_forms, plain, word)
    if stem is not None:
        _file(lexicon.stem_forms.setdefault(language, {}), stem, word)
    if found.hits or found.starts:
        lexicon.notable.setdefault(language, set()).add(word)
    return found


def _file(index: dict[str, list[str]], key: str, word: str) -> None:
    filed = index.get(key)
    if filed is None:
        index[key] = [word]
    elif word not in filed:
        filed.append(word)


# Words whose analysis is kept, in all languages together: a daemon reading news for months
# sees millions of distinct words, most of them once, and every parse worker keeps its
# own. Filled to the bound with new words, a process grew by 58 MB at 60,000 (95 MB at
# 150,000), caches of decoded registry entries and per-word lookups included.
WORDS_KEPT = 60_000


def forget_words(lexicon: Lexicon) -> None:
    """Drop every word's analysis and the indexes filled with it, all together: an index
    that outlived its words would miss them when they come back."""
    lexicon.word_cache.clear()
    lexicon.lemma_forms.clear()
    lexicon.stem_forms.clear()
    lexicon.plain_forms.clear()
    lexicon.notable.clear()
    lexicon.folds.clear()


def _lemma(word: str, language: str) -> str | None:
    """simplemma's lemma, in the languages that have no dictionary and no stemmer."""
    if language in morphology.GENERATED or language in morphology.SNOWBALL:
        return None
    root = lemma(word, language)
    if root == word:
        # Dictionaries list proper nouns capitalised: "Azerbejdżanu", not "azerbejdżanu".
        root = lemma(word.capitalize(), language) or root
    return root


def _hits(
    lexicon: Lexicon, word: str, language: str, stem: str | None, root: str | None
) -> tuple[tuple[FormHit, ...], str]:
    """What ``word`` names, and how that was found: its form, its form without diacritics,
    its stem, or its lemma."""
    found, by_stripping = lexicon.lookup(word)
    # In a document too short to tell its language, every form counts.
    own = morphology.kin(language) | {ANY} if language != "und" else frozenset()
    if own:
        found = tuple(h for h in found if _counts_in(h, own, word))
    if found and lexicon.removed:
        found = tuple(h for h in found if word not in lexicon.concepts[h.concept].removed)
    if found:
        return found, "diacritics" if by_stripping else "form"
    for bare in morphology.without_clitics(word, language):
        found = tuple(h for h in lexicon.forms.get(bare, ()) if not own or _counts_in(h, own, bare))
        if found:
            return found, "form"
    if stem is not None:
        found = lexicon.stems.get(language, {}).get(stem, ())
        if found:
            return found, "stem"
    if root is not None and root != word:
        hits = lexicon.forms.get(root, ())
        found = tuple(h for h in hits if language in h.languages)
        if found:
            return found, "lemma"
    return (), "form"


# Forms that are common words: they count only in documents of their own languages
# (Czech "Armén" is German "Armen", the poor). Names count in any language.
_COMMON_WORDS = frozenset({"adjective", "demonym", "compound"})


def _counts_in(hit: FormHit, own: frozenset[str], word: str) -> bool:
    """Whether ``hit`` counts in a document of the languages ``own``: a name does, but an
    inflection generated for another language (Polish "Chin" is English "chin"), a common
    word of another language, or another language's acronym of two letters (Lithuanian
    "ES" for the EU is Spanish "es") does not."""
    if hit.restricted or hit.category in _COMMON_WORDS:
        return not hit.languages.isdisjoint(own)
    if hit.category == "acronym" and len(word) <= 2:
        return not hit.languages.isdisjoint(own)
    return True


_CATEGORY_ORDER = {
    "name": 0, "acronym": 1, "demonym": 2, "adjective": 3, "compound": 4, "alias": 5, "capital": 6,
}  # fmt: skip


def _best_hits(hits: tuple[FormHit, ...], language: str) -> tuple[FormHit, ...]:
    """The meanings in the order they are tried, the document's language first ("Armenii"
    is the Polish genitive of Armenia before it is the Romanian for "the Armenians"); one
    per concept and category. The first that passes the checks counts: Spanish "armenia"
    in lower case is not the name but is the adjective."""
    ranked = sorted(
        hits,
        key=lambda h: (
            language not in h.languages and "*" not in h.languages,
            _CATEGORY_ORDER.get(h.category, 9),
        ),
    )
    best: dict[tuple[str, str], FormHit] = {}
    for hit in ranked:
        best.setdefault((hit.concept, hit.category), hit)
    return tuple(best.values())


def _find_mentions(analysis: Analysis, lexicon: Lexicon) -> None:
    found: dict[str, list[Mention]] = defaultdict(list)
    info = analysis.info
    notable = lexicon.notable.get(analysis.language, set()).intersection(info)
    for word in notable:
        details = info[word]
        for hit in details.hits:
            found[hit.concept].extend(Mention(p, hit, details.via) for p in analysis.where(word))
    if lexicon.phrases:
        _find_phrases(analysis, lexicon, found, notable)
    if lexicon.unspaced and has_unspaced_script(analysis.title + analysis.text):
        _find_unspaced(analysis, lexicon, found)
    if found:
        analysis.mentions = Mentions(analysis, lexicon, found)


def _find_phrases(
    analysis: Analysis, lexicon: Lexicon, found: dict[str, list[Mention]], notable: set[str]
) -> None:
    """Names of several words, found from their first word: each following word must be one
    of the forms of the name's word in that place, in the same field; in a stemmed language
    also one with the stem of one ("der Europäischen Union"), in a lemmatised one one with
    the lemma of one ("Європейському союзі")."""
    folded, info, positions = analysis.folded, analysis.info, analysis.positions
    last = len(folded) - 1
    for word in notable:
        for candidates, via in info[word].starts:
            following = _by_second_word(lexicon, candidates, via)
            for start in positions[word]:
                if start >= last:
                    continue
                after = folded[start + 1]
                # By form, the word that follows is looked up as it is: a start word such
                # as "the" stands many times in a document, but few of its names follow it.
                if via == "form":
                    phrases: Iterable[Phrase] = following.get(after, ())
                else:
                    phrases = {
                        id(phrase): phrase
                        for key in _second_keys(after, info[after], via)
                        for phrase in following.get(key, ())
                    }.values()
                if not phrases or not analysis.same_field(start, start + 1):
                    continue
                for phrase in phrases:
                    if _phrase_fits(analysis, start, phrase, via):
                        found[phrase.hit.concept].append(
                            Mention(start, phrase.hit, via, len(phrase.slots))
                        )


def _by_second_word(
    lexicon: Lexicon, candidates: tuple[Phrase, ...], via: str
) -> dict[str, tuple[Phrase, ...]]:
    """The names that start with one word, by the forms of their second word (by a stem's
    first five letters when they are found by stem: stems that differ at the end are one)."""
    key = (via, id(candidates))
    found = lexicon.phrase_seconds.get(key)
    if found is None:
        table: dict[str, list[Phrase]] = defaultdict(list)
        for phrase in candidates:
            for word in phrase.slots[1]:
                table[word[:5] if via == "stem" else word].append(phrase)
        found = lexicon.phrase_seconds[key] = {k: tuple(dict.fromkeys(v)) for k, v in table.items()}
    return found


def _second_keys(word: str, details: WordInfo, via: str) -> tuple[str, ...]:
    """What a document word is looked up by as the second word of a name."""
    if via == "stem":
        return (word[:5], (details.stem or word)[:5])
    if via == "lemma" and details.lemma is not None:
        return (word, details.lemma)
    return (word,)


def _phrase_starts(
    lexicon: Lexicon, word: str, language: str, stem: str | None, root: str | None
) -> tuple[tuple[tuple[Phrase, ...], str], ...]:
    """The multi-word names ``word`` can start in ``language``: by its form, its stem, its
    lemma (worked out once per word and language, with the rest of its :class:`WordInfo`)."""
    if not lexicon.phrases:
        return ()
    ways = [(lexicon.phrases.get(word, ()), "form")]
    stemmed = lexicon.phrase_stems.get(language)
    if stemmed:
        ways.append((stemmed.get(stem or word, ()), "stem"))
    if root is not None:
        lemmatised = _phrase_lemmas(lexicon, language)
        if lemmatised:
            ways.append((lemmatised.get(root, ()), "lemma"))
    return tuple((candidates, via) for candidates, via in ways if candidates)


def _phrase_lemmas(lexicon: Lexicon, language: str) -> dict[str, tuple[Phrase, ...]]:
    """The multi-word names of ``language`` with their words' lemmas in the slots, for a
    lemmatised language (built once per language; nothing for the others)."""
    found = lexicon.phrase_lemmas.get(language)
    if found is not None:
        return found
    table: dict[str, list[Phrase]] = defaultdict(list)
    if _lemma("test", language) is not None:
        for phrase in lexicon.phrases_in(language):
            slots = tuple(
                frozenset(_lemma(word, language) or word for word in slot) | slot
                for slot in phrase.slots
            )
            for first in slots[0]:
                table[first].append(Phrase(slots, phrase.hit))
    found = lexicon.phrase_lemmas[language] = {k: tuple(dict.fromkeys(v)) for k, v in table.items()}
    return found


def _phrase_fits(analysis: Analysis, start: int, phrase: Phrase, via: str) -> bool:
    folded, info = analysis.folded, analysis.info
    end = start + len(phrase.slots)
    if end > len(folded) or not analysis.same_field(start, end - 1):
        return False
    for word, slot in zip(folded[start:end], phrase.slots, strict=True):
        if word in slot:
            continue
        if via == "stem" and _stem_in(info[word].stem or word, slot):
            continue
        if via == "lemma" and info[word].lemma in slot:
            continue
        return False
    return True


def _stem_in(stem: str, slot: frozenset[str]) -> bool:
    """A word of a name by its stem; stems that differ only in their last two letters are
    one (Romanian "Europene" and "Europeană" stem to europen and european)."""
    if stem in slot:
        return True
    return len(stem) >= 5 and any(
        _shared(stem, other) >= max(5, len(stem) - 2, len(other) - 2) for other in slot
    )


def _shared(a: str, b: str) -> int:
    """The length of the start ``a`` and ``b`` share."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _find_unspaced(analysis: Analysis, lexicon: Lexicon, found: dict[str, list[Mention]]) -> None:
    """Chinese, Japanese and Thai forms, found as substrings of the tokens that hold them."""
    fields = (
        (analysis.title, 0, analysis.title_length),
        (analysis.text, analysis.title_length, len(analysis.tokens)),
    )
    for text, first, last in fields:
        if first == last:
            continue
        starts = [token.start for token in analysis.tokens[first:last]]
        haystack = text.casefold()
        for form, hit in lexicon.unspaced:
            blocked = _unspaced_exclusions(haystack, lexicon.exclusions.get(hit.concept, ()))
            for index in _occurrences(haystack, form):
                if any(low <= index < high for low, high in blocked):
                    continue  # inside a phrase that names something else
                token = max(bisect.bisect_right(starts, index) - 1, 0)
                found[hit.concept].append(Mention(first + token, hit, "form"))


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, index = [], haystack.find(needle)
    while index >= 0:
        found.append(index)
        index = haystack.find(needle, index + len(needle))
    return found


def _unspaced_exclusions(haystack: str, exclusions: tuple[Exclusion, ...]) -> list[tuple[int, int]]:
    """Character spans of exclusion phrases written without spaces ("伊朗东阿塞拜疆省")."""
    spans: list[tuple[int, int]] = []
    for exclusion in exclusions:
        joined = "".join(exclusion.words)
        if has_unspaced_script(joined):
            spans.extend((i, i + len(joined)) for i in _occurrences(haystack, joined))
    return spans
