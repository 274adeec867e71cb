"""`mlsecops report`: locate or build a pipeline's risk report."""

from __future__ import annotations

from typing import Optional

import typer

from mlsecops.cli.app import app, console, fail
from mlsecops.core.home import Home


def located_report(home: Home, pipeline: str, run_id: str | None = None, rebuild: bool = False):
    from mlsecops.stages.risk_report import ensure_report

    return ensure_report(home, pipeline, run_id, rebuild=rebuild)


def print_report(located) -> None:
    color = {"blocked": "red", "review": "yellow", "clear": "green"}[located.verdict]
    how = "built from the evidence" if located.built else "written by the pipeline"
    console.print(f"risk report ({how}): [bold {color}]{located.headline}[/]", highlight=False, soft_wrap=True)
    console.print(f"  {located.html}", highlight=False, soft_wrap=True)


@app.command()
def report(pipeline: str = typer.Option("patients", "--pipeline", "-p", help="pipeline name"),
           run_id: Optional[str] = typer.Option(None, "--run", help="Dagster run id (default: the latest run)"),
           rebuild: bool = typer.Option(False, "--rebuild", help="rebuild from the evidence even if it exists"),
           open_browser: bool = typer.Option(False, "--open", help="open the HTML report in a browser")) -> None:
    """Locate the latest risk report of a pipeline, or build it from the evidence; print its verdict.

    Files: risk_report.html (self-contained), .json, .sarif (SARIF 2.1.0), .md, beside each other.
    """
    from mlsecops.pipelines.registry import get_pipeline

    get_pipeline(pipeline)
    located = located_report(Home.from_env(), pipeline, run_id, rebuild)
    print_report(located)
    if open_browser:
        import webbrowser

        if not webbrowser.open(located.html.resolve().as_uri()):
            fail(f"no browser could be started; open {located.html} yourself")
