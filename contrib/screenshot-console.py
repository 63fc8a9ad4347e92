"""Screenshots of the web console for the README: the rule editor and the digests page.

    .venv/bin/python contrib/screenshot-console.py [--out contrib]

In a temporary folder: the shipped seed, a file channel and a webhook channel to a port
where nothing listens (its digest is given up on after one attempt), one `monitor run
--once`, then `monitor web` on a free loopback port, driven by Playwright in Debian's
chromium (`apt-get install chromium`): the query typed into the rule editor, and the
digests page.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """[store]
url = "sqlite:///monitor.db"
[seeds]
paths = ["seeds"]

[[rules]]
name = "armenia-azerbaijan"
query = "Armenia AND Azerbaijan"
channels = ["files", "alerts-hook"]

[[channels]]
name = "files"
type = "file"
path = "digests"

[[channels]]
name = "alerts-hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"
max_attempts = 1
timeout = "2s"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "contrib")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs chromium: apt-get install chromium")
    monitor = [sys.executable, "-m", "monitor"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "seeds").mkdir()
        for seed in (ROOT / "seeds").glob("*.txt"):
            shutil.copy(seed, folder / "seeds")
        config = folder / "config.toml"
        config.write_text(CONFIG, encoding="utf-8")
        subprocess.run([*monitor, "--config", str(config), "run", "--once"], check=True)
        port = free_port()
        server = subprocess.Popen(
            [*monitor, "--config", str(config), "web", "--listen", f"127.0.0.1:{port}"]
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1360, "height": 860})
                for _ in range(600):  # the server starts in a few seconds; bounded at 60 s
                    try:
                        page.goto(base + "/rules")
                        break
                    except Exception:
                        time.sleep(0.1)
                page.fill("#query", "Armenia AND Azerbaijan")
                page.wait_for_selector("#total", timeout=60_000)
                page.fill("input[name=name]", "caucasus")
                page.screenshot(path=str(args.out / "console-rules.png"))
                page.goto(base + "/digests")
                page.screenshot(path=str(args.out / "console-digests.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"wrote {args.out / 'console-rules.png'} and {args.out / 'console-digests.png'}")


if __name__ == "__main__":
    main()
