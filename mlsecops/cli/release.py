"""`mlsecops candidate`, `approve`, `promote`, `rollback`: the release manager's commands."""

from __future__ import annotations

import json
from typing import Optional

import typer

from mlsecops.cli.app import app, console, fail
from mlsecops.controls.audit.postgres import open_home_audit_log
from mlsecops.core.home import Home


def _view(pipeline: str):
    from mlsecops.trust.keyring import KeyRing
    from mlsecops.core.evidence import EvidenceStore
    from mlsecops.pipelines.registry import get_pipeline
    from mlsecops.stages.framework import EvidenceView

    home = Home.from_env().ensure()
    return home, EvidenceView(get_pipeline(pipeline), EvidenceStore(home.evidence), KeyRing(home.keys))


@app.command()
def candidate(pipeline: str = typer.Option("patients", "--pipeline", "-p", help="pipeline name"),
              as_json: bool = typer.Option(False, "--json", help="print the model, trainer and evidence set")) -> None:
    """Print the digest of the model up for release (what `approve --model` names)."""
    from mlsecops.stages.promotion import candidate as current

    _, view = _view(pipeline)
    cand = current(view)
    print(json.dumps(cand, indent=2) if as_json else cand["model_sha256"])


@app.command()
def approve(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name"),
            model: str = typer.Option(..., "--model", help="digest of the model you approve (12+ hex characters)"),
            identity: str = typer.Option(..., "--identity", help="your identity: its key signs the approval"),
            role: Optional[str] = typer.Option(None, "--role", help="role you approve in (default: your first)"),
            comment: str = typer.Option("", "--comment", help="why"),
            hours: Optional[float] = typer.Option(None, "--hours", help="validity (default 24, at most the policy's)")
            ) -> None:
    """Sign an approval of the candidate model and its evidence set, file it and log it."""
    from mlsecops.controls.release.approvals import file_approval
    from mlsecops.policy import load_policy
    from mlsecops.stages.promotion import candidate as current
    from mlsecops.trust.signer import PayloadSigner

    home, view = _view(pipeline)
    policy = load_policy().for_pipeline(pipeline)
    cand = current(view)
    if len(model) < 12 or not cand["model_sha256"].startswith(model.lower()):
        fail(f"model {model} is not the candidate of '{pipeline}': the newest trained and signed model is "
             f"{cand['model_sha256']} (`mlsecops candidate -p {pipeline}`); approve that exact digest")
    filed = file_approval(PayloadSigner(home.keys), open_home_audit_log(home, policy.audit.checkpoint_every),
                          home.approvals, policy.approvals, cand, identity=identity, role=role, hours=hours,
                          comment=comment)
    approval, path, rec = filed.approval, filed.path, filed.record
    console.print(f"[green]approved[/] {pipeline} model {cand['model_sha256']} (version {cand['version']}) as "
                  f"'{identity}' ({approval.role}) until {approval.expires_at}; filed {path}, audit #{rec.seq}")
    console.print(f"next: `mlsecops promote -p {pipeline}` (or the Dagster sensor {pipeline}_approval_sensor)")


@app.command()
def promote(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name")) -> None:
    """Run `<pipeline>/promotion` through Dagster: re-verify everything, require approvals, move the alias."""
    from mlsecops.assets.launch import run_pipeline

    home = Home.from_env().ensure()
    summary = run_pipeline(pipeline, home, steps=["promotion"])
    for step, state, _checks, figure in summary.rows:
        color = "green" if state == "ok" else "red"
        console.print(f"{pipeline}/{step}: [{color}]{state}[/] {figure}", highlight=False)
    if not summary.success:
        message = next((e for e in summary.errors), f"{pipeline}/promotion refused")
        fail(message)


@app.command()
def rollback(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name"),
             identity: str = typer.Option("promoter", "--identity", help="who rolls back: its key signs the record"),
             reason: str = typer.Option("", "--reason", help="why (kept in the audit log)")) -> None:
    """Move the production alias back to the version promoted before the current one (signed, logged)."""
    import logging
    import uuid

    from mlsecops.pipelines.registry import get_pipeline
    from mlsecops.stages import promotion
    from mlsecops.stages.framework import open_context

    ctx = open_context(get_pipeline(pipeline), f"rollback-{uuid.uuid4()}", logging.getLogger("mlsecops"))
    decision = promotion.rollback(ctx, identity=identity, reason=reason)
    console.print(f"[green]rolled back[/] '{decision['alias']}' of {pipeline}: version {decision['from_version']} -> "
                  f"{decision['to_version']} (model {decision['model_sha256'][:12]}…, audit #{decision['audit']['seq']})")
