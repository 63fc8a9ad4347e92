"""Benchmark: how long each command takes as a whole process, beside a bare Python start.

    .venv/bin/python bench/startup.py [--repeat 9]

In a temporary folder with the shipped seed ingested and no feed (so `run --once` has
nothing to do), each command runs ``--repeat`` times; the median wall time is printed
with the bare interpreter's (``python -c pass``) beside it. Targets (issue 14): status,
events --limit 5, rules list and deliveries < 0.5 s; --help < 0.3 s; run --once with
nothing to do < 1 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """[store]
url = "sqlite:///monitor.db"
[seeds]
paths = ["seeds"]

[[rules]]
name = "armenia-azerbaijan"
query = "Armenia AND Azerbaijan"
channels = ["files"]

[[channels]]
name = "files"
type = "file"
path = "digests"
"""
COMMANDS = {
    "python -c pass (anchor)": [sys.executable, "-c", "pass"],
    "monitor --help": ["--help"],
    "monitor status": ["status"],
    "monitor events --limit 5": ["events", "--limit", "5"],
    "monitor rules list": ["rules", "list"],
    "monitor deliveries": ["deliveries"],
    "monitor run --once (nothing to do)": ["run", "--once"],
}
TARGETS = {
    "monitor --help": 0.3,
    "monitor status": 0.5,
    "monitor events --limit 5": 0.5,
    "monitor rules list": 0.5,
    "monitor deliveries": 0.5,
    "monitor run --once (nothing to do)": 1.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    monitor = [sys.executable, "-m", "monitor"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "seeds", folder / "seeds")
        (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
        subprocess.run([*monitor, "run", "--once"], cwd=folder, check=True, capture_output=True)
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(args.repeat):  # interleaved, so a busy moment hits every command
            for name, command in COMMANDS.items():
                argv = command if name.startswith("python") else [*monitor, *command]
                started = time.perf_counter()
                subprocess.run(argv, cwd=folder, check=True, capture_output=True)
                times[name].append(time.perf_counter() - started)
    anchor = statistics.median(times["python -c pass (anchor)"])
    for name, values in times.items():
        median = statistics.median(values)
        target = TARGETS.get(name)
        verdict = (
            ""
            if target is None
            else f"  (target < {target} s: {'met' if median < target else 'MISSED'})"
        )
        print(f"{name:38s} median {median:.3f} s, {median / anchor:5.1f}x the bare start{verdict}")


if __name__ == "__main__":
    main()
