from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from feedserver import FeedServer
from stores import store, store_url  # noqa: F401  (fixtures for every test module)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Build the lemma dictionaries once, before any test runs (README, "Watch rules").

    The first use of each language's dictionary on a machine builds it, tens of seconds
    each. A daemon under test would otherwise build them inside a reload that a test
    allows seconds for; on every later run this finds them built and costs a second.
    A subprocess, so the tests' own process does not hold the dictionaries in memory.
    """
    code = "from monitor.rules.lemmas import warm; warm()"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A fresh HTTP server on 127.0.0.1 for each test (see tests/feedserver.py)."""
    with FeedServer() as server:
        yield server


@pytest.fixture(autouse=True)
def no_active_matcher() -> Iterator[None]:
    """A test that runs a cycle in-process leaves its rules active; the next test starts clean."""
    from monitor.rules.matcher import activate

    activate(None)
    yield
    activate(None)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The command line installs its own log handler; later tests get pytest's back."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
