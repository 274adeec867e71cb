"""The `mlsecops` Typer app, its consoles and the one way a command fails: one line, non-zero exit."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Governed ML training: promote a model only with signed evidence.")
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))  # logs and CI: no 80-column wrap
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


def fail(message: str, code: int = 1) -> None:
    """Print `error: message` on stderr and exit with `code` (no traceback)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)
