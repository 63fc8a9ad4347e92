"""Secrets are used, and never written: a configuration that uses every kind of secret runs
a real cycle at -vv against loopback servers, then every command's output, the logs, the
database files and the digests are searched for each secret's value."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest
from feedserver import FeedServer, Reply, Request
from webhookreceiver import WebhookReceiver

from monitor.config.redaction import hide, scrub, shown_url, url_secrets

SECRETS = {
    "FEED_PASSWORD": "pa55-w0rd-in-the-url",
    "API_KEY": "k3y-in-the-query-string",
    "FEED_TOKEN": "t0ken-in-a-feed-header",
    "HOOK_SECRET": "whsec_c2VjcmV0LWZvci1zaWduaW5nLXdlYmhvb2tz",
    "HOOK_TOKEN": "t0ken-in-a-webhook-header",
    "SMTP_PASSWORD": "smtp-pa55w0rd-value",
    "APPRISE_TOKEN": "appriseTOKEN0123456789abcdef",
}
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://127.0.0.1/</link>'
    b"<description>d</description><item><guid>s1</guid><title>Talks</title>"
    b"<link>http://127.0.0.1/s1</link><description>Armenia and Azerbaijan met in Brussels."
    b"</description></item></channel></rss>"
)

pytestmark = pytest.mark.slow


def write_config(folder: Path, server: FeedServer, hook: WebhookReceiver) -> Path:
    host = server.url("").removeprefix("http://")
    feed_url = (
        f"http://reader:{SECRETS['FEED_PASSWORD']}@{host}/feed.xml?api_key={SECRETS['API_KEY']}"
    )
    path = folder / "config.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n'
        f'[[feeds]]\nname = "private"\nurl = "{feed_url}"\n'
        'headers = { "X-Api-Token" = "${FEED_TOKEN}" }\n'
        '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\n'
        'channels = ["hook", "mail", "chat", "out"]\n'
        f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook.url}"\n'
        'secret_env = "HOOK_SECRET"\nheaders = { "Authorization" = "Bearer ${HOOK_TOKEN}" }\n'
        '[[channels]]\nname = "mail"\ntype = "email"\nto = ["a@example.org"]\n'
        'smtp_host = "127.0.0.1"\nsmtp_port = 9\nusername_env = "SMTP_USER"\n'
        'password_env = "SMTP_PASSWORD"\nmax_attempts = 1\n'
        '[[channels]]\nname = "chat"\ntype = "apprise"\nurls_env = "APPRISE_URLS"\n'
        "max_attempts = 1\n"
        '[[channels]]\nname = "out"\ntype = "file"\npath = "digests"\n',
        encoding="utf-8",
    )
    return path


def test_no_secret_is_written_anywhere(tmp_path: Path, feed_server: FeedServer) -> None:
    seen: list[Request] = []

    def feed(request: Request) -> Reply:
        seen.append(request)
        return Reply(body=FEED, headers={"Content-Type": "application/rss+xml"})

    feed_server.route("/feed.xml", feed)
    with WebhookReceiver() as hook:
        apprise = hook.url_for(f"/apprise/{SECRETS['APPRISE_TOKEN']}").replace("http://", "json://")
        env = {
            **SECRETS,
            "SMTP_USER": "mailer",
            "APPRISE_URLS": f"{apprise}?token={SECRETS['APPRISE_TOKEN']}",
        }
        config = write_config(tmp_path, feed_server, hook)
        outputs = [
            monitor(config, env, "-vv", "run", "--once"),
            *(
                monitor(config, env, "-vv", *args)
                for args in (
                    ["status"],
                    ["events"],
                    ["events", "--type", "FeedPolled", "--json"],
                    ["deliveries"],
                    ["rules", "list"],
                )
            ),
        ]
        assert hook.requests, outputs[0].stderr  # the webhook got its digest
        assert any("/apprise/" in r.path for r in hook.requests), outputs[0].stderr
    # The secrets were used: the feed got its credentials, parameter and header.
    [request] = seen
    basic = base64.b64encode(f"reader:{SECRETS['FEED_PASSWORD']}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    assert request.headers["x-api-token"] == SECRETS["FEED_TOKEN"]
    assert SECRETS["API_KEY"] in request.path
    # ...and written nowhere: not in any output or log line, nor in any file made.
    text = "\n".join(o.stdout + o.stderr for o in outputs)
    assert "DEBUG" in text and "FeedPolled" in text  # the outputs are the real ones
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "config.toml"]
    assert any(p.name == "monitor.db" for p in files) and any(p.suffix == ".md" for p in files)
    for name, secret in SECRETS.items():
        assert secret not in text, name
        for file in files:
            assert secret.encode() not in file.read_bytes(), (name, file)
    assert "http://127.0.0.1" in text and "api_key=***" in text


def monitor(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=config.parent,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:p@host/feed?api_key=abc&page=2", "https://host/feed?api_key=***&page=2"),
        ("https://host/f?Token=x;sig=y#top", "https://host/f?Token=***;sig=***#top"),
        ("https://host/f?page=2&q=a", "https://host/f?page=2&q=a"),
        ("https://host/f?key=", "https://host/f?key="),
    ],
)
def test_a_url_is_shown_without_credentials(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_log_lines_are_scrubbed_of_registered_values() -> None:
    hide(["s3cret-value", "abc"])  # too short to mask safely: "abc" stays
    line = scrub("sent to https://me:pw@x.org/p?access_token=zz with s3cret-value, abc")
    assert line == "sent to https://x.org/p?access_token=*** with ***, abc"
    assert url_secrets("https://me:pw@x.org/?sig=q1") == {"pw", "me:pw", "q1"}
