"""Figures for the concept layer: quality on the labelled news, and what loading it costs.

    .venv/bin/python bench/concepts.py

Prints precision and recall of each rule word of tests/fixtures/concepts/labelled.jsonl,
overall and per detected language; then the registry's size (concepts by kind, forms,
languages, the file in the wheel) and how long loading takes: parsing the shipped
registry, reading the compiled lexicon from its cache (what a daemon does at start), and
compiling it from the registry (what the first start after an upgrade does), each the
median of several runs in fresh processes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from labelled import load, score  # noqa: E402

from monitor.rules.lexicon_cache import default_lexicon  # noqa: E402
from monitor.rules.registry import shipped  # noqa: E402

REGISTRY = ROOT / "monitor" / "data" / "concepts" / "registry.json.gz"
RUNS = 5


def quality() -> None:
    items = load()
    result = score(items, default_lexicon())
    print(f"labelled set: {len(items)} items, {len({i['lang'] for i in items})} languages")
    print(
        f"{'rule word':<16} {'P':>6} {'R':>6}  {'tp':>4} {'fp':>3} {'fn':>3}  per language (P/R, n)"
    )
    for label, found in sorted(result.by_label.items()):
        languages = sorted(
            (language, s) for (name, language), s in result.by_language.items() if name == label
        )
        detail = ", ".join(
            f"{language} {s.precision:.2f}/{s.recall:.2f} ({s.tp + s.fp + s.fn})"
            for language, s in languages
            if s.tp + s.fp + s.fn
        )
        print(
            f"{label:<16} {found.precision:6.3f} {found.recall:6.3f}  "
            f"{found.tp:4} {found.fp:3} {found.fn:3}  {detail}"
        )
    for label, lines in sorted(result.wrong.items()):
        for line in lines:
            print(f"  {label}: {line[:150]}")


def size() -> None:
    registry = shipped()
    kinds = Counter(entry.kind for entry in registry.entries.values())
    forms = sum(len(entry.forms) for entry in registry.entries.values())
    languages = {form.language for entry in registry.entries.values() for form in entry.forms}
    print(f"registry: {dict(sorted(kinds.items()))}, {forms} forms, {len(languages)} languages")
    print(f"registry file: {REGISTRY.stat().st_size / 1e6:.2f} MB (gzip JSON, in the wheel)")


def _timed(code: str, env: dict[str, str]) -> float:
    program = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env
    )
    return float(done.stdout.strip().splitlines()[-1])


def loading() -> None:
    import os

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "MONITOR_CACHE": cache}
        parse = "from monitor.rules.registry import shipped; shipped()"
        load_ = "from monitor.rules.lexicon_cache import default_lexicon; default_lexicon()"
        compile_ = [_timed(load_, env) for _ in range(1)]  # the first run compiles and caches
        cached = [_timed(load_, env) for _ in range(RUNS)]
        parsed = [_timed(parse, env) for _ in range(RUNS)]
        rss = subprocess.run(
            [sys.executable, "-c", load_ + "; import resource; "
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.split()[-1]  # fmt: skip
    print(f"parse the registry: median {statistics.median(parsed):.2f} s over {RUNS} runs")
    print(f"load the compiled lexicon (cached): median {statistics.median(cached):.2f} s")
    print(f"compile the lexicon (first start): {compile_[0]:.1f} s")
    print(f"resident memory after loading the lexicon: {int(rss) / 1024:.0f} MB")


if __name__ == "__main__":
    quality()
    size()
    loading()
