"""`mlsecops init` (propose a spec file from data) and `mlsecops pipelines` (every discovered pipeline and its state)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from mlsecops.cli.app import app, console
from mlsecops.core.home import Home


@app.command()
def init(data: Path = typer.Argument(..., help="CSV or Parquet file to govern"),
         target: str = typer.Option(..., "--target", "-t", help="the label column"),
         name: Optional[str] = typer.Option(None, "--name", "-n", help="pipeline name (default: the file's stem)"),
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="folder (default: $MLSECOPS_PIPELINES, else ./pipelines)"),
         force: bool = typer.Option(False, "--force", help="overwrite an existing spec and trusted slice"),
         no_probe: bool = typer.Option(False, "--no-probe", help="skip running the gates on the proposal")) -> None:
    """Profile DATA and write DIR/NAME.yaml (+ a proposed trusted slice); print what was inferred and what to review."""
    from mlsecops.pipelines.init import propose_spec

    with console.status("profiling, scanning for PII, probing the gates…") as status:
        result = propose_spec(data, target, name, out, force=force, probe=not no_probe,
                              progress=lambda msg: status.update(str(msg)))
    table = Table(title=f"{result.name}: what init inferred from {data}", title_justify="left")
    for col in ("column", "dtype", "role", "distinct", "missing", "why / proposal"):
        table.add_column(col, overflow="fold")
    colors = {"identity": "red", "text": "red", "label": "cyan", "timestamp": "magenta", "categorical": "yellow"}
    for c in result.columns:
        extra = {k: v for k, v in c.spec.items() if k in ("min", "max", "fill", "format")}
        table.add_row(c.name, c.dtype, f"[{colors.get(c.role, 'green')}]{c.role}[/]", str(c.distinct),
                      f"{c.missing:.1%}", c.reason + (f"  {json.dumps(extra)}" if extra else ""))
    console.print(table)
    console.print(f"classes: {result.classes}", highlight=False)
    if result.probe:
        console.print(f"probe: {result.probe}", highlight=False)
    console.print("[bold yellow]review:[/]")
    for note in result.review:
        console.print(f"  • {note}", highlight=False, soft_wrap=True)
    for risk in result.accepted_risks:
        console.print(f"  [red]accepted risk (to confirm)[/] {risk['check']}: {risk['reason']}", highlight=False,
                      soft_wrap=True)
    console.print(f"[bold]wrote[/] {result.spec_path} and {result.reference_path} "
                  f"({result.seconds:.1f} s). [bold red]The trusted slice is only a proposal: vouch for it.[/]",
                  highlight=False, soft_wrap=True)
    console.print(f"next: mlsecops run -p {result.name}", highlight=False)


def pipeline_state(home: Home, name: str) -> tuple[str, str]:
    """(state, last run) from the newest evidence: never run | running/stopped at STEP | awaiting approval | promoted."""
    latest = home.evidence / name / "latest.json"
    if not latest.exists():
        return "never run", ""
    try:
        index = json.loads(latest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "evidence unreadable", ""
    run = str(index.get("run_id", ""))
    doc = home.evidence / name / run / "promotion.json"
    if doc.exists():
        data = json.loads(doc.read_text(encoding="utf-8")).get("data", {})
        if data.get("awaiting_approval"):
            return "awaiting approval", run[:8]
        if data.get("promoted") or data.get("decision") == "promoted":
            return "promoted", run[:8]
        return "refused", run[:8]
    steps = index.get("steps", {})
    return f"no promotion yet ({len(steps)} step(s) recorded)", run[:8]


@app.command("pipelines")
def list_pipelines(as_json: bool = typer.Option(False, "--json", help="machine-readable")) -> None:
    """Every pipeline: the reference specs and those in $MLSECOPS_PIPELINES (./pipelines), with their state."""
    from mlsecops.pipelines.registry import PIPELINES, pipelines_dir

    home = Home.from_env()
    rows = []
    for name, spec in sorted(PIPELINES.items()):
        state, run = pipeline_state(home, name)
        rows.append({"name": name, "spec": spec.origin.get("file", ""), "model": spec.net["architecture"],
                     "features": len(spec.schema.features), "classes": len(spec.schema.labels),
                     "state": state, "run": run, "description": spec.description})
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"pipelines (spec files: package + {pipelines_dir()})", title_justify="left")
    for col in ("name", "model", "features", "classes", "state", "run", "spec"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["model"], str(r["features"]), str(r["classes"]), r["state"], r["run"], r["spec"])
    console.print(table)
