"""Near-duplicate stories: the same wire story in several feeds, or a copy with small edits (pure).

Each text becomes a set of word 3-shingles (casefolded, punctuation and
diacritics ignored). Two texts are near duplicates when the Jaccard
similarity of their shingle sets reaches ``threshold``: syndicated copies
with a changed headline, an added byline or a trimmed last paragraph score
well above 0.5; different stories on the same topic (two reports about the
same talks) share names but few three-word runs, and score far below it.

Comparing every pair would be quadratic, so candidate pairs come from
MinHash signatures split into LSH bands (numpy, vectorised); only pairs that
share a band are compared exactly. Groups are the connected components of
the confirmed pairs. Stories in different languages are not grouped: word
shingles do not cross languages, and guessing would merge distinct stories.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt

from monitor.rules.text import strip_diacritics

SHINGLE = 3
PERMUTATIONS = 64
BANDS = 16  # of PERMUTATIONS // BANDS rows: pairs at Jaccard 0.5 share a band ~98% of the time
TEXT_LIMIT = 1500  # characters read per text: the lede and first paragraphs identify a story
_WORD = re.compile(r"[^\W_]+")
_PRIME = (1 << 61) - 1
_RNG = np.random.default_rng(20261127)  # fixed: the same texts always group the same way
_A = _RNG.integers(1, _PRIME, size=PERMUTATIONS, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, size=PERMUTATIONS, dtype=np.uint64)


def shingles(text: str) -> frozenset[int]:
    """The text's word 3-shingles, hashed; a short text's words stand in for them."""
    # Word by word through a cache: news repeats its words, so this costs little.
    words = [strip_diacritics(word) for word in _WORD.findall(text[:TEXT_LIMIT])]
    if len(words) < SHINGLE:
        return frozenset(hash(word) for word in words)
    return frozenset(hash(tuple(words[i : i + SHINGLE])) for i in range(len(words) - 2))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _signature(hashes: frozenset[int]) -> npt.NDArray[np.uint64]:
    values = np.fromiter((h & 0xFFFFFFFFFFFF for h in hashes), dtype=np.uint64, count=len(hashes))
    # (a * x + b) mod p for every permutation and shingle; uint64 wraps, which only mixes
    # the bits further, and the same for every text, so signatures stay comparable.
    mixed: npt.NDArray[np.uint64] = (np.outer(_A, values) + _B[:, None]) % np.uint64(_PRIME)
    signature: npt.NDArray[np.uint64] = mixed.min(axis=1)
    return signature


def group_near_duplicates(
    texts: Sequence[tuple[Hashable, str]], *, threshold: float = 0.5
) -> list[list[Hashable]]:
    """Groups of keys whose texts are near duplicates, in the order the texts were given.

    Every key is in exactly one group; a story with no copy is a group of one. The first
    key of each group is the first of its texts in ``texts``.
    """
    sets = [shingles(text) for _, text in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _candidate_pairs(sets):
        if root(i) != root(j) and jaccard(sets[i], sets[j]) >= threshold:
            low, high = sorted((root(i), root(j)))
            parent[high] = low
    groups: dict[int, list[Hashable]] = defaultdict(list)
    for index, (key, _) in enumerate(texts):
        groups[root(index)].append(key)
    return [groups[r] for r in sorted(groups)]


EXACT_UP_TO = 60  # texts; below this every pair is compared exactly (a digest's worth)


def _candidate_pairs(sets: Sequence[frozenset[int]]) -> set[tuple[int, int]]:
    if len(sets) <= EXACT_UP_TO:
        return {(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))}
    rows = PERMUTATIONS // BANDS
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for index, hashes in enumerate(sets):
        if not hashes:
            continue
        signature = _signature(hashes)
        for band in range(BANDS):
            buckets[(band, signature[band * rows : (band + 1) * rows].tobytes())].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                pairs.add((first, second))
    return pairs
