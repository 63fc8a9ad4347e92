"""Digest assembly: newest first, copies grouped, capped honestly, never twice, a stable id."""

from __future__ import annotations

from alerts.digest import MatchedDocument, build_digest

STORY = (
    "Armenia and Azerbaijan agreed on Tuesday to resume talks on a peace treaty, the foreign "
    "ministers said after a meeting in Brussels hosted by the European Union on the border."
)


def match(
    seq: int, doc: str, published: str, text: str = "", source: str = "bbc"
) -> MatchedDocument:
    return MatchedDocument(
        seq=seq,
        document_id=doc,
        title=f"Title {doc}",
        url=f"https://e.org/{doc}",
        source=source,
        language="en",
        published=published,
        snippets=(),
        text=text or f"unique story number {doc} " * 5,
    )


def test_newest_first_with_copies_grouped_under_the_newest() -> None:
    pending = [
        match(1, "old", "2023-10-01"),
        match(2, "wire", "2023-10-03T10:00Z", STORY, source="reuters"),
        match(3, "copy", "2023-10-03T09:00Z", "By Staff. " + STORY, source="guardian"),
        match(4, "mid", "2023-10-02"),
    ]
    digest = build_digest("aa", "files", pending)
    assert digest is not None
    assert [e.lead.document_id for e in digest.entries] == ["wire", "mid", "old"]
    assert [c.document_id for c in digest.entries[0].copies] == ["copy"]
    assert digest.entries[0].sources == ["reuters", "guardian"]
    assert digest.seqs == (1, 2, 3, 4) and digest.documents == 4 and digest.more == 0


def test_cap_sums_up_the_rest_and_covers_everything() -> None:
    pending = [match(n, f"d{n}", f"2023-10-{n + 1:02d}") for n in range(7)]
    digest = build_digest("aa", "files", pending, cap=3)
    assert digest is not None
    assert len(digest.entries) == 3 and digest.more == 4 and digest.documents == 7
    assert [e.lead.document_id for e in digest.entries] == ["d6", "d5", "d4"]


def test_delivered_documents_are_never_sent_again_and_nothing_left_is_no_digest() -> None:
    pending = [match(1, "a", "2023"), match(2, "b", "2023"), match(3, "a", "2023")]
    digest = build_digest("aa", "files", pending, delivered={"a"})
    assert digest is not None and [e.lead.document_id for e in digest.entries] == ["b"]
    assert build_digest("aa", "files", pending, delivered={"a", "b"}) is None
    assert build_digest("aa", "files", []) is None


def test_the_same_matches_give_the_same_id_and_other_matches_another() -> None:
    pending = [match(1, "a", "2023"), match(2, "b", "2023")]
    first = build_digest("aa", "files", pending)
    again = build_digest("aa", "files", list(reversed(pending)))
    other = build_digest("aa", "mail", pending)
    assert first is not None and again is not None and other is not None
    assert first.digest_id == again.digest_id != other.digest_id
