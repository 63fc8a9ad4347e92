"""Files written whole or not at all: a digest file, an edited ``config.toml``."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_atomically(target: Path, data: bytes, mode: int | None = None) -> None:
    """``data`` in ``target`` after a crash at any moment, or the old file: never a part.

    ``mode`` None lets the umask decide, as for any other new file.
    """
    # Hidden and ending in .tmp, so a reader listing "*.md" never picks it up; random,
    # so two writers of the same file never share one.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode (tempfile would make it 0o600).
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            # On disk before the rename, or a crash could leave a complete name on empty data.
            os.fsync(stream.fileno())
        if mode is not None:
            temporary.chmod(mode)
        temporary.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    sync_folder(target.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; best effort where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
