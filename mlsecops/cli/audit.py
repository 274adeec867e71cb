"""`mlsecops evidence` and `mlsecops audit`: read evidence, verify and explain the decision log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from mlsecops.cli.app import app, console, fail
from mlsecops.controls.audit.postgres import open_home_audit_log
from mlsecops.core.home import Home


@app.command()
def evidence(pipeline: str = typer.Argument(..., help="pipeline name"),
             step: Optional[str] = typer.Option(None, "--step", "-s", help="one step (default: all)"),
             as_json: bool = typer.Option(False, "--json", help="print raw JSON")) -> None:
    """Print the latest evidence of a pipeline (verified against its recorded digest)."""
    from mlsecops.core.evidence import EvidenceStore

    store = EvidenceStore(Home.from_env().evidence)
    steps = [step] if step else store.steps(pipeline)
    if not steps:
        fail(f"no evidence for pipeline '{pipeline}' under {store.root}: run `mlsecops run -p {pipeline}` first")
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


audit_app = typer.Typer(no_args_is_help=True, help="The append-only, hash-chained decision log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(checkpoint: list[Path] = typer.Option(None, "--checkpoint", help="a saved checkpoint JSON "
                                                        "(e.g. from promotion evidence) to check against"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Walk the chain and every signed checkpoint (log, witness file, evidence copies); exit 1 naming each
    edited/deleted/reordered/truncated record."""
    from mlsecops.controls.audit.log import Checkpoint

    home = Home.from_env()
    if not home.audit_db.exists():
        fail(f"no audit log at {home.audit_db}: nothing has been decided yet under MLSECOPS_HOME={home.root}")
    extra = []
    for path in checkpoint or []:
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("data", "decision", "audit", "checkpoint"):  # a checkpoint, or a promotion evidence document holding one
            if isinstance(raw, dict) and not {"seq", "head"} <= raw.keys():
                raw = raw.get(key, raw)
        extra.append(Checkpoint.from_dict(raw))
    from mlsecops.controls.audit.forensics import evidence_checkpoints

    report = open_home_audit_log(home).verify(extra + evidence_checkpoints(home.evidence))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        console.print(report.summary(), highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("explain")
def audit_explain(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name"),
                  alias: str = typer.Option("production", "--alias", help="explain the version behind this alias"),
                  model: Optional[str] = typer.Option(None, "--model", help="explain the decision about this digest"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Reconstruct a decision: training, data, every check, approvals, the decision and who took it."""
    from mlsecops.controls.audit.forensics import explain, render
    from mlsecops.core.evidence import EvidenceStore

    home = Home.from_env()
    if not home.audit_db.exists():
        fail(f"no audit log at {home.audit_db}: nothing has been decided yet under MLSECOPS_HOME={home.root}")
    story = explain(open_home_audit_log(home), EvidenceStore(home.evidence), pipeline, model=model, alias=alias)
    print(json.dumps(story, indent=2) if as_json else render(story))
