"""The gate catalogue: every check that can block a promotion, one module per family.

    data.CHECKS         validation_suite, no_unredacted_pii, no_unexpected_pii,
                        identity_columns_not_in_features, poisoning_screen, backdoor_trigger
    model.CHECKS        model_quality, artifact_safe, signature_verifies, provenance_verified
    adversarial.adversarial_checks(attacks)
                        robust_accuracy, query_evasion, membership_inference, model_extraction,
                        model_inversion, corruption_robustness
    report.CHECKS       report_risk_acceptance, report_framework_coverage

Each is a `spec.CheckSpec` whose `evaluate(view, policy)` is pure; `asset_checks` turns one into a
blocking ERROR Dagster asset check, and the promotion stage re-runs every one itself.
"""
