"""`mlsecops verify`, `scan-pii`, `scan-artifact`: check a model folder or a table offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from mlsecops.cli.app import app, console, err_console, fail
from mlsecops.core.home import Home


@app.command()
def verify(model_dir: Path = typer.Argument(..., help="model folder"),
           signature: Optional[Path] = typer.Option(None, help="bundle (default: <model_dir>.sig)"),
           identity: str = typer.Option("trainer", help="identity whose public key must have signed"),
           public_key: Optional[Path] = typer.Option(None, help="public key PEM (default: the identity's)")) -> None:
    """Verify a signed model folder; exit 0 if it verifies, 1 with the reason if not."""
    from mlsecops.trust.keyring import KeyRing
    from mlsecops.controls.model.signing import signature_path, verify_model, verify_trusted

    bundle = signature or signature_path(model_dir)
    if public_key:
        signed = verify_model(model_dir, bundle, public_key)
    else:  # any key the trust file accepts for the identity
        signed = verify_trusted(model_dir, bundle, KeyRing(Home.from_env().keys), identity)
    console.print(f"[green]verified[/] {model_dir}: {len(signed.manifest)} files, digest {signed.digest}")


@app.command("scan-pii")
def scan_pii(table_file: Path = typer.Argument(..., help="a .csv or .parquet file"),
             as_json: bool = typer.Option(False, "--json", help="print the findings as JSON"),
             rows: bool = typer.Option(False, "--rows", help="also list per-row spans (type, start, end, score) "
                                                              "found in free-text columns"),
             pipeline: Optional[str] = typer.Option(None, "--pipeline", "-p",
                                                    help="use this pipeline's policy overrides"),
             free_text: list[str] = typer.Option(None, "--free-text", help="treat this column as free text")) -> None:
    """Scan a table for PII offline and print per-column findings (values are shown as shapes only)."""
    from mlsecops.controls.data.discretion.pii import scan_table
    from mlsecops.controls.data.provenance import read_table
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
    from mlsecops.controls.model.scanning.scan import scan_path
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
        fail(f"{path} is unsafe: " + " | ".join(report.reasons))
    err_console.print(f"[green]safe[/] {path}: {len(report.files)} file(s), scanners {', '.join(report.scanners)}")
