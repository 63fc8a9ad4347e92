"""Rules compiled once, matched against analysed documents (pure).

Each rule's query becomes a tree of terms. A bare word (or a quoted phrase) that
names a concept in the lexicon becomes a concept term: every form in every
language. Any other word matches, in a document's language, the forms its own
analysis gives (:mod:`monitor.rules.word_terms`). Words are split as
documents are (:func:`monitor.rules.text.words`): ``Rolls-Royce`` is the phrase
"Rolls Royce", ``Ukrayna'ya`` is "Ukrayna ya".

Presearch (the idea of Lucene Monitor/Luwak): from each rule we take a set of
keys at least one of which any matching document must contain (a concept, a
word, a lemma, a prefix's first letters). An inverted index from key to rules
gives, for each document, the few rules worth evaluating, so the cost grows
with the rules a document could match, not with all the rules there are.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from monitor.rules import query as q
from monitor.rules.analysed import Analysis, Key, WordInfo
from monitor.rules.analysis import WORDS_KEPT
from monitor.rules.concept_hits import concept_hits
from monitor.rules.lexicon import Lexicon
from monitor.rules.mentions import Mentions
from monitor.rules.names import MIN_SKELETON, key_prefixes
from monitor.rules.text import fold, strip_diacritics, words
from monitor.rules.word_terms import Hit, WordTerm, word_hits, word_term


@dataclass(frozen=True, slots=True)
class ConceptTerm:
    word: str
    concepts: frozenset[str]
    languages: frozenset[str]  # the languages the query word itself belongs to


@dataclass(frozen=True, slots=True)
class PhraseTerm:
    text: str
    words: tuple[str, ...]
    prefix: bool = False  # the last word is a prefix ("Nagorno-Kara*")


@dataclass(frozen=True, slots=True)
class PrefixTerm:
    text: str
    stem: str
    stripped: str


@dataclass(frozen=True, slots=True)
class Group:
    op: str  # and | or | not | near | title | lang
    children: tuple[Term, ...] = ()
    distance: int = 0
    codes: frozenset[str] = frozenset()


Term = ConceptTerm | WordTerm | PhraseTerm | PrefixTerm | Group


@dataclass(frozen=True)
class CompiledRule:
    name: str
    version: int
    query: str
    root: Term
    keys: frozenset[Key] | None  # None: no key is required, evaluate for every document


def compile_query(text: str, lexicon: Lexicon, *, name: str = "", version: int = 0) -> CompiledRule:
    """Parse and compile ``text``; raises QueryError."""
    root = _fail_fast(_compile(q.parse_query(text), lexicon))
    keys = _required_keys(root)
    return CompiledRule(name, version, text, root, frozenset(keys) if keys else None)


def _fail_fast(term: Term) -> Term:
    """AND children reordered so the one presearch indexes comes last.

    A rule is evaluated because a document holds its indexed term; whether it matches is
    decided by the others, so they are tried first and the evaluation stops at the first miss.
    """
    if not isinstance(term, Group):
        return term
    children = tuple(_fail_fast(child) for child in term.children)
    if term.op == "and":
        children = tuple(sorted(children, key=_selectivity, reverse=True))
    return Group(term.op, children, term.distance, term.codes)


def _selectivity(term: Term) -> float:
    keys = _required_keys(term)
    return _cost(keys) if keys else float("inf")


def _compile(node: q.Node, lexicon: Lexicon) -> Term:
    if isinstance(node, q.Word):
        tokens = words(node.text)
        if len(tokens) > 1:  # Rolls-Royce, O'Brien, Ukrayna'ya: the words documents hold
            return _phrase(node.text, tokens, lexicon)
        concepts = lexicon.resolve(node.text)
        if not concepts:
            return word_term(node.text)
        hits, _ = lexicon.lookup(node.text)
        languages = frozenset().union(*(h.languages for h in hits if h.concept in concepts))
        concept = ConceptTerm(node.text, concepts, languages)
        if has_own_forms(node.text, lexicon):
            # A concept of the user's own ([aliases] Zelensky = ["زيلينسكي"]) adds forms to the
            # word; the word keeps its own (inflections, other scripts) too.
            return Group("or", (concept, word_term(node.text)))
        return concept
    if isinstance(node, q.Phrase):
        return _phrase(" ".join(node.words), words(" ".join(node.words)), lexicon)
    if isinstance(node, q.Prefix):
        tokens = words(node.stem)
        if len(tokens) > 1:  # "Nagorno-Kara*": the phrase, its last word a prefix
            return PhraseTerm(node.stem + "*", tuple(fold(t) for t in tokens), prefix=True)
        return PrefixTerm(node.stem + "*", fold(node.stem), strip_diacritics(node.stem))
    if isinstance(node, q.Lang):
        return Group("lang", codes=node.codes)
    if isinstance(node, q.Not):
        return Group("not", (_compile(node.child, lexicon),))
    if isinstance(node, q.Title):
        return Group("title", (_compile(node.child, lexicon),))
    children = tuple(_compile(child, lexicon) for child in node.children)
    if isinstance(node, q.Near):
        return Group("near", children, distance=node.distance)
    return Group("and" if isinstance(node, q.And) else "or", children)


def has_own_forms(word: str, lexicon: Lexicon) -> bool:
    """Whether a rule word is matched by the forms of its own analysis (a
    :class:`WordTerm`): it names no concept, or only concepts of the user's own."""
    concepts = lexicon.resolve(word)
    return all(lexicon.concepts[c].kind == "alias" for c in concepts if c in lexicon.concepts)


def _phrase(text: str, tokens: list[str], lexicon: Lexicon) -> Term:
    """A phrase that is a concept's name stands for the concept ("European Union",
    "Côte d'Ivoire"); any other is exact."""
    concepts = lexicon.resolve_phrase(tokens)
    if concepts:
        return ConceptTerm(text, concepts, frozenset())
    return PhraseTerm(text, tuple(fold(token) for token in tokens))


def _required_keys(term: Term) -> set[Key] | None:
    """Keys of which a matching document has at least one; None when none can be required."""
    if isinstance(term, ConceptTerm):
        return {("c", concept) for concept in term.concepts}
    if isinstance(term, WordTerm):
        # Documents are indexed under their words, stems, lemmas and name keys: a rule word
        # under its own forms, so that any of them brings the rule to be evaluated.
        keys = {("w", term.folded), ("s", term.stripped), ("w", term.stripped)}
        keys |= {("w", form) for forms in term.inflections.values() for form in forms}
        keys |= {("t", stem) for stem in term.stems.values()}
        if term.name is not None:  # its spellings in other scripts: by name key, consonants
            keys.add(("n", term.name))
            if len(term.consonants) >= MIN_SKELETON:
                keys.add(("k", term.consonants))
        return keys
    if isinstance(term, PhraseTerm):
        return {("w", max(term.words, key=len))}
    if isinstance(term, PrefixTerm):
        return {("p", term.stem[:3])}
    if term.op in ("not", "lang"):
        return None
    if term.op == "title":
        return _required_keys(term.children[0])
    options = [_required_keys(child) for child in term.children]
    if term.op == "or":
        return None if any(o is None for o in options) else set().union(*options)  # type: ignore[arg-type]
    required = [o for o in options if o is not None]
    # Of the children that must all match, index the one with the rarest-looking keys:
    # concepts and long words are rarer than short words and prefixes.
    return min(required, key=_cost) if required else None


def _cost(keys: set[Key]) -> float:
    # Long words are rarer than short ones and prefixes; a concept, with all its forms in
    # every language, is broader than any one word.
    return max(2.0 if kind == "c" else 4.0 / max(len(value), 1) for kind, value in keys)


def evaluate(term: Term, doc: Analysis, *, title_only: bool = False) -> list[Hit] | None:
    """The hits of ``term`` in ``doc``, or None when it does not match ([] for a filter)."""
    if isinstance(term, Group):
        return _evaluate_group(term, doc, title_only)
    # Many rules share a term ("Armenia"): each is looked up once per document. The rule set
    # makes equal terms one object (RuleSet.build), so the memo is keyed by identity, which
    # costs no hashing of the term's forms.
    memo = doc.memo.get(id(term))
    if memo is not None and memo[0] is term:
        hits = memo[1]
    else:
        hits = _term_hits(term, doc)
        doc.memo[id(term)] = (term, hits)
    if title_only:
        hits = [h for h in hits if h.position < doc.title_length]
    return hits or None


def _evaluate_group(term: Group, doc: Analysis, title_only: bool) -> list[Hit] | None:
    if term.op == "lang":
        return [] if doc.language in term.codes else None
    if term.op == "not":
        return [] if evaluate(term.children[0], doc, title_only=title_only) is None else None
    if term.op == "title":
        return evaluate(term.children[0], doc, title_only=True)
    if term.op == "or":
        results = [evaluate(child, doc, title_only=title_only) for child in term.children]
        matched = [r for r in results if r is not None]
        return [h for r in matched for h in r] if matched else None
    required: list[list[Hit]] = []
    for child in term.children:  # AND and NEAR: stop at the first child that fails
        result = evaluate(child, doc, title_only=title_only)
        if result is None:
            return None
        required.append(result)
    if term.op == "near":
        return _near(required, term.distance, doc)
    return [h for r in required for h in r]


def _near(results: list[list[Hit]], distance: int, doc: Analysis) -> list[Hit] | None:
    """Each adjacent pair of operands has hits within ``distance`` words, in the same field."""
    kept: dict[tuple[str, int], Hit] = {}
    for left, right in itertools.pairwise(results):
        pairs = [
            (a, b)
            for a in left
            for b in right
            if abs(a.position - b.position) <= distance and doc.same_field(a.position, b.position)
        ]
        if not pairs:
            return None
        for a, b in pairs:
            kept[(a.term, a.position)] = a
            kept[(b.term, b.position)] = b
    return sorted(kept.values(), key=lambda h: h.position)


def _term_hits(term: Term, doc: Analysis) -> list[Hit]:
    if isinstance(term, ConceptTerm):
        return concept_hits(term.word, term.concepts, term.languages, doc)
    if isinstance(term, WordTerm):
        return word_hits(term, doc)
    if isinstance(term, PhraseTerm):
        return _phrase_hits(term, doc)
    if isinstance(term, PrefixTerm):
        return [
            Hit(term.text, p, "prefix")
            for word, where in doc.positions.items()
            if word.startswith(term.stem) or doc.stripped_of(word).startswith(term.stripped)
            for p in where
        ]
    return []


def _phrase_hits(term: PhraseTerm, doc: Analysis) -> list[Hit]:
    size, folded = len(term.words), doc.folded
    hits: list[Hit] = []
    for start in doc.where(term.words[0]):
        end = start + size - 1
        if end >= len(folded) or not doc.same_field(start, end):
            continue
        found = tuple(folded[start : start + size])
        if found == term.words or (
            term.prefix and found[:-1] == term.words[:-1] and found[-1].startswith(term.words[-1])
        ):
            hits.extend(Hit(term.text, p, "phrase") for p in range(start, start + size))
    return hits


# A word's rules: the rules it can trigger, and the name stems (or "#" and consonants) of
# the rules' names it can be a spelling of.
_Triggers = tuple[tuple[int, ...], tuple[str, ...]]
_NOTHING: _Triggers = ((), ())


@dataclass
class RuleSet:
    """Every rule, compiled, with the presearch index."""

    rules: list[CompiledRule] = field(default_factory=list)
    index: dict[Key, list[int]] = field(default_factory=dict)
    always: list[int] = field(default_factory=list)
    word_rules: dict[str, dict[str, _Triggers]] = field(default_factory=dict, repr=False)
    trigger_words: dict[str, set[str]] = field(default_factory=dict, repr=False)
    words_seen: int = field(default=0, repr=False)
    # The name stems (and "#" and consonants) the rules' names are indexed under.
    names: frozenset[str] = frozenset()

    @classmethod
    def build(cls, rules: Iterable[CompiledRule]) -> RuleSet:
        shared: dict[Term, Term] = {}
        ruleset = cls(rules=[replace(rule, root=_shared(rule.root, shared)) for rule in rules])
        index: dict[Key, list[int]] = defaultdict(list)
        for number, rule in enumerate(ruleset.rules):
            if rule.keys is None:
                ruleset.always.append(number)
            else:
                for key in rule.keys:
                    index[key].append(number)
        ruleset.index = dict(index)
        # Every name of every rule, indexed or not: an AND's other operands are evaluated
        # on the words found for them here too.
        ruleset.names = frozenset(
            name
            for rule in ruleset.rules
            for term in _leaves(rule.root)
            if isinstance(term, WordTerm) and term.name is not None
            for name in (term.name, "#" + term.consonants)
            if name[:1] != "#" or len(term.consonants) >= MIN_SKELETON
        )
        return ruleset

    def candidates(self, doc: Analysis) -> list[CompiledRule]:
        """The rules worth evaluating on ``doc``; the words that may spell their names are
        handed to the document on the way (``doc.named``)."""
        numbers = set(self.always)
        # Which rules a word can trigger is worked out once per word and language, then
        # remembered: documents share most of their words.
        if self.words_seen > WORDS_KEPT:  # in all languages together, as analysis keeps them
            self.word_rules.clear()
            self.trigger_words.clear()
            self.words_seen = 0
        cache = self.word_rules.setdefault(doc.language, {})
        triggers = self.trigger_words.setdefault(doc.language, set())
        words = doc.info
        # Both at C speed, and over the document's words only: ``keys() - keys()`` would
        # walk the whole cache (a set difference with a dict looks the smaller side up).
        new = set(words).difference(cache)  # words not seen in this language yet
        for word in new:
            found = cache[word] = self._rules_for(word, words[word])
            if found is not _NOTHING:
                triggers.add(word)
        self.words_seen += len(new)
        named: dict[str, list[str]] = {}
        for word in triggers.intersection(words):  # most words trigger nothing
            rules, stems = cache[word]
            numbers.update(rules)
            for stem in stems:
                named.setdefault(stem, []).append(word)
        doc.named = (self.names, named)
        mentions = doc.mentions
        concepts = mentions.candidates() if isinstance(mentions, Mentions) else mentions
        for concept in concepts:  # before the checks: a rule of the concept checks them
            numbers.update(self.index.get(("c", concept), ()))
        return [self.rules[n] for n in sorted(numbers)]

    def _rules_for(self, word: str, details: WordInfo) -> _Triggers:
        """The rules a document word can bring to be evaluated: by its form, its prefixes
        (for prefix terms), its form without diacritics, its lemma and stem, and its name
        key's prefixes or consonants (for names in other scripts)."""
        index = self.index
        keys = [("w", word), ("p", word[:2]), ("p", word[:3]), ("s", details.stripped)]
        if details.lemma is not None:
            keys.append(("w", details.lemma))
        if details.stem is not None:
            keys.append(("t", details.stem))
        rules = {n for key in keys for n in index.get(key, ())}
        if details.consonants:
            names = [n for n in ["#" + details.consonants] if n in self.names]
        else:
            names = [p for p in key_prefixes(details.name) if p in self.names]
        for name in names:
            rules.update(index.get(("k", name[1:]) if name[:1] == "#" else ("n", name), ()))
        if not rules and not names:
            return _NOTHING
        return tuple(sorted(rules)), tuple(names)

    def match(self, doc: Analysis) -> list[tuple[CompiledRule, list[Hit]]]:
        """The rules ``doc`` matches, each with its hits."""
        found = []
        for rule in self.candidates(doc):
            hits = evaluate(rule.root, doc)
            if hits is not None:
                found.append((rule, hits))
        return found


def _shared(term: Term, shared: dict[Term, Term]) -> Term:
    """``term`` with every part that equals one seen before replaced by that one."""
    if isinstance(term, Group):
        term = Group(
            term.op, tuple(_shared(c, shared) for c in term.children), term.distance, term.codes
        )
    return shared.setdefault(term, term)


def _leaves(term: Term) -> Iterable[Term]:
    if isinstance(term, Group):
        for child in term.children:
            yield from _leaves(child)
    else:
        yield term


def describe(term: Term) -> str:
    """A short label of a compiled term for explanations."""
    if isinstance(term, ConceptTerm):
        return f"{term.word} (concept: {', '.join(sorted(term.concepts))})"
    if isinstance(term, WordTerm):
        return term.word
    if isinstance(term, PhraseTerm):
        return f'"{term.text}"'
    if isinstance(term, PrefixTerm):
        return term.text
    if term.op == "lang":
        return "lang:" + "|".join(sorted(term.codes))
    if term.op == "near":
        return f"NEAR/{term.distance}"
    return term.op.upper()


def children(term: Term) -> Sequence[Term]:
    return term.children if isinstance(term, Group) else ()
