"""The operators' probes of the web application: real HTTP requests to /healthz, /readyz and
/metrics on 127.0.0.1, served by uvicorn as `monitor run` and `monitor web` serve them."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from monitor.app.health import Health
from monitor.app.metrics import Metrics
from monitor.app.wiring import open_log, recorder_for
from monitor.errors import MonitorError
from monitor.eventlog.events import (
    DeliveryAbandoned,
    DigestAssembled,
    DocumentIngested,
    Event,
    FeedPolled,
    FeedPollFailed,
    PublishedDate,
)
from monitor.eventlog.store import Store
from monitor.web.app import make_app
from monitor.web.context import WebContext
from monitor.web.server import WebServer

pytestmark = pytest.mark.timeout(10)

CLOCK = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


class Probe:
    """A health callable the test changes under the running server."""

    def __init__(self) -> None:
        self.health = Health(alive=True, ready=True, detail={})
        self.error: Exception | None = None

    def __call__(self) -> Health:
        if self.error is not None:
            raise self.error
        return self.health


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def context(tmp_path: Path, metrics: Metrics, probe: Probe) -> Iterator[WebContext]:
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/web.db"\n', encoding="utf-8")
    made = WebContext(config, metrics=metrics, health=probe, token="")
    yield made
    made.close()


def web_server(context: WebContext, listen: str = "127.0.0.1:0") -> WebServer:
    return WebServer(make_app(context), listen)


@pytest.fixture
def server(context: WebContext) -> Iterator[WebServer]:
    with web_server(context) as running:
        yield running


@pytest.fixture
def client(server: WebServer) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not see requests to 127.0.0.1.
    with httpx.Client(base_url=server.url, trust_env=False, timeout=5.0) as http:
        yield http


def scrape(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, keyed by name and labels."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


# Health and readiness


def test_healthz_follows_the_health_callable(client: httpx.Client, probe: Probe) -> None:
    probe.health = Health(alive=True, ready=True, detail={"last_cycle": CLOCK, "feeds_failing": 0})
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "last_cycle": "2026-11-28 08:00:00+00:00",
        "feeds_failing": 0,
    }

    probe.health = Health(alive=False, ready=True, detail={"scheduler": "stopped"})
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "scheduler": "stopped"}


def test_readyz_follows_readiness_alone(client: httpx.Client, probe: Probe) -> None:
    probe.health = Health(alive=True, ready=False, detail={"reason": "starting"})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "reason": "starting"}
    assert client.get("/healthz").status_code == 200

    probe.health = Health(alive=True, ready=True, detail={})
    assert client.get("/readyz").json() == {"status": "ok"}


def test_a_detail_cannot_override_the_status(client: httpx.Client, probe: Probe) -> None:
    probe.health = Health(alive=False, ready=False, detail={"status": "ok"})
    assert client.get("/healthz").json() == {"status": "unhealthy"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_a_health_callable_that_raises_answers_503(
    client: httpx.Client, probe: Probe, path: str
) -> None:
    probe.error = RuntimeError("database URL with a password in it")
    response = client.get(path)
    assert response.status_code == 503
    document = response.json()
    assert document["status"] in {"unhealthy", "not ready"}
    # Only the type goes out: exception messages can carry secrets.
    assert "RuntimeError" in document["error"]
    assert "password" not in response.text
    # The server survived it.
    probe.error = None
    assert client.get(path).status_code == 200


# Routing


def test_unknown_paths_are_404(client: httpx.Client) -> None:
    assert client.get("/nowhere").status_code == 404
    assert client.get("/metrics/extra").status_code == 404


def test_a_query_string_does_not_change_the_route(client: httpx.Client) -> None:
    assert client.get("/healthz?verbose=1").status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_allowed(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/healthz")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}


def test_head_sends_headers_without_a_body(client: httpx.Client) -> None:
    response = client.head("/metrics")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


def test_requests_are_not_written_to_stderr(
    client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    # Probes every few seconds would drown the daemon's own log: no access log.
    client.get("/healthz")
    client.get("/nowhere")
    assert capfd.readouterr().err == ""


# Metrics pushed by the daemon


def test_metrics_show_what_the_daemon_reported(client: httpx.Client, metrics: Metrics) -> None:
    metrics.poll("reuters", "polled", 0.2)
    metrics.poll("reuters", "not_modified", 0.03)
    metrics.poll("tass", "failed", 12.0)
    metrics.poll("tass", "failed", 9.0)
    metrics.documents(new=5, revised=1)
    metrics.documents(new=2, revised=0)
    metrics.matches("armenia-azerbaijan", 3)
    metrics.delivery("digest-files", "succeeded")
    metrics.delivery("ops", "failed")
    metrics.delivery("ops", "abandoned")
    metrics.lag(3.0)
    metrics.lag(3 * 86400.0)  # beyond the last bucket: only +Inf holds it
    metrics.cycle(1_790_000_000.0)

    samples = scrape(client)
    assert value(samples, "monitor_polls_total", feed="reuters", outcome="polled") == 1
    assert value(samples, "monitor_polls_total", feed="tass", outcome="failed") == 2
    assert value(samples, "monitor_poll_duration_seconds_count", feed="tass") == 2
    assert value(samples, "monitor_poll_duration_seconds_sum", feed="tass") == 21.0
    assert value(samples, "monitor_documents_total", kind="new") == 7
    assert value(samples, "monitor_documents_total", kind="revised") == 1
    assert value(samples, "monitor_matches_total", rule="armenia-azerbaijan") == 3
    assert value(samples, "monitor_deliveries_total", channel="ops", outcome="abandoned") == 1
    assert value(samples, "monitor_deliveries_total", channel="ops", outcome="failed") == 1
    assert value(samples, "monitor_delivery_lag_seconds_bucket", le="1.0") == 0
    assert value(samples, "monitor_delivery_lag_seconds_bucket", le="5.0") == 1
    assert value(samples, "monitor_delivery_lag_seconds_bucket", le="172800.0") == 1
    assert value(samples, "monitor_delivery_lag_seconds_bucket", le="+Inf") == 2
    assert value(samples, "monitor_last_cycle_timestamp_seconds") == 1_790_000_000.0


def test_document_kinds_are_reported_before_the_first_document(client: httpx.Client) -> None:
    samples = scrape(client)
    assert value(samples, "monitor_documents_total", kind="new") == 0
    assert value(samples, "monitor_documents_total", kind="revised") == 0


def test_an_unknown_outcome_is_a_bug_not_a_new_series(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="polled"):
        metrics.poll("reuters", "ok", 0.1)
    with pytest.raises(ValueError, match="succeeded"):
        metrics.delivery("ops", "sent")


def test_each_metrics_instance_counts_on_its_own() -> None:
    first, second = Metrics(process=False), Metrics(process=False)
    first.matches("aa", 2)
    assert first.registry.get_sample_value("monitor_matches_total", {"rule": "aa"}) == 2
    assert second.registry.get_sample_value("monitor_matches_total", {"rule": "aa"}) is None
    body, content_type = first.render()
    assert b"monitor_matches_total" in body
    assert content_type.startswith("text/plain")


# Gauges read from the database at scrape time


def feed_polled(feed: str) -> FeedPolled:
    url = f"http://127.0.0.1/{feed}.xml"
    return FeedPolled(
        feed=feed,
        url=url,
        status=200,
        final_url=url,
        format="rss20",
        entries=0,
        new=0,
        revised=0,
        unchanged=0,
        elapsed=0.1,
    )


def feed_failed(feed: str) -> FeedPollFailed:
    url = f"http://127.0.0.1/{feed}.xml"
    return FeedPollFailed(
        feed=feed, url=url, status=503, category="http", message="503", elapsed=0.1
    )


def document(doc_id: str) -> DocumentIngested:
    return DocumentIngested(
        document_id=doc_id,
        source="reuters",
        identity=f"guid:{doc_id}",
        url=f"https://news.example/{doc_id}",
        title=f"Story {doc_id}",
        text="Armenia and Azerbaijan.",
        language="en",
        published=PublishedDate(value="2026-11-28T07:00Z", precision="minute"),
        content_hash=doc_id * 2,
    )


def digest(digest_id: str) -> DigestAssembled:
    return DigestAssembled(
        digest_id=digest_id,
        rule="aa",
        channel="ops",
        channel_type="webhook",
        matches=[],
        documents=[],
        entries=[],
        more=0,
        message={"subject": "aa: nothing", "parts": {}},
    )


def fill(store: Store) -> None:
    events: list[Event] = [
        feed_polled("reuters"),
        feed_failed("tass"),
        feed_failed("tass"),
        document("d1" * 8),
        document("d2" * 8),
        document("d3" * 8),
        digest("00000000-0000-4000-8000-000000000001"),
        digest("00000000-0000-4000-8000-000000000002"),
        DeliveryAbandoned(
            digest_id="00000000-0000-4000-8000-000000000002",
            rule="aa",
            channel="ops",
            attempts=8,
            reason="gave up",
        ),
    ]
    recorder_for(store, clock=lambda: CLOCK).append(events)


def test_store_gauges_come_from_the_projections(
    store: Store, metrics: Metrics, client: httpx.Client
) -> None:
    fill(store)
    metrics.watch(store)
    samples = scrape(client)

    assert value(samples, "monitor_deliveries_pending") == 1
    assert value(samples, "monitor_deliveries_abandoned") == 1
    assert value(samples, "monitor_documents_stored") == 3
    assert value(samples, "monitor_events_head") == 9
    success = value(samples, "monitor_feed_last_success_timestamp_seconds", feed="reuters")
    assert success == CLOCK.timestamp()
    # Never answered: 0, so that a staleness alert fires for it too.
    assert value(samples, "monitor_feed_last_success_timestamp_seconds", feed="tass") == 0
    assert value(samples, "monitor_feed_consecutive_failures", feed="tass") == 2
    assert value(samples, "monitor_feed_consecutive_failures", feed="reuters") == 0
    assert value(samples, "monitor_scrape_errors_total") == 0


def test_an_empty_store_reports_zeros(tmp_path: Path, metrics: Metrics) -> None:
    store = open_log(f"sqlite:///{tmp_path}/m.db").store
    try:
        metrics.watch(store)
        registry = metrics.registry
        assert registry.get_sample_value("monitor_events_head") == 0
        assert registry.get_sample_value("monitor_deliveries_pending") == 0
        assert registry.get_sample_value("monitor_documents_stored") == 0
    finally:
        store.dispose()


def test_a_database_error_skips_the_gauges_and_is_counted(
    tmp_path: Path, metrics: Metrics, client: httpx.Client
) -> None:
    store = open_log(f"sqlite:///{tmp_path}/m.db").store
    try:
        fill(store)
        metrics.watch(store)
        metrics.matches("aa", 1)
        with store.transaction() as conn:
            conn.execute(sa.text("DROP TABLE feed_state"))

        samples = scrape(client)
        assert value(samples, "monitor_scrape_errors_total") == 1
        assert value(samples, "monitor_deliveries_pending") is None
        # Everything else still answers.
        assert value(samples, "monitor_matches_total", rule="aa") == 1
        assert value(scrape(client), "monitor_scrape_errors_total") == 2
    finally:
        store.dispose()


# Lifecycle


def test_a_port_in_use_is_a_clear_error(context: WebContext) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(MonitorError, match=address.replace(".", r"\.")):
            web_server(context, address).start()


def test_close_is_quick_and_frees_the_port(context: WebContext) -> None:
    server = web_server(context)
    server.start()
    port = server.port
    assert server.url == f"http://127.0.0.1:{port}"
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 1.0
    server.close()  # a second close is harmless
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False, timeout=1.0)
    with pytest.raises(MonitorError, match="not started"):
        _ = server.port
    # The port is free again: a new server can take it.
    with web_server(context, f"127.0.0.1:{port}") as again:
        assert again.port == port
