"""`mlsecops` command line: run pipelines through Dagster, verify models, read evidence.

Errors print one line naming the problem and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from mlsecops.errors import MlsecopsError
from mlsecops.home import Home

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Governed ML training: promote a model only with signed evidence.")
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def main() -> None:
    """Entry point that turns project errors into one-line messages."""
    try:
        app()
    except MlsecopsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(1)


@app.command()
def run(pipeline: list[str] = typer.Option(None, "--pipeline", "-p", help="pipeline name (repeatable)"),
        all_pipelines: bool = typer.Option(False, "--all", help="run every reference pipeline")) -> None:
    """Run pipeline(s) through Dagster with progress, then print step, status and key figure."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from mlsecops.pipelines.registry import PIPELINES, get_pipeline
    from mlsecops.runner import run_pipeline

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
        colors = {"ok": "green", "FAILED": "red", "BLOCKED": "red", "skipped": "yellow", "not run": "dim"}
        for step, state, checks, figure in summary.rows:
            table.add_row(step, f"[{colors.get(state, 'white')}]{state}[/]", checks, figure)
        console.print(table)
        for line in summary.errors:
            err_console.print(f"[red]✘[/] {line}", highlight=False)
        try:
            _print_report(_located_report(home, name, summary.run_id))
        except MlsecopsError as exc:
            err_console.print(f"[yellow]no risk report:[/] {exc}", highlight=False)
        failed |= not summary.success
    console.print(f"evidence: {home.evidence}   UI: make ui  (dagster dev -w workspace.yaml)")
    if failed:
        raise typer.Exit(1)


@app.command()
def verify(model_dir: Path = typer.Argument(..., help="model folder"),
           signature: Optional[Path] = typer.Option(None, help="bundle (default: <model_dir>.sig)"),
           identity: str = typer.Option("trainer", help="identity whose public key must have signed"),
           public_key: Optional[Path] = typer.Option(None, help="public key PEM (default: the identity's)")) -> None:
    """Verify a signed model folder; exit 0 if it verifies, 1 with the reason if not."""
    from mlsecops.controls.signing import KeyRing, signature_path, verify_model

    key = public_key or KeyRing(Home.from_env().keys).public_key(identity)
    signed = verify_model(model_dir, signature or signature_path(model_dir), key)
    console.print(f"[green]verified[/] {model_dir}: {len(signed.manifest)} files, digest {signed.digest}")


@app.command()
def evidence(pipeline: str = typer.Argument(..., help="pipeline name"),
             step: Optional[str] = typer.Option(None, "--step", "-s", help="one step (default: all)"),
             as_json: bool = typer.Option(False, "--json", help="print raw JSON")) -> None:
    """Print the latest evidence of a pipeline (verified against its recorded digest)."""
    from mlsecops.evidence import EvidenceStore

    store = EvidenceStore(Home.from_env().evidence)
    steps = [step] if step else store.steps(pipeline)
    if not steps:
        _fail(f"no evidence for pipeline '{pipeline}' under {store.root}: run `mlsecops run -p {pipeline}` first")
    docs = {s: store.latest(pipeline, s) for s in steps}
    if as_json:
        print(json.dumps({s: {"sha256": d.ref.sha256, **d.body} for s, d in docs.items()}, indent=2))
        return
    table = Table(title=f"latest evidence of {pipeline}", title_justify="left")
    for col in ("step", "run", "sha256", "summary"):
        table.add_column(col, overflow="fold")
    for s, d in docs.items():
        summary = d.data.get("summary") or d.data.get("detail") or ""
        if "passed" in d.data:
            summary = ("✔ " if d.data["passed"] else "✘ ") + summary
        table.add_row(s, d.ref.run_id[:8], d.ref.sha256[:16], str(summary))
    console.print(table)


def _located_report(home: Home, pipeline: str, run_id: str | None = None, rebuild: bool = False):
    from mlsecops.pipelines.report_stage import ensure_report

    return ensure_report(home, pipeline, run_id, rebuild=rebuild)


def _print_report(located) -> None:
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
    located = _located_report(Home.from_env(), pipeline, run_id, rebuild)
    _print_report(located)
    if open_browser:
        import webbrowser

        if not webbrowser.open(located.html.resolve().as_uri()):
            _fail(f"no browser could be started; open {located.html} yourself")
