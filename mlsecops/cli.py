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
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))  # logs and CI: no 80-column wrap
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)


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
            _print_report(_located_report(home, name, summary.run_id))
        except MlsecopsError as exc:
            err_console.print(f"[yellow]no risk report:[/] {exc}", highlight=False)
        failed |= not (summary.success or (summary.awaiting_approval and not summary.errors))
    console.print(f"evidence: {home.evidence}   UI: make ui  (dagster dev -w workspace.yaml)")
    if failed:
        raise typer.Exit(1)


@app.command()
def verify(model_dir: Path = typer.Argument(..., help="model folder"),
           signature: Optional[Path] = typer.Option(None, help="bundle (default: <model_dir>.sig)"),
           identity: str = typer.Option("trainer", help="identity whose public key must have signed"),
           public_key: Optional[Path] = typer.Option(None, help="public key PEM (default: the identity's)")) -> None:
    """Verify a signed model folder; exit 0 if it verifies, 1 with the reason if not."""
    from mlsecops.controls.signing import KeyRing, signature_path, verify_model, verify_trusted

    bundle = signature or signature_path(model_dir)
    if public_key:
        signed = verify_model(model_dir, bundle, public_key)
    else:  # any key the trust file accepts for the identity
        signed = verify_trusted(model_dir, bundle, KeyRing(Home.from_env().keys), identity)
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


@app.command("scan-pii")
def scan_pii(table_file: Path = typer.Argument(..., help="a .csv or .parquet file"),
             as_json: bool = typer.Option(False, "--json", help="print the findings as JSON"),
             rows: bool = typer.Option(False, "--rows", help="also list per-row spans (type, start, end, score) "
                                                              "found in free-text columns"),
             pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p",
                                                    help="use this pipeline's policy overrides"),
             free_text: list[str] = typer.Option(None, "--free-text", help="treat this column as free text")) -> None:
    """Scan a table for PII offline and print per-column findings (values are shown as shapes only)."""
    from mlsecops.controls.pii import scan_table
    from mlsecops.controls.provenance import read_table
    from mlsecops.policy import load_policy

    policy = load_policy()
    policy = policy.for_pipeline(pipeline) if pipeline else policy
    frame, _ = read_table(table_file, max_bytes=policy.source.max_bytes, encoding=policy.source.encoding)
    with err_console.status(f"scanning {table_file}…") as status:
        report = scan_table(frame, policy.pii, free_text_columns=free_text or (),
                            progress=lambda c, d, t: status.update(f"scanning {table_file}: {c} {d}/{t}"))
    spans = list(report.row_spans(frame)) if rows else []
    if as_json:
        doc = report.to_evidence()
        if rows:
            doc["rows"] = spans
        print(json.dumps(doc, indent=2))
        return
    table = Table(title=f"PII in {table_file} ({report.rows} rows, engine {report.engine['nlp_engine']})",
                  title_justify="left")
    for col in ("column", "kind", "scanned", "entity", "hit rate", "confidence", "examples (shapes)"):
        table.add_column(col, overflow="fold")
    skipped = [name for name, col in report.columns.items() if col.kind == "non_text"]
    for name, col in report.columns.items():
        if col.kind == "non_text":
            continue
        stats = [col.entities[e] for e in sorted(col.entities)]
        if not stats:
            table.add_row(name, col.kind, str(col.scanned), "-", "", "", "")
            continue
        for i, s in enumerate(stats):
            d = s.to_dict(col.denominator)
            mark = "" if s.entity in col.classified else " (below min_hit_rate)"
            table.add_row(name if i == 0 else "", col.kind if i == 0 else "", str(col.scanned) if i == 0 else "",
                          s.entity + mark, f"{d['hit_rate']:.1%}", f"{d['mean_score']:.2f}", "  ".join(d["examples"]))
    console.print(table)
    if skipped:
        console.print(f"{len(skipped)} numeric/boolean column(s) skipped (cannot hold text): "
                      + ", ".join(skipped[:8]) + (" …" if len(skipped) > 8 else ""))
    if rows:
        spans_table = Table(title="per-row spans in free-text columns", title_justify="left")
        for col in ("row", "column", "entity", "start", "end", "score"):
            spans_table.add_column(col)
        for s in spans:
            spans_table.add_row(str(s["row"]), s["column"], s["entity"], str(s["start"]), str(s["end"]), f"{s['score']:.2f}")
        console.print(spans_table)
    found = report.pii_columns()
    console.print(f"{len(found)} column(s) with PII: {', '.join(found) or 'none'}")
@app.command("scan-artifact")
def scan_artifact(path: Path = typer.Argument(..., help="file or folder to scan"),
                  as_json: bool = typer.Option(False, "--json", help="print the scan report as JSON")) -> None:
    """Scan a file or folder: allowed formats by content, then picklescan, fickling and modelscan.

    Exit 0 when every file is safe under the policy's `scanning` section, 1 with the reasons if not.
    """
    from mlsecops.controls.scanning import scan_path
    from mlsecops.policy import load_policy

    with console.status(f"scanning {path}…") as status:
        report = scan_path(path, load_policy().scanning, progress=lambda rel: status.update(f"scanning {rel}"))
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table(title=f"scan of {path}", title_justify="left")
        for col in ("file", "format (by content)", "findings"):
            table.add_column(col, overflow="fold")
        for f in report.files:
            findings = "; ".join(f"{x.scanner}: {x.reason}" for x in f.findings) or "[green]none[/]"
            table.add_row(f.path, f.format, findings)
        console.print(table)
    if not report.safe:
        _fail(f"{path} is unsafe: " + " | ".join(report.reasons))
    err_console.print(f"[green]safe[/] {path}: {len(report.files)} file(s), scanners {', '.join(report.scanners)}")


keys_app = typer.Typer(no_args_is_help=True, help="Signing keys and the trust file (key rotation).")
app.add_typer(keys_app, name="keys")


@keys_app.command("list")
def keys_list() -> None:
    """Print every trusted public key (identity, fingerprint, added)."""
    from mlsecops.controls.signing import KeyRing

    ring = KeyRing(Home.from_env().keys)
    table = Table(title=f"trusted keys ({ring.trust_file})", title_justify="left")
    for col in ("identity", "fingerprint", "added"):
        table.add_column(col)
    for k in ring.trust_entries():
        table.add_row(k["identity"], k["fingerprint"], k.get("added", ""))
    console.print(table)


@keys_app.command("rotate")
def keys_rotate(identity: str = typer.Argument(..., help="identity whose key pair to replace")) -> None:
    """Retire the identity's key pair and trust a new one (the old key stays trusted until untrusted)."""
    from mlsecops.controls.signing import KeyRing

    fingerprint = KeyRing(Home.from_env().keys).rotate(identity)
    console.print(f"new key for '{identity}': {fingerprint}; untrust the old one with `mlsecops keys untrust FP`")


@keys_app.command("untrust")
def keys_untrust(fingerprint: str = typer.Argument(..., help="fingerprint (at least 12 hex digits)")) -> None:
    """Remove a key from the trust file: signatures by it no longer verify."""
    from mlsecops.controls.signing import KeyRing

    for fp in KeyRing(Home.from_env().keys).untrust(fingerprint):
        console.print(f"untrusted {fp}")


# -- release: candidate, approve, promote, rollback ------------------------------------------------
def _view(pipeline: str):
    from mlsecops.controls.signing import KeyRing
    from mlsecops.evidence import EvidenceStore
    from mlsecops.pipelines.registry import get_pipeline
    from mlsecops.pipelines.spec import EvidenceView

    home = Home.from_env().ensure()
    return home, EvidenceView(get_pipeline(pipeline), EvidenceStore(home.evidence), KeyRing(home.keys))


def _audit_log(home: Home, policy=None):
    from mlsecops.controls._keys import PayloadSigner
    from mlsecops.controls.audit_postgres import open_audit_log  # Postgres if MLSECOPS_AUDIT_URL

    every = policy.audit.checkpoint_every if policy is not None else 1000
    return open_audit_log(home.audit_db, PayloadSigner(home.keys), checkpoint_every=every)


@app.command()
def candidate(pipeline: str = typer.Option("patients", "--pipeline", "-p", help="pipeline name"),
              as_json: bool = typer.Option(False, "--json", help="print the model, trainer and evidence set")) -> None:
    """Print the digest of the model up for release (what `approve --model` names)."""
    from mlsecops.pipelines.promotion import candidate as current

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
    from datetime import timedelta

    from mlsecops.controls._keys import PayloadSigner
    from mlsecops.controls.approvals import review_approvals, save_approval, sign_approval
    from mlsecops.policy import load_policy
    from mlsecops.pipelines.promotion import candidate as current

    home, view = _view(pipeline)
    policy = load_policy().for_pipeline(pipeline)
    cand = current(view)
    if len(model) < 12 or not cand["model_sha256"].startswith(model.lower()):
        _fail(f"model {model} is not the candidate of '{pipeline}': the newest trained and signed model is "
              f"{cand['model_sha256']} (`mlsecops candidate -p {pipeline}`); approve that exact digest")
    if role is None:
        held = [r for r, members in policy.approvals.roles.items() if identity in members]
        if not held:
            _fail(f"identity '{identity}' holds no role in the policy's approvals.roles "
                  f"({json.dumps({r: list(m) for r, m in policy.approvals.roles.items()})})")
        role = held[0]
    signer = PayloadSigner(home.keys)
    valid = min(hours or 24.0, policy.approvals.max_validity_hours)
    approval = sign_approval(signer, pipeline=pipeline, model_sha256=cand["model_sha256"],
                             evidence_sha256=cand["evidence_sha256"], identity=identity, role=role,
                             valid_for=timedelta(hours=valid), comment=comment)
    review = review_approvals({**cand, "approvals": [approval.to_dict()]}, policy.approvals, signer)
    verdict = review.verdicts[0]
    log = _audit_log(home, policy)
    if not verdict.accepted:
        log.append("approval", pipeline=pipeline, actor=identity, subject=cand["model_sha256"],
                   data={**approval.to_dict(), "filed": False, "reasons": list(verdict.reasons)})
        log.checkpoint()
        _fail(f"approval by '{identity}' would not count, so it was not filed: " + "; ".join(verdict.reasons))
    path = save_approval(home.approvals, approval)
    rec = log.append("approval", pipeline=pipeline, actor=identity, subject=cand["model_sha256"],
                     data={**approval.to_dict(), "filed": True, "file": str(path)})
    log.checkpoint()
    console.print(f"[green]approved[/] {pipeline} model {cand['model_sha256']} (version {cand['version']}) as "
                  f"'{identity}' ({role}) until {approval.expires_at}; filed {path}, audit #{rec.seq}")
    console.print(f"next: `mlsecops promote -p {pipeline}` (or the Dagster sensor {pipeline}_approval_sensor)")


@app.command()
def promote(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name")) -> None:
    """Run `<pipeline>/promotion` through Dagster: re-verify everything, require approvals, move the alias."""
    from mlsecops.runner import run_pipeline

    home = Home.from_env().ensure()
    summary = run_pipeline(pipeline, home, steps=["promotion"])
    for step, state, _checks, figure in summary.rows:
        color = "green" if state == "ok" else "red"
        console.print(f"{pipeline}/{step}: [{color}]{state}[/] {figure}", highlight=False)
    if not summary.success:
        message = next((e for e in summary.errors), f"{pipeline}/promotion refused")
        _fail(message)


@app.command()
def rollback(pipeline: str = typer.Option(..., "--pipeline", "-p", help="pipeline name"),
             identity: str = typer.Option("promoter", "--identity", help="who rolls back: its key signs the record"),
             reason: str = typer.Option("", "--reason", help="why (kept in the audit log)")) -> None:
    """Move the production alias back to the version promoted before the current one (signed, logged)."""
    import logging
    import uuid

    from mlsecops.pipelines import promotion
    from mlsecops.pipelines.registry import get_pipeline
    from mlsecops.resources import MlflowResource, MlsecopsResource

    spec = get_pipeline(pipeline)
    ctx = MlsecopsResource().stage_context(spec, f"rollback-{uuid.uuid4()}", MlflowResource(),
                                           logging.getLogger("mlsecops"))
    decision = promotion.rollback(ctx, identity=identity, reason=reason)
    console.print(f"[green]rolled back[/] '{decision['alias']}' of {pipeline}: version {decision['from_version']} -> "
                  f"{decision['to_version']} (model {decision['model_sha256'][:12]}…, audit #{decision['audit']['seq']})")


# -- audit ---------------------------------------------------------------------------------------
audit_app = typer.Typer(no_args_is_help=True, help="The append-only, hash-chained decision log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(checkpoint: list[Path] = typer.Option(None, "--checkpoint", help="a saved checkpoint JSON "
                                                        "(e.g. from promotion evidence) to check against"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Walk the chain and every signed checkpoint (log, witness file, evidence copies); exit 1 naming each
    edited/deleted/reordered/truncated record."""
    from mlsecops.controls.audit import Checkpoint

    home = Home.from_env()
    if not home.audit_db.exists():
        _fail(f"no audit log at {home.audit_db}: nothing has been decided yet under MLSECOPS_HOME={home.root}")
    extra = []
    for path in checkpoint or []:
        raw = json.loads(path.read_text(encoding="utf-8"))
        for key in ("data", "decision", "audit", "checkpoint"):  # a checkpoint, or a promotion evidence document holding one
            if isinstance(raw, dict) and not {"seq", "head"} <= raw.keys():
                raw = raw.get(key, raw)
        extra.append(Checkpoint.from_dict(raw))
    from mlsecops.controls.forensics import evidence_checkpoints

    report = _audit_log(home).verify(extra + evidence_checkpoints(home.evidence))
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
    from mlsecops.controls.forensics import explain, render
    from mlsecops.evidence import EvidenceStore

    home = Home.from_env()
    if not home.audit_db.exists():
        _fail(f"no audit log at {home.audit_db}: nothing has been decided yet under MLSECOPS_HOME={home.root}")
    story = explain(_audit_log(home), EvidenceStore(home.evidence), pipeline, model=model, alias=alias)
    print(json.dumps(story, indent=2) if as_json else render(story))


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


@app.command()
def fuzz(pipeline: str = typer.Option("patients", "--pipeline", "-p", help="pipeline whose data to poison"),
         attack: str = typer.Option("label_flip,targeted_flip,backdoor,outlier", "--attack", "-a",
                                    help="comma-separated: label_flip, targeted_flip, backdoor, outlier"),
         rate: str = typer.Option("0.01,0.02,0.05,0.1", "--rate", "-r", help="comma-separated poison rates"),
         seed: int = typer.Option(0, "--seed", help="seed of the injections and the split"),
         out: Optional[Path] = typer.Option(None, "--out", help="folder for fuzz.json and fuzz.png"),
         as_json: bool = typer.Option(False, "--json", help="print the JSON report instead of the table")) -> None:
    """Inject seeded poison, screen, train; print precision/recall/F1, accuracy and backdoor ASR."""
    from mlsecops.controls.fuzzing import ATTACKS, FuzzError, render_table
    from mlsecops.pipelines.fuzz import fuzz_pipeline

    attacks = [a.strip() for a in attack.split(",") if a.strip()]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        _fail(f"unknown attack(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(ATTACKS)}")
    try:
        rates = [float(r) for r in rate.split(",") if r.strip()]
    except ValueError:
        _fail(f"--rate '{rate}' must be comma-separated numbers such as 0.01,0.05")
    try:
        with console.status(f"fuzzing {pipeline}…") as status:
            result = fuzz_pipeline(pipeline, attacks=attacks, rates=rates, seed=seed, out_dir=out,
                                   progress=lambda msg: status.update(f"fuzzing {pipeline}: {msg}"))
    except FuzzError as exc:
        _fail(str(exc))
    if as_json:
        print(json.dumps(result.report.to_dict(), indent=2))
        return
    console.print(render_table(result.report))
    console.print(f"report: {result.json_path}\nplot:   {result.png_path}")
