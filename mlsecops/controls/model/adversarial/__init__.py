"""Adversarial evaluation with ART: `engine.evaluate_model` runs the attacks (registered in `_attacks`)
on one wrapped estimator; `plots` draws their figures from JSON-able specs.
"""
