"""The JSON API against the real daemon (`monitor run` with [web] listen), on 127.0.0.1.

Every endpoint, a bad query, a conflicting edit, concurrent edits, auth on and off; the
rules it writes are read back from config.toml and by `monitor rules list`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from daemonkit import Daemon, wait_until
from feedserver import FeedServer
from webhookreceiver import Respond, WebhookReceiver

from monitor.config.settings import settings_from_dict
from monitor.errors import ConfigError

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_b61107c3d676957f.txt"
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback News</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>Kyiv talks resume</title><link>http://127.0.0.1/k1</link><guid>k1</guid>
<description>Talks in Kyiv resumed on Monday.</description></item></channel></rss>"""
PAGE = b"""<html><head><link rel="alternate" type="application/rss+xml" title="News"
href="/news.xml"></head><body>A site</body></html>"""

pytestmark = pytest.mark.timeout(300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(folder: Path, port: int, hook: str) -> Path:
    (folder / "seeds").mkdir(exist_ok=True)
    (folder / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    config = folder / "config.toml"
    config.write_text(
        f"""# Written by the test; the API edits it.
[store]
url = "sqlite:///monitor.db"

[seeds]
paths = ["seeds"]

[fetch]
allow_private_networks = true  # the publishers of this test live on loopback

[daemon]
tick = 1
parse_workers = 0

[web]
listen = "127.0.0.1:{port}"

[[rules]]
name = "aa"
query = "Armenia AND Azerbaijan"
channels = ["hook"]

[[channels]]
name = "files"
type = "file"
path = "digests"
include_backfill = true

[[channels]]
name = "hook"
type = "webhook"
url = "{hook}"
max_attempts = 1
""",
        encoding="utf-8",
    )
    return config


class Site:
    def __init__(self, folder: Path, port: int, daemon: Daemon, feeds: FeedServer) -> None:
        self.folder, self.port, self.daemon, self.feeds = folder, port, daemon, feeds
        self.config = folder / "config.toml"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30)

    def version(self) -> str:
        return str(self.http.get("/api/v1/rules").json()["version"])


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    # The seed's digest fails once (and, with max_attempts = 1, is abandoned); then all pass.
    with WebhookReceiver([Respond(500)], default=Respond(200)) as receiver:
        yield receiver


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, hook: WebhookReceiver) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("web")
    port = free_port()
    config = write_config(folder, port, hook.url)
    with FeedServer() as feeds:
        feeds.static("/site/", PAGE, headers={"Content-Type": "text/html"})
        feeds.static("/news.xml", RSS, headers={"Content-Type": "application/rss+xml"})
        daemon = Daemon(config).start()
        made = Site(folder, port, daemon, feeds)
        try:
            ready = wait_until(lambda: _answers(made), timeout=120, step=0.2)
            assert ready, daemon.log()[-3000:]
            yield made
        finally:
            made.http.close()
            if daemon.alive():
                code, _ = daemon.stop()
                assert code == 0, daemon.log()[-3000:]


def _answers(site: Site) -> bool:
    try:
        found = site.http.get("/api/v1/preview", params={"q": "Armenia AND Azerbaijan"})
    except httpx.TransportError:
        return False
    return found.status_code == 200 and found.json()["total"] == 1


def test_preview_finds_the_polish_seed_with_its_hits(site: Site) -> None:
    found = site.http.get("/api/v1/preview", params={"q": "Armenia AND Azerbaijan", "limit": 5})
    document = found.json()
    assert document["total"] == 1 and document["exact"] is True
    (match,) = document["matches"]
    assert match["language"] == "pl" and match["document_id"] and match["source"]
    marked = {
        snippet["text"][start:end]
        for snippet in match["snippets"]
        for start, end in snippet["highlights"]
    }
    assert {"Armenię", "Azerbejdżanu"} <= marked | {w.rstrip(",.") for w in marked}
    assert document["languages"] == {"pl": 1} and isinstance(document["elapsed_ms"], float)


def test_a_bad_query_is_400_with_its_position(site: Site) -> None:
    found = site.http.get("/api/v1/preview", params={"q": "Armenia AND ("})
    assert found.status_code == 400
    assert found.json()["error"]["position"] == 13
    assert "unexpected end of query" in found.json()["error"]["message"]


def test_rules_are_created_read_replaced_and_deleted_in_config_toml(site: Site) -> None:
    version = site.version()
    rule = {"name": "kyiv", "query": "Kyiv", "channels": ["files"], "schedule": "daily 08:00"}
    created = site.http.post("/api/v1/rules", json=rule, headers={"If-Match": version})
    assert created.status_code == 201, created.text
    assert created.json()["rule"] == {**rule, "enabled": True}
    on_disk = tomllib.loads(site.config.read_text(encoding="utf-8"))
    assert {"name": "kyiv", **rule} in on_disk["rules"]
    assert "# Written by the test; the API edits it." in site.config.read_text(encoding="utf-8")
    listed = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(site.config), "rules", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "kyiv" in listed.stdout and "Kyiv" in listed.stdout
    assert site.http.get("/api/v1/rules/kyiv").json()["rule"]["schedule"] == "daily 08:00"

    stale = site.http.put(
        "/api/v1/rules/kyiv", json={"query": "Kiev"}, headers={"If-Match": version}
    )
    assert stale.status_code == 409 and "changed on disk" in stale.json()["error"]["message"]
    current = created.json()["version"]
    replaced = site.http.put(
        "/api/v1/rules/kyiv", json={"query": "Kyiv OR Kiev"}, headers={"If-Match": current}
    )
    assert replaced.status_code == 200
    # PUT replaces: what it does not give falls back to the defaults.
    assert replaced.json()["rule"] == {
        "name": "kyiv",
        "query": "Kyiv OR Kiev",
        "channels": [],
        "schedule": "immediate",
        "enabled": True,
    }
    deleted = site.http.delete("/api/v1/rules/kyiv")
    assert deleted.status_code == 204
    assert site.http.get("/api/v1/rules/kyiv").status_code == 404
    assert site.http.delete("/api/v1/rules/kyiv").status_code == 404


def test_an_edit_that_would_not_start_is_400_and_changes_nothing(site: Site) -> None:
    before = site.config.read_bytes()
    bad = site.http.post(
        "/api/v1/rules", json={"name": "x", "query": "Kyiv", "channels": ["nowhere"]}
    )
    assert bad.status_code == 400
    assert any(
        "channels[0]: no channel named 'nowhere'" in p for p in bad.json()["error"]["problems"]
    )
    unknown = site.http.post("/api/v1/rules", json={"name": "x", "query": "Kyiv", "colour": "red"})
    assert (
        unknown.status_code == 400 and "unknown key 'colour'" in unknown.json()["error"]["message"]
    )
    assert site.config.read_bytes() == before


def test_concurrent_edits_on_one_version_save_one_and_refuse_the_rest(site: Site) -> None:
    version = site.version()
    statuses: list[int] = []

    def post(n: int) -> None:
        with httpx.Client(base_url=site.http.base_url, trust_env=False, timeout=30) as http:
            rule = {"name": f"same-{n}", "query": f"word{n}"}
            statuses.append(
                http.post("/api/v1/rules", json=rule, headers={"If-Match": version}).status_code
            )

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201] + [409] * 5
    names = [r["name"] for r in site.http.get("/api/v1/rules").json()["rules"]]
    assert len([n for n in names if n.startswith("same-")]) == 1
    for name in names:
        if name.startswith("same-"):
            site.http.delete(f"/api/v1/rules/{name}")


def test_a_feed_added_by_its_page_address_is_polled_by_the_daemon(site: Site) -> None:
    added = site.http.post("/api/v1/feeds", json={"url": site.feeds.url("/site/")})
    assert added.status_code == 201, added.text
    assert added.json()["feed"] == {
        "name": "loopback-news",
        "url": site.feeds.url("/news.xml"),
        "title": "Loopback News",
    }

    def polled() -> bool:
        feeds = site.http.get("/api/v1/feeds").json()["feeds"]
        return any(f["name"] == "loopback-news" and f["health"] == "ok" for f in feeds)

    assert wait_until(polled, timeout=60, step=0.5), site.daemon.log()[-3000:]
    again = site.http.post("/api/v1/feeds", json={"url": site.feeds.url("/news.xml")})
    assert again.status_code == 400 and "already configured" in again.json()["error"]["message"]


def test_an_abandoned_delivery_is_listed_and_retried(site: Site, hook: WebhookReceiver) -> None:
    def abandoned() -> list[dict[str, Any]]:
        found = site.http.get("/api/v1/deliveries", params={"state": "abandoned"})
        return list(found.json()["deliveries"])

    assert wait_until(lambda: abandoned(), timeout=60, step=0.5), site.daemon.log()[-3000:]
    (digest,) = abandoned()
    assert digest["rule"] == "aa" and digest["channel"] == "hook" and digest["last_status"] == 500
    retried = site.http.post(f"/api/v1/deliveries/{digest['digest_id']}/retry", json={})
    assert retried.status_code == 200 and retried.json()["delivered"] is True
    delivered = site.http.get("/api/v1/deliveries", params={"state": "delivered"}).json()
    assert digest["digest_id"] in [d["digest_id"] for d in delivered["deliveries"]]
    assert len(hook.requests) == 2


def test_writes_need_json_and_a_loopback_host(site: Site) -> None:
    form = site.http.post("/api/v1/rules", data={"name": "x", "query": "Kyiv"})
    assert form.status_code == 415
    rebinding = site.http.get("/api/v1/rules", headers={"Host": "attacker.example:8080"})
    assert rebinding.status_code == 421


def test_with_a_token_every_api_call_needs_it(tmp_path: Path, hook: WebhookReceiver) -> None:
    port = free_port()
    config = write_config(tmp_path, port, hook.url)
    daemon = Daemon(config, env={"MONITOR_WEB_TOKEN": "s3cret-token"}).start()
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _up(base), timeout=120, step=0.2), daemon.log()[-3000:]
        with httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
            refused = http.get("/api/v1/rules")
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
            wrong = http.get("/api/v1/rules", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            good = http.get("/api/v1/rules", headers={"Authorization": "Bearer s3cret-token"})
            assert good.status_code == 200 and good.json()["rules"][0]["name"] == "aa"
            assert http.get("/healthz").status_code == 200  # probes need no token
            console = http.get("/rules", follow_redirects=False)
            assert console.status_code == 303 and console.headers["location"].startswith("/login")
    finally:
        code, _ = daemon.stop()
    assert code == 0
    assert "s3cret-token" not in daemon.log()


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", trust_env=False, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_listening_beyond_loopback_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port(), "http://127.0.0.1:1/")
    text = config.read_text(encoding="utf-8").replace('listen = "127.0.0.1:', 'listen = "0.0.0.0:')
    config.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_WEB_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2
    assert "[web] listen = '0.0.0.0:" in done.stderr and "MONITOR_WEB_TOKEN" in done.stderr


def test_the_search_page_and_the_daemons_metrics(site: Site) -> None:
    page = site.http.get("/search", params={"q": "Armenia AND Azerbaijan"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<mark" in page.text and "Azerbejdżanu" in page.text
    hostile = site.http.get("/search", params={"q": '"<script>alert(1)</script>"'})
    assert "<script>alert(1)</script>" not in hostile.text  # the query is escaped back
    metrics = site.http.get("/metrics")
    assert metrics.status_code == 200 and "monitor_polls_total" in metrics.text
    assert "monitor_documents_stored" in metrics.text
    assert site.http.get("/readyz").json()["status"] == "ok"


def test_http_listen_is_the_old_name_of_web_listen(tmp_path: Path) -> None:
    old = settings_from_dict({"http": {"listen": "127.0.0.1:8089"}}, source="c", base_dir=tmp_path)
    assert old.web_listen == ("127.0.0.1:8089", "[http] listen")
    both = {"http": {"listen": "127.0.0.1:8089"}, "web": {"listen": "127.0.0.1:8080"}}
    with pytest.raises(ConfigError, match=r"http\.listen: replaced by web\.listen"):
        settings_from_dict(both, source="c", base_dir=tmp_path)


def test_console_forms_need_their_csrf_token_and_edit_in_place(site: Site) -> None:
    page = site.http.get("/rules/aa")
    assert page.status_code == 200 and 'value="Armenia AND Azerbaijan"' in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    version = re.search(r'name="version" value="([0-9a-f]+)"', page.text)
    assert csrf and version
    form = {"q": "Armenia AND Azerbaijan", "name": "aa", "channels": "hook", "schedule": "hourly"}
    forged = site.http.post("/rules/aa", data={**form, "version": version[1]})
    assert forged.status_code == 403
    saved = site.http.post(
        "/rules/aa", data={**form, "version": version[1], "csrf": csrf[1], "enabled": "true"}
    )
    assert saved.status_code == 303 and "saved%20rule" in saved.headers["location"]
    rule = tomllib.loads(site.config.read_text(encoding="utf-8"))["rules"][0]
    assert rule == {
        "name": "aa",
        "query": "Armenia AND Azerbaijan",
        "channels": ["hook"],
        "schedule": "hourly",
    }
    stale = site.http.post("/rules/aa", data={**form, "version": version[1], "csrf": csrf[1]})
    assert stale.status_code == 409 and "changed on disk since it was read" in stale.text
    back = {
        **form,
        "schedule": "immediate",
        "version": site.version(),
        "csrf": csrf[1],
        "enabled": "true",
    }
    assert site.http.post("/rules/aa", data=back).status_code == 303
