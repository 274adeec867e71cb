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
