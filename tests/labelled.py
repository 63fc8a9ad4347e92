"""Scoring rule words on a labelled set of news, language identified as in production.

Used by tests/test_concepts_quality.py (which fails under its target) and by
bench/concepts.py (which prints the figures per concept and language).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.documents.normalise import detect_language
from monitor.rules.analysis import analyse
from monitor.rules.lexicon import Lexicon
from monitor.rules.ruleset import compile_query, evaluate

CONCEPTS = Path(__file__).resolve().parent / "fixtures" / "concepts" / "labelled.jsonl"
# A label is the rule word itself; a name of several words is written as a phrase.
QUERIES = {"European Union": '"European Union"'}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, got: bool, want: bool) -> None:
        if got and want:
            self.tp += 1
        elif got:
            self.fp += 1
        elif want:
            self.fn += 1


@dataclass
class Result:
    by_label: dict[str, Score] = field(default_factory=lambda: defaultdict(Score))
    # (label, detected language) -> score
    by_language: dict[tuple[str, str], Score] = field(default_factory=lambda: defaultdict(Score))
    wrong: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def load(path: Path = CONCEPTS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(items: list[dict[str, Any]], lexicon: Lexicon) -> Result:
    labels = sorted(items[0]["labels"])
    rules = {label: compile_query(QUERIES.get(label, label), lexicon) for label in labels}
    result = Result()
    for item in items:
        title = item.get("title", "")
        language = detect_language(f"{title}\n{item['text']}", hint=None)
        doc = analyse(title, item["text"], language, lexicon)
        for label, rule in rules.items():
            got = evaluate(rule.root, doc) is not None
            want = bool(item["labels"][label])
            result.by_label[label].add(got, want)
            result.by_language[(label, language)].add(got, want)
            if got != want:
                kind = "false positive" if got else "missed"
                result.wrong[label].append(
                    f"{kind} {item['id']} ({language}): {title} {item['text'][:160]}"
                )
    return result
