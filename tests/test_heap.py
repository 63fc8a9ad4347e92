"""Freed memory goes back to the system, at most once an interval (monitor/heap.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from monitor import heap


def test_gives_back_at_most_once_an_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_last", [0.0])
    first = heap.give_back(now=1_000.0)
    assert heap.give_back(now=1_000.0 + heap.INTERVAL / 2) is False
    assert heap.give_back(now=1_000.0 + heap.INTERVAL) is first


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_pages_leave_the_process() -> None:
    """A process that freed 150 MB it no longer needs (one block in fifty still alive, so
    the allocator cannot give the rest back by itself) shrinks once it gives them back."""
    code = textwrap.dedent(
        """
        from monitor import heap

        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024

        blocks = [bytes(1000 + n % 700) for n in range(150_000)]
        kept = blocks[::50]
        del blocks
        before = rss()
        assert heap.give_back()
        print(before, rss())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = map(int, done.stdout.split())
    assert before - after > 100, done.stdout
