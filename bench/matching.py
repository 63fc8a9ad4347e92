"""Benchmark: watch rules over ~2 KB documents in several languages, beside a naive baseline.

    .venv/bin/python bench/matching.py [--documents 2000] [--rules 10,1000,10000]

Documents are built from real feed items (../shared/corpora/real-feeds, 15
languages, when present) and the project's own labelled sentences (16
languages), about 2 KB each, each from one source. Rules are realistic: names, phrases,
boolean combinations and some NEAR, a few about the documents' topics and most
about other things, as in a real deployment. For each rule count it prints
documents/s on one core, *including* tokenising, lemmatising and concept
lookup, and the same for the naive baseline (one compiled regex per rule, run
over each document; at 10,000 rules on a sample, it is too slow otherwise). At each
rule count a first pass fills the rule set's cache of what each word triggers, as a
daemon's is after its first documents; it is printed apart, not in the median.
Then the resident memory with the lexicons of 10 languages and the rules loaded
(measured before the baseline compiles its own regexes).

Targets: >= 2,000 documents/s at 10,000 rules; time at 10,000 rules at most 2x
the time at 10 rules; >= 50x faster than the baseline at 1,000 rules; under
300 MB resident.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import resource
import statistics
import time
from pathlib import Path

import feedparser

from monitor.documents.normalise import detect_language, html_to_text
from monitor.rules.analysis import analyse
from monitor.rules.lemmas import warm
from monitor.rules.lexicon_cache import default_lexicon
from monitor.rules.ruleset import RuleSet, compile_query

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "tests" / "fixtures" / "rules" / "own-armenia-azerbaijan.jsonl"
REAL_FEEDS = ROOT.parent / "shared" / "corpora" / "real-feeds"
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "lu",
    "sen",
    "dor",
    "va",
    "tel",
    "bri",
    "gan",
    "os",
    "ur",
    "em",
    "pol",
    "nik",
    "zar",
    "qu",
    "tho",
    "lie",
    "fen",
]


def passages() -> list[list[str]]:
    """Groups of same-language passages: real feed items per feed (when the shared corpora
    are there), and the project's own labelled sentences per language."""
    groups: dict[str, list[str]] = {}
    for line in OWN.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        groups.setdefault(f"own-{item['lang']}", []).append(item["text"])
    if REAL_FEEDS.is_dir():
        for path in sorted(REAL_FEEDS.glob("*.*")):
            if path.suffix not in (".xml", ".rdf", ".atom", ".rss"):
                continue
            feed = feedparser.parse(path.read_bytes())
            texts = [
                html_to_text(f"{e.get('title', '')}. {e.get('summary', '')}") for e in feed.entries
            ]
            texts = [t for t in texts if len(t) > 80]
            if len(texts) >= 5:
                groups[path.name] = texts
    return list(groups.values())


def documents(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(title, text, language) of about 2 KB each, each from one source in one language."""
    sources = passages()
    docs = []
    for n in range(count):
        texts = sources[n % len(sources)]
        text = ""
        while len(text) < 2000:
            text += rng.choice(texts) + " "
        title = rng.choice(texts)[:90]
        docs.append((title, text, detect_language(title + " " + text)))
    return docs


def pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def rules(count: int, vocabulary: list[str], rng: random.Random) -> list[str]:
    """Query strings: mostly names of other things, some about the documents' words."""

    def term() -> str:
        # Most watched names do not occur in a given document; a few do.
        return rng.choice(vocabulary) if rng.random() < 0.05 else pseudo_word(rng)

    shapes = [
        lambda: term(),
        lambda: f"{term()} AND {term()}",
        lambda: f'"{term()} {term()}"',
        lambda: f"({term()} OR {term()}) AND {term()}",
        lambda: f"{term()} NEAR/5 {term()}",
        lambda: f"{term()} AND NOT {term()}",
        lambda: f"title:{term()} OR {term()}",
    ]
    queries = ["Armenia AND Azerbaijan", "Armenia", "Azerbaijan"]
    while len(queries) < count:
        queries.append(rng.choice(shapes)())
    return queries[:count]


def baseline_regex(query: str) -> re.Pattern[str]:
    """One regex per rule: AND as lookaheads, OR as alternation, NEAR as a bounded gap."""
    words = r"[^\W_]+"
    query = query.replace("title:", "")
    near = re.fullmatch(rf"({words}) NEAR/(\d+) ({words})", query)
    if near:
        a, n, b = near.groups()
        return re.compile(rf"\b{a}\W+(?:\w+\W+){{0,{n}}}?{b}\b", re.IGNORECASE)
    parts = []
    for clause in query.split(" AND "):
        if clause.startswith("NOT "):
            parts.append(rf"(?!.*\b{re.escape(clause[4:])}\b)")
        else:
            alternatives = [w.strip('()"') for w in clause.split(" OR ")]
            parts.append(rf"(?=.*\b(?:{'|'.join(map(re.escape, alternatives))})\b)")
    return re.compile(r"\A" + "".join(parts), re.IGNORECASE | re.DOTALL)


def time_ours(
    docs: list[tuple[str, str, str]], queries: list[str], repeat: int = 1
) -> tuple[float, int, float]:
    """Median seconds over ``repeat`` passes, the number of matches, and the seconds of the
    first pass (which fills the rule set's cache of what each word triggers, as a running
    daemon has it after its first documents; not counted in the median)."""
    lexicon = default_lexicon()
    ruleset = RuleSet.build(compile_query(q, lexicon, name=str(n)) for n, q in enumerate(queries))
    # As the daemon does once its rules are compiled (monitor/cycle.py): keep the long-lived
    # lexicon, caches and rules out of the garbage collector's way.
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    for title, text, language in docs:
        ruleset.match(analyse(title, text, language, lexicon))
    first = time.perf_counter() - started
    times, hits = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        hits = 0
        for title, text, language in docs:
            hits += len(ruleset.match(analyse(title, text, language, lexicon)))
        times.append(time.perf_counter() - started)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"  pass: {len(docs) / times[-1]:,.0f} docs/s")
    return statistics.median(times), hits, first


def time_baseline(docs: list[tuple[str, str, str]], queries: list[str]) -> float:
    patterns = [baseline_regex(q) for q in queries]
    started = time.perf_counter()
    for title, text, _language in docs:
        body = title + "\n" + text
        for pattern in patterns:
            pattern.search(body)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--rules", default="10,1000,10000")
    parser.add_argument("--baseline-documents", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="passes per rule count (median)")
    args = parser.parse_args()
    rng = random.Random(7)
    warm()  # the lexicons of the common languages, loaded as the daemon does
    docs = documents(args.documents, rng)
    vocabulary = sorted({w for _, text, _ in docs[:200] for w in re.findall(r"[^\W\d_]{6,}", text)})
    print(
        f"{len(docs)} documents, {sum(len(t) for _, t, _ in docs) / len(docs):,.0f} characters each"
    )
    # One pass fills the per-word caches (lemmas, lexicon lookups), as a running daemon has them.
    _, _, cold = time_ours(docs, rules(10, vocabulary, rng))
    print(f"first (cold) pass at 10 rules: {len(docs) / cold:,.0f} docs/s")
    counts = [int(c) for c in args.rules.split(",")]
    results, matched, firsts = {}, {}, {}
    for count in counts:
        queries = rules(count, vocabulary, random.Random(count))
        results[count], matched[count], firsts[count] = time_ours(docs, queries, repeat=args.repeat)
    # Memory before the baseline compiles thousands of regexes of its own.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"resident memory: {rss_mb():,.0f} MB now, {peak:,.0f} MB at peak (target < 300 MB)")
    for count in counts:
        queries = rules(count, vocabulary, random.Random(count))
        sample = docs[: args.baseline_documents]
        base = time_baseline(sample, queries) * len(docs) / len(sample)
        seconds = results[count]
        print(
            f"{count:>6} rules: ours {len(docs) / seconds:>8,.0f} docs/s ({matched[count]} matches; "
            f"first pass {len(docs) / firsts[count]:,.0f}), "
            f"baseline {len(docs) / base:>8,.1f} docs/s, ours is {base / seconds:,.0f}x faster"
        )
    ratio = results[counts[-1]] / results[counts[0]]
    print(f"time at {counts[-1]} rules / time at {counts[0]} rules: {ratio:.2f}x (target <= 2x)")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    main()
