"""Before anything is sent: every channel's secrets well formed, every template it uses sound.

A template that does not render, a folder that is not there or a ``whsec_`` secret no
receiver could verify stops the run at start-up (exit 2, one line each), instead of
failing every delivery of the day. Each template a channel uses is rendered once against
a hostile sample digest.
"""

from __future__ import annotations

from collections.abc import Mapping

from alerts.channels import Channels, kind_of, template_kinds
from alerts.rendering import Renderer
from monitor.errors import ConfigError


def renderers(channels: Channels) -> dict[str, Renderer]:
    """A renderer per channel (channels sharing a templates folder share one)."""
    by_folder: dict[str | None, Renderer] = {}
    found = {}
    for channel in channels:
        folder = channels.path(channel.templates) if channel.templates else None
        key = str(folder) if folder else None
        if key not in by_folder:
            by_folder[key] = Renderer(folder)
        found[channel.name] = by_folder[key]
    return found


def channel_problems(channels: Channels, env: Mapping[str, str], source: str) -> list[str]:
    """One line per problem: the channels' secrets, then their templates."""
    problems = [
        f"{source}: channels[{index}].{problem}"
        for index, channel in enumerate(channels)
        for problem in kind_of(channel).problems(channel, env)
    ]
    return problems + _template_problems(channels, source)


def _template_problems(channels: Channels, source: str) -> list[str]:
    problems = []
    checked: set[tuple[str | None, str]] = set()
    for index, channel in enumerate(channels):
        folder = channels.path(channel.templates) if channel.templates else None
        if folder is not None and not folder.is_dir():
            problems.append(f"{source}: channels[{index}].templates: no such folder: {folder}")
            continue
        kinds = tuple(
            kind for kind in template_kinds(channel) if (str(folder), kind) not in checked
        )
        checked.update((str(folder), kind) for kind in kinds)
        try:
            Renderer(folder).check(kinds)
        except ConfigError as error:
            problems.extend(error.problems)
    return problems
