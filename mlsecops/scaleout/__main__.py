"""`python -m mlsecops.scaleout` (= `make run-scaled`): start the services, run the pipelines concurrently.

    python -m mlsecops.scaleout                       # both pipelines, 2 workers, then stop the services
    python -m mlsecops.scaleout --compare-embedded    # also the embedded run: wall times + same outcome?
    python -m mlsecops.scaleout --keep                # leave the services up (Ctrl-C stops them)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from mlsecops.core.errors import MlsecopsError
from mlsecops.core.evidence import EvidenceStore
from mlsecops.core.home import Home
from mlsecops.pipelines.registry import PIPELINES


def _outcome(home: Path, pipeline: str) -> dict:
    store = EvidenceStore(home / "evidence")
    decision = store.latest(pipeline, "promotion").data.get("decision", {})
    return {"promoted": bool(decision.get("promoted")), "model_sha256": decision.get("model_sha256"),
            "checks": sorted((c["check"], c["passed"]) for c in decision.get("checks", [])),
            "steps": sorted(store.steps(pipeline))}


def _embedded(home: Path, pipelines: list[str], approver: str) -> float:
    """What `make run` does, on its own home (sqlite instance, sqlite MLflow): wall seconds."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "MLFLOW_TRACKING_URI")}
    env["MLSECOPS_HOME"] = str(home)
    cli = [sys.executable, "-m", "mlsecops"]
    steps = [cli + ["run"] + [a for p in pipelines for a in ("-p", p)]]
    start = time.monotonic()
    for argv in steps:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise MlsecopsError(f"embedded step {' '.join(argv[2:])} failed: {proc.stderr.strip()[-800:]}")
    if approver:
        from mlsecops.scaleout.jobs import Target, approve_candidate

        for name in pipelines:
            approve_candidate(Target(home, "", "", ""), name, approver)
            proc = subprocess.run(cli + ["promote", "-p", name], env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                raise MlsecopsError(f"embedded promote {name} failed: {proc.stderr.strip()[-800:]}")
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlsecops.scaleout", description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", "-p", action="append", help="pipeline (repeatable; default: all)")
    parser.add_argument("--workers", type=int, default=2, help="Dask executor workers (default 2)")
    parser.add_argument("--compare-embedded", action="store_true", help="also run embedded and compare")
    parser.add_argument("--approver", default="demo-approver",
                        help="DEMO identity that approves each candidate, as `make run` does ('' = stop before approval)")
    parser.add_argument("--keep", action="store_true", help="keep the services running until Ctrl-C")
    args = parser.parse_args(argv)
    from mlsecops.scaleout.jobs import Target, approve_candidate, run_concurrently
    from mlsecops.scaleout.services import ScaledServices

    pipelines = args.pipeline or sorted(PIPELINES)
    home = Home.from_env()
    scaled_home = Home(home.root / "scaled")
    embedded_s = None
    if args.compare_embedded:
        print(f"embedded run of {', '.join(pipelines)} (sequential, sqlite) …", flush=True)
        embedded_s = _embedded(home.root / "embedded", pipelines, args.approver)
    t0 = time.monotonic()
    svc = ScaledServices.start(scaled_home, workers=args.workers)
    up_s = time.monotonic() - t0
    try:
        target = Target.of(svc)
        print(f"services up in {up_s:.1f} s: Postgres 127.0.0.1:{svc.postgres.port}, MLflow {svc.mlflow_uri}, "
              f"Dask {svc.scheduler_address} ({args.workers} workers); logs {svc.logs}", flush=True)
        t1 = time.monotonic()
        summaries = run_concurrently(pipelines, target)
        if args.approver:
            ready = [n for n, s in summaries.items() if s.awaiting_approval and not s.errors]
            print(f"DEMO release approval by '{args.approver}' (not the trainer) of {', '.join(ready) or 'nothing'}")
            for name in ready:
                approve_candidate(target, name, args.approver)
            if ready:
                summaries.update(run_concurrently(ready, target, steps=["promotion"]))
        runs_s = time.monotonic() - t1
        failed = False
        for name, summary in summaries.items():
            print(f"\n{name}  (Dagster run {summary.run_id[:8]}, Postgres instance)")
            for step, state, checks, figure in summary.rows:
                print(f"  {step:<16} {state:<8} {checks:<28} {figure}")
            for line in summary.errors:
                print(f"  ✘ {line}")
            failed |= not summary.success
        print(f"\nscaled: services start {up_s:.1f} s, concurrent runs (run, approve, promote) {runs_s:.1f} s")
        if embedded_s is not None:
            print(f"embedded: sequential runs {embedded_s:.1f} s (mlsecops run, approve, promote; sqlite)")
            for name in pipelines:
                a, b = _outcome(home.root / "embedded", name), _outcome(scaled_home.root, name)
                same = {k: a[k] == b[k] for k in a}
                print(f"{name}: promoted embedded={a['promoted']} scaled={b['promoted']}; same checks "
                      f"{same['checks']}, same evidence steps {same['steps']}, same model digest {same['model_sha256']}")
                failed |= not (same["promoted"] and same["checks"] and same["steps"])
        if args.keep:
            print("services kept running; environment for scaled runs:")
            for k, v in target.to_env().items():
                print(f"  export {k}={v}")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 1 if failed else 0
    finally:
        svc.stop()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except MlsecopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
