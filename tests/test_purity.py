"""The architecture, held: layers that import only downward, a pure core, files of a readable size.

The import rules are read from the source (every ``import`` and ``from … import``,
inside functions and under ``TYPE_CHECKING`` too), so a rule cannot be broken by an
import that only runs later. The purity of the core is checked in a fresh interpreter:
what importing a module really loads, through every project module it imports.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "alerts")
# Normalising, planning, the rule language and matching, folds, digest assembly, rendering.
CORE = [
    "monitor.documents.normalise",
    "monitor.documents.plan",
    "monitor.rules.matcher",
    "monitor.rules.query",
    "monitor.rules.analysis",
    "monitor.rules.analysed",
    "monitor.rules.mentions",
    "monitor.rules.concept_hits",
    "monitor.rules.ambiguity",
    "monitor.rules.lexicon",
    "monitor.rules.lexicon_build",
    "monitor.rules.inspection",
    "monitor.rules.word_terms",
    "monitor.rules.names",
    "monitor.rules.registry",
    "monitor.rules.ruleset",
    "monitor.rules.snippets",
    "monitor.rules.explain",
    "monitor.seeds.formats",
    "monitor.feeds.politeness",
    "monitor.readmodels.folds",
    "alerts.outbox.folds",
    "alerts.dedupe",
    "alerts.digest",
    "alerts.rendering",
    "alerts.compose",
    "alerts.health",
    "alerts.attempts",
    "alerts.retry",
    "alerts.signing",
]
EDGES = [
    "httpx",
    "sqlalchemy",
    "sqlmodel",
    "smtplib",
    "apscheduler",
    "feedparser",
    "trafilatura",
    "apprise",
    "alembic",
    "psycopg",
    "prometheus_client",
]
# The shell and its two faces, the command line and the web console: the only places that
# see both halves of the product.
SHELL = ("monitor.app", "monitor.cli", "monitor.web", "monitor.__main__")
KERNEL = "monitor.eventlog"
MAX_FILE_LINES = 450
MAX_CLASS_LINES = 250
MAX_TOP_LEVEL_MODULES = 12


@cache
def modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str) -> str | None:
    """The project module ``name`` refers to (``a.b.c`` may be the attribute ``c`` of ``a.b``)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports() -> dict[str, frozenset[str]]:
    """Module -> the project modules it imports, wherever in the file the import is."""
    graph: dict[str, frozenset[str]] = {}
    for module, path in modules().items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            targets.update(t for t in map(_resolve, names) if t is not None and t != module)
        graph[module] = frozenset(targets)
    return graph


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _arrows() -> Iterator[tuple[str, str]]:
    for module, targets in imports().items():
        for target in targets:
            yield module, target


def test_the_kernel_imports_nothing_of_the_project_but_the_error_tree() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, target in _arrows()
        if _inside(module, KERNEL) and not _inside(target, KERNEL) and target != "monitor.errors"
    )
    assert wrong == []


def test_only_the_shell_and_the_command_line_import_alerts() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, target in _arrows()
        if module.startswith("monitor")
        and _inside(target, "alerts")
        and not any(_inside(module, shell) for shell in SHELL)
    )
    assert wrong == []


def test_nothing_below_the_shell_imports_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, target in _arrows()
        if any(_inside(target, shell) for shell in SHELL)
        and not any(_inside(module, shell) for shell in SHELL)
    )
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    """Tarjan's strongly connected components over the whole import graph."""
    graph = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_core_imports_no_edge_library() -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + f"print(sorted(m for m in {EDGES!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_every_core_module_exists() -> None:
    assert [module for module in CORE if module not in modules()] == []


@pytest.mark.parametrize("path", sorted(modules().values()), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_and_classes_stay_a_readable_size(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_FILE_LINES
    classes = [node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ClassDef)]
    long = [c.name for c in classes if (c.end_lineno or c.lineno) - c.lineno + 1 > MAX_CLASS_LINES]
    assert long == []


def test_the_top_of_monitor_holds_few_modules() -> None:
    top = [p.name for p in (ROOT / "monitor").glob("*.py")]
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_every_channel_type_is_described_by_its_own_file() -> None:
    from alerts.channels import ChannelKind, kind_of
    from monitor.config.channels import CHANNEL_TYPES

    for type_name in CHANNEL_TYPES:
        assert (ROOT / "alerts" / "channels" / f"{type_name}.py").is_file(), type_name
        channel = _sample_channel(type_name)
        assert isinstance(kind_of(channel), ChannelKind)


def _sample_channel(type_name: str) -> object:
    from monitor.config.settings import settings_from_dict

    required = {
        "file": {},
        "webhook": {"url": "http://127.0.0.1/hook"},
        "email": {"to": ["a@example.test"]},
        "apprise": {"urls_env": "APPRISE_URLS"},
    }
    raw = {"channels": [{"name": "c", "type": type_name, **required[type_name]}]}
    return settings_from_dict(raw, source="t", base_dir=ROOT).channels[0]


def test_the_readme_architecture_section_matches_the_tree() -> None:
    """The README's layout names every package and module there is, and nothing that is not."""
    named = _readme_layout()
    actual: dict[str, set[str]] = {}
    for package in PACKAGES:
        for init in (ROOT / package).rglob("__init__.py"):
            folder = str(init.parent.relative_to(ROOT))
            if any(folder == whole or folder.startswith(f"{whole}/") for whole in named["*"]):
                continue  # a folder the layout names as a whole (migrations/)
            actual[folder] = {p.name for p in init.parent.glob("*.py") if p.name != "__init__.py"}
    assert sorted(set(actual) - set(named)) == []  # packages the layout leaves out
    for folder, files in sorted(actual.items()):
        assert sorted(files - named[folder]) == [], folder  # modules it does not name
        assert sorted(named[folder] - files) == [], folder  # modules that are not there


def _readme_layout() -> dict[str, set[str]]:
    """Folder -> the module files the README's layout block names in it ("*": folders it
    names as a whole, from a "name/" inside a line)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    block = next(b for b in section.split("```")[1::2] if "\nalerts/\n" in b)
    named: dict[str, set[str]] = {"*": set()}
    top = folder = ""
    for line in filter(None, block.splitlines()):
        if re.fullmatch(r"(monitor|alerts)/\s*", line):
            top = folder = line.strip().rstrip("/")
            named.setdefault(folder, set())
            continue
        head = re.match(r"  ([\w/]+)/\s", line)
        if head and not line.startswith("   "):
            folder = f"{top}/{head.group(1)}"
            named.setdefault(folder, set())
        elif re.match(r"  \S", line):
            folder = top
        described = line[head.end() :] if head else line
        named[folder].update(re.findall(r"\b\w+\.py\b", described))
        wholes = re.findall(r"\b(\w+)/(?=[\s)]|$)", described)
        named["*"].update(f"{folder}/{whole}" for whole in wholes)
    return named
