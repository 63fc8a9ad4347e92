"""Digests end to end through the real command line: the seed into digests/ with the default
config, email to a real SMTP server, a process killed between send and record, start-up
checks of templates and secrets, and `monitor deliveries` / `deliveries retry`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli
from smtpserver import SMTPServer
from webhookreceiver import Hang, Respond, WebhookReceiver

from alerts.signing import secret_bytes

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_b61107c3d676957f.txt"
SECRET = "whsec_" + "ZTJlLXRlc3Qtc2lnbmluZy1rZXktMDEyMzQ1Njc4OQ=="
HOSTILE = """---
title: "Armenia &lt;script&gt;alert(1)&lt;/script&gt; and Azerbaijan sign a deal"
date: 2026-11-27
---
Armenia and Azerbaijan signed a deal in Washington on Friday, officials said.
"""

pytestmark = pytest.mark.timeout(300)


def project(tmp_path: Path, channel: str, *, extra_seed: bool = False, rule: str = "") -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    if extra_seed:
        (tmp_path / "seeds" / "deal.md").write_text(HOSTILE, encoding="utf-8")
    rule = rule or (
        '[[rules]]\nname = "armenia-azerbaijan"\nquery = "Armenia AND Azerbaijan"\n'
        'channels = ["out"]\nschedule = "daily 08:00 Europe/Warsaw"\n'
    )
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = ["seeds"]\n{rule}{channel}',
        encoding="utf-8",
    )
    return config


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, "--config", str(config), *args)


def events(capsys: pytest.CaptureFixture[str], config: Path, kind: str) -> list[dict[str, Any]]:
    code, out, err = cli(capsys, config, "events", "--json", "--type", kind)
    assert code == 0, err
    return [json.loads(line)["data"] for line in out.splitlines()]


def test_the_default_config_writes_the_seed_digest_into_digests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shipped config.toml, minus its feeds (tests send nothing beyond 127.0.0.1).
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"\[\[feeds\]\]\n(?:(?!\[).*\n)*", "", text)
    assert "[[feeds]]" not in text and "[[rules]]" in text
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    config = tmp_path / "config.toml"

    code, out, err = cli(capsys, config, "run", "--once")
    assert code == 0, err
    assert "digests: 1 assembled; 1 delivered" in out
    [digest] = list((tmp_path / "digests").iterdir())
    body = digest.read_text(encoding="utf-8")
    assert "**Azerbejdżanu**" in body and "**Armenię**" in body
    assert digest.name.endswith(".md") and "armenia-azerbaijan" in digest.name

    code, out, _ = cli(capsys, config, "run", "--once")
    assert code == 0 and "digests: 0 assembled; 0 delivered" in out
    assert len(list((tmp_path / "digests").iterdir())) == 1


def test_email_digest_reaches_a_real_smtp_server_once_with_escaped_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SMTPServer() as server:
        channel = (
            '[[channels]]\nname = "out"\ntype = "email"\nto = ["analyst@example.test"]\n'
            f'from = "monitor@newsroom.test"\nsmtp_host = "127.0.0.1"\nsmtp_port = {server.port}\n'
            'helo = "client.test"\n'
        )
        config = project(tmp_path, channel, extra_seed=True)
        code, _, err = cli(capsys, config, "run", "--once")
        assert code == 0, err
        [received] = server.delivered
        code, _, err = cli(capsys, config, "run", "--once")
        assert code == 0, err
        assert len(server.messages) == 1  # the second run sends nothing
    [digest] = events(capsys, config, "DigestAssembled")
    message = received.message
    assert message["Message-ID"] == f"<{digest['digest_id']}@newsroom.test>"
    assert "armenia-azerbaijan.out.newsroom.test" in message["List-Id"]
    assert message["Subject"].startswith("armenia-azerbaijan: 2 new matches")
    assert received.rcpt_tos == ("analyst@example.test",)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" in text  # plain text shows the title as written
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Azerbejdżanu" in html and "Azerbejdżanu" in text


def test_a_process_killed_between_send_and_record_resends_with_the_same_id(
    tmp_path: Path,
) -> None:
    with WebhookReceiver([Hang(20)], default=Respond(200), secret=secret_bytes(SECRET)) as hook:
        channel = (
            f'[[channels]]\nname = "out"\ntype = "webhook"\nurl = "{hook.url}"\n'
            'secret_env = "HOOK_SECRET"\ntimeout = "30s"\n'
        )
        config = project(tmp_path, channel)
        env = {**os.environ, "HOOK_SECRET": SECRET}
        command = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            hook.wait_for(1, timeout=120)  # sent: the receiver holds the answer back
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        second = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
        assert second.returncode == 0, second.stderr
        sent = hook.wait_for(2)
    assert len(sent) == 2
    assert sent[0].headers["webhook-id"] == sent[1].headers["webhook-id"]
    assert sent[0].body == sent[1].body and all(r.verified for r in sent)
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "events", "--json"],
        capture_output=True,
        check=True,
    )
    types = [json.loads(line)["type"] for line in done.stdout.splitlines()]
    assert types.count("DigestAssembled") == 1 and types.count("DeliverySucceeded") == 1


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ digest.rule }}\n{% for e in digest.entries %}\n{% endfor\n", r"email\.txt\.j2:3: "),
        ("line one\n{{ digest.no_such_field }}\n", r"email\.txt\.j2:2: .*no_such_field"),
        ("{{ digest.__class__.__mro__ }}\n", r"email\.txt\.j2:1: .*unsafe"),
    ],
)
def test_a_broken_template_stops_the_run_at_start_up_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str, expected: str
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "email.txt.j2").write_text(template, encoding="utf-8")
    channel = (
        '[[channels]]\nname = "out"\ntype = "email"\nto = ["a@example.test"]\n'
        'smtp_host = "127.0.0.1"\nsmtp_port = 9\ntemplates = "mine"\n'
    )
    config = project(tmp_path, channel)
    code, _, err = cli(capsys, config, "run", "--once")
    assert code == 2
    assert re.search(expected, err), err
    assert not (tmp_path / "monitor.db").exists()  # stopped before doing anything


def test_an_unset_secret_stops_the_run_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    channel = (
        '[[channels]]\nname = "out"\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n'
        'secret_env = "HOOK_SECRET"\n'
    )
    config = project(tmp_path, channel)
    code, _, err = cli(capsys, config, "run", "--once")
    assert code == 2
    assert "channels[0].secret_env: the environment variable HOOK_SECRET is not set" in err


def test_a_malformed_standard_webhooks_secret_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_***not base64***")
    channel = (
        '[[channels]]\nname = "out"\ntype = "webhook"\nurl = "http://127.0.0.1:9/"\n'
        'secret_env = "HOOK_SECRET"\n'
    )
    code, _, err = cli(capsys, project(tmp_path, channel), "run", "--once")
    assert code == 2
    assert "channels[0].secret_env: HOOK_SECRET holds 'whsec_' followed by no valid base64" in err
    assert "not base64" not in err  # the value itself is never printed


def test_deliveries_lists_an_abandoned_digest_and_retry_delivers_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with WebhookReceiver([Respond(500, b"down for maintenance")], default=Respond(202)) as hook:
        channel = (
            f'[[channels]]\nname = "out"\ntype = "webhook"\nurl = "{hook.url}"\n'
            'secret_env = "HOOK_SECRET"\nmax_attempts = 1\n'
        )
        config = project(tmp_path, channel)
        code, out, err = cli(capsys, config, "run", "--once")
        assert code == 0 and "1 abandoned" in out
        assert "HTTP 500" in err

        code, out, _ = cli(capsys, config, "deliveries", "--state", "abandoned", "--json")
        [row] = [json.loads(line) for line in out.splitlines()]
        assert (row["state"], row["attempts"], row["last_status"]) == ("abandoned", 1, 500)
        code, out, _ = cli(capsys, config, "deliveries")
        assert code == 0 and "abandoned" in out and row["digest_id"][:8] in out

        code, out, err = cli(capsys, config, "deliveries", "retry", row["digest_id"][:8])
        assert code == 0, err
        assert "delivered" in out
        assert len(hook.wait_for(2)) == 2
    code, _, err = cli(capsys, config, "deliveries", "retry", row["digest_id"][:8])
    assert code == 2 and "nothing to retry" in err
    code, _, err = cli(capsys, config, "deliveries", "retry", "ffffffff")
    assert code == 2 and "no digest" in err
    [retried] = events(capsys, config, "DeliveryRetryRequested")
    assert retried["previous_state"] == "abandoned"


def test_run_once_with_the_seed_again_after_a_time_is_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = project(tmp_path, '[[channels]]\nname = "out"\ntype = "file"\nformat = "html"\n')
    assert cli(capsys, config, "run", "--once")[0] == 0
    time.sleep(0.01)
    assert cli(capsys, config, "run", "--once")[0] == 0
    [page] = list((tmp_path / "digests").iterdir())
    html = page.read_text(encoding="utf-8")
    assert page.suffix == ".html" and "<mark" in html and "Azerbejdżanu" in html
