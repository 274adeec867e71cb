"""Promotion: re-verify the whole chain of evidence by itself, then move the MLflow alias.

Materializing `promotion` alone skips its upstreams' Dagster checks, so it re-runs every check's
`evaluate` on the newest evidence, checks that the newest evidence forms one consistent chain,
and verifies the signature over the registered model version's own artifact files.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from mlsecops.controls.outcome import MODEL_DEPLOYMENT, CheckOutcome
from mlsecops.controls.signing import verify_trusted
from mlsecops.errors import MlsecopsError, PromotionRefused
from mlsecops.fileio import sha256_file
from mlsecops.pipelines.spec import StageContext
from mlsecops.pipelines.supply_chain import verify_registered_supply_chain


def reverify_checks(ctx: StageContext) -> tuple[list[CheckOutcome], list[str]]:
    """Every check of every stage before promotion, re-evaluated; plus chain-consistency reasons."""
    outcomes: list[CheckOutcome] = []
    reasons: list[str] = []
    for stage in ctx.spec.stages:
        if stage.name == "promotion":
            continue
        try:
            ev = ctx.upstream(stage.name)
        except MlsecopsError as exc:
            reasons.append(str(exc))
            continue
        for dep, used in ev.data.get("inputs", {}).items():
            newest = ctx.store.latest_ref(ctx.spec.name, dep).sha256
            if used != newest:
                reasons.append(f"'{stage.name}' was built from an older '{dep}' (evidence {used[:12]}…) than the "
                               f"newest one ({newest[:12]}…), whose checks did not let it through: re-run the pipeline")
        for check in stage.checks:
            try:
                outcome = check.evaluate(ctx, ctx.policy)
            except MlsecopsError as exc:
                outcome = CheckOutcome(check.name, False, None, None, "", MODEL_DEPLOYMENT, None, str(exc))
            outcomes.append(outcome)
            if not outcome.passed:
                reasons.append(f"check {stage.name}/{check.name} fails: {outcome.detail}")
    return outcomes, reasons


def verify_registered_version(ctx: StageContext) -> dict[str, Any]:
    """Download the registered version's files and its bundle; verify them; return the facts."""
    trained = ctx.data("trained_model")
    sig = ctx.data("signed_model")["signature"]
    run_id, version = trained["mlflow"]["run_id"], trained["mlflow"]["version"]
    registered = ctx.tracker.version(ctx.spec.name, version)
    if registered.run_id != run_id:
        raise PromotionRefused(f"registered version {version} of '{ctx.spec.name}' comes from MLflow run "
                               f"{registered.run_id}, not the evidence's run {run_id}")
    tmp = Path(tempfile.mkdtemp(prefix="mlsecops-promote-"))
    try:
        model_dir = ctx.tracker.download(run_id, "model", tmp)
        bundle = ctx.tracker.download(run_id, f"signature/{Path(sig['bundle']).name}", tmp)
        if sha256_file(bundle) != sig["bundle_sha256"]:
            raise PromotionRefused("the signature bundle logged to MLflow differs from the one in the evidence")
        signed = verify_trusted(model_dir, bundle, ctx.keys, sig["identity"])
        supply_chain = verify_registered_supply_chain(ctx, run_id, model_dir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not signed.digest == sig["signed_digest"] == trained["model"]["sha256"]:
        raise PromotionRefused(f"registered version {version} has digest {signed.digest[:12]}…, but the trained and "
                               f"signed model is {trained['model']['sha256'][:12]}…")
    return {"version": version, "run_id": run_id, "model_sha256": signed.digest, "identity": sig["identity"],
            **supply_chain}


def promote(ctx: StageContext) -> dict[str, Any]:
    """Return the decision, or write a refusal document and raise PromotionRefused."""
    alias = ctx.policy.promotion.alias
    outcomes, reasons = reverify_checks(ctx)
    facts: dict[str, Any] = {}
    if not reasons:
        try:
            facts = verify_registered_version(ctx)
        except MlsecopsError as exc:
            reasons.append(str(exc))
    previous = ctx.tracker.alias_version(ctx.spec.name, alias)
    decision = {"alias": alias, "previous_version": previous, "checks": [o.to_dict() for o in outcomes],
                "promoted": not reasons, "reasons": reasons, **facts}
    if reasons:
        ctx.store.write(ctx.spec.name, ctx.run_id, "promotion", {**decision, "summary": "REFUSED",
                                                                  "inputs": dict(ctx.used)})
        raise PromotionRefused(f"promotion of '{ctx.spec.name}' refused; alias '{alias}' unchanged "
                               f"({previous or 'unset'}): " + " | ".join(reasons))
    ctx.tracker.set_alias(ctx.spec.name, alias, facts["version"])
    ctx.log.info(f"alias '{alias}' of '{ctx.spec.name}' -> version {facts['version']}")
    return decision
