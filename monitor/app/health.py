"""What the probes report (``/healthz``, ``/readyz``): alive, ready, and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Health:
    """Alive (do not restart me), ready (send me work), and the details that say why."""

    alive: bool
    ready: bool
    detail: dict[str, Any] = field(default_factory=dict)


HealthCheck = Callable[[], Health]
