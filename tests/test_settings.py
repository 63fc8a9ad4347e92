"""config.toml: typed, validated, with errors that name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.channels import FileChannel
from monitor.config.digest_schedules import parse_schedule
from monitor.config.durations import format_duration, parse_duration, parse_size
from monitor.config.settings import config_path, load_settings
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return caught.value.problems


def test_the_shipped_config_loads() -> None:
    settings = load_settings(ROOT / "config.toml")
    assert settings.rules[0].name == "armenia-azerbaijan"
    assert settings.rules[0].query == "Armenia AND Azerbaijan"
    assert any(isinstance(c, FileChannel) for c in settings.channels)
    assert len({f.name for f in settings.feeds}) == len(settings.feeds) >= 5


def test_design_example_config_loads(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
[store]
url = "sqlite:///monitor.db"
[seeds]
paths = ["seeds"]
[[feeds]]
name = "example"
url = "https://example.org/rss.xml"
interval = "15m"
[[rules]]
name = "armenia-azerbaijan"
query = "Armenia AND Azerbaijan"
channels = ["digest-files"]
schedule = "daily 08:00 Europe/Warsaw"
[[channels]]
name = "digest-files"
type = "file"
path = "digests"
[[channels]]
name = "ops"
type = "webhook"
url = "https://hooks.example.org/monitor"
secret_env = "MONITOR_WEBHOOK_SECRET"
[[channels]]
name = "analysts"
type = "email"
to = ["analyst@example.org"]
smtp_host = "localhost"
smtp_port = 25
""",
        )
    )
    assert settings.feeds[0].interval == 900
    assert [c.type for c in settings.channels] == ["file", "webhook", "email"]


def test_relative_paths_are_taken_from_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    settings = load_settings(write(tmp_path, '[seeds]\npaths = ["docs"]\n'))
    assert settings.path(settings.seeds.paths[0]) == tmp_path.resolve() / "docs"
    assert settings.store_url == f"sqlite:///{tmp_path.resolve() / 'monitor.db'}"


def test_unknown_key_names_file_path_and_suggestion(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[[feeds]]\nname = "x"\nurll = "http://127.0.0.1:1/"\n')
    path = tmp_path / "config.toml"
    assert f"{path}: feeds[0].urll: unknown key (did you mean 'url'?)" in lines
    assert f"{path}: feeds[0].url: required key is missing" in lines


def test_unknown_channel_key_suggests_from_its_own_type(tmp_path: Path) -> None:
    lines = problems(
        tmp_path, '[[channels]]\nname = "h"\ntype = "webhook"\nurl = "https://h/"\nsecret = "x"\n'
    )
    assert any(
        "channels[0].secret: unknown key (did you mean 'secret_env'?)" in line for line in lines
    )


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        """
[[feeds]]
name = "a"
url = "ftp://example.org/feed"
interval = "soon"
[[rules]]
name = "r"
query = "x"
channels = ["nope"]
schedule = "daily 25:00"
[[channels]]
name = "c"
type = "pigeon"
""",
    )
    text = "\n".join(lines)
    assert "feeds[0].url: 'ftp://example.org/feed' is not an http:// or https:// URL" in text
    assert "feeds[0].interval: 'soon' is not a duration" in text
    assert "rules[0].schedule: '25:00' is not a time of day" in text
    assert "channels[0].type: must be one of file, webhook, email, apprise" in text
    assert len(lines) >= 4


def test_a_bad_query_names_rule_position_and_expectation(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, '[[rules]]\nname = "r"\nquery = "Armenia AND (Azerbaijan"\n')
    assert line.startswith(f"{tmp_path / 'config.toml'}: rules[0].query: at ")
    assert "unclosed '('" in line


def test_dangling_channel_and_duplicate_names(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        """
[[feeds]]
name = "a"
url = "https://a/"
[[feeds]]
name = "a"
url = "https://b/"
[[rules]]
name = "r"
query = "x"
channels = ["digest-file"]
[[channels]]
name = "digest-files"
type = "file"
""",
    )
    text = "\n".join(lines)
    assert "feeds[1].name: 'a' is already used by feeds[0]" in text
    assert (
        "rules[0].channels[0]: no channel named 'digest-file' (did you mean 'digest-files'?)"
        in text
    )


def test_invalid_toml_names_line(tmp_path: Path) -> None:
    (line,) = problems(tmp_path, "[store\nurl = 1\n")
    assert line.startswith(f"{tmp_path / 'config.toml'}: invalid TOML:") and "line 1" in line


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "absent.toml")
    assert caught.value.problems == [f"{tmp_path / 'absent.toml'}: no such config file"]


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor.toml")
    assert config_path("given.toml") == Path("given.toml")
    assert config_path(None) == Path("/etc/monitor.toml")
    monkeypatch.delenv("MONITOR_CONFIG")
    assert config_path(None) == Path("config.toml")


def test_store_url_from_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_STORE_URL", "postgresql://u@db/monitor")
    settings = load_settings(write(tmp_path, ""))
    assert settings.store_url == "postgresql+psycopg://u@db/monitor"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2s", 2),
        ("15m", 900),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        (45, 45),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "1x", "-1s", "0s", "1.5.2h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes_and_formatting() -> None:
    assert parse_size("10MB") == 10_000_000
    assert parse_size("1MiB") == 1_048_576
    assert parse_size(512) == 512
    with pytest.raises(ValueError):
        parse_size("ten")
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"


@pytest.mark.parametrize(
    ("text", "kind", "zone"),
    [
        ("immediate", "immediate", "UTC"),
        ("hourly", "hourly", "UTC"),
        ("daily 08:00 Europe/Warsaw", "daily", "Europe/Warsaw"),
        ("weekly monday 07:30 America/New_York", "weekly", "America/New_York"),
        ("*/15 6-22 * * mon-fri Europe/Berlin", "cron", "Europe/Berlin"),
    ],
)
def test_schedules(text: str, kind: str, zone: str) -> None:
    schedule = parse_schedule(text)
    assert (schedule.kind, schedule.timezone) == (kind, zone)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("daily", "expected 'daily HH:MM"),
        ("daily 8am", "is not a time of day"),
        ("daily 08:00 Mars/Olympus", "is not a known timezone"),
        ("weekly someday 08:00", "is not a day of the week"),
        ("61 * * * *", "is not a valid cron line"),
        ("sometimes", "expected 'immediate'"),
    ],
)
def test_bad_schedules(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)
