"""Standard Webhooks signing: known answers, round trips, tampering, and the official library."""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import pytest

from alerts.signing import secret_bytes, sign, verify

# The example from the Standard Webhooks / Svix documentation and library tests.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = b"\x00\x01 not text \xff"
NOW = 1_700_000_000


def headers_for(
    key: bytes, body: bytes, *, msg_id: str = "d-1", timestamp: int = NOW
) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, msg_id, timestamp, body),
    }


# -- secrets ------------------------------------------------------------------


def test_whsec_secret_is_its_decoded_bytes() -> None:
    assert secret_bytes(SPEC_SECRET) == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert secret_bytes("whsec_" + base64.b64encode(KEY).decode()) == KEY


def test_whsec_secret_may_omit_base64_padding() -> None:
    assert secret_bytes("whsec_" + base64.b64encode(b"abcd").decode().rstrip("=")) == b"abcd"


@pytest.mark.parametrize("secret", ["plain passphrase", "ключ", "whsec_not base64!", "whsec_"])
def test_any_other_secret_is_its_utf8_bytes(secret: str) -> None:
    assert secret_bytes(secret) == secret.encode("utf-8")


# -- signing ------------------------------------------------------------------


def test_sign_matches_the_published_example() -> None:
    signature = sign(secret_bytes(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert signature == SPEC_SIGNATURE


def test_sign_then_verify_round_trips() -> None:
    body = '{"rule": "ереван", "n": 3}'.encode()
    assert verify(KEY, headers_for(KEY, body), body, now=NOW)
    assert verify(KEY, headers_for(KEY, body, timestamp=NOW - 299), body, now=NOW)


def test_verify_reads_header_names_in_any_case() -> None:
    headers = {name.title(): value for name, value in headers_for(KEY, b"{}").items()}
    assert "Webhook-Signature" in headers
    assert verify(KEY, headers, b"{}", now=NOW)


def test_verify_accepts_one_good_signature_among_several() -> None:
    headers = headers_for(KEY, b"{}")
    good = headers["webhook-signature"]
    other = sign(b"an older secret", "d-1", NOW, b"{}")
    headers["webhook-signature"] = f"v2,abc {other}  junk v1,%%% {good}"
    assert verify(KEY, headers, b"{}", now=NOW)


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("body", b'{"n": 4}'),
        ("webhook-id", "d-2"),
        ("webhook-timestamp", str(NOW + 1)),
        ("webhook-signature", "v1,"),
        ("webhook-signature", "v1,not-base64!"),
        ("webhook-signature", "v2," + sign(KEY, "d-1", NOW, b"{}").removeprefix("v1,")),
        ("webhook-timestamp", "17e8"),
        ("webhook-timestamp", "-1"),
        ("webhook-timestamp", "١٧٠٠٠٠٠٠٠٠"),  # Arabic-Indic digits: isdigit() but not ours
    ],
)
def test_tampering_is_rejected(change: str, value: str | bytes) -> None:
    body = b"{}"
    headers = headers_for(KEY, body)
    if change == "body":
        assert isinstance(value, bytes)
        body = value
    else:
        assert isinstance(value, str)
        headers[change] = value
    assert not verify(KEY, headers, body, now=NOW)


def test_wrong_secret_is_rejected() -> None:
    assert not verify(b"someone else", headers_for(KEY, b"{}"), b"{}", now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    headers = headers_for(KEY, b"{}")
    del headers[missing]
    assert not verify(KEY, headers, b"{}", now=NOW)


@pytest.mark.parametrize("age", [301, -301, 10_000])
def test_timestamp_outside_tolerance_is_rejected(age: int) -> None:
    headers = headers_for(KEY, b"{}", timestamp=NOW - age)
    assert not verify(KEY, headers, b"{}", now=NOW)
    assert verify(KEY, headers, b"{}", now=NOW, tolerance=abs(age))


# -- the official library -----------------------------------------------------


def test_official_library_verifies_our_signature() -> None:
    standardwebhooks = pytest.importorskip(
        "standardwebhooks", reason="the standardwebhooks package (test extra) is not installed"
    )
    body = '{"digest": "d-9", "title": "Ереван — Baku"}'.encode()
    # The library checks the timestamp against its own clock, so sign for now.
    headers = headers_for(secret_bytes(SPEC_SECRET), body, msg_id="d-9", timestamp=int(time.time()))
    webhook = standardwebhooks.Webhook(SPEC_SECRET)
    assert webhook.verify(body, headers) == {"digest": "d-9", "title": "Ереван — Baku"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        webhook.verify(body + b" ", headers)


# -- purity -------------------------------------------------------------------


def test_signing_imports_no_io_library() -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = "import sys, alerts.signing\nprint(sorted(m for m in ('httpx', 'socket', 'asyncio') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
