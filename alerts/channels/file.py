"""The file channel: one digest written to one file, atomically, never raising.

The file's name comes from the message alone (when the digest was assembled,
its rule and its id), so a resend after a crash overwrites the file the first
attempt may have written instead of leaving a second copy beside it.

The text goes to a hidden temporary file in the same folder, is flushed to
disk, and is then renamed over the final name: a reader (or a crash) sees
either no file or the whole digest, never part of one. Failure categories:

    io         the folder or the file could not be written (the OS error says why)
    internal   a bug (the message has no file part); logged
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

from alerts.channels import ChannelKind, Context, Sender
from alerts.message import Message, Outcome
from monitor.config.channels import FileChannel
from monitor.files import write_atomically

# Anything outside this set (a path separator above all) becomes "_" in a file name.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# A message whose time cannot be read still gets a stable name: it is stored in
# its digest's event as it is, so failing on it would fail every retry too.
_UNDATED = "undated"
_ID_LENGTH = 8

log = logging.getLogger("alerts.channels.file")


def digest_file_name(message: Message, extension: str) -> str:
    """``<created_at as YYYY-MM-DDTHHMMSSZ>_<rule>_<digest id[:8]>.<extension>``."""
    stamp = _stamp(message.created_at)
    rule = _safe(message.rule) or "rule"
    suffix = _safe(extension.lstrip(".")) or "txt"
    return f"{stamp}_{rule}_{_safe(message.digest_id[:_ID_LENGTH])}.{suffix}"


def write_digest_file(folder: Path, message: Message, *, extension: str) -> Outcome:
    """Write ``message.parts["file"]`` to ``folder``; the success detail is the file's path."""
    if "file" not in message.parts:
        log.error("digest %s has no file part", message.digest_id)
        return Outcome.failure("internal", f"digest {message.digest_id} has no file part")
    target = folder / digest_file_name(message, extension)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(target, message.parts["file"].encode("utf-8"))
    except OSError as exc:
        return Outcome.failure("io", f"cannot write {target}: {exc.strerror or exc}")
    return Outcome.success(detail=str(target))


def _stamp(created_at: str) -> str:
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return _UNDATED
    if when.tzinfo is None:
        # Message.created_at is UTC by contract; a naive value is read that way.
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text)


def _parts(channel: FileChannel) -> dict[str, str]:
    return {"file": "file_html" if channel.format == "html" else "file_markdown"}


def _sender(channel: FileChannel, context: Context) -> Sender:
    folder = context.path(channel.path)
    extension = "html" if channel.format == "html" else "md"

    async def send(message: Message) -> Outcome:
        return await asyncio.to_thread(write_digest_file, folder, message, extension=extension)

    return Sender(channel, 1, send)


KIND = ChannelKind[FileChannel](
    parts=_parts, destination=lambda channel: str(channel.path), sender=_sender
)
