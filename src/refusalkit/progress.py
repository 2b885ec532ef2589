"""Progress bars on stderr for long work (rich), shared by every command."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator["_Advance"]:
    """``with progress_bar("generating", n) as advance: ... advance(k)``."""
    if not enabled or total <= 0:
        yield _Advance(None, None)
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield _Advance(bar, task)


class _Advance:
    def __init__(self, bar: Progress | None, task) -> None:
        self._bar, self._task = bar, task

    def __call__(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)
