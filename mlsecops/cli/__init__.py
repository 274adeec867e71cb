"""`mlsecops` command line: one module per command group, all on one Typer app.

    mlsecops run --all                    # cli.run
    mlsecops init DATA --target COL / pipelines   # cli.pipelines (spec files)
    mlsecops approve / promote / rollback # cli.release
    mlsecops audit verify | explain       # cli.audit      (also `evidence`)
    mlsecops keys list | rotate | untrust # cli.keys
    mlsecops verify / scan-pii / scan-artifact  # cli.scan
    mlsecops report / fuzz                # cli.report, cli.fuzz

Errors print one line naming the problem and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import sys

# importing a command module registers its commands, in this order in `--help`
from mlsecops.cli import run, pipelines, scan, audit, keys, release, report, fuzz  # noqa: F401,I001
from mlsecops.cli.app import app, err_console
from mlsecops.core.errors import MlsecopsError


def main() -> None:
    """Entry point that turns project errors into one-line messages."""
    try:
        app()
    except MlsecopsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)
