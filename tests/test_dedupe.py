"""Near-duplicate grouping: syndicated copies with small edits group; different stories do not."""

from __future__ import annotations

import random

from alerts.dedupe import group_near_duplicates, jaccard, shingles

WIRE = (
    "Armenia and Azerbaijan agreed on Tuesday to resume talks on a peace treaty, the foreign "
    "ministers of both countries said after a meeting in Brussels hosted by the European Union. "
    "The two sides will meet again next month to discuss the delimitation of their border and "
    "the opening of transport links, according to a joint statement released by the EU."
)
COPY = (
    "By Staff Reporter. Armenia and Azerbaijan agreed on Tuesday to resume talks on a peace "
    "treaty, the foreign ministers of both countries said after a meeting in Brussels hosted by "
    "the European Union. The two sides will meet again next month to discuss the delimitation "
    "of their border and the opening of transport links."
)
EDITED = WIRE.replace("Tuesday", "Wednesday").replace("next month", "in March")
OTHER = (
    "Azerbaijan accused Armenia of shelling its positions near the border on Monday, while "
    "Yerevan denied the claim and said its troops had not opened fire. Observers of the EU "
    "mission said they were checking the reports from both sides of the line."
)


def test_syndicated_copies_group_and_a_different_story_on_the_same_topic_does_not() -> None:
    groups = group_near_duplicates(
        [("wire", WIRE), ("other", OTHER), ("copy", COPY), ("edited", EDITED)]
    )
    assert groups == [["wire", "copy", "edited"], ["other"]]
    assert jaccard(shingles(WIRE), shingles(OTHER)) < 0.1


def test_case_punctuation_and_diacritics_do_not_hide_a_copy() -> None:
    text = "Przedstawiciele Armenii i Azerbejdżanu spotkali się w Brukseli, aby omówić traktat."
    shouty = text.upper().replace(",", " —").replace("ż", "z")
    assert group_near_duplicates([(1, text), (2, shouty)]) == [[1, 2]]


def test_every_key_is_in_exactly_one_group_at_scale() -> None:
    # Beyond the exact limit the candidates come from MinHash bands: copies must still group.
    rng = random.Random(3)
    words = [f"w{n}" for n in range(3000)]
    stories = [" ".join(rng.choice(words) for _ in range(80)) for _ in range(150)]
    texts = [(f"s{n}", story) for n, story in enumerate(stories)]
    texts += [
        (f"s{n}-copy", story + " Reuters contributed.") for n, story in enumerate(stories[:40])
    ]
    groups = group_near_duplicates(texts)
    assert sorted(k for g in groups for k in g) == sorted(k for k, _ in texts)
    grouped = {tuple(g) for g in groups if len(g) > 1}
    assert grouped == {(f"s{n}", f"s{n}-copy") for n in range(40)}


def test_empty_and_tiny_texts() -> None:
    assert group_near_duplicates([]) == []
    assert group_near_duplicates([("a", ""), ("b", "")]) == [["a"], ["b"]]
    assert group_near_duplicates([("a", "Armenia"), ("b", "Armenia")]) == [["a", "b"]]
