"""`mlsecops run`: run pipelines through Dagster with progress and a summary table."""

from __future__ import annotations


import typer
from rich.table import Table

from mlsecops.cli.app import app, console, err_console
from mlsecops.core.home import Home
from mlsecops.cli.report import located_report, print_report
from mlsecops.core.errors import MlsecopsError


@app.command()
def run(pipeline: list[str] = typer.Option(None, "--pipeline", "-p", help="pipeline name (repeatable)"),
        all_pipelines: bool = typer.Option(False, "--all", help="run every reference pipeline")) -> None:
    """Run pipeline(s) through Dagster with progress, then print step, status and key figure."""
    from mlsecops.pipelines.registry import PIPELINES, get_pipeline
    from mlsecops.assets.launch import run_pipeline

    names = sorted(PIPELINES) if all_pipelines else (pipeline or ["patients"])
    for name in names:
        get_pipeline(name)
    home = Home.from_env().ensure()
    console.print(f"MLSECOPS_HOME={home.root}  MLflow={home.mlflow_uri}")
    failed = False
    for name in names:
        with console.status(f"running {name}…") as status:
            summary = run_pipeline(name, home, on_event=lambda msg: status.update(msg))
        table = Table(title=f"{name}  (Dagster run {summary.run_id[:8]})", title_justify="left")
        table.add_column("step")
        table.add_column("status")
        table.add_column("checks", overflow="fold")
        table.add_column("key figure", overflow="fold")
        colors = {"ok": "green", "FAILED": "red", "BLOCKED": "red", "skipped": "yellow", "not run": "dim",
                  "awaiting approval": "yellow"}
        for step, state, checks, figure in summary.rows:
            table.add_row(step, f"[{colors.get(state, 'white')}]{state}[/]", checks, figure)
        console.print(table)
        for line in summary.errors:
            err_console.print(f"[red]✘[/] {line}", highlight=False)
        if summary.awaiting_approval:
            console.print(f"[yellow]{name}: promotion awaits approval[/] — an approver who is not the trainer runs "
                          f"`mlsecops approve -p {name} --model $(mlsecops candidate -p {name}) --identity NAME`, "
                          f"then `mlsecops promote -p {name}`")
        try:
            print_report(located_report(home, name, summary.run_id))
        except MlsecopsError as exc:
            err_console.print(f"[yellow]no risk report:[/] {exc}", highlight=False)
        failed |= not (summary.success or (summary.awaiting_approval and not summary.errors))
    console.print(f"evidence: {home.evidence}   UI: make ui  (dagster dev -w workspace.yaml)")
    if failed:
        raise typer.Exit(1)
