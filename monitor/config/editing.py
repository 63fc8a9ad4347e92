"""Changes to ``config.toml`` made by the console, the API and ``monitor feeds``.

The file stays the single source of truth and stays the user's: it is edited with tomlkit,
which keeps comments, order and layout; a change touches only the keys it changes. Every
edit is checked as a start would check it (the schema, the references, the secrets and
templates that the caller's check adds) before anything is written, and
written atomically (a temporary file beside it, fsynced, renamed over it). An edit names
the version of the file it was made on (the SHA-256 of its bytes, :attr:`Snapshot.version`)
and is refused when the file changed since, by hand or by another edit; a lock file beside
the config (``config.toml.lock``) makes the check and the write one step for every process.
The daemon picks the new file up through its reload, as after a hand edit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table
from tomlkit.toml_document import TOMLDocument

from monitor.config.settings import Settings, settings_from_dict
from monitor.errors import ConfigError, MonitorError
from monitor.files import write_atomically

RULE_KEYS = ("name", "query", "channels", "schedule", "enabled")
_local = threading.Lock()


class ConfigConflict(MonitorError):
    """The file changed since the version an edit was made on."""


class NotFound(MonitorError):
    """No entry of that name."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    path: Path
    text: str
    version: str  # SHA-256 of the bytes: what an edit must name to be applied
    settings: Settings


def read(path: Path) -> Snapshot:
    """The file as it is now, validated."""
    data = _read_bytes(path)
    text = data.decode("utf-8-sig")
    return Snapshot(path, text, _version(data), _validate(text, path))


Check = Callable[[Settings, str], None]


def edit(
    path: Path,
    version: str | None,
    change: Callable[[TOMLDocument], None],
    check: Check | None = None,
) -> Snapshot:
    """Apply ``change`` to the file if it is still at ``version`` (None: whatever it is),
    validate the result and ``check`` it as a start would (the callers pass
    :func:`monitor.app.preflight.preflight`), and write it; returns the new snapshot."""
    with _locked(path):
        data = _read_bytes(path)
        if version is not None and _version(data) != version:
            raise ConfigConflict(
                f"{path}: changed on disk since it was read; load it again and redo the change"
            )
        document = tomlkit.parse(data.decode("utf-8-sig"))
        change(document)
        text = tomlkit.dumps(document)
        settings = _validate(text, path)
        if check is not None:
            check(settings, str(path))
        _write(path, text)
        return Snapshot(path, text, _version(text.encode()), settings)


def _validate(text: str, path: Path) -> Settings:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: invalid TOML: {error}"]) from None
    return settings_from_dict(raw, source=str(path), base_dir=path.resolve().parent)


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error}"]) from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(path.name + ".lock")
    with _local, lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, text: str) -> None:
    target = path.resolve()
    write_atomically(target, text.encode("utf-8"), mode=target.stat().st_mode & 0o7777)


# The changes themselves: pure functions of the parsed document.


def entries(document: TOMLDocument, section: str) -> AoT:
    """The ``[[section]]`` array of tables, created at the end when missing."""
    found = document.get(section)
    if found is None:
        found = tomlkit.aot()
        document.append(section, found)
    if not isinstance(found, AoT):
        raise ConfigError([f"{section}: must be an array of tables ([[{section}]])"])
    return found


def find(document: TOMLDocument, section: str, name: str) -> Table:
    for table in entries(document, section):
        if table.get("name") == name:
            found: Table = table
            return found
    raise NotFound(f"no {section[:-1]} named {name!r}")


def add(section: str, fields: Mapping[str, Any]) -> Callable[[TOMLDocument], None]:
    """A change that appends ``[[section]]`` with ``fields`` (refused if the name is taken)."""

    def change(document: TOMLDocument) -> None:
        name = fields.get("name")
        if any(table.get("name") == name for table in entries(document, section)):
            raise ConfigError([f"{section}: {name!r} is already used"])
        table = tomlkit.table()
        for key, value in fields.items():
            if value is not None:
                table.add(key, value)
        entries(document, section).append(table)

    return change


def update(section: str, name: str, fields: Mapping[str, Any]) -> Callable[[TOMLDocument], None]:
    """A change that sets ``fields`` on the entry ``name`` (None removes a key); its other
    keys and its comments stay."""

    def change(document: TOMLDocument) -> None:
        table = find(document, section, name)
        new_name = fields.get("name", name)
        if new_name != name and any(
            other.get("name") == new_name for other in entries(document, section)
        ):
            raise ConfigError([f"{section}: {new_name!r} is already used"])
        for key, value in fields.items():
            if value is None:
                table.pop(key, None)
            elif table.get(key) != value:
                table[key] = value

    return change


def remove(section: str, name: str) -> Callable[[TOMLDocument], None]:
    def change(document: TOMLDocument) -> None:
        array = entries(document, section)
        find(document, section, name)
        del array[[t.get("name") for t in array].index(name)]
        if not array:
            document.remove(section)

    return change


def rule_fields(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A rule as ``config.toml`` and the API write it: the keys a rule has, no others."""
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        raise ConfigError(
            [f"rules: unknown key {unknown[0]!r} (a rule has {', '.join(RULE_KEYS)})"]
        )
    return {key: rule[key] for key in RULE_KEYS if key in rule}
