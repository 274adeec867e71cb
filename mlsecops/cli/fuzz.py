"""`mlsecops fuzz`: the ML fuzzing harness of a pipeline's data screen."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from mlsecops.cli.app import app, console, fail


@app.command()
def fuzz(pipeline: str = typer.Option("patients", "--pipeline", "-p", help="pipeline whose data to poison"),
         attack: str = typer.Option("label_flip,targeted_flip,backdoor,outlier", "--attack", "-a",
                                    help="comma-separated: label_flip, targeted_flip, backdoor, outlier"),
         rate: str = typer.Option("0.01,0.02,0.05,0.1", "--rate", "-r", help="comma-separated poison rates"),
         seed: int = typer.Option(0, "--seed", help="seed of the injections and the split"),
         out: Optional[Path] = typer.Option(None, "--out", help="folder for fuzz.json and fuzz.png"),
         as_json: bool = typer.Option(False, "--json", help="print the JSON report instead of the table")) -> None:
    """Inject seeded poison, screen, train; print precision/recall/F1, accuracy and backdoor ASR."""
    from mlsecops.fuzzing.harness import ATTACKS, FuzzError, render_table
    from mlsecops.fuzzing.pipeline import fuzz_pipeline

    attacks = [a.strip() for a in attack.split(",") if a.strip()]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        fail(f"unknown attack(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(ATTACKS)}")
    try:
        rates = [float(r) for r in rate.split(",") if r.strip()]
    except ValueError:
        fail(f"--rate '{rate}' must be comma-separated numbers such as 0.01,0.05")
    try:
        with console.status(f"fuzzing {pipeline}…") as status:
            result = fuzz_pipeline(pipeline, attacks=attacks, rates=rates, seed=seed, out_dir=out,
                                   progress=lambda msg: status.update(f"fuzzing {pipeline}: {msg}"))
    except FuzzError as exc:
        fail(str(exc))
    if as_json:
        print(json.dumps(result.report.to_dict(), indent=2))
        return
    console.print(render_table(result.report))
    console.print(f"report: {result.json_path}\nplot:   {result.png_path}")
