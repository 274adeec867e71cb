"""Integrity: screen the training table for poison against a trusted reference slice.

    report = poisoning.screen_table(frame, reference, features, label, config=ScreenConfig())
"""
