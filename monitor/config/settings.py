"""``config.toml`` read into typed, validated settings.

Every problem is reported at once, one line each, naming the file, the key
path and what is wrong (``config.toml: feeds[1].urll: unknown key (did you
mean 'url'?)``), so a user fixes a config in one pass, not one error per run.
Paths are relative to the folder that holds the config file, not to the
current directory, so ``monitor --config /etc/monitor/config.toml`` behaves
the same from anywhere. Secrets never live here: keys ending in ``_env``
name environment variables.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from monitor.config.channels import CHANNEL_TYPES, ChannelSettings, FileChannel
from monitor.config.fields import (
    Duration,
    HttpUrl,
    Listen,
    Name,
    Query,
    Schedule,
    Section,
    Size,
    within,
)
from monitor.config.paths import CONFIG_ENV, DEFAULT_CONFIG, config_path  # noqa: F401  (re-exported)
from monitor.config.redaction import shown_url
from monitor.errors import ConfigError

STORE_URL_ENV = "MONITOR_STORE_URL"


class StoreSettings(Section):
    url: str = "sqlite:///monitor.db"
    # How long a writer waits for SQLite's lock before giving up.
    busy_timeout: Duration = 30.0

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError(
                f"{value!r}: use 'sqlite:///PATH' or 'postgresql+psycopg://USER@HOST/DB'"
            )
        return value


class SeedSettings(Section):
    paths: list[Path] = Field(default_factory=lambda: [Path("seeds")])
    max_bytes: Size = 20 * 1024 * 1024


class FetchSettings(Section):
    """Defaults for every feed's HTTP fetch."""

    user_agent: str | None = None
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 20.0
    # Wall clock for a whole response: a server that drips one byte a second cannot hold a worker.
    total_timeout: Duration = 60.0
    max_bytes: Size = 10 * 1024 * 1024
    # Cap on an item's page fetched for full text; a page past it keeps the feed's summary.
    full_text_max_bytes: Size = 2 * 1024 * 1024
    # Time to read one such page's article (in a child killed at the limit); a page past
    # it keeps the feed's summary. Ordinary pages take well under a second.
    full_text_timeout: Duration = Field(default=10.0, gt=0, le=600)
    max_redirects: int = Field(default=5, ge=0, le=20)
    # Entries read per poll (newest first); the rest are counted on FeedPolled.dropped.
    max_entries: int = Field(default=500, ge=1, le=100_000)
    concurrency: int = Field(default=64, ge=1, le=256)
    per_host: int = Field(default=2, ge=1, le=256)
    # A failing feed waits twice as long after each failure (from its interval), up to this;
    # it is never dropped. A server's Retry-After (429/503) is honoured within it.
    max_backoff: Duration = 6 * 3600.0
    # Item links (full text) and redirect hops may reach public addresses only, and an
    # operator's own feed URL no address more private than its own; true lifts this for an
    # installation whose feeds link to its own network (monitor/feeds/reach.py).
    allow_private_networks: bool = False


class FeedSettings(Section):
    name: Name
    url: HttpUrl
    interval: Duration = 900.0
    enabled: bool = True
    # Extra request headers, for feeds that want a token or a cookie; values may use ${ENV}.
    headers: dict[str, str] = Field(default_factory=dict)
    # The language to assume when an item is too short to identify and the feed declares none.
    language: str | None = None
    # Fetch each new item's page and match its main text (trafilatura) instead of the summary.
    full_text: bool = False
    # Pages fetched per second for full text (the site's own pages: be gentle).
    full_text_rate: float = Field(default=1.0, gt=0, le=100)
    # [fetch] allow_private_networks for this feed alone (None: as [fetch] says).
    allow_private_networks: bool | None = None

    @property
    def shown_url(self) -> str:
        """The URL as events, status and alerts show it: no credentials, tokens masked."""
        return shown_url(self.url)


class MatchingSettings(Section):
    # Languages whose words are lemmatised with simplemma (ISO 639-1): those with neither a
    # dictionary (Polish, Russian) nor a Snowball stemmer, which need no setting. Each
    # dictionary is built on first use and cached.
    lemma_languages: list[str] = Field(default_factory=lambda: ["uk", "bg", "sk", "sl", "lv", "mk"])

    @field_validator("lemma_languages")
    @classmethod
    def _supported(cls, value: list[str]) -> list[str]:
        from monitor.rules.lemmas import SUPPORTED

        unknown = sorted(set(value) - SUPPORTED)
        if unknown:
            raise ValueError(
                f"no lemma dictionary for {', '.join(unknown)}; available: {' '.join(sorted(SUPPORTED))}"
            )
        return value


class ConceptChange(Section):
    """``[concepts.<id or word>]``: forms the registry lacks, or forms it should not have."""

    # Forms that name the concept in any language, written in full.
    add: list[str] = Field(default_factory=list)
    # Forms (casefolded when compared) the concept no longer has, whatever their source.
    remove: list[str] = Field(default_factory=list)


class RuleSettings(Section):
    name: Name
    query: Query = Field(min_length=1)
    channels: list[Name] = Field(default_factory=list)
    schedule: Schedule = "immediate"
    enabled: bool = True


class HttpSettings(Section):
    # The old key of [web] listen (the probes alone); now an alias of it.
    listen: Listen | None = None


class WebSettings(Section):
    # Where the console, the API and /healthz, /readyz, /metrics listen; off unless set,
    # e.g. "127.0.0.1:8080" (beyond loopback only with MONITOR_WEB_TOKEN set).
    listen: Listen | None = None


class HealthSettings(Section):
    # Channels told when a feed keeps failing, and when it recovers.
    channels: list[Name] = Field(default_factory=list)
    # Consecutive failed polls before a feed counts as failing.
    failures: int = Field(default=3, ge=1, le=1000)


class DaemonSettings(Section):
    # Feed polls start up to this fraction of their interval late, so feeds with the same
    # interval do not all poll in the same second.
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    # A poll or digest that could not start on time (the machine slept) still runs if it is
    # at most this late; later ones are skipped until their next time.
    misfire_grace: Duration = 300.0
    # How often due delivery retries are looked for, and config.toml is checked for changes.
    tick: Duration = 5.0
    # How long SIGTERM waits for work in flight before exiting.
    shutdown_grace: Duration = 8.0
    # How often the seed folders are read again.
    seeds_interval: Duration = 300.0
    # Processes that parse feeds (each has a core to itself); none: one per core. 0 or 1
    # parses in the main process: slower cycles, but no worker's memory.
    parse_workers: int | None = Field(default=None, ge=0, le=64)
    # Where the running daemon writes its heartbeat (read by `monitor status`).
    heartbeat: Path = Path("monitor.heartbeat.json")


class Settings(Section):
    store: StoreSettings = Field(default_factory=StoreSettings)
    seeds: SeedSettings = Field(default_factory=SeedSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    feeds: list[FeedSettings] = Field(default_factory=list)
    rules: list[RuleSettings] = Field(default_factory=list)
    channels: list[ChannelSettings] = Field(default_factory=list)
    # Extra words a concept also goes by: {"armenia" = ["Hayastan", "Hayq"]}.
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    # Forms added to, or removed from, a concept of the registry (`monitor concepts show`).
    concepts: dict[str, ConceptChange] = Field(default_factory=dict)
    # The folder that holds the config file; every relative path is taken from here.
    base_dir: Path = Field(default=Path(), exclude=True)

    @model_validator(mode="after")
    def _names_and_references(self) -> Settings:
        problems = []
        for section in ("feeds", "rules", "channels"):
            seen: dict[str, int] = {}
            for index, item in enumerate(getattr(self, section)):
                if item.name in seen:
                    problems.append(
                        f"{section}[{index}].name: {item.name!r} is already used by "
                        f"{section}[{seen[item.name]}]"
                    )
                seen.setdefault(item.name, index)
        if self.http.listen and self.web.listen and self.http.listen != self.web.listen:
            problems.append(
                "http.listen: replaced by web.listen (which serves the probes too); "
                "keep only [web] listen"
            )
        channel_names = [c.name for c in self.channels]
        for position, channel in enumerate(self.health.channels):
            if channel not in channel_names:
                problems.append(
                    f"health.channels[{position}]: no channel named {channel!r}"
                    + _did_you_mean(channel, channel_names)
                )
        for index, rule in enumerate(self.rules):
            for position, channel in enumerate(rule.channels):
                if channel not in channel_names:
                    problems.append(
                        f"rules[{index}].channels[{position}]: no channel named {channel!r}"
                        + _did_you_mean(channel, channel_names)
                    )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def web_listen(self) -> tuple[str, str] | None:
        """Where the web application listens, and the key that says so ([http] listen is
        the old name of [web] listen)."""
        if self.web.listen:
            return self.web.listen, "[web] listen"
        if self.http.listen:
            return self.http.listen, "[http] listen"
        return None

    def path(self, value: Path) -> Path:
        """``value`` taken relative to the config file's folder."""
        return within(self.base_dir, value)

    @property
    def store_url(self) -> str:
        """The database URL with a relative SQLite path made absolute; ``$MONITOR_STORE_URL`` wins."""
        url = os.environ.get(STORE_URL_ENV) or self.store.url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            path = url.removeprefix("sqlite:///")
            if path != ":memory:":
                return "sqlite:///" + str(self.path(Path(path)).resolve())
        return url


def load_settings(path: Path) -> Settings:
    """Read and validate ``path``; raises :class:`ConfigError` with one line per problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read: {error}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: invalid TOML: {error}"]) from None
    return settings_from_dict(raw, source=str(path), base_dir=path.resolve().parent)


def settings_from_dict(raw: Mapping[str, Any], *, source: str, base_dir: Path) -> Settings:
    try:
        return Settings.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as error:
        raise ConfigError(_problems(error, raw, source)) from None


def _problems(error: ValidationError, raw: Mapping[str, Any], source: str) -> list[str]:
    lines = []
    for item in error.errors(include_url=False):
        loc = _clean_loc(item["loc"])
        where = _format_loc(loc)
        if item["type"] == "extra_forbidden":
            known = _known_keys(loc[:-1], raw)
            lines.append(f"{source}: {where}: unknown key" + _did_you_mean(str(loc[-1]), known))
        elif item["type"] == "missing":
            lines.append(f"{source}: {where}: required key is missing")
        elif item["type"] == "union_tag_invalid":
            lines.append(f"{source}: {where}.type: must be one of {', '.join(CHANNEL_TYPES)}")
        elif item["type"] == "union_tag_not_found":
            lines.append(f"{source}: {where}.type: required key is missing")
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            for line in message.splitlines():
                # Cross-section checks carry their own key path.
                prefix = "" if where == "" else f"{where}: "
                lines.append(f"{source}: {prefix}{line}")
    return lines


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Pydantic puts the union tag into the path of a discriminated union (channels.0.webhook.url).
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_TYPES:
        return loc[:2] + loc[3:]
    return loc


def _format_loc(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _known_keys(loc: tuple[int | str, ...], raw: Mapping[str, Any]) -> list[str]:
    model: type[BaseModel] = Settings
    if loc and loc[0] == "channels" and len(loc) == 2:
        entry = raw.get("channels", [])[loc[1]]
        model = CHANNEL_TYPES.get(str(entry.get("type")), FileChannel)
    elif loc:
        field = Settings.model_fields.get(str(loc[0]))
        annotation = field.annotation if field else None
        args = getattr(annotation, "__args__", ())
        candidate = args[0] if args else annotation
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            model = candidate
    return [field.alias or name for name, field in model.model_fields.items() if name != "base_dir"]


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
