"""The core is pure: normalising, planning, matching and folding import no I/O library."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "monitor.documents.normalise",
    "monitor.documents.plan",
    "monitor.rules.matcher",
    "monitor.rules.query",
    "monitor.rules.analysis",
    "monitor.rules.ruleset",
    "monitor.rules.snippets",
    "monitor.rules.explain",
    "monitor.seeds.formats",
    "alerts.dedupe",
    "alerts.digest",
    "alerts.rendering",
]
EDGES = ["httpx", "sqlalchemy", "sqlmodel", "smtplib", "apscheduler", "feedparser"]


def test_core_modules_import_no_edge_library() -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + f"print(sorted(m for m in {EDGES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
