"""How commands print: progress bars on a terminal, tables wide enough when piped."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

err = Console(stderr=True, highlight=False)
# Piped output has no terminal width to fit: do not cut rule names and queries short.
PIPE_WIDTH = 240


def print_table(table: Table) -> None:
    out = Console(highlight=False)
    (out if out.is_terminal else Console(highlight=False, width=PIPE_WIDTH)).print(table)


class Advance:
    """Moves a progress bar; does nothing when there is none."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress
        self.task = progress.add_task("", total=None) if progress else None

    def __call__(self, n: int = 1) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.advance(self.task, n)

    def total(self, total: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, total=total)


@contextmanager
def progress(label: str) -> Iterator[Advance]:
    """A progress bar on a terminal; nothing when stderr is a pipe or a file."""
    if not err.is_terminal:
        yield Advance()
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        yield Advance(bar)
