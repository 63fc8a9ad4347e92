"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure: no I/O, no clock.

A delivery carries three headers:

    webhook-id          the same on every retry of one delivery (the digest's id)
    webhook-timestamp   Unix seconds of this attempt
    webhook-signature   "v1," + base64(HMAC-SHA256(secret, f"{id}.{timestamp}." + body))

:func:`sign` makes the signature; :func:`verify` is what a receiver runs (our
tests, and users' own receivers), so it takes ``now`` rather than reading a
clock. A secret written as ``whsec_<base64>`` means its decoded bytes, which
is how the official ``standardwebhooks`` libraries read it too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
VERSION = "v1"
# The spec's default: a signed request replayed more than five minutes later is refused.
DEFAULT_TOLERANCE = 300.0


def secret_bytes(secret: str) -> bytes:
    """The HMAC key for a configured secret: ``whsec_<base64>`` decoded, else its UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        decoded = _b64decode(secret.removeprefix(SECRET_PREFIX))
        if decoded:
            return decoded
    return secret.encode("utf-8")


def secret_problem(secret: str) -> str | None:
    """What is wrong with a configured secret, or None; checked at start-up."""
    if secret.startswith(SECRET_PREFIX) and not _b64decode(secret.removeprefix(SECRET_PREFIX)):
        return "holds 'whsec_' followed by no valid base64: receivers could not verify"
    return None


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    return f"{VERSION},{base64.b64encode(_digest(secret, msg_id, str(timestamp), body)).decode()}"


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> bool:
    """Whether ``body`` was signed with ``secret`` within ``tolerance`` seconds of ``now``.

    Header names are matched case-insensitively. ``webhook-signature`` may hold
    several space-separated signatures (a sender rotating its secret); one
    valid ``v1`` signature is enough. Malformed input is ``False``, never an error.
    """
    found = {name.lower(): value for name, value in headers.items()}
    msg_id = found.get("webhook-id", "")
    stamp = found.get("webhook-timestamp", "").strip()
    offered = found.get("webhook-signature", "")
    if not (msg_id and stamp.isascii() and stamp.isdigit() and offered):
        return False
    if abs(now - int(stamp)) > tolerance:
        return False
    expected = _digest(secret, msg_id, stamp, body)
    # Every candidate is compared (no early exit on the first match) so timing says nothing.
    matches = [hmac.compare_digest(expected, candidate) for candidate in _v1_signatures(offered)]
    return any(matches)


def _digest(secret: bytes, msg_id: str, stamp: str, body: bytes) -> bytes:
    return hmac.new(secret, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures in a header; other versions and garbage are skipped."""
    found = []
    for entry in header.split():
        version, _, encoded = entry.partition(",")
        decoded = _b64decode(encoded) if version == VERSION else None
        if decoded:
            found.append(decoded)
    return found


def _b64decode(text: str) -> bytes | None:
    # Padding is optional in the wild (the official libraries add it back), other junk is not.
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
