"""The Polish and Russian inflections of rule words, worked out outside the daemon.

morfeusz2 and pymorphy3 take about 60 MB once loaded, and only compiling rules needs
them: reading documents does not. A daemon that loaded them would keep them for its whole
life and hand them to every parse worker it forks. So :func:`prepare` works out the
inflections of the configured words in a short-lived child process (``python -m
monitor.rules.inflection_cache``, words in and forms out as JSON) and keeps them on disk
beside the compiled lexicon, under a name made from the dictionaries' versions and the
code that inflects. A start whose words are all known reads the file and starts no child.
When the child cannot run, the words are inflected in this process, as before, with a
log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import marshal
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata, resources
from pathlib import Path

from monitor.cache import cache_folder
from monitor.rules import morphology
from monitor.rules.lexicon_cache import save_marshal

log = logging.getLogger("monitor.rules.inflection_cache")
CHILD_TIMEOUT = 300.0  # seconds; thousands of new words take a few seconds
_PACKAGES = ("morfeusz2", "pymorphy3", "pymorphy3-dicts-ru")

Pair = tuple[str, str]  # (language, word as written)


def prepare(words: Iterable[str]) -> None:
    """Make the Polish and Russian inflections of ``words`` known to
    :mod:`monitor.rules.morphology` without loading its generators here."""
    pairs = sorted(
        {(language, word) for word in words if word for language in morphology.GENERATED}
    )
    missing = [pair for pair in pairs if not morphology.known(*pair)]
    if not missing:
        return
    path = cache_folder() / f"inflections-{_key()}.marshal"
    stored = _read(path)
    morphology.remember({pair: stored[pair] for pair in missing if pair in stored})
    new = [pair for pair in missing if pair not in stored]
    if not new:
        return
    found = _in_child(new)
    if found is None:
        return  # inflected here when the rules are compiled
    morphology.remember(found)
    stored.update(found)
    _save(path, stored)


def work_out(pairs: Iterable[Pair]) -> dict[Pair, tuple[str, ...]]:
    """The inflections of ``pairs``, in this process (what the child runs)."""
    return {
        (language, word): tuple(sorted(morphology.inflections(word, language)))
        for language, word in pairs
    }


def _in_child(pairs: list[Pair]) -> dict[Pair, tuple[str, ...]] | None:
    request = json.dumps([list(pair) for pair in pairs], ensure_ascii=False)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "monitor.rules.inflection_cache"],
            input=request,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=CHILD_TIMEOUT,
            check=True,
        )
        answer = json.loads(done.stdout)
        return {(language, word): tuple(forms) for language, word, forms in answer}
    except (OSError, subprocess.SubprocessError, ValueError, TypeError) as error:
        log.warning("cannot inflect rule words in a child process (%s): inflecting here", error)
        return None


def _key() -> str:
    digest = hashlib.sha256()
    for package in _PACKAGES:
        try:
            digest.update(f"{package}={metadata.version(package)};".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package}=none;".encode())
    digest.update((resources.files("monitor") / "rules" / "morphology.py").read_bytes())
    return digest.hexdigest()[:20]


def _read(path: Path) -> dict[Pair, tuple[str, ...]]:
    try:
        plain = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, EOFError, TypeError) as error:
        log.warning("inflections %s unreadable (%s): working them out again", path, error)
        return {}
    if not isinstance(plain, dict):
        return {}
    return {_pair(key): tuple(forms) for key, forms in plain.items()}


def _pair(key: str) -> Pair:
    language, _, word = key.partition("\0")
    return language, word


def _save(path: Path, stored: dict[Pair, tuple[str, ...]]) -> None:
    plain = {f"{language}\0{word}": forms for (language, word), forms in stored.items()}
    save_marshal(path, plain, "inflections-*.marshal", "the inflections")


def _child() -> None:
    pairs = [(language, word) for language, word in json.loads(sys.stdin.buffer.read())]
    found = work_out(pairs)
    answer = [[language, word, list(forms)] for (language, word), forms in found.items()]
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))


if __name__ == "__main__":
    _child()
