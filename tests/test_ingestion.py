"""Planning what a batch of documents adds: new, revised, or nothing."""

from __future__ import annotations

from monitor.documents.plan import Previous, plan_documents
from monitor.documents.shapes import Document, Published
from monitor.eventlog.events import DocumentIngested, DocumentRevised


def doc(doc_id: str, title: str = "T", text: str = "body") -> Document:
    return Document(
        document_id=doc_id,
        identity=f"guid:{doc_id}",
        source="feed",
        url=None,
        title=title,
        text=text,
        language="en",
        published=Published("2023", "year"),
        content_hash=f"{title}|{text}",
    )


def test_new_documents_are_ingested_and_must_not_exist_yet() -> None:
    plan = plan_documents([doc("a"), doc("b")], {})
    assert [type(e) for e in plan.events] == [DocumentIngested, DocumentIngested]
    assert plan.expected == {"document:a": 0, "document:b": 0}
    assert (plan.new, plan.revised, plan.unchanged) == (2, 0, 0)


def test_same_content_adds_nothing() -> None:
    plan = plan_documents([doc("a")], {"a": Previous("T|body")})
    assert plan.events == [] and plan.unchanged == 1


def test_changed_text_is_a_revision_naming_what_changed() -> None:
    plan = plan_documents([doc("a", "T", "new body")], {"a": Previous("T|body", "T", "body")})
    (event,) = plan.events
    assert isinstance(event, DocumentRevised)
    assert event.changed == ["text"] and event.previous_hash == "T|body"
    assert plan.revised == 1 and plan.expected == {}


def test_changed_title_only() -> None:
    plan = plan_documents([doc("a", "New", "body")], {"a": Previous("T|body", "T", "body")})
    (event,) = plan.events
    assert isinstance(event, DocumentRevised) and event.changed == ["title"]


def test_first_of_repeated_ids_in_one_batch_wins() -> None:
    plan = plan_documents([doc("a", "first"), doc("a", "second")], {})
    (event,) = plan.events
    assert isinstance(event, DocumentIngested) and event.title == "first"
    assert plan.duplicates == 1
